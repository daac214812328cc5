"""Head/tail splits by count: the one rule shared by the evaluator and GAA.

Users are "head" (GAA: *active*) when they are among the top ``fraction`` of users by
number of training interactions; items are "head" when they are among the top
``fraction`` of items by training popularity. Both splits are rank based, so exactly
``ceil(fraction * n)`` entities are head. Ties at the boundary are broken by the
smaller index first, which makes the split deterministic for a given id mapping.
"""

from __future__ import annotations

import math

import numpy as np


def top_fraction_mask(counts: np.ndarray, fraction: float, valid: np.ndarray | None = None) -> np.ndarray:
    """Mark the top ``fraction`` of entries by count.

    Args:
        counts: ``[n]`` non-negative counts (interactions per user, or per item).
        fraction: share of the valid entries to mark as head, in ``(0, 1)``.
        valid: optional ``[n]`` boolean mask of entries that take part (e.g. to leave out
            RecBole's padding id 0). Invalid entries are never head.

    Returns:
        ``[n]`` boolean array, ``True`` for head entries.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"head fraction must be in (0, 1), got {fraction!r}")
    counts = np.asarray(counts)
    if counts.ndim != 1:
        raise ValueError(f"counts must be 1-D, got shape {counts.shape}")
    valid = np.ones(len(counts), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    candidates = np.flatnonzero(valid)
    n_head = math.ceil(fraction * len(candidates))
    # lexsort sorts by the last key first: count descending, then index ascending.
    order = np.lexsort((candidates, -counts[candidates]))
    mask = np.zeros(len(counts), dtype=bool)
    mask[candidates[order[:n_head]]] = True
    return mask


def head_labels(user_counts: np.ndarray, item_counts: np.ndarray, users: np.ndarray, targets: np.ndarray,
                fraction: float) -> dict[str, np.ndarray]:
    """Each evaluated user's head/tail labels, as the evaluator's groups define them.

    Args:
        user_counts: ``[n_users]`` training interactions per user id (id 0 is RecBole's padding).
        item_counts: ``[n_items]`` training interactions per item id (id 0 is padding).
        users: ``[n]`` evaluated user ids.
        targets: ``[n]`` each evaluated user's target item id.
        fraction: share of users (and of items) that are head.

    Returns:
        ``{"head_users": [n] bool, "head_items": [n] bool}``: whether the user is active, and
        whether the user's target item is popular; the tail groups are the complements.
    """
    valid_users = np.arange(len(user_counts)) > 0
    valid_items = np.arange(len(item_counts)) > 0
    return {"head_users": top_fraction_mask(user_counts, fraction, valid_users)[users],
            "head_items": top_fraction_mask(item_counts, fraction, valid_items)[targets]}
