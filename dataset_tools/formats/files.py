"""What every data file shares: where a dataset's files live, how they are written, and
the two kinds of input error a reader raises.

A prepared dataset is one folder, ``<data>/<dataset>/``, holding every file the tools
write for it (``<dataset>.inter``, ``.item``, ``.item_text.jsonl``, feature files, the
``hsu/`` run folders); it is also the folder RecBole reads (``data_path: <data>``).
Files are written to a temporary name in the same folder and renamed, so a reader never
sees half a file and an interrupted writer leaves the previous version intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from dataset_tools import DatasetToolsError


class MissingInputError(DatasetToolsError, FileNotFoundError):
    """An input file or folder does not exist; the message says which and what makes it."""


class FormatError(DatasetToolsError, ValueError):
    """An input file is malformed; the message names the file, the line and the field."""


def dataset_dir(data: str | os.PathLike, dataset: str) -> Path:
    """Folder of one prepared dataset, ``<data>/<dataset>/`` (not checked; see :func:`require_dataset_dir`)."""
    return Path(data) / dataset


def require_dataset_dir(data: str | os.PathLike, dataset: str) -> Path:
    """``<data>/<dataset>/``, or :class:`MissingInputError` saying how to make it."""
    folder = dataset_dir(data, dataset)
    if not folder.is_dir():
        raise MissingInputError(
            f"{folder}: prepared dataset folder not found; run `python -m dataset_tools prepare {dataset}` first"
        )
    return folder


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[IO[str]]:
    """Open a temporary text file next to ``path``; rename it onto ``path`` only on success.

    The parent folder is created. On any exception the temporary file is removed and
    ``path`` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file open()'s mode
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | os.PathLike, value: Any) -> None:
    """Write ``value`` as indented JSON (lists of plain values kept on one line), atomically."""
    with atomic_write(path) as handle:
        handle.write(json_text(value) + "\n")


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write one JSON object per line, atomically; returns the number of rows."""
    count = 0
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def json_text(value: Any, indent: int = 2, _level: int = 0) -> str:
    """JSON indented like ``json.dumps(indent=2)``, except that a list holding no list or
    object is written on one line, so per-id lists (e.g. held-out items) take one line each."""
    pad = " " * (indent * (_level + 1))
    if isinstance(value, Mapping) and value:
        inner = (f"{pad}{json.dumps(str(k), ensure_ascii=False)}: {json_text(v, indent, _level + 1)}"
                 for k, v in value.items())
        return "{\n" + ",\n".join(inner) + "\n" + " " * (indent * _level) + "}"
    if isinstance(value, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in value):
        inner = (f"{pad}{json_text(v, indent, _level + 1)}" for v in value)
        return "[\n" + ",\n".join(inner) + "\n" + " " * (indent * _level) + "]"
    return json.dumps(value, ensure_ascii=False)
