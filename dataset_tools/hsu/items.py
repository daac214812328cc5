"""Item text for prompts: load ``<ds>.item_text.jsonl`` and render item lines.

The item line template comes from the dataset spec's ``hsu.item_line`` (a list of parts,
paper Fig. 4a). Each part is a ``str.format`` template over the item's text fields plus
``order`` (1-based position in the stage). A part whose fields are all missing or empty
for an item is left out of that item's line, so optional fields (Beauty's ``brand``)
need no special syntax. List values are joined with ``", "``.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset_tools import DatasetToolsError
from dataset_tools.formats.item_text import as_text, has_value, read_item_text

logger = logging.getLogger(__name__)

#: Used when a dataset spec has no ``hsu.item_line`` (title-only datasets, paper's Fashion).
DEFAULT_ITEM_LINE: tuple[str, ...] = ("No.{order}", "Title: {title}.")


def load_item_text(path: Path) -> dict[str, dict[str, Any]]:
    """Read ``<ds>.item_text.jsonl`` for prompts: ``{item token: fields}``.

    Raises:
        DatasetToolsError: the file is missing (the dataset has no item text), a line is
            not a JSON object with ``item_id``, or no item has a non-empty ``title``.
    """
    items = read_item_text(path, consequence="HSU needs item titles")
    if not any(has_value(r.get("title")) for r in items.values()):
        raise DatasetToolsError(f"{path}: no item has a non-empty 'title'; HSU prompts need item titles")
    return items


@dataclass(frozen=True)
class ItemLineTemplate:
    """Renders one item as a line of a prompt's interaction record.

    Attributes:
        parts: ``str.format`` templates joined by a space; ``{order}`` is the 1-based
            position within the stage, other names are item text fields.
    """

    parts: tuple[str, ...] = DEFAULT_ITEM_LINE

    def __post_init__(self) -> None:
        if not self.parts:
            raise DatasetToolsError("hsu.item_line: needs at least one part")
        for part in self.parts:
            try:
                list(string.Formatter().parse(part))
            except ValueError as exc:
                raise DatasetToolsError(f"hsu.item_line: part {part!r} is not a valid template: {exc}") from None

    @property
    def fields(self) -> set[str]:
        """Item text fields the template reads (``order`` excluded)."""
        names = {name for part in self.parts for _, name, _, _ in string.Formatter().parse(part) if name}
        return names - {"order"}

    def render(self, order: int, item: Mapping[str, Any] | None, item_id: str) -> str:
        """One line for ``item`` at position ``order``; an unknown item gets its id as title."""
        values: dict[str, Any] = dict(item or {})
        if not has_value(values.get("title")):
            values["title"] = f"(item {item_id}, no title)"
        rendered = []
        for part in self.parts:
            names = [n for _, n, _, _ in string.Formatter().parse(part) if n]
            data = {n: as_text(values[n]) for n in names if n != "order" and has_value(values.get(n))}
            if any(n != "order" and n not in data for n in names):
                continue  # an optional field is missing for this item: drop the whole part
            rendered.append(part.format(order=order, **data))
        return " ".join(rendered)

    def render_stage(self, item_ids: Sequence[str], item_text: Mapping[str, Mapping[str, Any]]) -> str:
        """The interaction record of one stage, one line per item."""
        return "\n".join(
            self.render(order, item_text.get(item_id), item_id) for order, item_id in enumerate(item_ids, start=1)
        )
