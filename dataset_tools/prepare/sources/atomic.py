"""Reader of RecBole atomic files: ``<name>.inter`` and, optionally, ``<name>.item``.

Atomic files are tab-separated with a typed header, e.g. RecBole's ``Amazon_Beauty.inter``::

    user_id:token	item_id:token	rating:float	timestamp:float

Every header cell must be ``name:type`` with a RecBole type (``token``, ``token_seq``,
``float``, ``float_seq``). The spec's ``source_keys`` pick the columns by name: ``user``
and ``item`` (default ``user_id``, ``item_id``), ``time`` (default ``timestamp``) or
``order`` (a column giving the sequence position, for files without times), and
``rating`` (default ``rating``, read only for ``rating_threshold``). Without a time or
order column the file order is the time axis (a counted warning says so).

In the ``.item`` file the item id column is ``item_id_key`` (default ``item_id``); the
spec's item fields name other columns. A ``token_seq`` cell of a ``kind: list`` field is
split at spaces; empty cells are missing values.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from dataset_tools.prepare.problems import RawDataError, WarningLog
from dataset_tools.prepare.read import Interactions, ItemRecords
from dataset_tools.prepare.sources.lines import decode, id_value, line_error, number_value, numbered_lines, show
from dataset_tools.prepare.sources.registry import SourceContext, SourceData
from dataset_tools.spec import ItemFieldSpec
from dataset_tools.spec_source import FORMATS

ATOMIC_TYPES = ("token", "token_seq", "float", "float_seq")


def parse_header(path: Path, text: str) -> list[tuple[str, str]]:
    """``name:type`` cells of the header line -> ``[(name, type)]``.

    Raises:
        RawDataError: a cell without a known type, or a repeated name (naming the column).
    """
    columns: list[tuple[str, str]] = []
    for cell in text.split("\t"):
        name, sep, kind = cell.strip().rpartition(":")
        if not sep or not name:
            raise line_error(path, 1, f"header cell {cell!r} is not name:type", cell)
        if kind not in ATOMIC_TYPES:
            raise line_error(path, 1, f"unknown type {kind!r} (RecBole types: {', '.join(ATOMIC_TYPES)})", name)
        if name in (n for n, _ in columns):
            raise line_error(path, 1, "column named twice in the header", name)
        columns.append((name, kind))
    return columns


def _rows(path: Path, hasher: Any, warnings: WarningLog):
    """``(line number, header columns, cells)`` of every data line, checked for the column count."""
    columns: list[tuple[str, str]] | None = None
    for line_no, raw in numbered_lines(path, hasher):
        text = decode(path, line_no, raw)
        if columns is None:
            columns = parse_header(path, text)
            yield line_no, columns, None
            continue
        if not text.strip():
            warnings.add("blank_lines", f"blank line in {path.name}, skipped", f"{path}:{line_no}")
            continue
        cells = text.split("\t")
        if len(cells) != len(columns):
            raise line_error(path, line_no, f"expected {len(columns)} tab-separated fields "
                                            f"({', '.join(n for n, _ in columns)}), got {len(cells)}: {show(text)}")
        yield line_no, columns, cells
    if columns is None:
        raise RawDataError(f"{path}: empty file (no header line)")


def _column(names: list[str], key: str | None, role: str, path: Path, optional: bool) -> int | None:
    if key is None:
        return None
    if key in names:
        return names.index(key)
    if optional:
        return None
    raise line_error(path, 1, f"the {role} column named in prepare.source_keys.{role} is not in the header "
                              f"({', '.join(names)})", key)


def read_inter(path: Path, keys: dict[str, str | None], need_ratings: bool, warnings: WarningLog) -> Interactions:
    """Read a ``.inter`` file with the columns ``keys`` names."""
    defaults = FORMATS["atomic"].keys
    hasher = hashlib.sha256()
    users: list[str] = []
    items: list[str] = []
    lines: list[int] = []
    times: list[float] = []
    ratings: list[float] = []
    seen: dict[str, str] = {}
    u = i = t = r = None
    time_key: str | None = None
    n_lines = 0
    for line_no, columns, cells in _rows(path, hasher, warnings):
        n_lines = line_no
        if cells is None:
            names = [n for n, _ in columns]
            u = _column(names, keys["user"], "user", path, optional=False)
            i = _column(names, keys["item"], "item", path, optional=False)
            time_key = keys.get("order") or keys.get("time")
            role = "order" if keys.get("order") else "time"
            # The default time column may be absent: then the file order is the time axis.
            t = _column(names, time_key, role, path, optional=time_key == defaults["time"])
            if t is None:
                time_key = None
                warnings.add("no_time_column", "the .inter has no time or order column: the file order is "
                             "the time axis", f"{path}:1: columns {', '.join(names)}")
            if need_ratings:
                r = _column(names, keys.get("rating"), "rating", path, optional=False)
                if r is None:
                    raise RawDataError(f"{path}: prepare.rating_threshold is set but no rating column is named "
                                       "(prepare.source_keys.rating)")
            continue
        assert u is not None and i is not None
        user = id_value(cells[u], path, line_no, keys["user"] or "")
        item = id_value(cells[i], path, line_no, keys["item"] or "")
        users.append(seen.setdefault("u" + user, user))
        items.append(seen.setdefault("i" + item, item))
        lines.append(line_no)
        if t is not None:
            times.append(number_value(cells[t].strip(), path, line_no, time_key or ""))
        if r is not None:
            ratings.append(number_value(cells[r].strip(), path, line_no, keys.get("rating") or ""))
    return Interactions(path, hasher.hexdigest(), n_lines, users, items, lines,
                        timestamps=times if t is not None else None, ratings=ratings if r is not None else None)


def read_item(path: Path, id_key: str, fields: tuple[ItemFieldSpec, ...], warnings: WarningLog) -> ItemRecords:
    """Read a ``.item`` file: the id column ``id_key`` and the spec's fields (absent columns: missing)."""
    hasher = hashlib.sha256()
    records: dict[str, tuple[int, dict[str, Any]]] = {}
    index: dict[str, tuple[int, str]] = {}
    id_col = 0
    for line_no, columns, cells in _rows(path, hasher, warnings):
        if cells is None:
            names = [n for n, _ in columns]
            id_col = _column(names, id_key, "item", path, optional=False)  # type: ignore[assignment]
            index = {n: (k, kind) for k, (n, kind) in enumerate(columns)}
            absent = [f.source_key for f in fields if f.source_key not in index]
            if absent:
                warnings.add("item_columns_absent", "an item field's column is not in the .item header; "
                             "the field is missing for every item", f"{path}:1: {', '.join(absent)}")
            continue
        item_id = id_value(cells[id_col], path, line_no, id_key)
        if item_id in records:
            raise line_error(path, line_no, f"duplicate item {item_id}, first defined at line {records[item_id][0]}",
                             id_key)
        record: dict[str, Any] = {}
        for f in fields:
            if f.source_key not in index:
                record[f.name] = None
                continue
            k, kind = index[f.source_key]
            cell = cells[k].strip()
            if not cell:
                record[f.name] = None
            elif kind.endswith("_seq") and f.kind == "list":
                record[f.name] = cell.split()
            else:
                record[f.name] = cell
        records[item_id] = (line_no, record)
    return ItemRecords(path, hasher.hexdigest(), records)


def read(context: SourceContext) -> SourceData:
    """Read the ``.inter`` file and, when present, the ``.item`` file."""
    inter = read_inter(context.interactions_path, dict(context.source.keys), context.need_ratings, context.warnings)
    items = None
    if context.items_path is not None:
        items = read_item(context.items_path, context.source.item_id_key, context.item_fields, context.warnings)
    return SourceData(inter, items)
