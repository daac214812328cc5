"""Mean of each row's top-k cosine neighbours, the row itself excluded (GRASP's ū and ī).

The retrieval is GAA's (:func:`dataset_tools.neighbours.cosine.cosine_top_k`: faiss
``IndexFlatIP`` on L2-normalised float32 vectors, ``k + 1`` searched and the row itself
dropped by position, so a duplicate vector of another id still counts as a neighbour).
The mean is taken over the neighbours' vectors as stored (the paper's average pooling of
the LLM embeddings), not over their normalised copies.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from dataset_tools import DatasetToolsError
from dataset_tools.neighbours.cosine import cosine_top_k
from dataset_tools.formats.features import ITEM_FIELDS, USER_FIELDS, read_feature_file, write_feature_file

log = logging.getLogger(__name__)


def neighbour_means(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``[n, d]`` vectors -> ``(means [n, d], neighbours [n, k'])`` with ``k' = min(k, n - 1)``.

    Row ``r`` of ``means`` is the mean of the vectors of the ``k'`` rows most cosine-similar
    to row ``r``, ``r`` itself excluded; ``neighbours`` lists them, most similar first. A
    row with an all-zero vector has no direction: it is neither searched nor retrieved and
    its mean is zero (counted by the caller).
    """
    if k < 1:
        raise DatasetToolsError(f"--k must be >= 1, got {k}")
    matrix = np.asarray(matrix, dtype=np.float32)
    n = matrix.shape[0]
    usable = np.flatnonzero(np.linalg.norm(matrix, axis=1) > 0)
    k_eff = min(k, max(len(usable) - 1, 0))
    means = np.zeros_like(matrix)
    neighbours = np.full((n, k_eff), -1, dtype=np.int64)
    if k_eff == 0:
        return means, neighbours
    candidates, keep = cosine_top_k(matrix[usable], usable, np.full(len(usable), k_eff))
    chosen = np.stack([row[mask][:k_eff] for row, mask in zip(candidates, keep)])  # [m, k'] row ids
    neighbours[usable] = chosen
    means[usable] = matrix[chosen].mean(axis=1)
    return means, neighbours


def write_neighbour_means(folder: Path, dataset: str, source: str, k: int, suffix: str | None = None) -> dict[str, Any]:
    """Read ``<folder>/<dataset>.<source>``, write ``<dataset>.<suffix>`` (default ``<source>_nbr<k>``).

    The output keeps the source's ids, fields and row order; its sidecar records the source
    file, ``k``, the source's extractor / encoder model and, for user files, the source's
    ``held_out`` record (the neighbours' vectors are as held-out-safe as the source's).
    Returns a summary dict.
    """
    path = folder / f"{dataset}.{source}"
    if not path.exists():
        raise DatasetToolsError(f"{path} does not exist: write it first with `python -m dataset_tools embed` "
                                f"(--source names the suffix of an existing vector file)")
    try:
        tokens, matrix, sidecar = read_feature_file(path)
    except ValueError as error:
        raise DatasetToolsError(str(error)) from None
    if not tokens:
        raise DatasetToolsError(f"{path} holds no vectors")
    with open(path, encoding="utf-8") as handle:
        key_field = handle.readline().split("\t")[0].split(":")[0]
    fields = ITEM_FIELDS if key_field == ITEM_FIELDS[0] else USER_FIELDS
    started = time.perf_counter()
    means, neighbours = neighbour_means(matrix, k)
    seconds = time.perf_counter() - started
    zero_rows = int((np.linalg.norm(matrix, axis=1) == 0).sum())
    if neighbours.shape[1] < k:
        log.warning("%s: only %d rows, so each gets %d neighbours instead of %d", path, len(tokens),
                    neighbours.shape[1], k)
    if zero_rows:
        log.warning("%s: %d all-zero vectors get a zero neighbour mean", path, zero_rows)
    suffix = suffix or f"{source}_nbr{k}"
    output = folder / f"{dataset}.{suffix}"
    meta = {
        "dataset": dataset,
        "extractor": "neighbours",
        "kind": "user" if fields == USER_FIELDS else "item",
        "source_file": path.name,
        "k": int(k),
        "k_used": int(neighbours.shape[1]),
        "similarity": "cosine (faiss IndexFlatIP on L2-normalised vectors), the row itself excluded",
        "pooling": "mean of the neighbours' stored vectors",
        "zero_vectors": zero_rows,
        "source_extractor": sidecar.get("extractor"),
        "model": sidecar.get("model") or sidecar.get("encoder"),
        "source_sidecar": {key: sidecar[key] for key in ("extractor", "encoder", "model", "text") if key in sidecar},
    }
    if "held_out" in sidecar:
        meta["held_out"] = sidecar["held_out"]
    write_feature_file(output, tokens, means, meta, fields=fields)
    return {"path": output, "rows": len(tokens), "k": int(neighbours.shape[1]), "seconds": seconds}
