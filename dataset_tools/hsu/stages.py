"""Read user sequences from ``<ds>.inter`` and cut training histories into stages.

A *stage* is a run of consecutive items of a user's training history. Histories are cut
from the start into chunks of ``stage_length`` items; a final shorter chunk is a stage
too (a user with 5 training items and stage length 13 has one stage of 5 items). When
the history later grows, that partial stage changes its items and therefore its key
(see ``store.stage_key``), so an incremental update recomputes it and everything after
it, starting from the stored interests of the last unchanged stage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from dataset_tools import DatasetToolsError

logger = logging.getLogger(__name__)

#: How many items at the end of every sequence are held out (validation, test) and never
#: shown to the LLM.
HELD_OUT_ITEMS = 2

_USER_COL = "user_id:token"
_ITEM_COL = "item_id:token"
_TIME_COL = "timestamp:float"


def load_user_sequences(inter_path: Path) -> dict[str, list[str]]:
    """Read a RecBole ``.inter`` file into chronological item sequences.

    Args:
        inter_path: tab-separated atomic file with columns ``user_id:token``,
            ``item_id:token`` and ``timestamp:float`` (any order, extra columns ignored).

    Returns:
        ``{user token: [item tokens in timestamp order]}``, users in order of first
        appearance. Ties in timestamp keep file order.

    Raises:
        DatasetToolsError: the file is missing, lacks a column, or a line is malformed
            (the message names the file and line number).
    """
    if not inter_path.is_file():
        raise DatasetToolsError(
            f"{inter_path}: interaction file not found; run `python -m dataset_tools prepare` first"
        )
    timed: dict[str, list[tuple[float, int, str]]] = {}
    with inter_path.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        missing = [c for c in (_USER_COL, _ITEM_COL, _TIME_COL) if c not in header]
        if missing:
            raise DatasetToolsError(
                f"{inter_path}: line 1: header lacks column(s) {', '.join(missing)} (header: {header})"
            )
        u_col, i_col, t_col = (header.index(c) for c in (_USER_COL, _ITEM_COL, _TIME_COL))
        for line_no, line in enumerate(handle, start=2):
            line = line.rstrip("\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != len(header):
                raise DatasetToolsError(
                    f"{inter_path}: line {line_no}: expected {len(header)} tab-separated fields, got {len(fields)}"
                )
            try:
                stamp = float(fields[t_col])
            except ValueError:
                raise DatasetToolsError(
                    f"{inter_path}: line {line_no}: timestamp {fields[t_col]!r} is not a number"
                ) from None
            timed.setdefault(fields[u_col], []).append((stamp, line_no, fields[i_col]))
    return {user: [item for _, _, item in sorted(rows)] for user, rows in timed.items()}


def training_history(sequence: Sequence[str]) -> list[str]:
    """The part of a sequence the LLM may see: everything but the last ``HELD_OUT_ITEMS``."""
    return list(sequence[: max(0, len(sequence) - HELD_OUT_ITEMS)])


def cut_stages(history: Sequence[str], stage_length: int) -> list[list[str]]:
    """Cut a history into consecutive stages of ``stage_length`` items.

    The last stage may be shorter; an empty history has no stage.

    >>> cut_stages(list("abcde"), 2)
    [['a', 'b'], ['c', 'd'], ['e']]
    """
    if stage_length < 1:
        raise DatasetToolsError(f"stage_length must be >= 1, got {stage_length}")
    return [list(history[i : i + stage_length]) for i in range(0, len(history), stage_length)]


def user_stages(sequence: Sequence[str], stage_length: int, mode: str = "staged") -> list[list[str]]:
    """Stages of a user's training history for a pipeline ``mode``.

    ``staged`` cuts the history into stages; ``oneshot`` (the paper's CoT baseline,
    "w/o interest updater") is a single stage holding the whole training history.
    """
    history = training_history(sequence)
    if mode == "oneshot":
        return [history] if history else []
    if mode != "staged":
        raise DatasetToolsError(f"unknown HSU mode {mode!r} (expected 'staged' or 'oneshot')")
    return cut_stages(history, stage_length)
