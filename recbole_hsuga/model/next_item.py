"""HSUGA for backbones that predict from the last position (SASRec, GRU4Rec).

Both RecBole models score ``e_j^T h`` with ``h = forward(item_seq, item_seq_len)`` [B, H]
and the item embedding table; the HSUGA version scores ``e_j^T h~_u`` with the fused
``h~_u`` in training (BPR or CE) and in both prediction paths.
"""

from __future__ import annotations

from typing import Any

import torch

from recbole_hsuga.data.sequence_loader import LAST_WINDOW, TARGET_SEQ
from recbole_hsuga.model.hsuga_mixin import HSUGAMixin
from recbole_hsuga.position_loss import item_table_of, position_outputs, position_ranking_loss, row_items
from recbole_hsuga.sampled_softmax import sampler_of, softmax_loss


class NextItemHSUGAMixin(HSUGAMixin):
    """Loss and scoring on the fused representation for last-position backbones.

    Items are scored through :meth:`item_vectors` / :meth:`item_representations`: the item
    embedding here, ``[id ; adapter(semantic)]`` for the dual-view models
    (:class:`~recbole_hsuga.model.dual_view.DualViewMixin` overrides both).
    """

    def item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        """``[*S] -> [*S, H]``: the representations user vectors are scored against."""
        return self.item_embedding(items)

    def item_representations(self) -> torch.Tensor:
        """``[n_items, H]`` every item's representation (column 0 of the scores is padding)."""
        return self.item_embedding.weight

    def encode_sequence(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        # RecBole's forward is exactly f: the backbone output gathered at the last item
        # (SASRec keeps its causal attention mask there).
        return self.forward(item_seq, item_seq_len)

    def _ranking_loss(self, fused: torch.Tensor, interaction: Any) -> torch.Tensor:
        """BPR (one sampled negative per row) or CE (over all items, or the run's sampled
        negatives), on ``fused`` [B, H]."""
        pos_items = interaction[self.POS_ITEM_ID]
        if self.loss_type == "BPR":
            neg_items = interaction[self.NEG_ITEM_ID]
            pos_score = torch.sum(fused * self.item_vectors(pos_items), dim=-1)  # [B]
            neg_score = torch.sum(fused * self.item_vectors(neg_items), dim=-1)  # [B]
            return self.loss_fct(pos_score, neg_score)
        return softmax_loss(fused, pos_items, self.item_representations(), sampler_of(self))

    def ranking_loss_and_students(self, interaction: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Ranking loss of the batch and the GAA students ``f(u)`` ``[R, H]`` of users ``[R]``.

        Prefix rows: every row is a student (``R = B``). Sequence rows: the loss is at every
        position; the student is the last position of each user's most recent window, so
        every user is a student once per epoch.
        """
        users = self.user_ids(interaction)
        if TARGET_SEQ not in interaction:
            sequence_output = self.sequence_representation(interaction)
            fused = self.semantic_fusion(sequence_output, users)
            return self._ranking_loss(fused, interaction), sequence_output, users
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        outputs = position_outputs(self, item_seq, item_seq_len)  # [B, L, H]
        fused = self.semantic_fusion(outputs, users)
        loss = position_ranking_loss(fused, interaction[TARGET_SEQ], item_table_of(self), self.loss_type,
                                     row_items(interaction, self.ITEM_SEQ), sampler_of(self))
        last = interaction[LAST_WINDOW]
        student = self.gather_indexes(outputs[last], item_seq_len[last] - 1)  # [R, H]
        return loss, student, users[last]

    def sequence_rows_loss(self, interaction: Any) -> torch.Tensor:
        """Loss of sequence rows (``train_rows: sequence``): every position, on the fused output."""
        return self.ranking_loss_and_students(interaction)[0]

    def calculate_loss(self, interaction: Any) -> torch.Tensor:
        return self._ranking_loss(self.user_representation(interaction), interaction)

    def predict(self, interaction: Any) -> torch.Tensor:
        """``[B]`` scores of the rows' ``item_id``."""
        fused = self.user_representation(interaction)
        return torch.mul(fused, self.item_vectors(interaction[self.ITEM_ID])).sum(dim=1)

    def full_sort_predict(self, interaction: Any) -> torch.Tensor:
        """``[B, n_items]`` scores of every item (column 0 is the padding item)."""
        return torch.matmul(self.user_representation(interaction), self.item_representations().transpose(0, 1))
