"""What the three HSUGA backbones share: the dataset and trainer they need, user ids, the
semantic fusion, the GAA hooks.

A model mixes :class:`HSUGAMixin` in front of a RecBole sequential model, implements
:meth:`HSUGAMixin.encode_sequence` and names its classes:
``dataset_class = SemanticSequentialDataset`` (:mod:`recbole_hsuga.data.dataset`: it holds
the user semantic table; the model only turns that table into tensors) and
``trainer_class = GAATrainer``. The contract used by :class:`~recbole_hsuga.trainer.GAATrainer`:

- ``encode_sequence(item_seq [B, L], item_seq_len [B]) -> [B, H]``: the backbone's
  sequence representation ``f`` *before* fusion, for any sequence (the teacher table);
- ``sequence_representation(interaction) -> [B, H]``: ``f`` of the rows' own sequences;
- ``ranking_loss_and_students(interaction) -> (loss, f [R, H], users [R])``: the ranking
  loss on the fused representation of the batch and ``f`` of ``R`` student rows with
  their users, from **one** backbone pass, so GAA adds no forward pass for the student.
  With prefix rows, last-position backbones return every row (``R = B``) and
  BERT4RecHSUGA a share of them; with sequence rows the students are each user's most
  recent window, so every user is a student once per epoch.
"""

from __future__ import annotations

from typing import Any

import torch

from recbole_hsuga.data.dataset import SemanticSettings
from recbole_hsuga.model.semantic import UserSemanticFusion, user_semantic_tensors


class HSUGAMixin:
    """Semantic fusion + GAA hooks for a RecBole ``SequentialRecommender`` subclass."""

    semantic_fusion: UserSemanticFusion
    #: The ranking losses here read the run's softmax sampler (recbole_hsuga.sampled_softmax).
    softmax_sampler_support = "own"

    def _init_hsuga(self, config: Any, dataset: Any, representation_size: int) -> None:
        """Call at the end of the subclass ``__init__`` (after RecBole's weight init)."""
        self.USER_ID = config["USER_ID_FIELD"]
        if self.loss_type not in ("BPR", "CE"):
            raise ValueError(f"loss_type must be 'BPR' or 'CE', got {self.loss_type!r}")
        settings = SemanticSettings.from_config(config)
        table, has_vector = user_semantic_tensors(dataset, settings, type(self).__name__)
        self.semantic_fusion = UserSemanticFusion(settings, table, has_vector, representation_size)

    # ------------------------------------------------------------------ representations
    def encode_sequence(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        """Backbone representation ``f`` of ``[B, L]`` sequences: ``[B, H]`` (no fusion)."""
        raise NotImplementedError

    def user_ids(self, interaction: Any) -> torch.Tensor:
        """``[B]`` internal user ids of the rows; HSUGA needs them to look up ``s_u``."""
        try:
            return interaction[self.USER_ID]
        except KeyError:
            raise KeyError(f"HSUGA models need the user id field {self.USER_ID!r} in every batch; "
                           "keep it in load_col / the interaction") from None

    def sequence_representation(self, interaction: Any) -> torch.Tensor:
        """``f(u)``: ``[B, H]`` representation of each row's item sequence, before fusion."""
        return self.encode_sequence(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])

    def user_representation(self, interaction: Any) -> torch.Tensor:
        """``h~_u = phi(f(u), s_u)``: ``[B, H]``."""
        return self.semantic_fusion(self.sequence_representation(interaction), self.user_ids(interaction))
