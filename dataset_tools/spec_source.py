"""The source part of a ``prepare:`` section: which raw format, which files, which keys.

``prepare.format`` names the reader (``dataset_tools/prepare/sources/``); every format
brings defaults for the files it reads and for the keys (or columns) of a raw interaction
record, so a spec only names what differs from the public dump's layout:

=============  ===================================  ====================================  ============
format         interactions_file                    items_file                            item_id_key
=============  ===================================  ====================================  ============
raw            interactions.txt                     items.jsonl                           item_id
atomic         ``*.inter`` (the only one)           ``*.item`` (optional)                 item_id
amazon2014     ``reviews_*.json*`` (the only one)   ``meta_*.json*`` (optional)           asin
amazon2018     (required)                           (optional, none by default)           asin
amazon2023     (required)                           (optional, none by default)           parent_asin
ml-1m          ratings.dat                          movies.dat (optional)                 MovieID
ml-20m         ratings.csv                          movies.csv (optional)                 movieId
yelp           yelp_academic_dataset_review.json    yelp_academic_dataset_business.json   business_id
steam          steam_reviews.json.gz                steam_games.json.gz                   id
=============  ===================================  ====================================  ============

A file name may be a glob pattern; it must then match exactly one file of the raw folder.
A defaulted items file that is absent means "no item metadata" (a counted warning); an
items file the spec names explicitly must exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Roles of a raw interaction record's keys (columns for atomic files).
KEY_ROLES = ("user", "item", "time", "order", "rating")


@dataclass(frozen=True)
class FormatDefaults:
    """What a format reads when the spec says nothing.

    Attributes:
        interactions_file: default interactions file name or glob (None: the spec must name it).
        items_file: default items file name or glob (None: no items file by default).
        item_id_key: key (column) of the item id in the items file.
        keys: role -> default key of an interaction record; empty when the format has
            fixed columns (``raw``, MovieLens) and ``source_keys`` is not accepted.
        time_unit: what the time values mean, for the report.
    """

    interactions_file: str | None
    items_file: str | None
    item_id_key: str
    keys: Mapping[str, str | None] = field(default_factory=dict)
    time_unit: str = "seconds since 1970 (UTC)"


_AMAZON_OLD_KEYS = {"user": "reviewerID", "item": "asin", "time": "unixReviewTime", "rating": "overall"}

#: Every format ``prepare`` reads, with its defaults.
FORMATS: dict[str, FormatDefaults] = {
    "raw": FormatDefaults("interactions.txt", "items.jsonl", "item_id", {}, "line number (file order)"),
    "atomic": FormatDefaults(
        "*.inter", "*.item", "item_id",
        {"user": "user_id", "item": "item_id", "time": "timestamp", "order": None, "rating": "rating"},
        "as in the time (or order) column",
    ),
    "amazon2014": FormatDefaults("reviews_*.json*", "meta_*.json*", "asin", _AMAZON_OLD_KEYS),
    "amazon2018": FormatDefaults(None, None, "asin", _AMAZON_OLD_KEYS),
    "amazon2023": FormatDefaults(
        None, None, "parent_asin",
        {"user": "user_id", "item": "parent_asin", "time": "timestamp", "rating": "rating"},
        "seconds since 1970 (UTC; the dump's milliseconds / 1000)",
    ),
    "ml-1m": FormatDefaults("ratings.dat", "movies.dat", "MovieID", {}),
    "ml-20m": FormatDefaults("ratings.csv", "movies.csv", "movieId", {}),
    "yelp": FormatDefaults(
        "yelp_academic_dataset_review.json", "yelp_academic_dataset_business.json", "business_id",
        {"user": "user_id", "item": "business_id", "time": "date", "rating": "stars"},
        "seconds since 1970 (the review's date read as UTC)",
    ),
    "steam": FormatDefaults(
        "steam_reviews.json.gz", "steam_games.json.gz", "id",
        {"user": "username", "item": "product_id", "time": "date", "rating": None},
        "seconds since 1970 (the review's day, UTC midnight)",
    ),
}


@dataclass(frozen=True)
class SourceSpec:
    """The validated source settings of ``prepare:`` (defaults of the format filled in).

    Attributes:
        format: a key of :data:`FORMATS`.
        interactions_file: file name or glob pattern, relative to the raw folder.
        items_file: file name or glob, or None for interactions only.
        items_required: the spec named ``items_file`` itself, so it must exist.
        item_id_key: key (column) of the item id in the items file.
        keys: role -> key (column) of an interaction record, None for an unused role.
    """

    format: str = "raw"
    interactions_file: str = "interactions.txt"
    items_file: str | None = "items.jsonl"
    items_required: bool = True
    item_id_key: str = "item_id"
    keys: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def time_unit(self) -> str:
        return FORMATS[self.format].time_unit

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "interactions_file": self.interactions_file,
            "items_file": self.items_file,
            "item_id_key": self.item_id_key,
            "source_keys": dict(self.keys),
        }


#: Keys of ``prepare:`` that :func:`parse_source` reads.
SOURCE_KEYS = {"format", "interactions_file", "items_file", "item_id_key", "source_keys"}


def parse_source(
    section: Mapping[str, Any], fail: Callable[[str, str], Exception], default_spec: bool, has_item_fields: bool
) -> SourceSpec:
    """Validate the source keys of a ``prepare:`` mapping.

    Args:
        section: the ``prepare:`` mapping.
        fail: builds the exception for ``(key path, message)``.
        default_spec: the built-in default spec, whose items file is always optional.
        has_item_fields: the spec lists item fields (so it needs its items file).

    Raises:
        the exception ``fail`` builds, naming the key (e.g. ``prepare.source_keys.time``).
    """
    fmt = section.get("format", "raw")
    if fmt not in FORMATS:
        raise fail("prepare.format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    defaults = FORMATS[fmt]

    inter = section.get("interactions_file", defaults.interactions_file)
    if inter is None and "interactions_file" not in section:
        raise fail("prepare.interactions_file", f"format {fmt} has no default file name: name the reviews file")
    if not isinstance(inter, str) or not inter.strip():
        raise fail("prepare.interactions_file", f"must be a non-empty string, got {inter!r}")

    explicit_items = "items_file" in section
    items = section.get("items_file", defaults.items_file)
    if items is not None and (not isinstance(items, str) or not items.strip()):
        raise fail("prepare.items_file", f"must be a file name or null, got {items!r}")

    item_id_key = section.get("item_id_key", defaults.item_id_key)
    if not isinstance(item_id_key, str) or not item_id_key:
        raise fail("prepare.item_id_key", f"must be a non-empty string, got {item_id_key!r}")

    keys: dict[str, str | None] = dict(defaults.keys)
    given = section.get("source_keys")
    if given is not None:
        if not defaults.keys:
            raise fail("prepare.source_keys", f"format {fmt} has fixed columns; remove source_keys")
        if not isinstance(given, Mapping):
            raise fail("prepare.source_keys", f"must be a mapping role -> key, got {type(given).__name__}")
        for role, key in given.items():
            if role not in defaults.keys:
                raise fail(f"prepare.source_keys.{role}",
                           f"unknown role for format {fmt} (known: {', '.join(defaults.keys)})")
            if key is not None and (not isinstance(key, str) or not key):
                raise fail(f"prepare.source_keys.{role}", f"must be a key name or null, got {key!r}")
            if role in ("user", "item") and key is None:
                raise fail(f"prepare.source_keys.{role}", "the user and item keys cannot be null")
            keys[role] = key
        if given.get("order") and "time" not in given:
            keys["time"] = None  # an order column replaces the default time column
        if keys.get("time") and keys.get("order"):
            raise fail("prepare.source_keys.order", "give a time key or an order key, not both")
    return SourceSpec(
        format=fmt,
        interactions_file=inter,
        items_file=items,
        # The raw layout always needed its items file unless the spec was the default one.
        items_required=not default_spec and (explicit_items or has_item_fields or fmt == "raw"),
        item_id_key=item_id_key,
        keys=keys,
    )
