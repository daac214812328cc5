"""Readers of the MovieLens dumps (GroupLens): ml-1m and ml-20m.

ml-1m: ``ratings.dat`` with ``UserID::MovieID::Rating::Timestamp`` per line (seconds);
``movies.dat`` with ``MovieID::Title::Genres`` per line, **latin-1** encoded, genres
separated by ``|``.

ml-20m (and ml-25m / ml-latest, same layout): ``ratings.csv`` with the header
``userId,movieId,rating,timestamp``; ``movies.csv`` with ``movieId,title,genres`` (CSV
quoting: titles with commas are quoted), UTF-8.

Item records offer ``title`` (as written, with the year), ``year`` (the trailing
``(1995)`` of the title, or missing) and ``genres`` (a list; ml-20m writes
``(no genres listed)`` for none - list it under the field's ``missing_values``).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataset_tools.prepare.problems import WarningLog
from dataset_tools.prepare.read import Interactions, ItemRecords
from dataset_tools.prepare.sources.lines import decode, id_value, line_error, number_value, numbered_lines, show
from dataset_tools.prepare.sources.registry import SourceContext, SourceData
from dataset_tools.spec import ItemFieldSpec

_YEAR_RE = re.compile(r"\((\d{4})\)\s*$")
ML1M_RATING_FIELDS = ("UserID", "MovieID", "Rating", "Timestamp")
ML1M_MOVIE_FIELDS = ("MovieID", "Title", "Genres")
ML20M_RATING_HEADER = ("userId", "movieId", "rating", "timestamp")
ML20M_MOVIE_HEADER = ("movieId", "title", "genres")

#: ``(path, line number, text) -> the line's cells``; raises RawDataError.
Splitter = Callable[[Path, int, str], list[str]]


def _split_dat(path: Path, line_no: int, text: str) -> list[str]:
    return text.split("::")


def _split_csv(path: Path, line_no: int, text: str) -> list[str]:
    try:
        return next(csv.reader([text]))
    except (csv.Error, StopIteration) as exc:
        raise line_error(path, line_no, f"not a CSV line ({exc}): {show(text)}") from None


def _cells(path: Path, line_no: int, text: str, split: Splitter, names: tuple[str, ...]) -> list[str]:
    cells = split(path, line_no, text)
    if len(cells) != len(names):
        raise line_error(path, line_no, f"expected {len(names)} fields ({', '.join(names)}), "
                                        f"got {len(cells)}: {show(text)}")
    return cells


def _integer_id(value: str, path: Path, line_no: int, field: str) -> str:
    if not value.strip().isdigit():
        raise line_error(path, line_no, f"expected an integer id, got {value!r}", field)
    return id_value(str(int(value)), path, line_no, field)


def _read_ratings(
    path: Path, split: Splitter, names: tuple[str, ...], header: bool, need_ratings: bool, warnings: WarningLog
) -> Interactions:
    hasher = hashlib.sha256()
    seen: dict[str, str] = {}  # one string object per id: ml-20m has 20M rows
    users: list[str] = []
    items: list[str] = []
    lines: list[int] = []
    times: list[float] = []
    ratings: list[float] = []
    n_lines = 0
    for line_no, raw in numbered_lines(path, hasher):
        n_lines = line_no
        text = decode(path, line_no, raw)
        if header and line_no == 1:
            if tuple(c.strip() for c in _split_csv(path, 1, text)) != names:
                raise line_error(path, 1, f"expected the header {','.join(names)}, got {show(text)}")
            continue
        if not text.strip():
            warnings.add("blank_lines", "blank line in the ratings file, skipped", f"{path}:{line_no}")
            continue
        user, item, rating, stamp = _cells(path, line_no, text, split, names)
        user = _integer_id(user, path, line_no, names[0])
        item = _integer_id(item, path, line_no, names[1])
        rating_value = number_value(rating, path, line_no, names[2])
        time_value = number_value(stamp, path, line_no, names[3])
        users.append(seen.setdefault(user, user))
        items.append(seen.setdefault("i" + item, item))
        lines.append(line_no)
        times.append(time_value)
        if need_ratings:
            ratings.append(rating_value)
    return Interactions(path, hasher.hexdigest(), n_lines, users, items, lines,
                        timestamps=times, ratings=ratings if need_ratings else None)


def _read_movies(
    path: Path, split: Splitter, names: tuple[str, ...], header: bool, encoding: str,
    fields: tuple[ItemFieldSpec, ...], warnings: WarningLog,
) -> ItemRecords:
    hasher = hashlib.sha256()
    records: dict[str, tuple[int, dict[str, Any]]] = {}
    for line_no, raw in numbered_lines(path, hasher):
        text = decode(path, line_no, raw, encoding)
        if header and line_no == 1:
            if tuple(c.strip() for c in _split_csv(path, 1, text)) != names:
                raise line_error(path, 1, f"expected the header {','.join(names)}, got {show(text)}")
            continue
        if not text.strip():
            warnings.add("blank_lines", "blank line in the movies file, skipped", f"{path}:{line_no}")
            continue
        movie, title, genres = _cells(path, line_no, text, split, names)
        movie = _integer_id(movie, path, line_no, names[0])
        if movie in records:
            raise line_error(path, line_no, f"duplicate movie {movie}, first defined at line {records[movie][0]}",
                             names[0])
        year = _YEAR_RE.search(title)
        record = {
            "title": title.strip(),
            "year": year.group(1) if year else None,
            "genres": [g for g in genres.split("|") if g],
        }
        records[movie] = (line_no, {f.name: record.get(f.source_key) for f in fields})
    return ItemRecords(path, hasher.hexdigest(), records)


def read_ml1m(context: SourceContext) -> SourceData:
    """Read ml-1m's ``ratings.dat`` and, when present, ``movies.dat`` (latin-1)."""
    inter = _read_ratings(context.interactions_path, _split_dat, ML1M_RATING_FIELDS, False,
                          context.need_ratings, context.warnings)
    items = None
    if context.items_path is not None:
        items = _read_movies(context.items_path, _split_dat, ML1M_MOVIE_FIELDS, False, "latin-1",
                             context.item_fields, context.warnings)
    return SourceData(inter, items)


def read_ml20m(context: SourceContext) -> SourceData:
    """Read ml-20m's ``ratings.csv`` and, when present, ``movies.csv`` (both with headers)."""
    inter = _read_ratings(context.interactions_path, _split_csv, ML20M_RATING_HEADER, True,
                          context.need_ratings, context.warnings)
    items = None
    if context.items_path is not None:
        items = _read_movies(context.items_path, _split_csv, ML20M_MOVIE_HEADER, True, "utf-8",
                             context.item_fields, context.warnings)
    return SourceData(inter, items)
