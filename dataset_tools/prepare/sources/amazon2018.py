"""Reader of the Amazon review dumps of 2018 (Ni, Li and McAuley, EMNLP 2019).

Files: ``<Category>.json.gz`` (e.g. ``AMAZON_FASHION.json.gz``) or the 5-core
``<Category>_5.json.gz``, one review per line as JSON (``reviewerID``, ``asin``,
``overall``, ``unixReviewTime`` in seconds, ``verified``, ``style``); and
``meta_<Category>.json.gz``, one product per line as JSON (``asin``, ``title``, ``brand``,
``category`` (a list), ``description``, ``feature``, ``price`` like ``"$12.99"``,
``main_cat``, ``rank``).

The 2018 metadata files repeat some products: a repeated ``asin`` is counted
(``duplicate_item_records``) and its first record kept. Reviews repeated verbatim are
interactions like any other; ``duplicates: keep_first`` removes them.
"""

from __future__ import annotations

from dataset_tools.prepare.sources.lines import parse_json_object, parse_json_or_literal
from dataset_tools.prepare.sources.records import read_review_source, seconds
from dataset_tools.prepare.sources.registry import SourceContext, SourceData


def read(context: SourceContext) -> SourceData:
    """Read a 2018 reviews file (strict JSON lines) and, when given, its metadata file.

    Metadata lines that are Python literals rather than JSON are accepted (some copies of
    the 2018 metadata were written that way).
    """
    return read_review_source(context, parse_json_object, parse_json_or_literal, seconds, duplicates_are_errors=False)
