"""Reader of the Amazon Reviews'23 dumps (Hou et al., 2024).

Files: ``<Category>.jsonl`` (often gzipped), one review per line as JSON (``user_id``,
``asin``, ``parent_asin``, ``rating``, ``timestamp`` in **milliseconds**, ``title``,
``text``); and ``meta_<Category>.jsonl``, one product per line (``parent_asin``,
``title``, ``main_category``, ``store``, ``categories``, ``features``, ``description``,
``price``, ``details``).

Items are ``parent_asin`` by default (the product, all its variants together), as the
Reviews'23 benchmark splits do; ``source_keys: {item: asin}`` uses the variant instead
(the metadata file is keyed by ``parent_asin`` only). Timestamps are divided by 1000:
every Amazon reader reports seconds.
"""

from __future__ import annotations

from dataset_tools.prepare.sources.lines import parse_json_object
from dataset_tools.prepare.sources.records import milliseconds, read_interaction_records, read_item_records
from dataset_tools.prepare.sources.registry import SourceContext, SourceData


def read(context: SourceContext) -> SourceData:
    """Read a Reviews'23 reviews file and, when given, its metadata file."""
    inter = read_interaction_records(
        context.interactions_path, parse_json_object, context.source.keys, milliseconds,
        context.need_ratings, context.warnings,
    )
    items = None
    if context.items_path is not None:
        items = read_item_records(
            context.items_path, parse_json_object, context.source.item_id_key, context.item_fields,
            context.warnings, duplicates_are_errors=False,
        )
    return SourceData(inter, items)
