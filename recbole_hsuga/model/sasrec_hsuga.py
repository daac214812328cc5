"""SASRec + HSUGA: the dual-view (LLM-ESR) SASRec with GAA, or RecBole's SASRec alone (``id_only``)."""

from __future__ import annotations

import torch
from recbole.model.sequential_recommender import SASRec

from recbole_hsuga.data.dataset import SemanticSequentialDataset
from recbole_hsuga.model.dual_view import DualViewMixin
from recbole_hsuga.model.next_item import NextItemHSUGAMixin
from recbole_hsuga.trainer import GAATrainer


class SASRecDualView(DualViewMixin, NextItemHSUGAMixin, SASRec):
    """RecBole's causal SASRec over LLM-ESR's two item views (base of SASRecLLMESR and SASRecHSUGA).

    Both views: ``e * sqrt(H) + position``, dropout (no input LayerNorm: the released model
    scales instead), cross-attention, then RecBole's ``trm_encoder`` (one module, causal
    mask) on both branches; ``f(u) = [h_id ; h_sem]`` at the last position (``2H``).
    ``hsuga_backbone: id_only``: RecBole's SASRec unchanged, ``f(u)`` of size ``H``.
    """

    dataset_class = SemanticSequentialDataset
    trainer_class = GAATrainer

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._init_dual_view(config, dataset, self.hidden_size)

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        if not self.dual_view:
            return super().forward(item_seq, item_seq_len)
        id_view, semantic_view = self.view_inputs(item_seq, position_embedding=self.position_embedding,
                                                  dropout=self.dropout)
        stacked = self.cross_views(id_view, semantic_view, item_seq)  # [2B, L, H]
        mask = self.get_attention_mask(item_seq)  # causal, as RecBole's SASRec
        output = self.trm_encoder(stacked, torch.cat([mask, mask], dim=0), output_all_encoded_layers=True)[-1]
        # Must stay the last call: sequence rows bypass this gather (position_loss.position_outputs).
        return self.gather_indexes(self.join_views(output), item_seq_len - 1)  # [B, 2H]


class SASRecHSUGA(SASRecDualView):
    """The paper's HSUGA on SASRec: the dual-view model trained with group-aware GAA
    (:class:`GAATrainer`; HSU user vectors retrieve the neighbours). ``hsuga_backbone: id_only``
    is the ID-only plug-in: RecBole's SASRec + GAA (+ optional HSU fusion)."""
