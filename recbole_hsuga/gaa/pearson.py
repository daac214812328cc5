"""Pearson similarity between users' binary interaction vectors (training data only).

Each user is a binary vector over the item catalogue: ``x_u[i] = 1`` when ``u`` interacted
with item ``i`` in the *training* split. For two binary vectors of length ``n`` with
``a = |I_u|``, ``b = |I_v|`` and ``c = |I_u ∩ I_v|`` the Pearson correlation is

    r(u, v) = (n·c − a·b) / sqrt(a·(n − a) · b·(n − b)).

Only the requested pairs are computed (GAA needs ``Pearson(u, v)`` for an active user's
candidate neighbours, not a dense ``n_users × n_users`` matrix). Validation and test items
must never be in ``train_items``: the official HSUGA code builds these vectors from the
full sequences, which leaks the held-out items into neighbour selection.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def binary_interaction_matrix(
    train_users: np.ndarray, train_items: np.ndarray, n_users: int, n_items: int
) -> sp.csr_matrix:
    """Build the binary user × item matrix of the training interactions.

    Args:
        train_users: ``[P]`` user ids of the training (user, item) pairs.
        train_items: ``[P]`` item ids of the same pairs (repeats are allowed and count once).
        n_users: number of user rows (RecBole's ``n_users``, padding id 0 included).
        n_items: number of item columns (RecBole's ``n_items``, padding id 0 included).

    Returns:
        ``[n_users, n_items]`` CSR matrix with entries in ``{0, 1}``.
    """
    train_users = np.asarray(train_users, dtype=np.int64)
    train_items = np.asarray(train_items, dtype=np.int64)
    if train_users.shape != train_items.shape:
        raise ValueError(f"train_users {train_users.shape} and train_items {train_items.shape} differ in shape")
    if len(train_users) and (train_users.min() < 0 or train_users.max() >= n_users):
        raise ValueError(f"training user ids must lie in [0, {n_users}), got range "
                         f"[{train_users.min()}, {train_users.max()}]")
    if len(train_items) and (train_items.min() < 0 or train_items.max() >= n_items):
        raise ValueError(f"training item ids must lie in [0, {n_items}), got range "
                         f"[{train_items.min()}, {train_items.max()}]")
    matrix = sp.csr_matrix(
        (np.ones(len(train_users), dtype=np.float32), (train_users, train_items)), shape=(n_users, n_items)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # binary: a repeated interaction counts once
    return matrix


def pairwise_binary_pearson(
    matrix: sp.csr_matrix, left: np.ndarray, right: np.ndarray, n_columns: int | None = None
) -> np.ndarray:
    """Pearson correlation of the binary rows ``matrix[left[p]]`` and ``matrix[right[p]]``.

    Args:
        matrix: ``[n_users, n_items]`` binary CSR matrix (see :func:`binary_interaction_matrix`).
        left: ``[P]`` user ids.
        right: ``[P]`` user ids.
        n_columns: vector length ``n`` in the formula; defaults to ``matrix.shape[1] - 1``
            (RecBole's item ids start at 1, column 0 is padding and never used).

    Returns:
        ``[P]`` float64 correlations. A pair where either vector is constant (no items, or
        every item) has no defined correlation; it gets 0 (no linear association).
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    n = float(matrix.shape[1] - 1 if n_columns is None else n_columns)
    if len(left) == 0:
        return np.zeros(0, dtype=np.float64)
    degree = np.asarray(matrix.sum(axis=1)).ravel().astype(np.float64)
    a = degree[left]
    b = degree[right]
    common = np.asarray(matrix[left].multiply(matrix[right]).sum(axis=1)).ravel().astype(np.float64)
    denominator = np.sqrt(a * (n - a) * b * (n - b))
    numerator = n * common - a * b
    pearson = np.zeros(len(left), dtype=np.float64)
    defined = denominator > 0
    pearson[defined] = numerator[defined] / denominator[defined]
    return pearson
