"""Convert step: raw item-field values into the values of ``.item`` and ``.item_text.jsonl``.

Each field of the dataset spec has a kind (``text``, ``token``, ``list``, ``float``);
:func:`convert_field` turns one raw JSON value into a :class:`FieldValue` holding the
cell of the ``.item`` column and the value of the item-text record, or reports it
missing or unusable. :func:`convert_items` does this for every written item and counts
what it repaired or dropped.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dataset_tools.formats.item import atomic_text
from dataset_tools.prepare.problems import WarningLog
from dataset_tools.prepare.read import ItemRecords
from dataset_tools.spec import ItemFieldSpec

# Control characters other than ordinary spaces: tabs and newlines would break the TSV
# atomic files, the rest is invisible noise in LLM prompts.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def clean_text(value: str) -> tuple[str, bool]:
    """Replace control characters (tabs, newlines, ...) by spaces and collapse whitespace.

    Returns:
        (cleaned string, whether control characters were replaced).
    """
    sanitised = _CONTROL_RE.search(value) is not None
    if sanitised:
        value = _CONTROL_RE.sub(" ", value)
    return " ".join(value.split()), sanitised


class BadValue(ValueError):
    """A field value of the wrong type for its kind (counted and treated as missing)."""


@dataclass(frozen=True)
class FieldValue:
    """A converted item-field value: ``atomic`` for the ``.item`` column, ``text`` for JSON."""

    atomic: str
    text: str | float | list[str]


def _flatten(value: list[Any]) -> Iterator[Any]:
    for element in value:
        if isinstance(element, list):
            yield from _flatten(element)
        else:
            yield element


def convert_field(value: Any, spec: ItemFieldSpec) -> tuple[FieldValue | None, bool]:
    """Convert one raw value according to its field kind.

    Returns:
        (the value, or None when missing; whether text had to be sanitised).

    Raises:
        BadValue: the value has a type the kind cannot hold (e.g. an object for ``text``).
    """
    missing = spec.missing_values
    if value is None:
        return None, False
    if spec.kind == "list":
        elements = list(_flatten(value)) if isinstance(value, list) else [value]
        cleaned: list[str] = []
        sanitised = False
        for element in elements:
            if element is None:
                continue
            if isinstance(element, (dict, bool)):
                raise BadValue(f"list element {element!r} is not a string or number")
            text, was_sanitised = clean_text(str(element))
            sanitised |= was_sanitised
            if text and text not in missing and text not in cleaned:
                cleaned.append(text)
        if not cleaned:
            return None, sanitised
        return FieldValue(atomic_text(" ".join(t.replace(" ", "_") for t in cleaned)), cleaned), sanitised
    if isinstance(value, (dict, list, bool)):
        raise BadValue(f"expected a single {spec.kind} value, got {type(value).__name__}")
    if spec.kind == "float":
        if isinstance(value, str):
            text = value.strip()
            if not text or text in missing:
                return None, False
            try:
                # Prices often come as "$1,299.00".
                number = float(text.removeprefix("$").replace(",", ""))
            except ValueError as exc:
                raise BadValue(f"{text!r} is not a number") from exc
        else:
            number = float(value)
            if str(value) in missing:
                return None, False
        if not math.isfinite(number):
            raise BadValue(f"{value!r} is not a finite number")
        return FieldValue(repr(number), number), False
    text, sanitised = clean_text(str(value))
    if not text or text in missing:
        return None, sanitised
    # text -> token_seq of words (already single-space separated); token -> one value.
    return FieldValue(atomic_text(text), text), sanitised


@dataclass
class ConvertedItems:
    """Converted fields of the items that are written, in items-file order.

    ``rows`` holds ``(item id, one value or None per spec field)``; ``present`` and
    ``missing`` count, per field name, the items with and without a value.
    """

    rows: list[tuple[str, list[FieldValue | None]]]
    present: Counter
    missing: Counter


def convert_items(
    items: ItemRecords, keep: set[str], fields: tuple[ItemFieldSpec, ...], warnings: WarningLog
) -> ConvertedItems:
    """Convert the spec's fields of every item in ``keep``; problems are counted in ``warnings``."""
    rows: list[tuple[str, list[FieldValue | None]]] = []
    present: Counter = Counter()
    missing: Counter = Counter()
    for item_id, (ln, record) in items.records.items():
        if item_id not in keep:
            continue
        values: list[FieldValue | None] = []
        for fspec in fields:
            try:
                value, sanitised = convert_field(record[fspec.name], fspec)
            except BadValue as exc:
                warnings.add(
                    f"bad_value.{fspec.name}",
                    f"value of '{fspec.name}' unusable as {fspec.kind}; treated as missing",
                    f"{items.path}:{ln}: {exc}",
                )
                value, sanitised = None, False
            if sanitised:
                warnings.add(
                    f"sanitised.{fspec.name}",
                    f"tabs/newlines/control characters in '{fspec.name}' replaced by spaces",
                    f"{items.path}:{ln}: item {item_id}",
                )
            if value is None:
                missing[fspec.name] += 1
                if fspec.required:
                    warnings.add(
                        f"missing.{fspec.name}",
                        f"required field '{fspec.name}' missing or empty; item kept without it",
                        f"{items.path}:{ln}: item {item_id}",
                    )
            else:
                present[fspec.name] += 1
            values.append(value)
        rows.append((item_id, values))
    return ConvertedItems(rows, present, missing)
