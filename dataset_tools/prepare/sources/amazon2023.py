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
from dataset_tools.prepare.sources.records import milliseconds, read_review_source
from dataset_tools.prepare.sources.registry import SourceContext, SourceData


def read(context: SourceContext) -> SourceData:
    """Read a Reviews'23 reviews file and, when given, its metadata file."""
    return read_review_source(context, parse_json_object, parse_json_object, milliseconds, duplicates_are_errors=False)
