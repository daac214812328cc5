"""``<dataset>.item``: the RecBole atomic file of item features.

Header ``item_id:token`` plus one column per item field the dataset spec keeps, typed by
the field's kind (:data:`ATOMIC_TYPE`): text as ``token_seq`` of words, single values as
``token``, lists as ``token_seq`` with inner spaces replaced by ``_``, numbers as
``float``. An empty cell is a missing value.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from dataset_tools.formats.files import atomic_write

#: RecBole column type per item-field kind.
ATOMIC_TYPE = {"text": "token_seq", "token": "token", "list": "token_seq", "float": "float"}


def atomic_text(value: str) -> str:
    """A cleaned string made safe for a RecBole atomic-file cell.

    RecBole reads atomic files with ``pandas.read_csv`` and its default quote character,
    so a cell starting with ``"`` is parsed as a quoted field and breaks the row (real
    titles such as ``"No Makeup" Makeup Kit`` do). Double quotes become single quotes in
    the ``.item`` file; ``item_text.jsonl`` keeps the original text.
    """
    return value.replace('"', "'")


def write_item_file(
    path: str | os.PathLike,
    fields: Sequence[tuple[str, str]],
    rows: Iterable[tuple[str, Sequence[str | None]]],
) -> None:
    """Write ``.item`` atomically.

    Args:
        fields: ``(name, kind)`` of each column after ``item_id``.
        rows: ``(item id, cells)`` with one cell per field, already made safe with
            :func:`atomic_text`; ``None`` is written as an empty cell.
    """
    with atomic_write(path) as handle:
        header = ["item_id:token"] + [f"{name}:{ATOMIC_TYPE[kind]}" for name, kind in fields]
        handle.write("\t".join(header) + "\n")
        handle.writelines(
            "\t".join([item_id] + [cell if cell is not None else "" for cell in cells]) + "\n"
            for item_id, cells in rows
        )
