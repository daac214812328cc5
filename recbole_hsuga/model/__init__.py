"""LLM-enhanced sequential models on RecBole backbones.

- ``SASRecLLMESR``, ``GRU4RecLLMESR``, ``BERT4RecLLMESR``: LLM-ESR's dual-view model
  (:mod:`recbole_hsuga.model.dual_view`) with its uniform self-distillation;
- ``SASRecHSUGA``, ``GRU4RecHSUGA``, ``BERT4RecHSUGA``: the same dual-view model with GAA
  (group-aware, HSU user vectors); ``hsuga_backbone: id_only`` makes them the ID-only
  plug-in (RecBole's backbone + GAA + optional HSU fusion);
- ``SASRecGRASP``, ``GRU4RecGRASP``, ``BERT4RecGRASP``: GRASP (:mod:`recbole_hsuga.model.grasp`):
  holistic sigmoid attention over user/item LLM vectors and their neighbour means;
- ``BSARec``: BSARec (Shin et al., AAAI 2024; :mod:`recbole_hsuga.model.bsarec`), an ID-only
  baseline: self-attention mixed with a learnable low-pass frequency filter; ``BSARecHSUGA``
  (:mod:`recbole_hsuga.model.bsarec_hsuga`): BSARec with group-aware GAA (ID-only HSUGA);
- ``SASRecLLMInit``, ``GRU4RecLLMInit``, ``BERT4RecLLMInit``: LLMInit (:mod:`recbole_hsuga.model.llminit`),
  RecBole's backbone with its item embedding initialised from PCA of the item LLM vectors;
- ``HIPHOP`` (:mod:`recbole_hsuga.model.hiphop`): session graphs + LLM item semantics +
  multi-intent queries + intent-guided learning against a memory of training sessions;
- ``ISRF`` (:mod:`recbole_hsuga.model.isrf`): a T5 writing the next item's id, with whole-word
  vectors from a user-item LightGCN and a user semantic LightGCN, constrained beam search;
- ``NextId`` (:mod:`recbole_hsuga.model.next_id`): the "next unseen id" rule, a probe of item
  ids numbered in order of first appearance (what a model reading ids as text can exploit).

``recbole_hsuga.registry`` resolves model names with ``getattr(recbole_hsuga.model, name)``.
"""

from recbole_hsuga.model.bert4rec_hsuga import BERT4RecHSUGA
from recbole_hsuga.model.bsarec import BSARec
from recbole_hsuga.model.bsarec_hsuga import BSARecHSUGA
from recbole_hsuga.model.grasp import BERT4RecGRASP, GRU4RecGRASP, SASRecGRASP
from recbole_hsuga.model.gru4rec_hsuga import GRU4RecHSUGA
from recbole_hsuga.model.hiphop import HIPHOP
from recbole_hsuga.model.isrf import ISRF
from recbole_hsuga.model.llmesr import BERT4RecLLMESR, GRU4RecLLMESR, SASRecLLMESR
from recbole_hsuga.model.llminit import BERT4RecLLMInit, GRU4RecLLMInit, SASRecLLMInit
from recbole_hsuga.model.next_id import NextId
from recbole_hsuga.model.sasrec_hsuga import SASRecHSUGA

__all__ = ["BERT4RecHSUGA", "GRU4RecHSUGA", "SASRecHSUGA", "BERT4RecLLMESR", "GRU4RecLLMESR", "SASRecLLMESR",
           "BERT4RecGRASP", "GRU4RecGRASP", "SASRecGRASP", "BSARec", "BSARecHSUGA",
           "BERT4RecLLMInit", "GRU4RecLLMInit", "SASRecLLMInit", "HIPHOP", "ISRF", "NextId"]
