"""Reading ``<ds>.item_text.jsonl``, the item texts ``prepare`` writes for the LLM steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dataset_tools import DatasetToolsError


class ItemTextError(DatasetToolsError, ValueError):
    """A line of an item-text file is not a JSON object with ``item_id``."""


def read_item_text(path: Path) -> dict[str, dict[str, Any]]:
    """Item id (string) -> its record, in file order.

    The caller checks that ``path`` exists first: what a missing file means (no item
    text in the raw data) is worded for its own step.

    Raises:
        ItemTextError: a line is not valid JSON or has no ``item_id``; the message names
            the file and line.
    """
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
