"""Plain progress lines inside a training epoch, for runs whose output goes to a log file.

RecBole's per-epoch bar is a tqdm bar: on a terminal it redraws one line, in a log file it
leaves a carriage-return fragment per batch. Without a terminal the trainer instead wraps the
epoch's batches in :class:`EpochProgressLines`, which logs one plain line at most every
``progress_log_seconds`` (batches done, rate, time left). An epoch shorter than that writes
nothing beyond RecBole's own end-of-epoch line, so a 30-second epoch keeps a one-line log.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Callable, Iterable, Iterator, TextIO

from dataset_tools.progress import LineProgress, is_terminal

#: A line only on time: the percent rule of LineProgress never fires above 100 %.
_NEVER_BY_PERCENT = 101.0


class EpochProgressLines:
    """A training dataloader that logs a plain progress line at most every ``seconds``.

    Everything but iteration (``len``, ``shuffle``, ``sampler``, the dataset) is the wrapped
    loader's, so RecBole's ``Trainer._train_epoch`` runs on it unchanged.
    """

    def __init__(self, loader: Iterable, epoch_idx: int, seconds: float, log: logging.Logger,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._loader = loader
        self._progress = LineProgress(len(loader), f"Train {epoch_idx:>5}", unit="batch",
                                      every_percent=_NEVER_BY_PERCENT, every_seconds=seconds, log=log, clock=clock)

    def __iter__(self) -> Iterator[Any]:
        for batch in self._loader:
            yield batch
            self._progress.update(1)

    def __len__(self) -> int:
        return len(self._loader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def epoch_batches(loader: Iterable, epoch_idx: int, show_progress: bool, seconds: float, log: logging.Logger,
                  stream: TextIO | None = None) -> tuple[Iterable, bool]:
    """``(loader, show_progress)`` for RecBole's ``_train_epoch``: its bar on a terminal, plain lines
    (every ``seconds``; none when 0) elsewhere, whether or not ``show_progress`` asked for a bar."""
    if is_terminal(sys.stderr if stream is None else stream):
        return loader, show_progress
    if seconds and seconds > 0:
        return EpochProgressLines(loader, epoch_idx, seconds, log), False
    return loader, False
