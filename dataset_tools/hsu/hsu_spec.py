"""The ``hsu:`` section of a dataset spec YAML (``dataset_tools.spec`` reads the file).

Example (``dataset_tools/datasets/amazon-beauty.yaml``)::

    hsu:
      stage_length: 13
      max_items: null       # most recent training items shown (null: all)
      operations: [add, delete, update, retain]
      item_line: ["No.{order}", "title: {title}", "categories: {categories}", "brand: {brand}"]

All keys are optional; command-line options override them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dataset_tools.hsu.items import DEFAULT_ITEM_LINE, ItemLineTemplate
from dataset_tools.hsu.prompts import ALL_OPERATIONS, validate_operations
from dataset_tools.hsu.stages import DEFAULT_STAGE_LENGTH
from dataset_tools.spec import DatasetSpec
from dataset_tools import DatasetToolsError

_KEYS = {"stage_length", "max_items", "operations", "item_line"}


@dataclass(frozen=True)
class HsuSpec:
    """The validated ``hsu:`` section with defaults filled in."""

    stage_length: int = DEFAULT_STAGE_LENGTH
    operations: tuple[str, ...] = ALL_OPERATIONS
    item_line: ItemLineTemplate = ItemLineTemplate(DEFAULT_ITEM_LINE)
    max_items: int | None = None


def parse_hsu_section(spec: DatasetSpec) -> HsuSpec:
    """Validate ``spec``'s ``hsu:`` section; errors name the YAML file and key."""
    section: Any = spec.section("hsu", {}) or {}
    if not isinstance(section, dict):
        raise spec.error("hsu", f"must be a mapping, got {type(section).__name__}")
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise spec.error(f"hsu.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_KEYS))})")
    stage_length = section.get("stage_length", DEFAULT_STAGE_LENGTH)
    if not isinstance(stage_length, int) or isinstance(stage_length, bool) or stage_length < 1:
        raise spec.error("hsu.stage_length", f"must be an integer >= 1, got {stage_length!r}")
    max_items = section.get("max_items")
    if max_items is not None and (not isinstance(max_items, int) or isinstance(max_items, bool) or max_items < 1):
        raise spec.error("hsu.max_items", f"must be an integer >= 1 or null, got {max_items!r}")
    operations = section.get("operations", list(ALL_OPERATIONS))
    if not isinstance(operations, list) or not all(isinstance(op, str) for op in operations):
        raise spec.error("hsu.operations", f"must be a list of operation names, got {operations!r}")
    try:
        ops = validate_operations(operations)
    except DatasetToolsError as exc:
        raise spec.error("hsu.operations", str(exc)) from None
    parts = section.get("item_line", list(DEFAULT_ITEM_LINE))
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
        raise spec.error("hsu.item_line", f"must be a non-empty list of template strings, got {parts!r}")
    try:
        template = ItemLineTemplate(tuple(parts))
    except DatasetToolsError as exc:
        raise spec.error("hsu.item_line", str(exc)) from None
    return HsuSpec(stage_length, ops, template, max_items)
