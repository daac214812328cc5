"""BSARec + GAA: the ID-only HSUGA plug-in on BSARec, the strongest ID-only model of the
frontier table (issue 24: does HSUGA help a *strong* recommender?)."""

from __future__ import annotations

from recbole_hsuga.data.dataset import SemanticSequentialDataset
from recbole_hsuga.errors import InputError
from recbole_hsuga.model.bsarec import BSARec
from recbole_hsuga.model.next_item import NextItemHSUGAMixin
from recbole_hsuga.trainer import GAATrainer


class BSARecHSUGA(NextItemHSUGAMixin, BSARec):
    """:class:`~recbole_hsuga.model.bsarec.BSARec` trained with group-aware GAA.

    ``f(u)`` is BSARec's representation (the last slot of its encoder over the left-padded
    window, ``[B, H]``); GAA pulls it towards the detached mean of ``f`` over the user's
    semantic neighbours (``semantic_suffix``: HSU or history-text user vectors) exactly as
    on SASRec (:class:`~recbole_hsuga.trainer.GAATrainer`, keys in ``HSUGAMixin.yaml``).
    Scoring, CE/BPR and sampled softmax are the mixin's on ``f(u)`` (fused with ``s_u`` only
    when ``semantic_fusion`` is not ``none``), which equal BSARec's own with fusion off.

    Not a model of the HSUGA paper or its code, which plug GAA into LLM-ESR's dual-view
    backbones and the ID-only SASRec/GRU4Rec/BERT4Rec; BSARec has no dual view here, so the
    model is always ID-only and refuses ``hsuga_backbone: dual_view``. BSARec's constraints
    hold: prefix rows only (its frequency filter is non-causal), window
    ``MAX_ITEM_LIST_LENGTH`` as for BSARec; every row of a batch is a GAA student.
    """

    dataset_class = SemanticSequentialDataset
    trainer_class = GAATrainer

    def __init__(self, config, dataset):
        backbone = config["hsuga_backbone"]
        if backbone not in (None, "id_only"):
            raise InputError(f"hsuga_backbone: BSARecHSUGA is ID-only (BSARec has no dual view here), got {backbone!r}")
        super().__init__(config, dataset)
        self._init_hsuga(config, dataset, self.hidden_size)
