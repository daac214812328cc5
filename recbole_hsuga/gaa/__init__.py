"""Group-Aware Alignment (GAA, paper §3.4): the method's maths.

- :mod:`~recbole_hsuga.gaa.neighbours`: active / long-tail split, cosine top-K candidates
  (faiss, :mod:`dataset_tools.neighbours.cosine`, shared with ``dataset_tools neighbours``),
  the Pearson filter for active users, the on-disk cache;
- :mod:`~recbole_hsuga.gaa.pearson`: Pearson similarity of binary user x item vectors;
- :mod:`~recbole_hsuga.gaa.loss`: the self-distillation loss over CSR neighbour lists.

These modules use numpy, scipy, torch and faiss and no RecBole API; the training loop
that uses them is :class:`recbole_hsuga.trainer.GAATrainer`. Importing them still
imports RecBole: ``recbole_hsuga/__init__.py`` runs first and loads RecBole's config
(after applying the compatibility shims of :mod:`recbole_hsuga.compat`).
"""

from recbole_hsuga.gaa.loss import NeighbourCSR, neighbour_mean, self_distillation_loss
from recbole_hsuga.gaa.neighbours import GAAParams, NeighbourSets, build_neighbour_sets

__all__ = ["GAAParams", "NeighbourCSR", "NeighbourSets", "build_neighbour_sets", "neighbour_mean",
           "self_distillation_loss"]
