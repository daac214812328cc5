"""User semantic vectors (HSU output) and their fusion with a backbone (paper Eq. 7).

The vectors come from the dataset's atomic feature file
``<config['data_path']>/<dataset>.<config['semantic_suffix']>`` (``docs/data-formats.md``:
header ``uid:token	user_emb:float_seq``, original user ids). They are remapped row by
row into RecBole's internal user ids through ``dataset.field2token_id[uid_field]`` so that
row ``u`` of the table is user ``u`` whatever order RecBole assigned. The table is a
frozen, non-persistent buffer: checkpoints stay small and a reloaded model re-reads the
file, which is the source of truth.

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

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dataset_tools.formats.features import read_feature_file

logger = logging.getLogger(__name__)

FUSIONS = ("none", "add", "gate", "concat")
MISSING_POLICIES = ("zero", "learned")


class SemanticConfigError(ValueError):
    """A semantic_* setting or the semantic vector file is unusable; the message says which."""


def semantic_file_path(config: Any) -> Path:
    """``<data_path>/<dataset>.<semantic_suffix>`` (RecBole's ``data_path`` already ends in the dataset)."""
    suffix = config["semantic_suffix"]
    if not suffix:
        raise SemanticConfigError("semantic_suffix is empty: set it to the suffix of the user vector file, e.g. useremb")
    return Path(config["data_path"]) / f"{config['dataset']}.{suffix}"


def remap_user_vectors(
    tokens: list[str], matrix: np.ndarray, token_to_id: dict[str, int], n_users: int, source: str = "<vectors>"
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Place each file row at its RecBole internal user id.

    Args:
        tokens: ``[n]`` original user ids, one per row of ``matrix``.
        matrix: ``[n, d]`` float vectors.
        token_to_id: RecBole's ``field2token_id[uid_field]`` (original id -> internal id).
        n_users: RecBole's ``user_num`` (padding id 0 included).
        source: name used in error messages (the file path).

    Returns:
        ``table [n_users, d]`` float32 (zeros where no vector), ``has_vector [n_users]`` bool
        (False for the padding user 0) and counts ``{"matched", "unknown", "missing"}``:
        file rows placed, file rows for users RecBole does not know (dropped, e.g. filtered
        out), and known users without a vector.
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(tokens):
        raise SemanticConfigError(f"{source}: {len(tokens)} ids but a matrix of shape {matrix.shape}")
    internal = np.array([token_to_id.get(token, -1) for token in tokens], dtype=np.int64)
    known = internal > 0  # id 0 is RecBole's [PAD]; it never holds a vector
    table = np.zeros((n_users, matrix.shape[1]), dtype=np.float32)
    table[internal[known]] = matrix[known]
    has_vector = np.zeros(n_users, dtype=bool)
    has_vector[internal[known]] = True
    counts = {
        "matched": int(known.sum()),
        "unknown": int((~known).sum()),
        "missing": int(n_users - 1 - has_vector[1:].sum()),
    }
    return table, has_vector, counts


def load_user_semantic_table(path: str | os.PathLike, dataset: Any) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read the feature file and remap it to ``dataset``'s internal user ids.

    Returns:
        ``table [n_users, d]``, ``has_vector [n_users]`` and the file's sidecar dict.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"user semantic vector file {path} does not exist (semantic_suffix / data_path); "
                                "write it with `python -m dataset_tools embed`")
    tokens, matrix, sidecar = read_feature_file(path)
    if len(tokens) == 0:
        raise SemanticConfigError(f"{path}: holds no vectors")
    uid_field = dataset.uid_field
    table, has_vector, counts = remap_user_vectors(
        tokens, matrix, dataset.field2token_id[uid_field], dataset.user_num, source=str(path))
    if counts["matched"] == 0:
        raise SemanticConfigError(f"{path}: none of its {len(tokens)} ids is a user of dataset "
                                  f"{dataset.dataset_name!r} (field {uid_field})")
    logger.info("semantic vectors %s: %d users matched, %d users without a vector, %d rows for unknown users "
                "ignored, dimension %d, extractor %s", path, counts["matched"], counts["missing"],
                counts["unknown"], table.shape[1], sidecar.get("extractor", "?"))
    return table, has_vector, sidecar


class UserSemanticFusion(nn.Module):
    """Frozen user semantic table + projection + fusion operator.

    Args:
        config: RecBole config with ``semantic_suffix``, ``semantic_fusion``, ``semantic_missing``.
        dataset: the RecBole dataset (for the id mapping).
        hidden_size: the backbone's hidden size ``H``.
    """

    def __init__(self, config: Any, dataset: Any, hidden_size: int) -> None:
        super().__init__()
        self.fusion = str(config["semantic_fusion"] or "none").lower()
        self.missing = str(config["semantic_missing"] or "zero").lower()
        if self.fusion not in FUSIONS:
            raise SemanticConfigError(f"semantic_fusion must be one of {FUSIONS}, got {config['semantic_fusion']!r}")
        if self.missing not in MISSING_POLICIES:
            raise SemanticConfigError(
                f"semantic_missing must be one of {MISSING_POLICIES}, got {config['semantic_missing']!r}")
        self.hidden_size = hidden_size
        # The vectors are needed for fusion and for GAA's neighbour search; a plain backbone
        # (fusion none, GAA off) runs without any vector file.
        self.loaded = self.fusion != "none" or bool(config["gaa"])
        if self.loaded:
            table, has_vector, self.sidecar = load_user_semantic_table(semantic_file_path(config), dataset)
        else:
            table, has_vector, self.sidecar = np.zeros((dataset.user_num, 0), np.float32), \
                np.zeros(dataset.user_num, bool), {}
        self.register_buffer("semantic_table", torch.from_numpy(table), persistent=False)
        self.register_buffer("has_vector", torch.from_numpy(has_vector), persistent=False)
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
