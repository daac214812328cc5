"""Numbered lines of a raw file, plain or gzipped, and the strict parsing of one line.

Every reader goes through :func:`numbered_lines`: it detects gzip by the file's first two
bytes (``1f 8b``, whatever the name says), hashes every byte of the file as stored (the
sha256 recorded in ``<name>.prepare.json``) and shows progress: a bar on a terminal, plain
log lines in a log file (:mod:`dataset_tools.progress`).
Parsing helpers raise :class:`RawDataError` with one line naming the file, the line
number (1-based, of the decompressed text) and, when one is to blame, the field::

    reviews_Beauty_5.json.gz:17: field 'unixReviewTime': expected a number, got 'soon'
"""

from __future__ import annotations

import ast
import gzip
import json
import math
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from dataset_tools.progress import progress_bar

from dataset_tools.prepare.problems import RawDataError

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """Whether the file starts with the gzip magic bytes."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


class _HashingReader:
    """A binary file wrapper that hashes and counts every byte read through it."""

    def __init__(self, handle: IO[bytes], hasher: Any) -> None:
        self._handle = handle
        self._hasher = hasher
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._hasher.update(data)
        self.position += len(data)
        return data

    def readable(self) -> bool:
        return True


def numbered_lines(path: Path, hasher: Any, desc: str | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(1-based line number, raw line without its line ending)`` of a plain or gzipped file.

    Every byte of the stored file goes into ``hasher``.

    Raises:
        RawDataError: the gzip stream is corrupt or truncated (naming the file and the last
            line read).
    """
    total = path.stat().st_size
    compressed = is_gzip(path)
    line_no = 0
    with open(path, "rb") as raw, progress_bar(
        total, desc or f"reading {path.name}", unit="B", unit_scale=True, leave=False
    ) as bar:
        counted = _HashingReader(raw, hasher)
        stream: IO[bytes] = gzip.GzipFile(fileobj=counted, mode="rb") if compressed else counted  # type: ignore[assignment]
        shown = 0
        try:
            for line_no, line in enumerate(_iter_lines(stream), start=1):
                if counted.position - shown >= 1 << 20:
                    bar.update(counted.position - shown)
                    shown = counted.position
                yield line_no, line.rstrip(b"\r\n")
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise RawDataError(f"{path}:{line_no + 1}: corrupt or truncated gzip data ({exc})") from exc
        # Hash what follows the gzip stream too, so the checksum covers the whole file.
        while counted.read(1 << 20):
            pass
        bar.update(counted.position - shown)


def _iter_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Lines of a binary stream (``\\n``-terminated, the last one possibly not)."""
    pending = b""
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield line + b"\n"
    if pending:
        yield pending


def show(raw: bytes | str, limit: int = 80) -> str:
    """The offending text of a raw line, shortened, for error messages."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return repr(text if len(text) <= limit else text[:limit] + "...")


def line_error(path: Path, line_no: int, message: str, field: str | None = None) -> RawDataError:
    """``RawDataError('<path>:<line>: field '<field>': <message>')`` (no field part when None)."""
    where = f"{path}:{line_no}: "
    return RawDataError(where + (f"field '{field}': " if field is not None else "") + message)


def decode(path: Path, line_no: int, raw: bytes, encoding: str = "utf-8") -> str:
    """The line as text; a line that is not valid in ``encoding`` is an error."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise line_error(path, line_no, f"not {encoding} text ({exc.reason} at byte {exc.start})") from exc


def parse_json_object(path: Path, line_no: int, raw: bytes) -> dict[str, Any]:
    """One JSON object per line.

    Raises:
        RawDataError: not UTF-8, not JSON, or not an object.
    """
    text = decode(path, line_no, raw)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise line_error(path, line_no, f"not valid JSON ({exc.msg} at column {exc.colno}): {show(raw)}") from exc
    if not isinstance(obj, dict):
        raise line_error(path, line_no, f"expected a JSON object, got {type(obj).__name__}")
    return obj


def parse_json_or_literal(path: Path, line_no: int, raw: bytes) -> dict[str, Any]:
    """One record per line as JSON or as a Python dict literal (Amazon 2014 metadata, Steam).

    JSON is tried first (fast, and exact for JSON escapes such as ``\\/``); a line that is
    not JSON is read with ``ast.literal_eval``, which accepts literals only: nothing is
    ever evaluated as code.

    Raises:
        RawDataError: neither JSON nor a Python literal, or not a mapping.
    """
    text = decode(path, line_no, raw)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        try:
            obj = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            reason = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
            raise line_error(path, line_no, f"not a Python literal or JSON ({reason}): {show(raw)}") from None
    if not isinstance(obj, dict):
        raise line_error(path, line_no, f"expected a mapping, got {type(obj).__name__}")
    return obj


# --------------------------------------------------------------------------- fields


def require(obj: dict[str, Any], key: str, path: Path, line_no: int) -> Any:
    """``obj[key]``; a missing key or a null value is an error naming the field."""
    if key not in obj:
        raise line_error(path, line_no, "missing", key)
    value = obj[key]
    if value is None:
        raise line_error(path, line_no, "is null", key)
    return value


def id_value(value: Any, path: Path, line_no: int, field: str) -> str:
    """An id as a string: an integer (written in decimal) or a non-empty string without tabs."""
    if isinstance(value, bool):
        raise line_error(path, line_no, f"expected an id (integer or string), got {value!r}", field)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text and not any(c in text for c in "\t\n\r"):
            return text
    raise line_error(path, line_no, f"expected an id (integer or non-empty string), got {value!r}", field)


def number_value(value: Any, path: Path, line_no: int, field: str) -> float:
    """A finite number (numeric strings accepted)."""
    if isinstance(value, bool):
        raise line_error(path, line_no, f"expected a number, got {value!r}", field)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise line_error(path, line_no, f"expected a number, got {value!r}", field) from None
    if not math.isfinite(number):
        raise line_error(path, line_no, f"expected a finite number, got {value!r}", field)
    return number


def date_value(value: Any, path: Path, line_no: int, field: str, fmt: str) -> float:
    """Seconds since 1970 of a date string in ``fmt`` read as UTC."""
    if not isinstance(value, str):
        raise line_error(path, line_no, f"expected a date like {fmt!r}, got {value!r}", field)
    try:
        moment = datetime.strptime(value.strip(), fmt).replace(tzinfo=timezone.utc)
    except ValueError:
        raise line_error(path, line_no, f"expected a date in the form {fmt!r}, got {value!r}", field) from None
    return moment.timestamp()
