"""Progress that suits where the output goes: a tqdm bar on a terminal, plain log lines in a file.

A tqdm bar redraws itself with carriage returns; written to a log file it leaves thousands
of half-lines. :func:`progress_bar` gives the bar only when the stream (stderr by default)
is a terminal; otherwise a :class:`LineProgress` that logs one plain line (logger
``dataset_tools.progress``, INFO) each time another ``every_percent`` of the total is done
or ``every_seconds`` have passed since the last line, and a last one when it closes:

    12:01:07 INFO dataset_tools.progress: embed (minilm): 4000/10000 text (40%), 1m02s, 64.5 text/s, ~1m33s left

Both have the same small interface the tools use: ``update(n)``, ``set_postfix(**values)``,
``close()`` and ``with``. ``enabled=False`` (``--no-progress``) shows nothing at all.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any, Callable, TextIO

from tqdm import tqdm

logger = logging.getLogger(__name__)

#: a line at every 10 % of the total ...
EVERY_PERCENT = 10.0
#: ... and at least once a minute.
EVERY_SECONDS = 60.0


def is_terminal(stream: TextIO | None) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed or odd stream is not)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


class LineProgress:
    """tqdm's ``update`` / ``set_postfix`` / ``close`` as plain log lines, for log files."""

    def __init__(self, total: float | None, desc: str, unit: str = "it", unit_scale: bool = False,
                 every_percent: float = EVERY_PERCENT, every_seconds: float = EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic, log: logging.Logger = logger) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.unit_scale = unit_scale
        self.every_percent = every_percent
        self.every_seconds = every_seconds
        self.n: float = 0
        self.postfix = ""
        self._clock = clock
        self._log = log
        self._started = self._last_time = clock()
        self._next_percent = every_percent
        self._shown_n: float | None = None
        self._closed = False

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _amount(self, value: float) -> str:
        return tqdm.format_sizeof(value) if self.unit_scale else f"{value:g}"

    def line(self) -> str:
        """The current state as one line (what is logged)."""
        elapsed = self._clock() - self._started
        done = self._amount(self.n)
        if self.total:
            done += f"/{self._amount(self.total)}{'' if self.unit_scale else ' '}{self.unit} ({100 * self.n / self.total:.0f}%)"
        else:
            done += f"{'' if self.unit_scale else ' '}{self.unit}"
        text = f"{self.desc}: {done}, {tqdm.format_interval(elapsed)}"
        if elapsed > 0 and self.n > 0:
            rate = self.n / elapsed
            text += f", {self._amount(rate) if self.unit_scale else f'{rate:.1f}'}{'' if self.unit_scale else ' '}{self.unit}/s"
            if self.total and self.n < self.total:
                text += f", ~{tqdm.format_interval((self.total - self.n) / rate)} left"
        if self.postfix:
            text += f" [{self.postfix}]"
        return text

    def _show(self) -> None:
        self._log.info("%s", self.line())
        self._shown_n = self.n
        self._last_time = self._clock()

    def update(self, n: float = 1) -> None:
        """Count ``n`` more done; log a line when the next percent step or the time step is reached."""
        self.n += n
        due = self._clock() - self._last_time >= self.every_seconds
        if self.total:
            percent = 100 * self.n / self.total
            if percent >= self._next_percent:
                due = True
                self._next_percent = (math.floor(percent / self.every_percent) + 1) * self.every_percent
        if due:
            self._show()

    def set_postfix(self, **values: Any) -> None:
        """Extra ``key=value`` pairs shown at the end of the following lines."""
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        """Log the final state, unless the last line already showed it."""
        if not self._closed and self._shown_n != self.n:
            self._show()
        self._closed = True


def progress_bar(total: float | None, desc: str, *, unit: str = "it", enabled: bool = True, unit_scale: bool = False,
                 stream: TextIO | None = None, every_percent: float = EVERY_PERCENT,
                 every_seconds: float = EVERY_SECONDS, **tqdm_options: Any) -> tqdm | LineProgress:
    """A tqdm bar on a terminal, a :class:`LineProgress` otherwise, nothing shown if not ``enabled``.

    ``stream`` is where a bar would go (default ``sys.stderr``); ``tqdm_options`` pass to tqdm only.
    """
    stream = sys.stderr if stream is None else stream
    if not enabled:
        return tqdm(total=total, desc=desc, disable=True)
    if is_terminal(stream):
        return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=stream, **tqdm_options)
    return LineProgress(total, desc, unit=unit, unit_scale=unit_scale, every_percent=every_percent,
                        every_seconds=every_seconds)
