"""Reader of the Yelp Open Dataset (JSON lines).

Files: ``yelp_academic_dataset_review.json``, one review per line (``review_id``,
``user_id``, ``business_id``, ``stars``, ``date`` as ``YYYY-MM-DD HH:MM:SS``); and
``yelp_academic_dataset_business.json``, one business per line (``business_id``,
``name``, ``city``, ``state``, ``stars``, ``categories`` as one comma-separated string,
``attributes``, ``hours``).

Dates are read as UTC and become seconds since 1970. ``categories`` is split at commas
into a list, so a ``kind: list`` field keeps each category; the business name is
``name`` (``title: {kind: text, source: name}`` in a spec).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataset_tools.prepare.sources.lines import date_value, parse_json_object
from dataset_tools.prepare.sources.records import read_review_source
from dataset_tools.prepare.sources.registry import SourceContext, SourceData

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def review_time(value: Any, path: Path, line_no: int, field: str) -> float:
    """``2018-07-07 22:09:11`` (UTC) -> seconds since 1970."""
    return date_value(value, path, line_no, field, DATE_FORMAT)


def split_categories(record: dict[str, Any]) -> dict[str, Any]:
    """``"Pizza, Restaurants"`` -> ``["Pizza", "Restaurants"]`` (other values unchanged)."""
    categories = record.get("categories")
    if isinstance(categories, str):
        record = {**record, "categories": [c.strip() for c in categories.split(",") if c.strip()]}
    return record


def read(context: SourceContext) -> SourceData:
    """Read the Yelp review file and, when present, the business file."""
    return read_review_source(context, parse_json_object, parse_json_object, review_time, transform=split_categories)
