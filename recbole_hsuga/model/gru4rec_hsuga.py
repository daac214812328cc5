"""GRU4Rec + HSUGA: the dual-view (LLM-ESR) GRU4Rec with GAA, or RecBole's GRU4Rec alone (``id_only``)."""

from __future__ import annotations

import torch
from recbole.model.sequential_recommender import GRU4Rec

from recbole_hsuga.data.dataset import SemanticSequentialDataset
from recbole_hsuga.model.dual_view import DualViewMixin
from recbole_hsuga.model.next_item import NextItemHSUGAMixin
from recbole_hsuga.trainer import GAATrainer


class GRU4RecDualView(DualViewMixin, NextItemHSUGAMixin, GRU4Rec):
    """RecBole's GRU4Rec over LLM-ESR's two item views (base of GRU4RecLLMESR and GRU4RecHSUGA).

    Views in ``embedding_size`` with RecBole's embedding dropout; as in the released
    ``DualLLMGRU4Rec`` they are neither scaled nor given a position (GRU4Rec has none).
    Causal cross-attention, then the one GRU + dense layer on both branches;
    ``f(u) = [h_id ; h_sem]`` (``2 * embedding_size``). ``id_only``: RecBole's GRU4Rec.
    """

    dataset_class = SemanticSequentialDataset
    trainer_class = GAATrainer

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._init_dual_view(config, dataset, self.embedding_size)

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        if not self.dual_view:
            return super().forward(item_seq, item_seq_len)
        id_view, semantic_view = self.view_inputs(item_seq, scale=False, dropout=self.emb_dropout)
        stacked = self.cross_views(id_view, semantic_view, item_seq)  # [2B, L, E]
        gru_output, _ = self.gru_layers(stacked)
        output = self.dense(gru_output)
        # Must stay the last call: sequence rows bypass this gather (position_loss.position_outputs).
        return self.gather_indexes(self.join_views(output), item_seq_len - 1)  # [B, 2E]


class GRU4RecHSUGA(GRU4RecDualView):
    """The paper's HSUGA on GRU4Rec (dual view + group-aware GAA); ``hsuga_backbone: id_only``
    is the ID-only plug-in (RecBole's GRU4Rec + GAA, fusion in ``embedding_size``)."""
