"""Files with one record (a JSON object or a Python dict literal) per line.

:func:`read_interaction_records` turns such a file into :class:`Interactions` given the
record's user, item, time and rating keys; :func:`read_item_records` turns an items file
into :class:`ItemRecords` keyed by the item id, keeping the spec's fields. Both check
every line and name file, line and field on anything unusable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dataset_tools.prepare.problems import RawDataError, WarningLog
from dataset_tools.prepare.read import Interactions, ItemRecords
from dataset_tools.prepare.sources.lines import id_value, line_error, number_value, numbered_lines, require
from dataset_tools.prepare.sources.registry import SourceContext, SourceData
from dataset_tools.spec import ItemFieldSpec

#: ``(path, line number, raw line) -> record``; raises RawDataError.
LineParser = Callable[[Path, int, bytes], dict[str, Any]]
#: ``(raw value, path, line number, field) -> seconds (or order value)``; raises RawDataError.
TimeParser = Callable[[Any, Path, int, str], float]


def seconds(value: Any, path: Path, line_no: int, field: str) -> float:
    """A Unix time in seconds (number or numeric string)."""
    return number_value(value, path, line_no, field)


def milliseconds(value: Any, path: Path, line_no: int, field: str) -> float:
    """A Unix time in milliseconds, returned in seconds."""
    return number_value(value, path, line_no, field) / 1000.0


def read_interaction_records(
    path: Path,
    parse: LineParser,
    keys: Mapping[str, str | None],
    time_parser: TimeParser,
    need_ratings: bool,
    warnings: WarningLog,
) -> Interactions:
    """Read one interaction per line.

    Args:
        keys: ``user``, ``item``, ``time`` and ``rating`` keys of a record (``time`` None:
            the file order is the time axis; ``rating`` is read only when ``need_ratings``).
        time_parser: turns the time value into a number.

    Raises:
        RawDataError: a line that does not parse, a missing or null key, an unusable value.
    """
    hasher = hashlib.sha256()
    user_key, item_key, time_key, rating_key = keys["user"], keys["item"], keys.get("time"), keys.get("rating")
    assert user_key is not None and item_key is not None
    if need_ratings and rating_key is None:
        raise RawDataError(
            f"{path}: prepare.rating_threshold is set but the records have no rating key "
            "(set prepare.source_keys.rating)"
        )
    users: list[str] = []
    items: list[str] = []
    lines: list[int] = []
    times: list[float] = []
    ratings: list[float] = []
    seen: dict[str, str] = {}  # one string object per id: dumps have millions of lines
    n_lines = 0
    for line_no, raw in numbered_lines(path, hasher):
        n_lines = line_no
        if not raw.strip():
            warnings.add("blank_lines", "blank line in the interactions file, skipped", f"{path}:{line_no}")
            continue
        record = parse(path, line_no, raw)
        user = id_value(require(record, user_key, path, line_no), path, line_no, user_key)
        item = id_value(require(record, item_key, path, line_no), path, line_no, item_key)
        users.append(seen.setdefault("u" + user, user))
        items.append(seen.setdefault("i" + item, item))
        lines.append(line_no)
        if time_key is not None:
            times.append(time_parser(require(record, time_key, path, line_no), path, line_no, time_key))
        if need_ratings:
            assert rating_key is not None
            ratings.append(number_value(require(record, rating_key, path, line_no), path, line_no, rating_key))
    return Interactions(
        path=path,
        sha256=hasher.hexdigest(),
        n_lines=n_lines,
        users=users,
        items=items,
        line_numbers=lines,
        timestamps=times if time_key is not None else None,
        ratings=ratings if need_ratings else None,
    )


def read_item_records(
    path: Path,
    parse: LineParser,
    id_key: str,
    fields: tuple[ItemFieldSpec, ...],
    warnings: WarningLog,
    *,
    duplicates_are_errors: bool = True,
    missing_id_is_error: bool = True,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> ItemRecords:
    """Read one item per line, keeping the spec's fields (each from ``field.source_key``).

    Args:
        duplicates_are_errors: a second record of an id is an error naming both lines;
            otherwise the first record is kept and the others are counted
            (``duplicate_item_records``) - public dumps that repeat records need this.
        missing_id_is_error: a record without an id is an error; otherwise it is skipped
            and counted (``item_records_without_id``).
        transform: applied to each record before the fields are taken (e.g. splitting a
            comma-separated category string into a list).

    Raises:
        RawDataError: naming file, line and field.
    """
    hasher = hashlib.sha256()
    wanted = [(f.name, f.source_key) for f in fields]
    records: dict[str, tuple[int, dict[str, Any]]] = {}
    for line_no, raw in numbered_lines(path, hasher):
        if not raw.strip():
            warnings.add("blank_lines", "blank line in the items file, skipped", f"{path}:{line_no}")
            continue
        record = parse(path, line_no, raw)
        if record.get(id_key) is None and not missing_id_is_error:
            warnings.add("item_records_without_id", f"item record without '{id_key}', skipped", f"{path}:{line_no}")
            continue
        item_id = id_value(require(record, id_key, path, line_no), path, line_no, id_key)
        if item_id in records:
            first = records[item_id][0]
            if duplicates_are_errors:
                raise line_error(path, line_no, f"duplicate item {item_id}, first defined at line {first}", id_key)
            warnings.add("duplicate_item_records", "item id repeated in the items file; the first record is kept",
                         f"{path}:{line_no}: item {item_id} (first at line {first})")
            continue
        if transform is not None:
            record = transform(record)
        records[item_id] = (line_no, {name: record.get(key) for name, key in wanted})
    return ItemRecords(path, hasher.hexdigest(), records)


def read_review_source(context: SourceContext, review_parser: LineParser, item_parser: LineParser,
                       time_value: Callable[..., float], **item_options: Any) -> SourceData:
    """The reader of a dump made of a one-record-per-line review file and, when given, a
    one-record-per-line item file: each format only names its line parsers, how its times
    read, and the :func:`read_item_records` options its item file needs."""
    inter = read_interaction_records(
        context.interactions_path, review_parser, context.source.keys, time_value,
        context.need_ratings, context.warnings,
    )
    items = None
    if context.items_path is not None:
        items = read_item_records(
            context.items_path, item_parser, context.source.item_id_key, context.item_fields,
            context.warnings, **item_options,
        )
    return SourceData(inter, items)
