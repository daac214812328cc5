"""Ranks of leave-one-out targets and per-user top-K metrics computed by RecBole's metrics.

One full-sort pass of a model gives scores for every item; both protocols are read off
it: *full* ranks the target among all items, *sampled* among the target and a fixed set
of negatives (see :mod:`recbole_hsuga.evaluation.negatives`). RecBole's own ``uni100``
mode calls ``predict`` once per (user, candidate) and redraws the candidates every time;
gathering the full-sort scores is both faster and comparable across models.

Ties are broken *against* the target: a model that scores everything equally gets no
hits, instead of the perfect scores an optimistic tie-break would hand it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from recbole.evaluator.metrics import MRR, NDCG, Hit, Precision, Recall

# RecBole metric classes that can be fed from the target's rank alone.
RANK_METRICS = {"hit": Hit, "ndcg": NDCG, "mrr": MRR, "recall": Recall, "precision": Precision}


def full_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each target among all items.

    Args:
        scores: ``[B, n_items]`` scores; excluded items (RecBole's padding id 0) set to -inf.
        targets: ``[B]`` target item ids.

    Returns:
        ``[B]`` int64 ranks; ties with the target count as ranked above it.
    """
    target_scores = scores.gather(1, targets.view(-1, 1))
    # Items above the target plus the others tied with it, in one pass (>= also counts the
    # target itself, hence the -1). Summed in int32, which a row of items never overflows:
    # on CPU this is about 5x faster than two int64 counts, and it runs for every user,
    # protocol and validated epoch (benchmarks/rank_speed.py).
    return (scores >= target_scores).sum(dim=1, dtype=torch.int32).to(torch.int64) - 1


def sampled_ranks(scores: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """0-based rank of each target among itself and its negatives.

    Args:
        scores: ``[B, n_items]`` scores.
        targets: ``[B]`` target item ids.
        negatives: ``[B, n_neg]`` negative item ids (never containing the target).

    Returns:
        ``[B]`` int64 ranks in ``[0, n_neg]``; ties count against the target.
    """
    target_scores = scores.gather(1, targets.view(-1, 1))
    negative_scores = scores.gather(1, negatives)
    return (negative_scores >= target_scores).sum(dim=1)


def per_user_metrics(ranks: np.ndarray, metrics: Sequence[str], topk: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-user metric values from 0-based target ranks, one relevant item per user.

    The values come from RecBole's own metric classes (``metric_info``), fed with the
    ``pos_index`` matrix a top-K list with one relevant item would produce.

    Args:
        ranks: ``[n_users]`` 0-based ranks of each user's single target.
        metrics: RecBole metric names, any of ``hit, ndcg, mrr, recall, precision``.
        topk: cut-offs, e.g. ``[5, 10, 20]``.

    Returns:
        ``{"hit@10": [n_users] array, ...}``.
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    max_k = max(topk)
    # pos_index[u, j] is True when the item at position j of u's top-K list is relevant.
    pos_index = np.arange(max_k)[None, :] == ranks[:, None]
    pos_len = np.ones(len(ranks), dtype=np.int64)
    metric_config = {"topk": list(topk), "metric_decimal_place": 4}
    values: dict[str, np.ndarray] = {}
    for name in metrics:
        key = name.lower()
        if key not in RANK_METRICS:
            raise ValueError(f"metric {name!r} is not supported by the leave-one-out evaluator; choose from {sorted(RANK_METRICS)}")
        metric = RANK_METRICS[key](metric_config)
        if key in ("ndcg", "recall"):
            matrix = metric.metric_info(pos_index, pos_len)
        else:
            matrix = metric.metric_info(pos_index)
        for k in topk:
            values[f"{key}@{k}"] = np.asarray(matrix[:, k - 1], dtype=np.float64)
    return values


def group_means(values: Mapping[str, np.ndarray], groups: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Average per-user metric values over boolean user groups.

    Args:
        values: ``{"hit@10": [n] array, ...}`` from :func:`per_user_metrics`.
        groups: ``{"all": [n] bool, "head_users": [n] bool, ...}``.

    Returns:
        ``{group: {metric: mean}}``; a group with no member gets NaN and a size of 0 in
        ``{group: {"n_users": count}}``.
    """
    result: dict[str, dict[str, float]] = {}
    for group, mask in groups.items():
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        entry = {"n_users": float(n)}
        for key, array in values.items():
            entry[key] = float(array[mask].mean()) if n else float("nan")
        result[group] = entry
    return result
