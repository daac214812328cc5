"""Reader of the raw layout: ``interactions.txt`` (+ ``items.jsonl``).

``interactions.txt`` holds one ``user item`` pair of integer ids per line, a user's lines
contiguous and in time order (the line number is the time); ``items.jsonl`` one JSON
object per item keyed by ``item_id_key``. The checks live in :mod:`dataset_tools.prepare.read`.
"""

from __future__ import annotations

from dataset_tools.prepare.read import read_raw_interactions, read_raw_items
from dataset_tools.prepare.sources.registry import SourceContext, SourceData


def read(context: SourceContext) -> SourceData:
    """Read the raw layout (ratings do not exist in it: ``rating_threshold`` is an error)."""
    if context.need_ratings:
        from dataset_tools.prepare.problems import RawDataError

        raise RawDataError(f"{context.interactions_path}: prepare.rating_threshold is set but the raw layout has no ratings")
    inter = read_raw_interactions(context.interactions_path, context.warnings)
    items = None
    if context.items_path is not None:
        items = read_raw_items(context.items_path, context.source.item_id_key, context.item_fields, context.warnings)
    return SourceData(inter, items)
