"""Cut users' training histories into stages.

A *stage* is a run of consecutive items of a user's training history (the sequence of
``<ds>.inter`` without its held-out items, ``dataset_tools.formats.inter.training_part``).
Histories are cut from the start into chunks of ``stage_length`` items; a final shorter
chunk is a stage too (a user with 5 training items and stage length 13 has one stage of
5 items). When the history later grows, that partial stage changes its items and
therefore its key (see ``store.stage_key``), so an incremental update recomputes it and
everything after it, starting from the stored interests of the last unchanged stage.
"""

from __future__ import annotations

from collections.abc import Sequence

from dataset_tools import DatasetToolsError
from dataset_tools.formats.inter import training_part

#: Items per stage when neither the spec (``hsu.stage_length``) nor ``--stage-length``
#: sets it (the paper's 13).
DEFAULT_STAGE_LENGTH = 13


def cut_stages(history: Sequence[str], stage_length: int) -> list[list[str]]:
    """Cut a history into consecutive stages of ``stage_length`` items.

    The last stage may be shorter; an empty history has no stage.

    >>> cut_stages(list("abcde"), 2)
    [['a', 'b'], ['c', 'd'], ['e']]
    """
    if stage_length < 1:
        raise DatasetToolsError(f"stage_length must be >= 1, got {stage_length}")
    return [list(history[i : i + stage_length]) for i in range(0, len(history), stage_length)]


def user_stages(sequence: Sequence[str], stage_length: int, mode: str = "staged",
                max_items: int | None = None) -> list[list[str]]:
    """Stages of a user's training history for a pipeline ``mode``.

    ``staged`` cuts the history into stages; ``oneshot`` (the paper's CoT baseline,
    "w/o interest updater") is a single stage holding the whole training history.
    ``max_items`` keeps only the most recent training items (``None``: all), so a dataset
    of long histories (MovieLens) costs a bounded number of LLM calls per user.

    >>> user_stages(list("abcdefgh"), 2, max_items=4)  # training part a..f, its last 4
    [['c', 'd'], ['e', 'f']]
    """
    history = training_part(sequence)
    if max_items is not None:
        if max_items < 1:
            raise DatasetToolsError(f"max_items must be >= 1, got {max_items}")
        history = history[-max_items:]
    if mode == "oneshot":
        return [history] if history else []
    if mode != "staged":
        raise DatasetToolsError(f"unknown HSU mode {mode!r} (expected 'staged' or 'oneshot')")
    return cut_stages(history, stage_length)
