"""GRU4Rec + HSUGA: RecBole's GRU4Rec with user semantic fusion and GAA hooks."""

from __future__ import annotations

from recbole.model.sequential_recommender import GRU4Rec

from recbole_hsuga.data.dataset import SemanticSequentialDataset
from recbole_hsuga.model.next_item import NextItemHSUGAMixin
from recbole_hsuga.trainer import GAATrainer


class GRU4RecHSUGA(NextItemHSUGAMixin, GRU4Rec):
    """GRU4Rec whose output ``h`` [B, embedding_size] (GRU state projected to the item
    embedding size) is fused with the user's semantic vector before scoring."""

    dataset_class = SemanticSequentialDataset
    trainer_class = GAATrainer

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._init_hsuga(config, dataset, self.embedding_size)
