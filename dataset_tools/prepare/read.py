"""Read step: the raw layout, checked line by line.

The raw layout of a dataset folder:

- ``interactions.txt``: one ``user item`` pair of integer ids per line, separated by a
  space; a user's lines are contiguous and in time order (the raw data has no times, so
  the line order is the time axis).
- ``items.jsonl`` (optional): one JSON object per item, keyed by ``item_id`` (the key
  name is the spec's ``prepare.item_id_key``).

Readers hash every byte they read (the sha256 goes into ``<name>.prepare.json``) and
raise :class:`RawDataError` naming file, line and field on anything unusable.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset_tools.prepare.problems import RawDataError, WarningLog
from dataset_tools.prepare.sources.lines import numbered_lines, show
from dataset_tools.spec import DatasetSpec, ItemFieldSpec

_ID_RE = re.compile(rb"^[0-9]+$")


def _numbered_lines(path: Path, hasher: Any, desc: str) -> Iterator[tuple[int, bytes]]:
    """Yield ``(1-based line number, raw line without line ending)``; hash every byte read.

    Plain or gzipped (detected by the magic bytes); progress in bytes shows as a bar on a
    terminal and as plain log lines otherwise (:mod:`dataset_tools.progress`).
    """
    return numbered_lines(path, hasher, desc)


def _show(raw: bytes, limit: int = 80) -> str:
    """The offending text of a raw line, shortened, for error messages."""
    return show(raw, limit)


@dataclass
class Interactions:
    """Interactions in file order, as a reader found them.

    ``users``, ``items`` and ``line_numbers`` are parallel lists of length n_interactions;
    ids are the original id strings, line numbers are 1-based in ``path``. ``timestamps``
    (the time or order value of each interaction; for the raw layout its line number) and
    ``ratings`` are parallel lists too, or None when the source has none.
    """

    path: Path
    sha256: str
    n_lines: int
    users: list[str]
    items: list[str]
    line_numbers: list[int]
    timestamps: list[float] | None = None
    ratings: list[float] | None = None

    def __post_init__(self) -> None:
        if self.timestamps is None:
            # The file order is the time axis: the line number is the time.
            self.timestamps = list(self.line_numbers)


def read_raw_interactions(path: Path, warnings: WarningLog) -> Interactions:
    """Read and check ``interactions.txt``.

    Raises:
        RawDataError: a line is not two integer ids, or a user's lines are not contiguous
            (the file order is the time axis, so a split user has no defined order).
    """
    hasher = hashlib.sha256()
    users: list[str] = []
    items: list[str] = []
    line_numbers: list[int] = []
    # user -> (first line, last line) of its block; a user seen again after another
    # user's block is an error.
    block_of: dict[str, tuple[int, int]] = {}
    current_user: str | None = None
    current_first = 0
    n_lines = 0
    for line_no, raw in _numbered_lines(path, hasher, f"reading {path.name}"):
        n_lines = line_no
        parts = raw.split()
        if not parts:
            warnings.add("blank_lines", "blank line in the interactions file, skipped", f"{path}:{line_no}")
            continue
        if len(parts) != 2 or not _ID_RE.match(parts[0]) or not _ID_RE.match(parts[1]):
            raise RawDataError(
                f"{path}:{line_no}: expected two integer ids 'user item' separated by a space, got {_show(raw)}"
            )
        user = parts[0].decode("ascii")
        item = parts[1].decode("ascii")
        if user != current_user:
            if current_user is not None:
                block_of[current_user] = (current_first, line_numbers[-1])
            if user in block_of:
                first, last = block_of[user]
                raise RawDataError(
                    f"{path}:{line_no}: user {user} appears again after its lines {first}-{last} "
                    f"(last at line {last}); a user's lines must be contiguous because the file "
                    "order is the time axis"
                )
            current_user = user
            current_first = line_no
        users.append(user)
        items.append(item)
        line_numbers.append(line_no)
    if not users:
        raise RawDataError(f"{path}: no interactions (the file is empty)")
    return Interactions(path, hasher.hexdigest(), n_lines, users, items, line_numbers)


@dataclass
class ItemRecords:
    """Items of ``items.jsonl``: id -> (line number, the spec's fields as loaded)."""

    path: Path
    sha256: str
    records: dict[str, tuple[int, dict[str, Any]]]


def _item_id_string(value: Any) -> str | None:
    """The id as the string used in ``interactions.txt`` (ints as decimal), or None if unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def read_raw_items(path: Path, id_key: str, fields: tuple[ItemFieldSpec, ...], warnings: WarningLog) -> ItemRecords:
    """Read and check ``items.jsonl``, keeping only the spec's fields of each item.

    Raises:
        RawDataError: bad JSON, a line that is not an object, a missing or unusable id, or
            a duplicate id (naming both lines).
    """
    hasher = hashlib.sha256()
    wanted = [(f.name, f.source_key) for f in fields]
    records: dict[str, tuple[int, dict[str, Any]]] = {}
    for line_no, raw in _numbered_lines(path, hasher, f"reading {path.name}"):
        if not raw.strip():
            warnings.add("blank_lines", "blank line in the items file, skipped", f"{path}:{line_no}")
            continue
        try:
            obj = json.loads(raw)
        except UnicodeDecodeError as exc:
            raise RawDataError(f"{path}:{line_no}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except json.JSONDecodeError as exc:
            raise RawDataError(
                f"{path}:{line_no}: not valid JSON ({exc.msg} at column {exc.colno}): {_show(raw)}"
            ) from exc
        if not isinstance(obj, dict):
            raise RawDataError(f"{path}:{line_no}: expected a JSON object, got {type(obj).__name__}")
        if id_key not in obj:
            raise RawDataError(f"{path}:{line_no}: missing field '{id_key}'")
        item_id = _item_id_string(obj[id_key])
        if item_id is None:
            raise RawDataError(
                f"{path}:{line_no}: field '{id_key}' must be an integer or a non-empty string, got {obj[id_key]!r}"
            )
        if item_id in records:
            raise RawDataError(
                f"{path}:{line_no}: duplicate {id_key} {item_id}, first defined at line {records[item_id][0]}"
            )
        records[item_id] = (line_no, {name: obj.get(key) for name, key in wanted})
    return ItemRecords(path, hasher.hexdigest(), records)


def items_path(spec: DatasetSpec, raw_dir: Path) -> Path | None:
    """The items file to read, or None for an interactions-only dataset."""
    name = spec.prepare.items_file
    if name is None:
        return None
    path = raw_dir / name
    if path.is_file():
        return path
    if spec.is_default:
        return None  # the default spec treats item metadata as optional
    raise RawDataError(
        f"{path}: items file not found (named by prepare.items_file in {spec.source}; "
        "set it to null for an interactions-only dataset)"
    )
