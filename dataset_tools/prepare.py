"""``python -m dataset_tools prepare NAME --raw DIR --out DIR``: raw data -> RecBole files.

Raw layout (``../shared/data/README.md``): ``interactions.txt`` with one ``user item``
pair of integer ids per line, a user's lines contiguous and chronological, and optionally
``items.jsonl`` with one JSON object per item keyed by ``item_id``.

Output (``docs/data-formats.md``, "Written by prepare"), in ``<out>/<NAME>/``:
``<NAME>.inter``, ``<NAME>.item``, ``<NAME>.item_text.jsonl`` and ``<NAME>.prepare.json``.
All inputs are read and checked before anything is written, every file is written to a
temporary name and renamed, and the sidecar ``.prepare.json`` is written last, so a
folder with a sidecar holds a complete, consistent set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from dataset_tools import DatasetToolsError
from dataset_tools.spec import DatasetSpec, ItemFieldSpec, load_dataset_spec

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
INTER_HEADER = "user_id:token\titem_id:token\ttimestamp:float"
#: RecBole column type per item-field kind.
ATOMIC_TYPE = {"text": "token_seq", "token": "token", "list": "token_seq", "float": "float"}
#: How many examples (file:line and detail) each counted warning keeps.
MAX_EXAMPLES = 5

_ID_RE = re.compile(rb"^[0-9]+$")
# Control characters other than ordinary spaces: tabs and newlines would break the TSV
# atomic files, the rest is invisible noise in LLM prompts.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


class RawDataError(DatasetToolsError):
    """The raw data is unusable; the message names the file, the line and the field."""


# --------------------------------------------------------------------------- warnings


@dataclass
class CountedWarning:
    """All occurrences of one kind of problem: how many, what it means, a few examples."""

    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


class WarningLog:
    """Counts problems that are skipped or repaired instead of raising.

    Codes are short identifiers (``unknown_items``, ``missing.title``); each keeps its
    count and the first ``MAX_EXAMPLES`` examples, usually ``file:line: detail``.
    """

    def __init__(self) -> None:
        self._by_code: dict[str, CountedWarning] = {}

    def add(self, code: str, message: str, example: str | None = None, count: int = 1) -> None:
        entry = self._by_code.setdefault(code, CountedWarning(message))
        entry.count += count
        if example is not None and len(entry.examples) < MAX_EXAMPLES:
            entry.examples.append(example)

    def add_many(self, code: str, message: str, total: int, examples: list[str]) -> None:
        """Record ``total`` occurrences at once, keeping the first examples given."""
        for example in examples[:MAX_EXAMPLES]:
            self.add(code, message, example, count=0)
        self.add(code, message, count=total)

    def count(self, code: str) -> int:
        entry = self._by_code.get(code)
        return entry.count if entry else 0

    def __len__(self) -> int:
        return len(self._by_code)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {
            code: {"count": w.count, "message": w.message, "examples": list(w.examples)}
            for code, w in sorted(self._by_code.items())
        }

    def log_summary(self, log: logging.Logger, dataset: str) -> None:
        if not self._by_code:
            log.info("%s: no warnings", dataset)
            return
        total = sum(w.count for w in self._by_code.values())
        log.warning("%s: %d warning(s) of %d kind(s):", dataset, total, len(self._by_code))
        for code, w in sorted(self._by_code.items()):
            example = f" (e.g. {w.examples[0]})" if w.examples else ""
            log.warning("  %-28s %8d  %s%s", code, w.count, w.message, example)


# --------------------------------------------------------------------------- reading


def _numbered_lines(path: Path, hasher: Any, desc: str) -> Iterator[tuple[int, bytes]]:
    """Yield ``(1-based line number, raw line without line ending)``; hash every byte read.

    A tqdm bar (on a terminal only) shows progress in bytes.
    """
    total = path.stat().st_size
    pending = 0
    with open(path, "rb") as handle, tqdm(
        total=total, desc=desc, unit="B", unit_scale=True, disable=None, leave=False
    ) as bar:
        for line_no, line in enumerate(handle, start=1):
            hasher.update(line)
            pending += len(line)
            if pending >= 1 << 20:
                bar.update(pending)
                pending = 0
            yield line_no, line.rstrip(b"\r\n")
        bar.update(pending)


def _show(raw: bytes, limit: int = 80) -> str:
    """The offending text of a raw line, shortened, for error messages."""
    text = raw.decode("utf-8", errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


@dataclass
class Interactions:
    """Interactions in file order (users contiguous, chronological).

    ``users``, ``items`` and ``line_numbers`` are parallel lists of length n_interactions;
    ids are the original id strings, line numbers are 1-based in ``path``.
    """

    path: Path
    sha256: str
    n_lines: int
    users: list[str]
    items: list[str]
    line_numbers: list[int]


def read_interactions(path: Path, warnings: WarningLog) -> Interactions:
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


def read_items(path: Path, id_key: str, fields: tuple[ItemFieldSpec, ...], warnings: WarningLog) -> ItemRecords:
    """Read and check ``items.jsonl``, keeping only the spec's fields of each item.

    Raises:
        RawDataError: bad JSON, a line that is not an object, a missing or unusable id, or
            a duplicate id (naming both lines).
    """
    hasher = hashlib.sha256()
    wanted = [f.name for f in fields]
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
        records[item_id] = (line_no, {name: obj.get(name) for name in wanted})
    return ItemRecords(path, hasher.hexdigest(), records)


# --------------------------------------------------------------------------- item fields


def clean_text(value: str) -> tuple[str, bool]:
    """Replace control characters (tabs, newlines, ...) by spaces and collapse whitespace.

    Returns:
        (cleaned string, whether control characters were replaced).
    """
    sanitised = _CONTROL_RE.search(value) is not None
    if sanitised:
        value = _CONTROL_RE.sub(" ", value)
    return " ".join(value.split()), sanitised


def atomic_text(value: str) -> str:
    """A cleaned string made safe for a RecBole atomic-file cell.

    RecBole reads atomic files with ``pandas.read_csv`` and its default quote character,
    so a cell starting with ``"`` is parsed as a quoted field and breaks the row (real
    titles such as ``"No Makeup" Makeup Kit`` do). Double quotes become single quotes in
    the ``.item`` file; ``item_text.jsonl`` keeps the original text.
    """
    return value.replace('"', "'")


class BadValue(ValueError):
    """A field value of the wrong type for its kind (counted and treated as missing)."""


@dataclass(frozen=True)
class FieldValue:
    """A converted item-field value: ``atomic`` for the ``.item`` column, ``text`` for JSON."""

    atomic: str
    text: str | float | list[str]


def _flatten(value: list[Any]) -> Iterator[Any]:
    for element in value:
        if isinstance(element, list):
            yield from _flatten(element)
        else:
            yield element


def convert_field(value: Any, spec: ItemFieldSpec) -> tuple[FieldValue | None, bool]:
    """Convert one raw value according to its field kind.

    Returns:
        (the value, or None when missing; whether text had to be sanitised).

    Raises:
        BadValue: the value has a type the kind cannot hold (e.g. an object for ``text``).
    """
    missing = spec.missing_values
    if value is None:
        return None, False
    if spec.kind == "list":
        elements = list(_flatten(value)) if isinstance(value, list) else [value]
        cleaned: list[str] = []
        sanitised = False
        for element in elements:
            if element is None:
                continue
            if isinstance(element, (dict, bool)):
                raise BadValue(f"list element {element!r} is not a string or number")
            text, was_sanitised = clean_text(str(element))
            sanitised |= was_sanitised
            if text and text not in missing and text not in cleaned:
                cleaned.append(text)
        if not cleaned:
            return None, sanitised
        return FieldValue(atomic_text(" ".join(t.replace(" ", "_") for t in cleaned)), cleaned), sanitised
    if isinstance(value, (dict, list, bool)):
        raise BadValue(f"expected a single {spec.kind} value, got {type(value).__name__}")
    if spec.kind == "float":
        if isinstance(value, str):
            text = value.strip()
            if not text or text in missing:
                return None, False
            try:
                # Prices often come as "$1,299.00".
                number = float(text.removeprefix("$").replace(",", ""))
            except ValueError as exc:
                raise BadValue(f"{text!r} is not a number") from exc
        else:
            number = float(value)
            if str(value) in missing:
                return None, False
        if not math.isfinite(number):
            raise BadValue(f"{value!r} is not a finite number")
        return FieldValue(repr(number), number), False
    text, sanitised = clean_text(str(value))
    if not text or text in missing:
        return None, sanitised
    # text -> token_seq of words (already single-space separated); token -> one value.
    return FieldValue(atomic_text(text), text), sanitised


# --------------------------------------------------------------------------- writing


@contextmanager
def atomic_write(path: Path) -> Iterator[IO[str]]:
    """Open a temporary file next to ``path``; rename it onto ``path`` only on success."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- pipeline


@dataclass
class PrepareResult:
    """What ``prepare_dataset`` wrote and counted (also stored in ``<name>.prepare.json``)."""

    out_dir: Path
    files: dict[str, str | None]
    counts: dict[str, Any]
    warnings: dict[str, dict[str, Any]]
    has_item_text: bool
    elapsed_s: float


def _items_path(spec: DatasetSpec, raw_dir: Path) -> Path | None:
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


def prepare_dataset(spec: DatasetSpec, raw_dir: Path, out_root: Path) -> PrepareResult:
    """Convert ``raw_dir`` into ``out_root/<spec.name>/`` following ``spec.prepare``.

    Raises:
        RawDataError: missing inputs or unusable raw data (nothing is written then).
    """
    started = time.perf_counter()
    name = spec.name
    pspec = spec.prepare
    warnings = WarningLog()

    if not raw_dir.is_dir():
        raise RawDataError(f"{raw_dir}: raw data folder not found")
    inter_path = raw_dir / pspec.interactions_file
    if not inter_path.is_file():
        raise RawDataError(f"{inter_path}: interactions file not found")
    items_path = _items_path(spec, raw_dir)

    # ---- interactions
    inter = read_interactions(inter_path, warnings)
    raw_user_lengths = Counter(inter.users)
    short_users = {u for u, n in raw_user_lengths.items() if n < pspec.min_user_interactions}
    kept = [k for k, u in enumerate(inter.users) if u not in short_users]
    if short_users:
        first_line: dict[str, int] = {}
        for u, ln in zip(inter.users, inter.line_numbers):
            if u in short_users and u not in first_line:
                first_line[u] = ln
        warnings.add_many(
            "short_users_dropped",
            f"user has fewer than min_user_interactions={pspec.min_user_interactions} interactions; dropped",
            len(short_users),
            [f"{inter_path}:{first_line[u]}: user {u} has {raw_user_lengths[u]}"
             for u in sorted(short_users, key=first_line.__getitem__)[:MAX_EXAMPLES]],
        )
    if not kept:
        raise RawDataError(
            f"{inter_path}: no user has at least min_user_interactions={pspec.min_user_interactions} "
            f"interactions (set in {spec.source})"
        )
    kept_items_in_order = list(dict.fromkeys(inter.items[k] for k in kept))
    kept_item_set = set(kept_items_in_order)

    # ---- items
    items: ItemRecords | None = None
    if items_path is not None:
        items = read_items(items_path, pspec.item_id_key, pspec.item_fields, warnings)
        unknown_items = [i for i in kept_items_in_order if i not in items.records]
        unknown_interactions = 0
        if unknown_items:
            unknown_set = set(unknown_items)
            first_line_of_unknown: dict[str, int] = {}
            for k in kept:
                if inter.items[k] in unknown_set:
                    unknown_interactions += 1
                    first_line_of_unknown.setdefault(inter.items[k], inter.line_numbers[k])
            warnings.add_many(
                "unknown_items",
                f"item in {inter_path.name} has no entry in {items_path.name}; "
                "its interactions are kept, the item has no text",
                len(unknown_items),
                [f"{inter_path}:{ln}: item {i}" for i, ln in list(first_line_of_unknown.items())[:MAX_EXAMPLES]],
            )
        never = [(ln, i) for i, (ln, _) in items.records.items() if i not in kept_item_set]
        if never:
            warnings.add_many(
                "items_not_interacted",
                "item of the items file without any (kept) interaction; not written",
                len(never),
                [f"{items_path}:{ln}: item {i}" for ln, i in never[:MAX_EXAMPLES]],
            )
    else:
        unknown_items, unknown_interactions, never = [], 0, []
        warnings.add(
            "no_item_text",
            "the dataset has no items file: only the .inter is written; tools that need item text "
            "(hsu, text embeddings) cannot run on it",
            f"{raw_dir}: "
            + ("prepare.items_file is null" if pspec.items_file is None else f"{pspec.items_file} absent"),
        )
        logger.warning(
            "%s: NO ITEM TEXT: %s has no items file (%s); writing only %s.inter. "
            "Tools that need item text (hsu, text embeddings) cannot run on this dataset.",
            name,
            raw_dir,
            "prepare.items_file is null" if pspec.items_file is None else f"{pspec.items_file} absent",
            name,
        )

    # ---- item fields of the items that are written
    fields = pspec.item_fields
    text_fields = [f for f in fields if f.item_text]
    item_rows: list[tuple[str, list[FieldValue | None]]] = []
    field_present = Counter()
    field_missing = Counter()
    if items is not None:
        for item_id, (ln, record) in items.records.items():
            if item_id not in kept_item_set:
                continue
            values: list[FieldValue | None] = []
            for fspec in fields:
                try:
                    value, sanitised = convert_field(record[fspec.name], fspec)
                except BadValue as exc:
                    warnings.add(
                        f"bad_value.{fspec.name}",
                        f"value of '{fspec.name}' unusable as {fspec.kind}; treated as missing",
                        f"{items.path}:{ln}: {exc}",
                    )
                    value, sanitised = None, False
                if sanitised:
                    warnings.add(
                        f"sanitised.{fspec.name}",
                        f"tabs/newlines/control characters in '{fspec.name}' replaced by spaces",
                        f"{items.path}:{ln}: item {item_id}",
                    )
                if value is None:
                    field_missing[fspec.name] += 1
                    if fspec.required:
                        warnings.add(
                            f"missing.{fspec.name}",
                            f"required field '{fspec.name}' missing or empty; item kept without it",
                            f"{items.path}:{ln}: item {item_id}",
                        )
                else:
                    field_present[fspec.name] += 1
                values.append(value)
            item_rows.append((item_id, values))
    write_item_text = items is not None and bool(text_fields)
    if items is not None and not text_fields:
        logger.warning("%s: no item field has item_text: true in %s; %s.item_text.jsonl not written",
                       name, spec.source, name)

    # ---- write
    out_dir = out_root / name
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "inter": out_dir / f"{name}.inter",
        "item": out_dir / f"{name}.item",
        "item_text": out_dir / f"{name}.item_text.jsonl",
        "sidecar": out_dir / f"{name}.prepare.json",
    }
    # The sidecar marks a complete set: drop an old one before touching the other files.
    paths["sidecar"].unlink(missing_ok=True)
    with atomic_write(paths["inter"]) as handle:
        handle.write(INTER_HEADER + "\n")
        users, item_ids, lines = inter.users, inter.items, inter.line_numbers
        handle.writelines(f"{users[k]}\t{item_ids[k]}\t{lines[k]}\n" for k in kept)
    if items is not None:
        with atomic_write(paths["item"]) as handle:
            header = ["item_id:token"] + [f"{f.name}:{ATOMIC_TYPE[f.kind]}" for f in fields]
            handle.write("\t".join(header) + "\n")
            handle.writelines(
                "\t".join([item_id] + [v.atomic if v is not None else "" for v in values]) + "\n"
                for item_id, values in item_rows
            )
    if write_item_text:
        text_index = [k for k, f in enumerate(fields) if f.item_text]
        with atomic_write(paths["item_text"]) as handle:
            for item_id, values in item_rows:
                record: dict[str, Any] = {"item_id": item_id}
                for k in text_index:
                    if values[k] is not None:
                        record[fields[k].name] = values[k].text
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    for key, written in (("item", items is not None), ("item_text", write_item_text)):
        if not written and paths[key].exists():
            logger.warning("%s: removing stale %s from an earlier run", name, paths[key])
            paths[key].unlink()

    lengths = Counter(inter.users[k] for k in kept)
    counts: dict[str, Any] = {
        "raw_lines": inter.n_lines,
        "raw_interactions": len(inter.users),
        "raw_users": len(raw_user_lengths),
        "raw_items": len(set(inter.items)),
        "users": len(lengths),
        "items": len(kept_item_set),
        "interactions": len(kept),
        "dropped_users": len(short_users),
        "dropped_interactions": len(inter.users) - len(kept),
        "sequence_length": {
            "min": min(lengths.values()),
            "max": max(lengths.values()),
            "mean": round(len(kept) / len(lengths), 4),
        },
        "items_in_items_file": len(items.records) if items is not None else 0,
        "item_rows": len(item_rows),
        "items_not_interacted": len(never),
        "unknown_items": len(unknown_items),
        "unknown_item_interactions": unknown_interactions,
        "item_fields": {
            f.name: {"present": field_present[f.name], "missing": field_missing[f.name]} for f in fields
        },
    }
    files = {
        "inter": paths["inter"].name,
        "item": paths["item"].name if items is not None else None,
        "item_text": paths["item_text"].name if write_item_text else None,
    }
    elapsed = time.perf_counter() - started
    sidecar = {
        "format_version": FORMAT_VERSION,
        "dataset": name,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sources": {
            "raw_dir": str(raw_dir.resolve()),
            "interactions": {"path": str(inter_path.resolve()), "sha256": inter.sha256},
            "items": {"path": str(items.path.resolve()), "sha256": items.sha256} if items is not None else None,
        },
        "spec": {
            "path": str(spec.path.resolve()) if spec.path is not None else None,
            "default": spec.is_default,
            "prepare": pspec.to_dict(),
        },
        "has_item_text": write_item_text,
        "files": files,
        "counts": counts,
        "warnings": warnings.to_dict(),
        "elapsed_s": round(elapsed, 3),
    }
    with atomic_write(paths["sidecar"]) as handle:
        json.dump(sidecar, handle, indent=2, ensure_ascii=False)
        handle.write("\n")

    warnings.log_summary(logger, name)
    logger.info(
        "%s: wrote %s: %d users, %d items, %d interactions, %d item rows%s (%.2f s)",
        name,
        out_dir,
        counts["users"],
        counts["items"],
        counts["interactions"],
        counts["item_rows"],
        "" if write_item_text else ", NO item text",
        elapsed,
    )
    return PrepareResult(out_dir, files, counts, warnings.to_dict(), write_item_text, elapsed)


# --------------------------------------------------------------------------- CLI


def write_sequences(path: Path, sequences: Mapping[str, Sequence[str]]) -> None:
    """Write ``{user: [item, ...]}`` as an ``.inter`` file in the format ``prepare`` writes.

    Users' rows are contiguous in the mapping's order and the timestamp is the global row
    number, as for a prepared dataset. Tests and benchmarks use it to build small datasets.
    """
    with atomic_write(path) as handle:
        handle.write(INTER_HEADER + "\n")
        row = 0
        for user, items in sequences.items():
            for item in items:
                row += 1
                handle.write(f"{user}\t{item}\t{row}\n")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "prepare",
        help="convert raw interactions.txt/items.jsonl into RecBole atomic files",
        description="Convert a raw dataset (interactions.txt, optional items.jsonl) into "
        "<out>/<name>/<name>.inter, .item, .item_text.jsonl and .prepare.json "
        "(docs/data-formats.md). Field choices come from dataset_tools/datasets/<name>.yaml.",
    )
    parser.add_argument("name", help="dataset name: output folder/file stem and spec lookup")
    parser.add_argument("--raw", required=True, type=Path, help="raw data folder (interactions.txt, items.jsonl)")
    parser.add_argument("--out", default=Path("dataset"), type=Path, help="output root (default: dataset)")
    parser.add_argument("--spec", type=Path, default=None,
                        help="spec YAML to use instead of dataset_tools/datasets/<name>.yaml")
    return parser


def main(args: argparse.Namespace) -> int:
    spec = load_dataset_spec(args.spec if args.spec is not None else args.name, dataset_name=args.name)
    logger.info("%s: preparing from %s with spec %s", args.name, args.raw, spec.source)
    prepare_dataset(spec, args.raw, args.out)
    return 0
