"""LLMInit: RecBole's SASRec / GRU4Rec / BERT4Rec with the item table initialised from LLM vectors.

The baseline "LLMInit" of the HSUGA and LLM-ESR papers (citing Harte et al., RecSys 2023 and
Hu et al., 2024): the backbone's trainable item embedding starts as PCA(H) of the item
semantic (LLM) table instead of random values; everything is then trained as usual.

What the released code does. Neither repository has a class called LLMInit:

- LLM-ESR (Applied-Machine-Learning-Lab/LLM-ESR = liuqidong07/LLM-ESR) builds the table in
  ``data/pca.ipynb``: sklearn ``PCA(n_components=64).fit_transform`` over every item's LLM
  vector (centred, **not** whitened or rescaled), saved as ``pca64_itm_emb_np.pkl``. Only its
  dual-view model uses it (``models/DualLLMSRS.py``: the ID view, trainable, kept out of the
  weight re-initialisation through ``filter_init_modules``).
- HSUGA (lilxmx/HSUGA) has the baseline as the ``--item_from_llm`` switch of its plain
  backbones (``hsuga/models/backbones/{sasrec,gru4rec,bert4rec}.py``, same code in
  ``models/{SASRec,GRU4Rec,Bert4Rec}.py``; flag in ``main_legacy.py``; the same PCA file from
  ``data/pca.py``): a zero row is prepended for padding id 0 and another appended (id
  ``item_num + 1``, BERT4Rec's mask token), the table goes through
  ``nn.Embedding.from_pretrained`` and is made trainable (``requires_grad = True``, no
  ``padding_idx``). Position embeddings and the encoder are random. The released code then
  calls ``_init_weights()`` with an empty ``filter_init_modules``, which applies
  ``xavier_normal_`` to every parameter of two or more dimensions, **the PCA table
  included**: as released, the switch trains the randomly initialised backbone. (The switch
  is hard-coded off in ``main.py`` and set by no released script.)

Here the intent is implemented: the PCA scores survive until training starts. Differences
from the released code, all deliberate:

- the PCA initialisation is kept (the released switch overwrote it, see above);
- the backbones are RecBole's, unchanged: their own initialisation of every other weight
  (SASRec/BERT4Rec ``normal(0, initializer_range)``, GRU4Rec Xavier) instead of
  ``xavier_normal_`` everywhere, RecBole's embedding path (no ``sqrt(H)`` scaling of the
  input embeddings, which the released SASRec/BERT4Rec apply to every table, random or not),
  RecBole's causal SASRec;
- PCA to the width of the item embedding (``hidden_size``; GRU4Rec ``embedding_size``)
  instead of a fixed 64 (the same at 64). A table narrower than that gives fewer components;
  the remaining columns keep the backbone's random initialisation;
- the scores are not rescaled (as released; hence no scaling key);
- the principal axes are fitted on the items RecBole kept that have a vector, row ``i`` =
  RecBole's internal item id ``i`` (the table is remapped through ``field2token_id`` by
  :class:`LLMInitSequentialDataset`); items without a vector follow
  ``item_semantic_missing`` (``mean``: their row starts at 0, the centre of the PCA space);
- padding row 0 starts at zero, as released (RecBole's own init draws it at random). In
  training it behaves as in the plain backbone: ``padding_idx = 0`` blocks the gradient of
  lookups, but RecBole's CE scores every row of the table, row 0 included, so it may move;
  its content never reaches a sequence representation (padding is masked);
- BERT4Rec's mask-token row (RecBole's row ``n_items``) keeps RecBole's random
  initialisation (released: a zero row, then re-initialised like everything else);
- component signs follow numpy's SVD, not sklearn's sign convention (a sign flip of an
  axis changes nothing the model can learn).

Everything else is the backbone's: the forward pass, losses, the trainer
(:func:`recbole_hsuga.registry.get_trainer` finds no ``trainer_class`` here), sampled softmax
and ``train_rows`` (the checks in :mod:`recbole_hsuga.position_loss` are ``isinstance`` tests
on SASRec / GRU4Rec / BERT4Rec, which these classes pass), and the checkpoint layout (no
extra parameter or buffer: an LLMInit checkpoint loads into the plain backbone and back).

Configuration (``properties/model/LLMInitMixin.yaml``): the item table is the file the
dual-view models read, ``<dataset>.<item_semantic_suffix>`` (default ``itememb``), with the
same ``item_semantic_missing`` policy, so LLMInit and LLM-ESR start from the same ID table.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from recbole.model.sequential_recommender import BERT4Rec, GRU4Rec, SASRec

from recbole_hsuga.data.dataset import SemanticSequentialDataset, SemanticSettings, SemanticTable
from recbole_hsuga.model.dual_view import pca_initialisation

logger = logging.getLogger(__name__)


class LLMInitSequentialDataset(SemanticSequentialDataset):
    """:class:`SemanticSequentialDataset` that loads the item semantic table only.

    The table is ``<dataset>.<item_semantic_suffix>`` remapped to RecBole's internal item
    ids, items without a vector filled by ``item_semantic_missing``; no user vectors.
    """

    @classmethod
    def semantic_table_specs(cls, config: Any) -> dict[str, tuple[str | None, str]]:
        return {"item": (SemanticSettings.from_config(config).item_suffix, "item_semantic_suffix")}


def llminit_table(table: SemanticTable, n_items: int, width: int) -> np.ndarray:
    """PCA initialisation of an item embedding: ``[n_items, d] -> [n_items, k]``, ``k = min(width, rank)``.

    Row ``i`` is RecBole's internal item id ``i``; row 0 (padding) is zero. Uses
    :func:`~recbole_hsuga.model.dual_view.pca_initialisation` (centred, unscaled scores,
    axes fitted on the items with a vector), the initialisation of LLM-ESR's ID view.

    Raises:
        ValueError: the table does not have one row per item.
    """
    if table.table.shape[0] != n_items:
        raise ValueError(f"item semantic table {table.path} has {table.table.shape[0]} rows, the model {n_items} items")
    return pca_initialisation(table.table, table.has_vector, width)


def explained_variance(table: SemanticTable, scores: np.ndarray) -> float:
    """Share of the known items' variance that the PCA scores ``[n, k]`` keep (for the log)."""
    known = table.has_vector
    total = float(table.table[known].astype(np.float64).var(axis=0).sum())
    kept = float(scores[known].astype(np.float64).var(axis=0).sum())
    return kept / total if total > 0 else 0.0


class LLMInitMixin:
    """Replaces a RecBole backbone's initial ``item_embedding`` rows ``[0, n_items)`` with
    PCA scores of the item semantic table (see the module docstring).

    Mixed in front of the backbone (``class SASRecLLMInit(LLMInitMixin, SASRec)``): its
    ``__init__`` runs the backbone's (which builds and randomly initialises every weight)
    and then overwrites the item rows. Works for any backbone with an ``item_embedding``
    ``nn.Embedding`` of ``[n_items (+ extra rows), width]`` and ``padding_idx`` 0.
    """

    #: The dataset class that loads the item semantic table (recbole_hsuga.data.utils.create_dataset).
    dataset_class = LLMInitSequentialDataset

    def __init__(self, config: Any, dataset: Any) -> None:
        super().__init__(config, dataset)
        self._init_items_from_semantic_table(dataset)

    def _init_items_from_semantic_table(self, dataset: Any) -> None:
        table = dataset.semantic_table("item") if hasattr(dataset, "semantic_table") else None
        if table is None:
            raise TypeError(f"{type(self).__name__} needs the item semantic table from its dataset class "
                             f"(LLMInitSequentialDataset), got a {type(dataset).__name__} without it; build the "
                             "data with recbole_hsuga.runner.prepare_data")
        weight = self.item_embedding.weight  # [n_items (+1 for BERT4Rec's mask token), width]
        scores = torch.from_numpy(llminit_table(table, self.n_items, weight.shape[1]))  # [n_items, k]
        with torch.no_grad():
            weight[: self.n_items, : scores.shape[1]] = scores.to(weight.dtype)
            weight[0] = 0.0  # padding, as released
        logger.info("%s: item embedding rows 1..%d initialised with PCA(%d) of %s (%d-d, %d items without a vector "
                    "-> %s), %.1f%% of the variance kept; %d column(s) keep the backbone's initialisation",
                    type(self).__name__, self.n_items - 1, scores.shape[1], table.path, table.dim, table.n_missing,
                    table.counts.get("missing_policy", "?"), 100 * explained_variance(table, scores.numpy()),
                    weight.shape[1] - scores.shape[1])


class SASRecLLMInit(LLMInitMixin, SASRec):
    """RecBole's SASRec whose item embedding starts as PCA(``hidden_size``) of the item LLM vectors."""


class GRU4RecLLMInit(LLMInitMixin, GRU4Rec):
    """RecBole's GRU4Rec whose item embedding starts as PCA(``embedding_size``) of the item LLM vectors."""


class BERT4RecLLMInit(LLMInitMixin, BERT4Rec):
    """RecBole's BERT4Rec whose item rows start as PCA(``hidden_size``) of the item LLM vectors; the
    mask-token row (``n_items``) keeps RecBole's random initialisation."""
