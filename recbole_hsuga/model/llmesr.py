"""LLM-ESR (Liu et al., NeurIPS 2024) on RecBole's SASRec, GRU4Rec and BERT4Rec.

The model is the dual-view backbone of :mod:`recbole_hsuga.model.dual_view` (semantic item
view through an adapter, PCA-initialised ID view, cross-attention, one shared encoder,
``[id ; semantic]`` user and item representations). Its retrieval-augmented
self-distillation is :class:`~recbole_hsuga.trainer.GAATrainer` configured uniformly by
``properties/model/LLMESRMixin.yaml``: neighbours are the cosine top-10 of the user text
vectors (``semantic_suffix: useremb_text``, "the user has visited: <titles>", the
``text`` extractor), every user gets ``gaa_k_longtail`` = 10 of them (``gaa_group_aware:
false``: no activity groups, no Pearson filter), and the loss is
``0.1 * MSE(f(u), mean_v f(v))`` with the teacher detached (``gaa_sd_reduction: mean`` is
``nn.MSELoss``). Differences from the released ``models/LLMESR.py``: its teacher is
re-encoded every step, in training mode (dropout on); here it is a no-grad, eval-mode table
refreshed every epoch (``gaa_teacher_refresh_steps`` for more often). It retrieves the
top 100 and keeps the first 10, which is the top 10.

The HSUGA models (``SASRecHSUGA`` ...) are siblings over the same dual-view bases, trained
with group-aware GAA on HSU vectors instead.
"""

from __future__ import annotations

from recbole_hsuga.model.bert4rec_hsuga import BERT4RecDualView
from recbole_hsuga.model.dual_view import LLMESRMixin
from recbole_hsuga.model.gru4rec_hsuga import GRU4RecDualView
from recbole_hsuga.model.sasrec_hsuga import SASRecDualView


class SASRecLLMESR(LLMESRMixin, SASRecDualView):
    """LLM-ESR with RecBole's (causal) SASRec as the shared encoder."""

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._check_llmesr()


class GRU4RecLLMESR(LLMESRMixin, GRU4RecDualView):
    """LLM-ESR with RecBole's GRU4Rec as the shared encoder."""

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._check_llmesr()


class BERT4RecLLMESR(LLMESRMixin, BERT4RecDualView):
    """LLM-ESR with RecBole's BERT4Rec (bidirectional, masked-item training) as the shared encoder."""

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._check_llmesr()
