"""BERT4Rec + HSUGA: the dual-view (LLM-ESR) BERT4Rec with GAA, or RecBole's BERT4Rec alone (``id_only``).

Dual view (``hsuga_backbone: dual_view``, :mod:`recbole_hsuga.model.dual_view`): both views
``e * sqrt(H) + position``, dropout, cross-attention masking padding only (bidirectional,
as the encoder), then RecBole's ``trm_encoder`` and output head (``output_ffn``, GELU,
``output_ln``), one module run over both branches; outputs ``[.., 2H]`` scored against
``[id_emb ; adapter(sem_emb)] + output_bias``. The mask token has an ID row (RecBole's)
and, in the semantic view, a learned vector in the semantic input space
(``semantic_mask``, initialised at zero: the released code's zero row for the mask token).

BERT4Rec is bidirectional and trains on masked positions (RecBole's ``mask_itemseq``
transform), so its representations differ from the last-position backbones:

- ``f(u)`` is the output at a mask token appended after the sequence (RecBole's own
  prediction path, ``reconstruct_test_data``);
- in training the fused ``h~`` is applied at every masked position ([B, M, H], the user's
  semantic vector broadcast over the positions) and scored ``e_j^T h~ + b_j`` (BERT4Rec's
  item bias is part of the backbone);
- with GAA the student ``f(u)`` of a row is not one of the masked outputs, so the masked
  sequences and the mask-appended sequences go through the encoder as one stacked batch
  ``[B + R, L]``: one backbone call serves both losses. Encoding every row twice doubles
  the step time, so only the first ``R = ceil(gaa_student_fraction * B)`` rows get a
  student. RecBole reshuffles the training rows every epoch, so they are a uniform sample
  of the batch and the SD term keeps its expectation (with more variance); 1.0 encodes all.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from recbole.model.sequential_recommender import BERT4Rec
from torch import nn

from recbole_hsuga.data.dataset import SemanticSequentialDataset
from recbole_hsuga.data.sequence_loader import LAST_WINDOW
from recbole_hsuga.model.dual_view import DualViewMixin
from recbole_hsuga.sampled_softmax import sampler_of, softmax_loss
from recbole_hsuga.trainer import GAATrainer


class BERT4RecDualView(DualViewMixin, BERT4Rec):
    """BERT4Rec over LLM-ESR's two item views (base of BERT4RecLLMESR and BERT4RecHSUGA);
    outputs [.., 2H] (``id_only``: RecBole's BERT4Rec, [.., H]), fused with the user's
    semantic vector when ``semantic_fusion`` is set."""

    dataset_class = SemanticSequentialDataset
    trainer_class = GAATrainer
    causal_views = False  # bidirectional: the cross-attention masks padding only, as released

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._init_dual_view(config, dataset, self.hidden_size)
        if self.dual_view:
            self.semantic_mask = nn.Parameter(torch.zeros(self.item_semantic.size(1)))
        fraction = config["gaa_student_fraction"]
        self.gaa_student_fraction = 1.0 if fraction is None else float(fraction)
        if not 0.0 < self.gaa_student_fraction <= 1.0:
            raise ValueError(f"gaa_student_fraction must be in (0, 1], got {fraction!r}")

    # ------------------------------------------------------------------ representations
    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` (mask tokens included) -> ``[B, L, 2H]`` (``[B, L, H]`` id_only)."""
        if not self.dual_view:
            return super().forward(item_seq)
        is_mask = (item_seq == self.mask_token).unsqueeze(-1)
        semantic_input = torch.where(is_mask, self.semantic_mask,
                                     self.item_semantic[item_seq.clamp(max=self.n_items - 1)])
        id_view, semantic_view = self.view_inputs(item_seq, semantic_input=semantic_input,
                                                  position_embedding=self.position_embedding, dropout=self.dropout)
        stacked = self.cross_views(id_view, semantic_view, item_seq)  # [2B, L, H]
        mask = self.get_attention_mask(item_seq, bidirectional=True)
        output = self.trm_encoder(stacked, torch.cat([mask, mask], dim=0), output_all_encoded_layers=True)[-1]
        output = self.output_ln(self.output_gelu(self.output_ffn(output)))
        return self.join_views(output)

    def append_mask_token(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        """Vectorised ``reconstruct_test_data``: put the mask token after the last item and
        drop the first column so the length stays ``L``; the mask ends at ``item_seq_len - 1``."""
        padded = torch.cat([item_seq, torch.zeros_like(item_seq[:, :1])], dim=1)  # [B, L + 1]
        padded[torch.arange(item_seq.size(0), device=item_seq.device), item_seq_len] = self.mask_token
        return padded[:, 1:]

    def encode_sequence(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        output = self.forward(self.append_mask_token(item_seq, item_seq_len))  # [B, L, H]
        return self.gather_indexes(output, item_seq_len - 1)  # [B, H]

    # ------------------------------------------------------------------ training
    def _masked_outputs(self, encoded: torch.Tensor, masked_index: torch.Tensor) -> torch.Tensor:
        """``[B, L, H]`` encoder output -> ``[B, M, H]`` outputs at the masked positions."""
        index = masked_index.unsqueeze(-1).expand(-1, -1, encoded.size(-1))
        return torch.gather(encoded, 1, index)

    def _masked_ranking_loss(self, fused: torch.Tensor, interaction: Any) -> torch.Tensor:
        """BERT4Rec's masked-item loss on the fused outputs ``[B, M, H]`` (padding slots ignored)."""
        pos_items = interaction[self.POS_ITEMS]
        masked_index = interaction[self.MASK_INDEX]
        targets = (masked_index > 0).float()  # [B, M]
        if self.loss_type == "BPR":
            neg_items = interaction[self.NEG_ITEMS]
            pos_score = torch.sum(fused * self.item_vectors(pos_items), dim=-1) + self.output_bias[pos_items]
            neg_score = torch.sum(fused * self.item_vectors(neg_items), dim=-1) + self.output_bias[neg_items]
            return -torch.sum(torch.log(1e-14 + torch.sigmoid(pos_score - neg_score)) * targets) / torch.sum(targets)
        active = masked_index > 0
        # [n_items, .]: no mask token row; over all items or the run's sampled negatives
        return softmax_loss(fused[active], pos_items[active], self.item_representations(), sampler_of(self),
                            self.output_bias)

    def ranking_loss_and_students(self, interaction: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Masked-item loss of all ``B`` rows, and ``f(u)`` ``[R, H]`` of student users ``[R]``.

        Prefix rows: the students are the first ``ceil(gaa_student_fraction * B)`` rows.
        Sequence rows (one row per user window): only each user's most recent window can be
        a student, and the fraction applies to those rows.
        """
        masked_item_seq = interaction[self.MASK_ITEM_SEQ]
        batch = masked_item_seq.size(0)
        users = self.user_ids(interaction)
        candidates = torch.arange(batch, device=masked_item_seq.device)
        if LAST_WINDOW in interaction:
            candidates = candidates[interaction[LAST_WINDOW]]
        chosen = candidates[: math.ceil(self.gaa_student_fraction * len(candidates))]
        item_seq_len = interaction[self.ITEM_SEQ_LEN][chosen]
        student_seq = self.append_mask_token(interaction[self.ITEM_SEQ][chosen], item_seq_len)
        encoded = self.forward(torch.cat([masked_item_seq, student_seq], dim=0))  # [B + R, L, H]
        masked_output = self._masked_outputs(encoded[:batch], interaction[self.MASK_INDEX])
        fused = self.semantic_fusion(masked_output, users)
        student = self.gather_indexes(encoded[batch:], item_seq_len - 1)  # [R, H]
        return self._masked_ranking_loss(fused, interaction), student, users[chosen]

    def calculate_loss(self, interaction: Any) -> torch.Tensor:
        encoded = self.forward(interaction[self.MASK_ITEM_SEQ])
        masked_output = self._masked_outputs(encoded, interaction[self.MASK_INDEX])
        return self._masked_ranking_loss(self.semantic_fusion(masked_output, self.user_ids(interaction)), interaction)

    # ------------------------------------------------------------------ scoring
    def predict(self, interaction: Any) -> torch.Tensor:
        """``[B]`` scores of the rows' ``item_id``."""
        fused = self.user_representation(interaction)
        test_item = interaction[self.ITEM_ID]
        return torch.mul(fused, self.item_vectors(test_item)).sum(dim=1) + self.output_bias[test_item]

    def full_sort_predict(self, interaction: Any) -> torch.Tensor:
        """``[B, n_items]`` scores of every item (the mask token is not an item)."""
        fused = self.user_representation(interaction)
        return torch.matmul(fused, self.item_representations().transpose(0, 1)) + self.output_bias


class BERT4RecHSUGA(BERT4RecDualView):
    """The paper's HSUGA on BERT4Rec (dual view + group-aware GAA); ``hsuga_backbone: id_only``
    is the ID-only plug-in (RecBole's BERT4Rec + GAA + optional HSU fusion)."""
