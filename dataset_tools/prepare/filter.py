"""Which interactions and items are written, and how they match the items file.

:class:`KeptInteractions` holds the rows the preprocessing steps
(:mod:`dataset_tools.prepare.preprocess`) keep. Items are kept when a kept interaction
uses them; an interacted item without metadata keeps its interactions and gets no text
(counted), an item of the items file without any kept interaction is not written
(counted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from dataset_tools.prepare.problems import MAX_EXAMPLES, WarningLog
from dataset_tools.prepare.read import Interactions, ItemRecords


@dataclass
class KeptInteractions:
    """The interactions that are written.

    Attributes:
        rows: indices into the raw ``Interactions`` lists, in file order.
        items: item ids used by those rows, in order of first use.
        raw_user_lengths: interactions per user before filtering.
        dropped_users: users with too few interactions.
    """

    rows: list[int]
    items: list[str]
    raw_user_lengths: Counter
    dropped_users: set[str]


@dataclass
class ItemCoverage:
    """How the kept interactions and the items file match.

    Attributes:
        unknown_items: interacted items without an entry in the items file.
        unknown_interactions: kept interactions of those items.
        never_interacted: ``(line, item)`` of items-file entries without a kept interaction.
    """

    unknown_items: list[str]
    unknown_interactions: int
    never_interacted: list[tuple[int, str]]


def check_item_coverage(
    inter: Interactions, kept: KeptInteractions, items: ItemRecords, warnings: WarningLog
) -> ItemCoverage:
    """Count interacted items without metadata and metadata without interactions."""
    unknown_items = [i for i in kept.items if i not in items.records]
    unknown_interactions = 0
    if unknown_items:
        unknown_set = set(unknown_items)
        first_line_of_unknown: dict[str, int] = {}
        for k in kept.rows:
            if inter.items[k] in unknown_set:
                unknown_interactions += 1
                first_line_of_unknown.setdefault(inter.items[k], inter.line_numbers[k])
        warnings.add_many(
            "unknown_items",
            f"item in {inter.path.name} has no entry in {items.path.name}; "
            "its interactions are kept, the item has no text",
            len(unknown_items),
            [f"{inter.path}:{ln}: item {i}" for i, ln in list(first_line_of_unknown.items())[:MAX_EXAMPLES]],
        )
    kept_item_set = set(kept.items)
    never = [(ln, i) for i, (ln, _) in items.records.items() if i not in kept_item_set]
    if never:
        warnings.add_many(
            "items_not_interacted",
            "item of the items file without any (kept) interaction; not written",
            len(never),
            [f"{items.path}:{ln}: item {i}" for ln, i in never[:MAX_EXAMPLES]],
        )
    return ItemCoverage(unknown_items, unknown_interactions, never)

