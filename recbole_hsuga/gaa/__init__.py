"""Group-Aware Alignment (GAA, paper §3.4): neighbour sets, Pearson filter, self-distillation.

The trainer lives in :mod:`recbole_hsuga.gaa.trainer`; it is not imported here so that the
pure parts (neighbours, loss) load without RecBole.
"""

from recbole_hsuga.gaa.loss import NeighbourCSR, neighbour_mean, self_distillation_loss
from recbole_hsuga.gaa.neighbours import GAAParams, NeighbourSets, build_neighbour_sets

__all__ = ["GAAParams", "NeighbourCSR", "NeighbourSets", "build_neighbour_sets", "neighbour_mean",
           "self_distillation_loss"]
