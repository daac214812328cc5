"""HSUGA models: RecBole backbones with user semantic fusion (HSU) and GAA training.

``recbole_hsuga.registry`` resolves model names with ``getattr(recbole_hsuga.model, name)``.
"""

from recbole_hsuga.model.bert4rec_hsuga import BERT4RecHSUGA
from recbole_hsuga.model.gru4rec_hsuga import GRU4RecHSUGA
from recbole_hsuga.model.sasrec_hsuga import SASRecHSUGA

__all__ = ["BERT4RecHSUGA", "GRU4RecHSUGA", "SASRecHSUGA"]
