"""Reader of the Steam dumps of Kang and McAuley (ICDM 2018, the SASRec paper; UCSD).

Files (both one **Python dict literal** per line, read with ``ast.literal_eval``):

- ``steam_reviews.json.gz`` ("version 2" reviews): ``username``, ``product_id``,
  ``date`` (``YYYY-MM-DD``), ``hours``, ``text``, ``early_access``, and for some users
  ``user_id``. The user is ``username`` by default (present on every line; ``user_id``
  is not); the day becomes seconds since 1970 (UTC midnight), so a user's reviews of one
  day tie and keep their file order.
- ``steam_games.json.gz``: ``id``, ``app_name``, ``title``, ``genres``, ``tags``,
  ``specs``, ``price`` (a number, or text such as ``Free To Play``), ``developer``,
  ``publisher``, ``release_date``. Records without ``id`` are counted and skipped, and a
  repeated ``id`` keeps its first record (both seen in the public file).

Not supported: the per-user files (``australian_user_reviews.json.gz``,
``australian_users_items.json.gz``), which nest a user's reviews in one line and date
them as ``Posted November 5, 2011.`` (without a year for the crawl's own year), so they
give no complete time order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataset_tools.prepare.sources.lines import date_value, parse_json_or_literal
from dataset_tools.prepare.sources.records import read_review_source
from dataset_tools.prepare.sources.registry import SourceContext, SourceData

DATE_FORMAT = "%Y-%m-%d"


def review_day(value: Any, path: Path, line_no: int, field: str) -> float:
    """``2017-12-17`` (UTC midnight) -> seconds since 1970."""
    return date_value(value, path, line_no, field, DATE_FORMAT)


def read(context: SourceContext) -> SourceData:
    """Read the Steam reviews file and, when present, the games file."""
    return read_review_source(context, parse_json_or_literal, parse_json_or_literal, review_day,
                              duplicates_are_errors=False, missing_id_is_error=False)
