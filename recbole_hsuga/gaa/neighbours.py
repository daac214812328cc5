"""Group-aware neighbour sets for GAA (paper §3.4, Eq. 1-3).

Pipeline, run once per training run (and cached on disk keyed by every input):

1. Users are split by training interaction count with the project's one rank-based rule,
   :func:`recbole_hsuga.evaluation.groups.top_fraction_mask`: the top ``active_ratio`` are
   *active*, the rest *long-tail*. Only *eligible* users take part: a semantic vector with a
   non-zero norm and at least one training interaction. RecBole's padding user 0 is never
   eligible. Ineligible users get no neighbours and are never anyone's neighbour.
2. Candidates: cosine top-K among eligible users (faiss ``IndexFlatIP`` on L2-normalised
   float32 vectors; search ``K + 1`` and drop the user itself). ``K`` is ``k_active`` for
   active users and ``k_longtail`` for long-tail users.
3. Active users keep only candidates whose Pearson similarity is at or above the
   ``pearson_percentile``-th percentile (numpy's linear interpolation) of their own
   candidates' Pearson similarities. Pearson is computed on binary user × item vectors of
   the **training** interactions only (see :mod:`recbole_hsuga.gaa.pearson`).

Ablations: ``group_aware=False`` treats every user alike: every eligible user gets
``k_longtail`` candidates (the long-tail K, the setting of 80% of the users, so the
ablation changes the active users only) and no Pearson filter (``active_filter`` is then
ignored), as in the paper's "w/o Group-Aware SD". ``active_filter=False`` keeps the
per-group K but drops the filter ("w/o Active-user Filter").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataset_tools.neighbours.cosine import cosine_top_k
from recbole_hsuga.evaluation.groups import top_fraction_mask
from recbole_hsuga.gaa.pearson import binary_interaction_matrix, pairwise_binary_pearson

logger = logging.getLogger(__name__)

# Bump when the algorithm changes so stale caches are not reused.
_CACHE_VERSION = "gaa-neighbours-v1"


@dataclass(frozen=True)
class GAAParams:
    """Hyper-parameters of the neighbour selection (config keys ``gaa_*``)."""

    k_active: int = 10
    k_longtail: int = 10
    active_ratio: float = 0.2
    pearson_percentile: float = 50.0
    group_aware: bool = True
    active_filter: bool = True

    def __post_init__(self) -> None:
        for name in ("k_active", "k_longtail"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"gaa_{name} must be an integer >= 1, got {value!r}")
        if not 0.0 < float(self.active_ratio) < 1.0:
            raise ValueError(f"gaa_active_ratio must be in (0, 1), got {self.active_ratio!r}")
        if not 0.0 <= float(self.pearson_percentile) <= 100.0:
            raise ValueError(f"gaa_pearson_percentile must be in [0, 100], got {self.pearson_percentile!r}")

    @property
    def filter_active(self) -> bool:
        """Whether the Pearson filter runs (only under the group-aware design)."""
        return bool(self.group_aware and self.active_filter)


@dataclass
class NeighbourSets:
    """Neighbour lists in CSR form over RecBole internal user ids.

    Attributes:
        indptr: ``[n_users + 1]`` int64; user ``u``'s neighbours are
            ``indices[indptr[u]:indptr[u + 1]]``, in decreasing cosine order.
        indices: ``[nnz]`` int64 RecBole internal user ids.
        is_active: ``[n_users]`` bool, the active group (False for ineligible users).
        eligible: ``[n_users]`` bool, users that took part in retrieval.
        stats: per-group statistics and the one-time search time (JSON-serialisable).
    """

    indptr: np.ndarray
    indices: np.ndarray
    is_active: np.ndarray
    eligible: np.ndarray
    stats: dict

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    def neighbours_of(self, user: int) -> np.ndarray:
        """``[k_u]`` neighbour ids of one user."""
        return self.indices[self.indptr[user]:self.indptr[user + 1]]

    def degrees(self) -> np.ndarray:
        """``[n_users]`` neighbour count per user."""
        return np.diff(self.indptr)

    def save(self, path: str | os.PathLike) -> None:
        """Write an ``.npz`` (atomically: temp file then rename, so a crash leaves no torn cache).

        The temp name carries the process id: runs started side by side with the same inputs
        compute the same cache key, and must not write or rename each other's temp file.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, indptr=self.indptr, indices=self.indices, is_active=self.is_active,
                 eligible=self.eligible, stats=np.array(json.dumps(self.stats)))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NeighbourSets":
        with np.load(path, allow_pickle=False) as data:
            return cls(indptr=data["indptr"], indices=data["indices"], is_active=data["is_active"],
                       eligible=data["eligible"], stats=json.loads(str(data["stats"])))


def neighbour_cache_key(
    vectors: np.ndarray,
    has_vector: np.ndarray,
    train_counts: np.ndarray,
    train_users: np.ndarray,
    train_items: np.ndarray,
    n_items: int,
    params: GAAParams,
) -> str:
    """sha256 over every input of :func:`build_neighbour_sets` (hex, 24 chars)."""
    digest = hashlib.sha256(_CACHE_VERSION.encode())
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    digest.update(str(np.shape(vectors)).encode())
    digest.update(np.ascontiguousarray(has_vector, dtype=bool).tobytes())
    digest.update(np.ascontiguousarray(train_counts, dtype=np.int64).tobytes())
    # Pairs are hashed in a canonical order: the neighbour sets do not depend on row order.
    users = np.asarray(train_users, dtype=np.int64)
    items = np.asarray(train_items, dtype=np.int64)
    order = np.lexsort((items, users))
    digest.update(users[order].tobytes())
    digest.update(items[order].tobytes())
    digest.update(json.dumps({"n_items": int(n_items), **dataclasses.asdict(params)}, sort_keys=True,
                             default=float).encode())
    return digest.hexdigest()[:24]


def build_neighbour_sets(
    vectors: np.ndarray,
    has_vector: np.ndarray,
    train_counts: np.ndarray,
    train_users: np.ndarray,
    train_items: np.ndarray,
    n_items: int,
    params: GAAParams,
    cache_dir: str | os.PathLike | None = None,
) -> NeighbourSets:
    """Compute (or load from ``cache_dir``) the group-aware neighbour sets.

    Args:
        vectors: ``[n_users, d]`` semantic vectors in RecBole's internal user order (row 0 is
            the padding user). Rows without a vector may hold anything.
        has_vector: ``[n_users]`` bool, rows that hold a real semantic vector.
        train_counts: ``[n_users]`` number of training interactions per user.
        train_users: ``[P]`` user ids of the training interactions (Pearson input).
        train_items: ``[P]`` item ids of the same interactions.
        n_items: RecBole's ``n_items`` (padding item 0 included).
        params: the ``gaa_*`` hyper-parameters.
        cache_dir: folder for ``<hash>.npz`` caches; ``None`` disables caching.

    Returns:
        The :class:`NeighbourSets`.
    """
    vectors = np.asarray(vectors)
    n_users = vectors.shape[0]
    has_vector = np.asarray(has_vector, dtype=bool)
    train_counts = np.asarray(train_counts)
    if vectors.ndim != 2:
        raise ValueError(f"semantic vectors must be [n_users, d], got shape {vectors.shape}")
    if has_vector.shape != (n_users,) or train_counts.shape != (n_users,):
        raise ValueError(f"has_vector {has_vector.shape} and train_counts {train_counts.shape} must both be "
                         f"[{n_users}] to match the semantic vectors")

    cache_path = None
    if cache_dir is not None:
        key = neighbour_cache_key(vectors, has_vector, train_counts, train_users, train_items, n_items, params)
        cache_path = Path(cache_dir) / f"{key}.npz"
        if cache_path.exists():
            sets = NeighbourSets.load(cache_path)
            logger.info("GAA neighbour sets loaded from cache %s", cache_path)
            return sets

    sets = _compute_neighbour_sets(vectors, has_vector, train_counts, train_users, train_items, n_items, params)
    if cache_path is not None:
        sets.save(cache_path)
        logger.info("GAA neighbour sets cached to %s", cache_path)
    return sets


def _compute_neighbour_sets(
    vectors: np.ndarray,
    has_vector: np.ndarray,
    train_counts: np.ndarray,
    train_users: np.ndarray,
    train_items: np.ndarray,
    n_items: int,
    params: GAAParams,
) -> NeighbourSets:
    n_users = vectors.shape[0]
    started = time.perf_counter()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1)
    eligible = has_vector & (train_counts > 0) & (norms > 0) & np.isfinite(norms)
    eligible[0] = False  # RecBole's padding user
    n_zero_norm = int(np.sum(has_vector & ~((norms > 0) & np.isfinite(norms))))
    if n_zero_norm:
        logger.warning("GAA: %d users have an all-zero or non-finite semantic vector; they get no neighbours",
                       n_zero_norm)
    is_active = top_fraction_mask(train_counts, params.active_ratio, valid=eligible) if eligible.any() \
        else np.zeros(n_users, dtype=bool)

    ids = np.flatnonzero(eligible)
    k_row = np.where(is_active[ids], params.k_active, params.k_longtail) if params.group_aware \
        else np.full(len(ids), params.k_longtail)
    candidates, keep = cosine_top_k(x[ids], ids, k_row)
    n_candidates = keep.sum(axis=1)

    filtered_out = np.zeros(len(ids), dtype=np.int64)
    if params.filter_active and len(ids):
        active_rows = np.flatnonzero(is_active[ids] & (n_candidates > 0))
        if len(active_rows):
            matrix = binary_interaction_matrix(train_users, train_items, n_users, n_items)
            row_keep = keep[active_rows]
            rows, cols = np.nonzero(row_keep)
            pearson = np.full(row_keep.shape, np.nan)
            pearson[rows, cols] = pairwise_binary_pearson(
                matrix, ids[active_rows][rows], candidates[active_rows][rows, cols])
            threshold = np.nanpercentile(pearson, params.pearson_percentile, axis=1)
            # A tiny tolerance so the candidate *at* the percentile survives float rounding.
            drop = row_keep & ~(pearson >= threshold[:, None] - 1e-12)
            keep[active_rows] &= ~drop
            filtered_out[active_rows] = drop.sum(axis=1)

    degree_of_row = keep.sum(axis=1)
    degree = np.zeros(n_users, dtype=np.int64)
    degree[ids] = degree_of_row
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(degree, out=indptr[1:])
    # Row-major boolean indexing keeps each user's neighbours contiguous and in cosine order;
    # ``ids`` is increasing, so rows come out in user-id order, matching ``indptr``.
    indices = candidates[keep].astype(np.int64)
    seconds = time.perf_counter() - started

    stats = {
        "n_users": int(n_users - 1),
        "n_eligible": int(len(ids)),
        "n_without_vector": int(np.sum(~has_vector[1:])),
        "n_without_training": int(np.sum(train_counts[1:] <= 0)),
        "search_seconds": round(seconds, 3),
        "pearson_on": "binary user x item vectors of training interactions only",
        "params": {k: (float(v) if isinstance(v, float) else v) for k, v in dataclasses.asdict(params).items()},
        "groups": {},
    }
    for name, in_group in (("active", is_active[ids]), ("longtail", ~is_active[ids])):
        count = int(in_group.sum())
        stats["groups"][name] = {
            "users": count,
            "k": int(params.k_active if (params.group_aware and name == "active") else params.k_longtail),
            "users_with_neighbours": int(np.sum(degree_of_row[in_group] > 0)),
            "mean_candidates": float(n_candidates[in_group].mean()) if count else 0.0,
            "mean_neighbours": float(degree_of_row[in_group].mean()) if count else 0.0,
            "filtered_out": int(filtered_out[in_group].sum()),
        }
    logger.info("GAA neighbour search took %.2f s: %s", seconds, json.dumps(stats["groups"]))
    return NeighbourSets(indptr=indptr, indices=indices, is_active=is_active, eligible=eligible, stats=stats)
