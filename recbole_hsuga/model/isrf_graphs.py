"""The two graphs of ISRF and their LightGCN propagation.

- **Individual** (explicit interests): users and items on the bipartite graph of *training*
  interactions (:class:`~recbole_hsuga.data.training_history.TrainingHistory`), never a
  validation or test pair.
- **Group** (implicit interests): each user linked to its top-K cosine neighbours by the user
  semantic vectors and to itself, directed, as released (each row then holds ``K + 1`` ones).

The interaction graph is ``D^-1/2 A D^-1/2``; the group graph, as released, normalises both
sides by the row sums (``K + 1`` for every user with a vector). LightGCN propagates
``E_{l+1} = Â E_l`` and averages ``E_0 .. E_L`` (He et al. 2020). Tensors only: the model owns
the embeddings.
"""

from __future__ import annotations

import numpy as np
import torch

from recbole_hsuga.data.training_history import TrainingHistory


def normalised_adjacency(rows: np.ndarray, cols: np.ndarray, size: int) -> torch.Tensor:
    """Symmetric ``D^-1/2 A D^-1/2`` of the undirected graph with edges ``rows[i] - cols[i]``.

    Duplicate edges count once; isolated nodes keep a zero row. Returns a sparse CSR
    ``[size, size]`` float32 tensor.
    """
    both_rows = np.concatenate([rows, cols]).astype(np.int64)
    both_cols = np.concatenate([cols, rows]).astype(np.int64)
    keys = np.unique(both_rows * size + both_cols)
    r, c = keys // size, keys % size
    degree = np.bincount(r, minlength=size).astype(np.float64)
    scale = np.zeros(size)
    scale[degree > 0] = degree[degree > 0] ** -0.5
    values = (scale[r] * scale[c]).astype(np.float32)
    matrix = torch.sparse_coo_tensor(torch.from_numpy(np.stack([r, c])), torch.from_numpy(values), (size, size))
    return matrix.coalesce().to_sparse_csr()


def interaction_graph(history: TrainingHistory) -> torch.Tensor:
    """``[N + M, N + M]`` normalised user-item graph: users first, then items at offset ``N``."""
    users, items = history.user_item_pairs()
    keep = items > 0
    return normalised_adjacency(users[keep], history.n_users + items[keep], history.n_users + history.n_items)


def user_similarity_graph(vectors: np.ndarray, has_vector: np.ndarray, k: int) -> tuple[torch.Tensor, int]:
    """``([N, N] graph, edges)``: each user with a vector linked to itself and to its ``k`` most
    cosine-similar users with vectors (directed), ``D^-1/2 A D^-1/2`` with ``D`` the row sums.

    Users without a vector (and the padding id 0) have a zero row: LightGCN leaves them their
    own vector at layer 0 and nothing after, so their mean is ``E_0 / (L + 1)``.
    """
    from dataset_tools.neighbours.cosine import cosine_top_k

    size = len(vectors)
    ids = np.flatnonzero(has_vector)
    rows, cols = ids, ids  # self-loops
    edges = 0
    if len(ids) >= 2 and k >= 1:
        candidates, keep = cosine_top_k(vectors[ids], ids, np.full(len(ids), k))
        rows = np.concatenate([rows, np.repeat(ids, keep.sum(axis=1))])
        cols = np.concatenate([cols, candidates[keep]])
        edges = int(keep.sum())
    degree = np.bincount(rows, minlength=size).astype(np.float64)
    scale = np.zeros(size)
    scale[degree > 0] = degree[degree > 0] ** -0.5
    values = (scale[rows] * scale[cols]).astype(np.float32)
    indices = torch.from_numpy(np.stack([rows, cols]).astype(np.int64))
    graph = torch.sparse_coo_tensor(indices, torch.from_numpy(values), (size, size)).coalesce().to_sparse_csr()
    return graph, edges


def transposed(adjacency: torch.Tensor) -> torch.Tensor:
    """The transpose of a sparse CSR matrix, as sparse CSR (for :func:`light_gcn`'s backward pass)."""
    return adjacency.to_sparse_coo().t().coalesce().to_sparse_csr()


class _SparseProduct(torch.autograd.Function):
    """``adjacency @ x`` whose backward multiplies by a transpose computed once.

    ``torch.sparse.mm`` builds the transpose of a CSR matrix in every backward pass: on the
    group graph (22k users x 101 entries) that was two thirds of an ISRF training step.
    """

    @staticmethod
    def forward(ctx, adjacency: torch.Tensor, adjacency_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adjacency_t = adjacency_t
        return adjacency @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, None, ctx.adjacency_t @ grad


def light_gcn(adjacency: torch.Tensor, embeddings: torch.Tensor, layers: int, adjacency_t: torch.Tensor) -> torch.Tensor:
    """Mean of ``E_0 .. E_layers`` with ``E_{l+1} = adjacency @ E_l``: ``[n, d] -> [n, d]``.

    Args:
        adjacency: sparse CSR ``[n, n]``.
        adjacency_t: its transpose (:func:`transposed`; the matrix itself when it is symmetric),
            used by the backward pass.
    """
    total = embeddings
    current = embeddings
    for _ in range(layers):
        current = _SparseProduct.apply(adjacency, adjacency_t, current)
        total = total + current
    return total / (layers + 1)
