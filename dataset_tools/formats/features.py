"""Write and read the embedding files of docs/data-formats.md.

A feature file is a RecBole atomic file with two columns, e.g. for users::

    uid:token	user_emb:float_seq
    12	0.0132 -0.0871 ...

and a sidecar ``<file>.json`` that says how the vectors were made (for user files also
``held_out``, see ``dataset_tools.formats.inter.held_out_record``). Both are written
atomically (temporary file in the same folder, then ``os.replace``) so that a reader
never sees half a file and an interrupted run leaves the previous version intact.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dataset_tools.formats.files import FormatError, atomic_write, write_json_atomic

log = logging.getLogger(__name__)

#: (key field, vector field) of the user and item files; ``uid``/``iid`` are aliases of
#: ``user_id``/``item_id`` so that RecBole's ``preload_weight`` can read them.
USER_FIELDS = ("uid", "user_emb")
ITEM_FIELDS = ("iid", "item_emb")


class FeatureFileError(FormatError):
    """A feature file or its sidecar is malformed; the message names file and line."""


def sidecar_path(path: str | os.PathLike) -> Path:
    """Sidecar of ``path``: the same name with ``.json`` appended."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_feature_file(
    path: str | os.PathLike,
    tokens: Sequence[str],
    matrix: np.ndarray,
    sidecar: dict[str, Any],
    fields: tuple[str, str] = USER_FIELDS,
    precision: int = 7,
) -> Path:
    """Write ``matrix`` row ``i`` as the vector of ``tokens[i]``, then the sidecar.

    Args:
        path: the atomic file, e.g. ``<data>/<ds>/<ds>.useremb``.
        tokens: original ids (strings), one per row; must be unique and tab/newline free.
        matrix: float array of shape [n, d], n = len(tokens).
        sidecar: metadata; ``dimension``, ``rows``, ``fields`` and ``file`` are added.
        fields: (key field, vector field) names written in the header.
        precision: significant digits of each value (7 keeps float32 exact enough).
    Returns:
        the path written.
    """
    path = Path(path)
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(tokens):
        raise ValueError(f"{path}: matrix shape {matrix.shape} does not match {len(tokens)} tokens")
    if not np.isfinite(matrix).all():
        bad = int(np.flatnonzero(~np.isfinite(matrix).all(axis=1))[0])
        raise ValueError(f"{path}: row {bad} (id {tokens[bad]!r}) has a non-finite value")
    seen: set[str] = set()
    for token in tokens:
        if not token or any(c in token for c in "\t\n\r") or token in seen:
            raise ValueError(f"{path}: id {token!r} is empty, duplicated or contains a tab/newline")
        seen.add(token)

    key_field, vector_field = fields
    value_format = f"%.{precision}g"

    with atomic_write(path) as handle:
        handle.write(f"{key_field}:token\t{vector_field}:float_seq\n")
        for token, row in zip(tokens, matrix):
            handle.write(token + "\t" + " ".join(value_format % v for v in row.tolist()) + "\n")
    meta = dict(sidecar)
    meta.update(
        file=path.name,
        fields=[f"{key_field}:token", f"{vector_field}:float_seq"],
        dimension=int(matrix.shape[1]),
        rows=int(matrix.shape[0]),
    )
    write_json_atomic(sidecar_path(path), meta)
    log.info("wrote %s: %d rows x %d dims", path, matrix.shape[0], matrix.shape[1])
    return path


def read_feature_file(path: str | os.PathLike) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """Read a feature file written by :func:`write_feature_file`.

    Returns:
        tokens: original ids in file order (n strings);
        matrix: float32 array [n, d], row i is the vector of tokens[i];
        sidecar: the JSON sidecar as a dict ({} when the file has none).
    Raises:
        FileNotFoundError if ``path`` is missing; FeatureFileError naming the line when a
        header, id or vector is malformed or the dimensions disagree.
    """
    path = Path(path)
    tokens: list[str] = []
    rows: list[np.ndarray] = []
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
        if len(header) != 2 or not header[0].endswith(":token") or not header[1].endswith(":float_seq"):
            raise FeatureFileError(
                f"{path}:1: expected header '<key>:token<TAB><vector>:float_seq', got {header!r}"
            )
        for line_no, line in enumerate(handle, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0]:
                raise FeatureFileError(f"{path}:{line_no}: expected '<id><TAB><values>', got {line[:80]!r}")
            try:
                vector = np.array(parts[1].split(" "), dtype=np.float32)
            except ValueError as exc:
                raise FeatureFileError(f"{path}:{line_no}: id {parts[0]!r}: {exc}") from None
            if rows and vector.shape != rows[0].shape:
                raise FeatureFileError(
                    f"{path}:{line_no}: id {parts[0]!r} has {vector.size} values, "
                    f"earlier rows have {rows[0].size}"
                )
            tokens.append(parts[0])
            rows.append(vector)
    matrix = np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    sidecar: dict[str, Any] = {}
    meta_path = sidecar_path(path)
    if meta_path.exists():
        try:
            sidecar = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise FeatureFileError(f"{meta_path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        if sidecar.get("rows") not in (None, len(tokens)):
            raise FeatureFileError(f"{meta_path}: says {sidecar['rows']} rows, {path} has {len(tokens)}")
    else:
        log.warning("%s has no sidecar %s", path, meta_path.name)
    return tokens, matrix, sidecar
