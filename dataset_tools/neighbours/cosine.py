"""Cosine top-K among a set of vectors with faiss, each row itself excluded.

One implementation for every neighbour search of the project: the neighbour means of
``dataset_tools neighbours`` (GRASP's ū and ī) and GAA's user neighbours
(:mod:`recbole_hsuga.gaa.neighbours`, which imports it from here, so that the offline
tools do not depend on the training package). Exact search (``IndexFlatIP`` on
L2-normalised float32 copies), ``K + 1`` searched and the row itself dropped by id, so a
duplicate vector of another id still counts."""

from __future__ import annotations

import numpy as np

#: query rows per faiss search call (bounds the distance matrix held at once).
SEARCH_CHUNK = 4096


def cosine_top_k(x: np.ndarray, ids: np.ndarray, k_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-``k_row[r]`` among the rows of ``x``, excluding each row itself.

    Args:
        x: ``[m, d]`` float32 vectors of the rows to search (not yet normalised).
        ids: ``[m]`` their ids (user or item ids).
        k_row: ``[m]`` how many neighbours each row wants.

    Returns:
        ``candidates [m, s]`` ids (``-1`` for empty slots) in decreasing cosine order and
        ``keep [m, s]`` bool, the first ``k_row[r]`` non-self slots of row ``r``.
    """
    m = len(ids)
    if m < 2:
        return np.full((m, 0), -1, dtype=np.int64), np.zeros((m, 0), dtype=bool)
    try:
        import faiss
    except ImportError as error:  # pragma: no cover - faiss-cpu is a hard requirement
        raise ImportError("neighbour retrieval needs faiss (pip install faiss-cpu)") from error
    from dataset_tools.progress import progress_bar

    x = np.array(x, dtype=np.float32, order="C", copy=True)
    faiss.normalize_L2(x)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    n_search = int(min(int(k_row.max()) + 1, m))
    positions = np.empty((m, n_search), dtype=np.int64)
    with progress_bar(m, "cosine top-K", unit="row", enabled=m > SEARCH_CHUNK) as bar:
        for start in range(0, m, SEARCH_CHUNK):
            _, positions[start:start + SEARCH_CHUNK] = index.search(x[start:start + SEARCH_CHUNK], n_search)
            bar.update(min(SEARCH_CHUNK, m - start))
    candidates = np.where(positions >= 0, ids[np.clip(positions, 0, None)], -1)
    usable = (candidates >= 0) & (candidates != ids[:, None])
    rank = np.cumsum(usable, axis=1)
    keep = usable & (rank <= k_row[:, None])
    return candidates, keep
