"""LLM-ESR's dual-view item representation, as a mixin for RecBole's sequential backbones.

Faithful to the released LLM-ESR code (liuqidong07/LLM-ESR, ``models/DualLLMSRS.py``,
``models/utils.py``, ``data/pca.ipynb``), which the released HSUGA code (lilxmx/HSUGA,
``hsuga/models/hsuga.py``) reuses unchanged:

- **semantic view**: a frozen item table (``<dataset>.<item_semantic_suffix>``, loaded and
  remapped by :class:`~recbole_hsuga.data.dataset.SemanticSequentialDataset`; a
  non-persistent buffer, so checkpoints stay small) through an adapter
  ``Linear(d, d/2) -> Linear(d/2, H)`` without activation (as released);
- **collaborative view**: the backbone's own trainable ``item_embedding``, initialised with
  PCA(H) of the semantic table (:func:`pca_initialisation`);
- the two views exchange information through 2-head cross-attention
  (:class:`ViewCrossAttention`: no bias on Q/K/V, key padding masked, output
  ``Linear(H, H)``, no residual): the semantic view queries the ID view to form the ID
  branch and vice versa (released ``llm2id(llm, id)`` / ``id2llm(id, llm)``);
- **one** encoder module (the backbone's) runs over both branches (stacked as one batch);
  the user representation is the concatenation ``[h_id ; h_sem]`` (``2H``) and an item's
  is ``[e_id ; adapter(x_sem)]`` (:meth:`DualViewMixin.item_representations`), so a score
  is the sum of both views' dot products.

Optional difference (``dual_view_residual: true``, off by default): each branch adds its own
view's input to the cross-attention's output, as a transformer block's residual would. As
released, the encoder sees only the mixture, and a trained model's mixture at the last position
is close to uniform over the input (``benchmarks/cross_attention_profile.py``), so the most
recent item reaches the encoder diluted, the more the longer the input.

Deliberate difference: for the causal backbones (SASRec, GRU4Rec) the cross-attention is
causal too (query ``j`` attends keys ``<= j``). The released cross-attention only masks
padding and its SASRec does not pass its causal mask at all; with its per-position
training, position ``j`` could then read item ``j + 1``, its own target.

``hsuga_backbone: id_only`` switches all of this off: the model is the plain backbone
(RecBole's layers, ``H``-sized representations, the old checkpoint layout).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from recbole_hsuga.data.dataset import SemanticSettings
from recbole_hsuga.model.hsuga_mixin import HSUGAMixin


def pca_initialisation(table: np.ndarray, has_vector: np.ndarray, n_components: int) -> np.ndarray:
    """PCA scores of an item table: ``[n, d] -> [n, k]`` with ``k = min(n_components, rank)``.

    As the released ``data/pca.ipynb`` (sklearn ``PCA(64).fit_transform``): the table is
    centred on the mean of the items that have a vector and projected on its top right
    singular vectors (numpy SVD); the scores are **not** whitened or rescaled, so each
    component keeps its own spread (``sqrt`` of its eigenvalue). The principal axes are
    fitted on items with a vector only. Rows without a vector are projected as they are
    (with ``item_semantic_missing: mean`` they sit at the mean, so their scores are 0);
    the padding row 0 is set to zero, as released. Signs follow the SVD (sklearn flips
    them to a convention; a sign does not change what the model can learn).
    """
    table = np.asarray(table, dtype=np.float64)
    known = np.asarray(has_vector, dtype=bool).copy()
    known[0] = False
    if not known.any():
        raise ValueError("PCA initialisation needs at least one item with a semantic vector")
    mean = table[known].mean(axis=0)
    _, _, vt = np.linalg.svd(table[known] - mean, full_matrices=False)
    k = min(n_components, vt.shape[0])
    scores = (table - mean) @ vt[:k].T
    scores[0] = 0.0
    return scores.astype(np.float32)


class ViewCrossAttention(nn.Module):
    """Multi-head cross-attention of the released ``Multi_CrossAttention``.

    ``forward(query [B, L, H], key_value [B, L, H], item_seq [B, L])``: Q from the first
    view, K and V from the second; keys at padding positions (``item_seq == 0``) are
    masked, and with ``causal`` also keys after the query's position. No residual and no
    normalisation, as released.
    """

    def __init__(self, hidden_size: int, n_heads: int = 2, causal: bool = False) -> None:
        super().__init__()
        if hidden_size % n_heads:
            raise ValueError(f"cross-attention: hidden size {hidden_size} is not divisible by {n_heads} heads")
        self.n_heads = n_heads
        self.head_size = hidden_size // n_heads
        self.causal = causal
        self.linear_q = nn.Linear(hidden_size, hidden_size, bias=False)
        self.linear_k = nn.Linear(hidden_size, hidden_size, bias=False)
        self.linear_v = nn.Linear(hidden_size, hidden_size, bias=False)
        self.linear_output = nn.Linear(hidden_size, hidden_size)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, L, H] -> [B, heads, L, H / heads]``."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.n_heads, self.head_size).transpose(1, 2)

    def attention_weights(self, query: torch.Tensor, key_value: torch.Tensor, item_seq: torch.Tensor) -> torch.Tensor:
        """``[B, heads, L, L]``: how much each query position takes from each key position
        (``benchmarks/cross_attention_profile.py`` reads them from a trained model)."""
        length = query.size(1)
        q, k = self._heads(self.linear_q(query)), self._heads(self.linear_k(key_value))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size)  # [B, heads, L, L]
        blocked = (item_seq == 0).unsqueeze(1).unsqueeze(2)  # [B, 1, 1, L]: padding keys
        if self.causal:
            future = torch.ones(length, length, dtype=torch.bool, device=item_seq.device).triu(1)
            blocked = blocked | future
        scores = scores.masked_fill(blocked, -1e9)  # as released: a large negative, not -inf
        return torch.softmax(scores, dim=-1)

    def forward(self, query: torch.Tensor, key_value: torch.Tensor, item_seq: torch.Tensor) -> torch.Tensor:
        batch, length, _ = query.shape
        attention = self.attention_weights(query, key_value, item_seq)
        values = self._heads(self.linear_v(key_value))
        # Sized explicitly: a batch without rows (no last-window student in it) cannot infer -1.
        output = torch.matmul(attention, values).transpose(1, 2).reshape(batch, length, self.n_heads * self.head_size)
        return self.linear_output(output)


class DualViewMixin(HSUGAMixin):
    """Dual-view (LLM-ESR) parts shared by the SASRec, GRU4Rec and BERT4Rec versions.

    A backbone class calls :meth:`_init_dual_view` at the end of ``__init__`` (after
    RecBole's weight initialisation) and, when ``self.dual_view``, builds its encoder input
    with :meth:`view_inputs` / :meth:`cross_views` and ends with the shared encoder.
    """

    #: cross-attention heads (the released code hard-codes 2).
    cross_attention_heads = 2
    #: whether the cross-attention hides later positions (the causal backbones).
    causal_views = True

    def _init_dual_view(self, config: Any, dataset: Any, hidden_size: int) -> None:
        """Build the semantic view and PCA-initialise the ID view; then the HSUGA parts.

        ``hidden_size`` is the size of one view (SASRec/BERT4Rec: ``hidden_size``;
        GRU4Rec: ``embedding_size``); the user representation is twice that.
        """
        settings = SemanticSettings.from_config(config)
        self.dual_view = settings.backbone != "id_only"
        if not self.dual_view:
            self._init_hsuga(config, dataset, hidden_size)
            return
        table = dataset.semantic_table("item") if hasattr(dataset, "semantic_table") else None
        if table is None:
            raise TypeError(f"{type(self).__name__} (hsuga_backbone: dual_view) needs the item semantic table from "
                            f"its dataset class (SemanticSequentialDataset), got a {type(dataset).__name__} without "
                            "it; build the data with recbole_hsuga.runner.prepare_data")
        if table.table.shape[0] != self.n_items:
            raise ValueError(f"item semantic table has {table.table.shape[0]} rows, the model {self.n_items} items")
        dim = table.dim
        self.view_size = hidden_size
        self.dual_view_residual = bool(config["dual_view_residual"])
        self.register_buffer("item_semantic", torch.from_numpy(table.table).float(), persistent=False)
        self.adapter = nn.Sequential(nn.Linear(dim, dim // 2), nn.Linear(dim // 2, hidden_size))
        self.semantic_to_id = ViewCrossAttention(hidden_size, self.cross_attention_heads, causal=self.causal_views)
        self.id_to_semantic = ViewCrossAttention(hidden_size, self.cross_attention_heads, causal=self.causal_views)
        for module in (self.adapter, self.semantic_to_id, self.id_to_semantic):
            module.apply(self._init_weights)  # the backbone's own initialisation rule
        scores = torch.from_numpy(pca_initialisation(table.table, table.has_vector, hidden_size))
        with torch.no_grad():
            # Components beyond the table's rank (a table narrower than H) keep the backbone's init.
            self.item_embedding.weight[: self.n_items, : scores.shape[1]] = scores
            self.item_embedding.weight[0] = 0.0
        self._init_hsuga(config, dataset, 2 * hidden_size)

    # ------------------------------------------------------------------ items
    def semantic_item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        """``adapter(x_sem)`` of item ids (any shape ``S``) -> ``[*S, H]``."""
        return self.adapter(self.item_semantic[items])

    def item_vectors(self, items: torch.Tensor) -> torch.Tensor:
        """What a user representation is scored against: ``[*S] -> [*S, 2H]`` (``[*S, H]`` id_only)."""
        if not self.dual_view:
            return self.item_embedding(items)
        return torch.cat([self.item_embedding(items), self.semantic_item_vectors(items)], dim=-1)

    def item_representations(self) -> torch.Tensor:
        """``[n_items, 2H]`` = ``[id_emb ; adapter(sem_emb)]`` of every item (``[n_items, H]`` id_only)."""
        ids = self.item_embedding.weight[: self.n_items]
        if not self.dual_view:
            return ids
        return torch.cat([ids, self.adapter(self.item_semantic)], dim=-1)

    # ------------------------------------------------------------------ views
    def view_inputs(self, item_seq: torch.Tensor, semantic_input: torch.Tensor | None = None,
                    scale: bool = True, position_embedding: nn.Embedding | None = None,
                    dropout: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The two views of ``item_seq`` ``[B, L]``: ``(id [B, L, H], semantic [B, L, H])``.

        Each is scaled by ``sqrt(H)`` (``scale``), gets the **same** position embedding and
        the same dropout module (as released; GRU4Rec passes no position embedding).
        ``semantic_input`` replaces the frozen table lookup (BERT4Rec's mask token).
        """
        id_view = self.item_embedding(item_seq)
        raw = self.item_semantic[item_seq] if semantic_input is None else semantic_input
        semantic_view = self.adapter(raw)
        if scale:
            factor = math.sqrt(self.view_size)
            id_view, semantic_view = id_view * factor, semantic_view * factor
        if position_embedding is not None:
            positions = torch.arange(item_seq.size(1), dtype=torch.long, device=item_seq.device)
            position = position_embedding(positions).unsqueeze(0)
            id_view, semantic_view = id_view + position, semantic_view + position
        if dropout is not None:
            id_view, semantic_view = dropout(id_view), dropout(semantic_view)
        return id_view, semantic_view

    def cross_views(self, id_view: torch.Tensor, semantic_view: torch.Tensor,
                    item_seq: torch.Tensor) -> torch.Tensor:
        """Encoder inputs of both branches stacked as one batch ``[2B, L, H]``: the ID branch
        (semantic queries, ID keys/values) first, then the semantic branch (ID queries); with
        ``dual_view_residual`` each branch keeps its own view's input too."""
        id_branch = self.semantic_to_id(semantic_view, id_view, item_seq)
        semantic_branch = self.id_to_semantic(id_view, semantic_view, item_seq)
        if self.dual_view_residual:
            id_branch, semantic_branch = id_branch + id_view, semantic_branch + semantic_view
        return torch.cat([id_branch, semantic_branch], dim=0)

    @staticmethod
    def join_views(stacked: torch.Tensor) -> torch.Tensor:
        """``[2B, ..., H]`` encoder output of the stacked branches -> ``[B, ..., 2H]`` = ``[id ; semantic]``."""
        half = stacked.size(0) // 2
        return torch.cat([stacked[:half], stacked[half:]], dim=-1)


class LLMESRMixin:
    """Marks the LLM-ESR models: their YAML (``properties/model/LLMESRMixin.yaml``) sets GAA's
    trainer to LLM-ESR's uniform self-distillation, and the dual view is not optional."""

    def _check_llmesr(self) -> None:
        if not getattr(self, "dual_view", False):
            raise ValueError(f"{type(self).__name__} is the dual-view LLM-ESR model; hsuga_backbone: id_only would "
                             "make it the plain backbone (use the RecBole model or an HSUGA model instead)")
