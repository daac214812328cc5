"""Reader of the Amazon review dumps of 2014 (McAuley et al., SNAP / UCSD).

Files: ``reviews_<Category>.json.gz`` or the 5-core ``reviews_<Category>_5.json.gz``, one
review per line as JSON (``reviewerID``, ``asin``, ``overall``, ``unixReviewTime`` in
seconds); ``meta_<Category>.json.gz``, one product per line as a **Python dict literal**
(single quotes), read with ``ast.literal_eval`` - never ``eval``. Metadata keys:
``asin``, ``title``, ``brand``, ``categories`` (a list of category paths), ``price``,
``salesRank``, ``description``, ``related``, ``imUrl``.

Metadata lines repeating an ``asin`` are counted and the first one kept.
"""

from __future__ import annotations

from dataset_tools.prepare.sources.lines import parse_json_or_literal
from dataset_tools.prepare.sources.records import read_review_source, seconds
from dataset_tools.prepare.sources.registry import SourceContext, SourceData


def read(context: SourceContext) -> SourceData:
    """Read a 2014 reviews file and, when given, its metadata file.

    Review lines are JSON; Python-literal review lines (some mirrors re-serialise them)
    are accepted too, by the same safe literal parser.
    """
    return read_review_source(context, parse_json_or_literal, parse_json_or_literal, seconds, duplicates_are_errors=False)
