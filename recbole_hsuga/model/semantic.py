"""User semantic vectors (HSU output) and their fusion with a backbone (paper Eq. 7).

The model does not read files: the vectors come from the dataset
(:class:`~recbole_hsuga.data.dataset.SemanticSequentialDataset` loads
``<dataset>.<semantic_suffix>`` and remaps it to RecBole's internal user ids), and
:func:`user_semantic_tensors` turns its table into tensors, so row ``u`` is user ``u``
whatever order RecBole assigned. The table is a frozen, non-persistent buffer:
checkpoints stay small and a reloaded model takes the table from its dataset again.

Fusion ``phi(h, s)`` of the sequence representation ``h`` and the projected semantic
vector ``s = LayerNorm(W x_u + b)``:

- ``none``: ``h`` (the vectors are then only used by GAA to find neighbours);
- ``add``: ``h + s``;
- ``gate``: ``g * h + (1 - g) * s`` with ``g = sigmoid(W_g [h; s])``;
- ``concat``: ``W_c [h; s]`` (concatenation followed by a projection).

Users without a vector (``semantic_missing``): ``zero`` gives them ``s = 0``; ``learned``
gives them one shared trainable vector in the hidden space.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from recbole_hsuga.data.dataset import SemanticSettings


def user_semantic_tensors(dataset: Any, settings: SemanticSettings, model_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(table [user_num, d] float32, has_vector [user_num] bool)`` from ``dataset``'s user table.

    Without a need for vectors (fusion none, GAA off) the table is ``[user_num, 0]``.
    """
    if not settings.needs_user_vectors:
        return torch.zeros(dataset.user_num, 0), torch.zeros(dataset.user_num, dtype=torch.bool)
    table = dataset.semantic_table("user") if hasattr(dataset, "semantic_table") else None
    if table is None:
        raise TypeError(f"{model_name} with semantic_fusion {settings.fusion!r} / gaa {settings.gaa} needs the user "
                        f"semantic vectors from its dataset class (SemanticSequentialDataset), got a "
                        f"{type(dataset).__name__} without them; build the data with recbole_hsuga.runner.prepare_data")
    return torch.from_numpy(table.table), torch.from_numpy(table.has_vector)


class UserSemanticFusion(nn.Module):
    """Frozen user semantic table + projection + fusion operator.

    Args:
        settings: the validated ``semantic_fusion`` / ``semantic_missing`` (and what is loaded).
        table: ``[n_users, d]`` semantic vectors, row = RecBole internal user id.
        has_vector: ``[n_users]`` bool, False for users without a vector (and the padding user 0).
        hidden_size: the backbone's hidden size ``H``.
    """

    def __init__(self, settings: SemanticSettings, table: torch.Tensor, has_vector: torch.Tensor,
                 hidden_size: int) -> None:
        super().__init__()
        self.fusion = settings.fusion
        self.missing = settings.missing
        self.hidden_size = hidden_size
        self.loaded = settings.needs_user_vectors
        self.register_buffer("semantic_table", table.to(torch.float32), persistent=False)
        self.register_buffer("has_vector", has_vector.to(torch.bool), persistent=False)
        self.n_missing = int((~has_vector[1:]).sum())

        if self.fusion != "none":
            self.projection = nn.Linear(table.shape[1], hidden_size)
            # LLM hidden states have large, arbitrary norms; LayerNorm puts s on the same
            # scale as the backbone's (layer-normalised) output so neither term dominates.
            self.projection_norm = nn.LayerNorm(hidden_size)
            if self.missing == "learned":
                self.missing_vector = nn.Parameter(torch.empty(hidden_size).normal_(0.0, 0.02))
        if self.fusion in ("gate", "concat"):
            self.combine = nn.Linear(2 * hidden_size, hidden_size)

    def semantic(self, users: torch.Tensor) -> torch.Tensor:
        """Projected semantic vectors ``s_u``: ``[B] -> [B, H]``."""
        projected = self.projection_norm(self.projection(self.semantic_table[users]))
        has = self.has_vector[users].unsqueeze(-1)
        fallback = self.missing_vector.expand_as(projected) if self.missing == "learned" \
            else torch.zeros_like(projected)
        return torch.where(has, projected, fallback)

    def forward(self, sequence_output: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        """Fuse ``h`` with ``s_u``.

        Args:
            sequence_output: ``[B, H]`` or ``[B, M, H]`` (BERT4Rec's masked positions).
            users: ``[B]`` internal user ids.

        Returns:
            ``h~`` with the shape of ``sequence_output``.
        """
        if self.fusion == "none":
            return sequence_output
        semantic = self.semantic(users)
        if sequence_output.dim() == 3:
            semantic = semantic.unsqueeze(1).expand_as(sequence_output)
        if self.fusion == "add":
            return sequence_output + semantic
        combined = self.combine(torch.cat([sequence_output, semantic], dim=-1))
        if self.fusion == "gate":
            gate = torch.sigmoid(combined)
            return gate * sequence_output + (1.0 - gate) * semantic
        return combined  # concat
