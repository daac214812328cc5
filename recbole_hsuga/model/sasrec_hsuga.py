"""SASRec + HSUGA: RecBole's causal SASRec with user semantic fusion and GAA hooks."""

from __future__ import annotations

from recbole.model.sequential_recommender import SASRec

from recbole_hsuga.data.dataset import SemanticSequentialDataset
from recbole_hsuga.model.next_item import NextItemHSUGAMixin
from recbole_hsuga.trainer import GAATrainer


class SASRecHSUGA(NextItemHSUGAMixin, SASRec):
    """SASRec (causal self-attention, unchanged) whose output ``h`` [B, hidden_size] is fused
    with the user's semantic vector before scoring; trained by :class:`GAATrainer`."""

    dataset_class = SemanticSequentialDataset
    trainer_class = GAATrainer

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._init_hsuga(config, dataset, self.hidden_size)
