"""Self-distillation loss of GAA (paper Eq. 4), vectorised over a batch.

    L_SD = mean_u || f(u) − (1/|N_u|) Σ_{v ∈ N_u} f(v) ||²

The student ``f(u)`` is the backbone representation of a user (one per training row, or
one per user with sequence rows); the teacher is the
mean of the neighbours' rows of a ``[n_users, d]`` table of representations. Rows whose
user has no neighbour do not count (neither in the sum nor in the mean).

``reduction`` sets the scale over the ``d`` dimensions: ``"sum"`` is Eq. 4 as printed
(squared L2 distance); ``"mean"`` divides it by ``d``, which is what the released HSUGA and
LLM-ESR code compute (``nn.MSELoss``) and therefore the scale the paper's alpha grid
{1, 0.5, 0.1, 0.05, 0.01} was tuned on. The two differ only by the constant ``d`` in alpha.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

#: Scales of L_SD over the ``d`` dimensions (see the module docstring).
REDUCTIONS = ("mean", "sum")


class NeighbourCSR(NamedTuple):
    """Neighbour lists on a torch device: ``indices[indptr[u]:indptr[u+1]]`` are ``u``'s neighbours.

    ``indptr`` is ``[n_users + 1]`` and ``indices`` ``[nnz]``, both int64.
    """

    indptr: torch.Tensor
    indices: torch.Tensor

    @classmethod
    def from_numpy(cls, indptr: np.ndarray, indices: np.ndarray, device: torch.device | str = "cpu") -> "NeighbourCSR":
        return cls(torch.as_tensor(np.asarray(indptr), dtype=torch.long, device=device),
                   torch.as_tensor(np.asarray(indices), dtype=torch.long, device=device))


def neighbour_mean(
    teacher_table: torch.Tensor, users: torch.Tensor, neighbours: NeighbourCSR
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean teacher representation of each row's neighbours.

    Args:
        teacher_table: ``[n_users, d]`` representations ``f(v)``.
        users: ``[B]`` int64 user ids of the batch rows.
        neighbours: the CSR neighbour lists.

    Returns:
        ``mean [B, d]`` (zeros for rows without neighbours) and ``has_neighbours [B]`` bool.
    """
    users = users.to(neighbours.indptr.device, dtype=torch.long)
    start = neighbours.indptr[users]
    degree = neighbours.indptr[users + 1] - start
    batch = users.shape[0]
    row_of_entry = torch.repeat_interleave(torch.arange(batch, device=users.device), degree)
    # Position of each entry inside its row: global arange minus the row's first entry offset.
    first_entry = torch.cumsum(degree, 0) - degree
    offset_in_row = torch.arange(row_of_entry.shape[0], device=users.device) - first_entry[row_of_entry]
    neighbour_ids = neighbours.indices[start[row_of_entry] + offset_in_row]

    device = teacher_table.device
    summed = torch.zeros(batch, teacher_table.shape[1], dtype=teacher_table.dtype, device=device)
    summed = summed.index_add(0, row_of_entry.to(device), teacher_table[neighbour_ids.to(device)])
    degree = degree.to(device)
    mean = summed / degree.clamp(min=1).unsqueeze(1).to(teacher_table.dtype)
    return mean, degree > 0


def self_distillation_loss(
    student: torch.Tensor,
    users: torch.Tensor,
    teacher_table: torch.Tensor,
    neighbours: NeighbourCSR,
    detach_teacher: bool = True,
    reduction: str = "sum",
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """GAA's self-distillation loss.

    Args:
        student: ``[B, d]`` student representations ``f(u)`` of the batch rows.
        users: ``[B]`` the rows' user ids.
        teacher_table: ``[n_users, d]`` teacher representations ``f(v)``.
        neighbours: CSR neighbour lists over the same user ids.
        detach_teacher: stop the gradient into the teacher (the default, as in the paper's
            self-distillation and LLM-ESR).
        reduction: ``"sum"`` (squared L2 distance per row) or ``"mean"`` (that divided by ``d``).
        weights: ``[B]`` optional row weights; the result is then the weighted mean over
            rows. Prefix rows pass ``1 / rows(u)`` so that each user weighs the same however
            many training rows it owns.

    Returns:
        Scalar: mean (or weighted mean) over rows with at least one neighbour of the squared
        L2 distance between the student and its neighbours' mean teacher (divided by ``d``
        for ``"mean"``). A batch
        without any such row returns a zero that is still attached to ``student`` (so
        ``backward`` works).
    """
    if student.dim() != 2 or teacher_table.dim() != 2 or student.shape[1] != teacher_table.shape[1]:
        raise ValueError(f"student {tuple(student.shape)} and teacher table {tuple(teacher_table.shape)} "
                         "must be [B, d] and [n_users, d]")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if detach_teacher:
        teacher_table = teacher_table.detach()
    teacher, has_neighbours = neighbour_mean(teacher_table, users, neighbours)
    if not bool(has_neighbours.any()):
        return student.sum() * 0.0
    difference = student[has_neighbours] - teacher[has_neighbours]
    squared = difference.pow(2)
    per_row = squared.sum(dim=1) if reduction == "sum" else squared.mean(dim=1)
    if weights is None:
        return per_row.mean()
    row_weights = weights.to(per_row.device, per_row.dtype)[has_neighbours]
    return (per_row * row_weights).sum() / row_weights.sum()
