"""``<dataset>.item_text.jsonl``: the item texts ``prepare`` writes for the LLM steps.

One JSON object per line and per item, ``{"item_id": "12", "title": "...", ...}``, with
the dataset spec's text fields as strings or lists of strings; a missing field is left
out. Only written when the raw data has item text (``prepare`` writes it with
``dataset_tools.formats.files.write_jsonl_atomic``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dataset_tools.formats.files import FormatError, MissingInputError


class ItemTextError(FormatError):
    """A line of an item-text file is not a JSON object with ``item_id``."""


def item_text_path(folder: str | os.PathLike, dataset: str) -> Path:
    """``<folder>/<dataset>.item_text.jsonl``."""
    return Path(folder) / f"{dataset}.item_text.jsonl"


def read_item_text(path: str | os.PathLike, consequence: str = "") -> dict[str, dict[str, Any]]:
    """Item id (string) -> its record, in file order.

    Args:
        consequence: what the caller cannot do without the file, appended to the
            missing-file message (e.g. "HSU needs item titles").

    Raises:
        MissingInputError: the file does not exist (the dataset has no item text).
        ItemTextError: a line is not valid JSON or has no ``item_id``; the message names
            the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(
            f"{path} not found: this dataset has no item text (prepare writes it only when the raw "
            f"data has items.jsonl with text fields, or `prepare` was not run)" + (f"; {consequence}" if consequence else "")
        )
    records: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ItemTextError(f"{path}: line {line_no}: not valid JSON: {exc.msg}") from None
            if not isinstance(record, dict) or "item_id" not in record:
                raise ItemTextError(f"{path}: line {line_no}: expected a JSON object with 'item_id'")
            records[str(record["item_id"])] = record
    return records


def has_value(value: Any) -> bool:
    """Whether a field value holds text: not None, not blank, not a list of such."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, tuple)):
        return any(has_value(v) for v in value)
    return True


def as_text(value: Any) -> str:
    """A field value as one string: list elements that hold text joined with ", ";
    ``None`` and blank values give ``""`` (never the string ``"None"``)."""
    if not has_value(value):
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(v) for v in value if has_value(v))
    return str(value).strip()
