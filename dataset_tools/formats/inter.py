"""``<dataset>.inter``: the interaction file, and the rule of which items are held out.

The file is a RecBole atomic file (tab-separated, typed header)::

    user_id:token	item_id:token	timestamp:float
    12	3051	1
    12	877	2

``prepare`` writes one row per interaction, a user's rows contiguous and in time order,
with the 1-based line number of the raw ``interactions.txt`` as timestamp. Readers sort
each user's rows by timestamp (ties keep file order), which is what RecBole's
``order: TO`` does.

Held-out rule: under RecBole's leave-one-out split the last two items of every user's
time-ordered sequence are the validation and the test target. No tool that builds
model inputs (HSU prompts, user texts, user vectors) may see them: they use
:func:`training_part` only, and record :func:`held_out_part` (see :func:`held_out_record`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from dataset_tools.formats.files import FormatError, MissingInputError, atomic_write

#: Header of the ``.inter`` file ``prepare`` writes.
INTER_HEADER = "user_id:token\titem_id:token\ttimestamp:float"
USER_COLUMN, ITEM_COLUMN, TIME_COLUMN = INTER_HEADER.split("\t")

#: Items at the end of every user's sequence held out for validation and test.
HELD_OUT_ITEMS = 2

T = TypeVar("T")


class InterFileError(FormatError):
    """A ``.inter`` file is malformed; the message names the file and line."""


def inter_path(folder: str | os.PathLike, dataset: str) -> Path:
    """``<folder>/<dataset>.inter``."""
    return Path(folder) / f"{dataset}.inter"


def training_part(sequence: Sequence[T]) -> list[T]:
    """What model inputs may use: the sequence without its last ``HELD_OUT_ITEMS`` items."""
    return list(sequence[: max(0, len(sequence) - HELD_OUT_ITEMS)])


def held_out_part(sequence: Sequence[T]) -> list[T]:
    """The validation and test targets, oldest first (fewer for a sequence that short)."""
    return list(sequence[max(0, len(sequence) - HELD_OUT_ITEMS) :])


def held_out_record(sequences: Mapping[str, Sequence[str]], users: Iterable[str] | None = None) -> dict[str, Any]:
    """The ``held_out`` entry of a user feature file's sidecar.

    Returns ``{"per_user": HELD_OUT_ITEMS, "items": {user: [valid item, test item]}}`` for
    ``users`` (default: every user of ``sequences``), each list in time order and shorter
    for a user with fewer than ``HELD_OUT_ITEMS`` items.
    """
    chosen = sequences if users is None else users
    return {"per_user": HELD_OUT_ITEMS, "items": {user: held_out_part(sequences[user]) for user in chosen}}


def read_user_sequences(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a ``.inter`` file into time-ordered item sequences.

    Args:
        path: tab-separated atomic file with columns ``user_id:token``, ``item_id:token``
            and ``timestamp:float`` (any order, extra columns ignored).

    Returns:
        ``{user token: [item tokens in timestamp order]}``, users in order of first
        appearance. Ties in timestamp keep file order.

    Raises:
        MissingInputError: the file does not exist.
        InterFileError: the header lacks a column or a line is malformed (the message
            names the file and line number).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: interaction file not found; run `python -m dataset_tools prepare` first")
    timed: dict[str, list[tuple[float, int, str]]] = {}
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
        missing = [c for c in (USER_COLUMN, ITEM_COLUMN, TIME_COLUMN) if c not in header]
        if missing:
            raise InterFileError(f"{path}: line 1: header lacks column(s) {', '.join(missing)} (header: {header})")
        u_col, i_col, t_col = (header.index(c) for c in (USER_COLUMN, ITEM_COLUMN, TIME_COLUMN))
        for line_no, line in enumerate(handle, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != len(header):
                raise InterFileError(
                    f"{path}: line {line_no}: expected {len(header)} tab-separated fields, got {len(fields)}"
                )
            try:
                stamp = float(fields[t_col])
            except ValueError:
                raise InterFileError(f"{path}: line {line_no}: timestamp {fields[t_col]!r} is not a number") from None
            timed.setdefault(fields[u_col], []).append((stamp, line_no, fields[i_col]))
    return {user: [item for _, _, item in sorted(rows)] for user, rows in timed.items()}


def write_inter_rows(path: str | os.PathLike, rows: Iterable[tuple[str, str, int | float]]) -> None:
    """Write ``(user, item, timestamp)`` rows under :data:`INTER_HEADER`, atomically."""
    with atomic_write(path) as handle:
        handle.write(INTER_HEADER + "\n")
        handle.writelines(f"{user}\t{item}\t{stamp}\n" for user, item, stamp in rows)


def write_sequences(path: str | os.PathLike, sequences: Mapping[str, Sequence[str]]) -> None:
    """Write ``{user: [item, ...]}`` as a ``.inter`` file laid out as ``prepare`` writes it.

    Users' rows are contiguous in the mapping's order and the timestamp is the global row
    number, as for a prepared dataset. Tests and benchmarks use it to build small datasets.
    """
    rows = ((user, item) for user, items in sequences.items() for item in items)
    write_inter_rows(path, ((user, item, row) for row, (user, item) in enumerate(rows, start=1)))
