"""HIPHOP: session graphs, LLM item semantics, multi-intent queries and intent-guided inter-session learning.

Hierarchical Intent-guided Optimization with Pluggable LLM-Driven Semantics for
Session-based Recommendation (arXiv 2507.04623; ``../shared/papers/HIPHOP-summary.md``).
On this project's data a "session" is one user's history, as in the paper's Amazon sets.

The model, per input sequence (RecBole's left-aligned ``item_seq``, ``[B, L]``):

1. **Items.** ``E = E_id + P(S)``: a trainable ID table plus a trainable linear projector of
   the frozen item LLM table ``S`` (``embed --extractor items``, loaded by
   :class:`HIPHOPDataset`); ``hiphop_semantic: none`` keeps ``E_id`` (the paper's ablation).
2. **Intra-session.** SR-GNN's session graph over the unique items (in/out-degree-normalised
   adjacency), RecBole's gated GNN on L2-normalised item vectors (NISER), a learnable position
   embedding, soft attention ``[sum_i a_i h_i ; h_last]`` -> ``h_seq`` (L2-normalised).
3. **Multi-intent.** ``M`` learnable queries attend over the positions (multi-head attention,
   padding masked), max-pooled over the queries -> ``h_intent``.
4. **Inter-session.** A memory of the *training* sessions (each user's training items):
   global neighbours by Jaccard similarity of item sets, local neighbours by Jaccard of the
   last ``k`` items in time order, the user's own session never among them. Each branch
   attends over ``[this session, its neighbours]`` (mean item vectors) with weights
   ``entmax_alpha(w0' relu(W1 v_j + W2 h_intent + b))``, ``alpha = 1 + sigmoid(w' h_intent)``:
   the intent chooses which neighbours count and how sparsely. ``h_fused = h_seq + g + l``.
5. **Aggregation.** ``h_fused`` of the training sessions is kept in a bank (refreshed at the
   start of every epoch, in eval mode, saved with the checkpoint); the session and its
   ``hiphop_similar_sessions`` most cosine-similar graph neighbours in the bank are mixed by a
   softmax over their cosines -> ``h_sim``. The session is ``L2norm(h_seq + h_sim)``.
6. **Scores and losses.** ``hiphop_scale x cos`` against the L2-normalised item table; CE (or
   focal loss on ArcFace-margin logits, the released default); plus
   ``hiphop_contrastive_weight x InfoNCE(h_seq, h_sim)`` against in-batch hard negatives (the
   most similar sessions that share no item with the anchor), temperature
   ``max(min, t0 x decay^epoch)``.

What the released code does (hjx159/HIPHOP, ``pytorch_code/model.py``, ``utils.py``,
``main.py``, read 2026-12-02; ``../shared/NOTES.md``) and where this class differs, on purpose:

- **LLM semantics kept.** Released: item text -> 2048-d API vector -> an untrained random
  ``Linear(2048, 100)`` -> ``nn.Embedding.from_pretrained``, then ``reset_parameters()``
  re-draws every parameter, that table included, so the semantics are discarded. Here the
  semantic part is a trainable projector added to the ID table for the whole of training (the
  paper's "space projector"); addition rather than initialisation so that training cannot wash
  the semantics out of rare items, whose ID rows get few updates (the paper's reason for the
  module: sparse co-occurrence). The LLM table is this project's item table (default MiniLM).
- **Intent-guided attention that depends on the intent.** Released: the keys and values are
  one vector repeated along the length axis, so the entmax weights average identical rows and
  the output does not depend on ``h_intent``, which enters nowhere else. Here the attention
  runs over distinct candidates (the session and its neighbours).
- **Gradients through the inter-session branch.** Released: the branch is rebuilt through
  ``.detach().numpy()``. Here the neighbour vectors are differentiable means of the current
  item table (``F.embedding_bag``).
- **Neighbours from training sessions only.** Released: the global and local graphs, the
  top-3 aggregation and, at test time, everything come from the *current batch*, so a user's
  score depends on who else is in the batch (and test sessions see each other). Here they come
  from the training-session memory and the bank, with the user's own session excluded (it
  holds the training target), so scores do not depend on the batch (tested). The top
  ``hiphop_graph_neighbours`` Jaccard neighbours stand in for the batch-wide ``D^-1 A``
  propagation, whose weights the repeated-vector attention then ignored; neighbours tied on
  Jaccard go to the lower user id, so the list is reproducible. (The memory holds
  every user's training items, some later in calendar time than another user's test item:
  leave-one-out splits by position, as for every model here, e.g. GAA's neighbours.)
- **Last k in time order.** Released: the last ``k`` of the sorted unique-node list. Here the
  last ``k`` items of the sequence.
- **Hard negatives that truly share no item.** Released: the overlap check reads session item
  sets in the unshuffled order while the batch is shuffled, and too few candidates are filled
  with random (possibly overlapping) sessions. Here the check uses the batch's own items, and
  rows with fewer valid negatives use fewer (the others are masked out of the softmax).
- **Session vectors are means.** Released: sums of the session's item vectors (then
  ``selu`` and L2 normalisation); a mean keeps long and short sessions on one scale.
- **Loss.** CE by default (the project's protocol; the released default is focal, available
  as ``hiphop_loss: focal`` with the ArcFace margin 0.1 and gamma 2). The released
  CurricularFace factor ``t = min(1, 0.8 + epoch / 10)`` on hard negative logits is 1 from the
  third epoch on and is left out.
- **Training schedule.** RecBole's: early stopping on validation, model selected on
  validation (released: the best *test* epoch is reported), no ``StepLR(6, 0.1)`` (which
  stops learning after ~18 epochs and would make convergence a matter of the decay).
- **GNN cell.** RecBole's SR-GNN ``GNN`` (``h' = (1 - z) h + z n``; released ``n + z (h - n)``:
  the same family with the update gate's sign learnt the other way).
- ``hiphop_intents: 1`` is the released fallback (mean over positions as ``h_intent``).

Shapes: ``B`` batch, ``L`` window (``MAX_ITEM_LIST_LENGTH``), ``d`` ``embedding_size``,
``N`` users (RecBole's internal ids; the memory has a row per id), ``K`` graph neighbours.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from entmax import entmax_bisect
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.model.sequential_recommender.srgnn import GNN
from torch import nn

from recbole_hsuga.data.dataset import SemanticSequentialDataset, SemanticSettings
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.errors import InputError

logger = logging.getLogger(__name__)

SEMANTIC_MODES = ("add", "none")
LOSSES = ("ce", "focal")
#: logit of a candidate the attention must not choose (finite: entmax's bisection needs it).
_EXCLUDED = -1e4
#: queries compared with the whole memory at once, and sessions per bank-refresh batch.
QUERY_CHUNK = 256


@contextmanager
def quiet_sparse_csr() -> Iterator[None]:
    """Silence torch's "sparse CSR support is in beta" warning, which every CSR operation repeats."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


class HIPHOPDataset(SemanticSequentialDataset):
    """The item semantic table (``<dataset>.<item_semantic_suffix>``) unless ``hiphop_semantic: none``."""

    @classmethod
    def semantic_table_specs(cls, config: Any) -> dict[str, tuple[str | None, str]]:
        if str(config["hiphop_semantic"] or "none").lower() == "none":
            return {}
        return {"item": (SemanticSettings.from_config(config).item_suffix, "item_semantic_suffix")}


@dataclass
class PackedGraphs:
    """A batch's session graphs as one graph of ``T`` real nodes (no padding node, no empty slots).

    Attributes:
        nodes: ``[T]`` item id of each node (the sorted unique items of row 0, then row 1, ...).
        alias: ``[B, L]`` the node of each position (padded positions: node 0, masked later).
        source, target: ``[E]`` the distinct edges ``source -> target`` (consecutive items).
        in_degree, out_degree: ``[T]`` distinct in/out edges of each node (at least 1).
    """

    nodes: torch.Tensor
    alias: torch.Tensor
    source: torch.Tensor
    target: torch.Tensor
    in_degree: torch.Tensor
    out_degree: torch.Tensor


def packed_graphs(item_seq: torch.Tensor) -> PackedGraphs:
    """SR-GNN's session graphs (RecBole's ``SRGNN._get_slice``) without their padding: ``[B, L]`` ->
    :class:`PackedGraphs`. A node per distinct item of a row; an edge per distinct pair of
    consecutive items; RecBole's matrices are ``A_in[u, v] = edge(v -> u) / indeg(u)`` and
    ``A_out[u, v] = edge(u -> v) / outdeg(u)`` over these nodes.

    A batch of short histories in a window of 50 is mostly padding; the GNN's cost is per
    node slot, so packing the real nodes makes it proportional to the items, not the window.
    """
    ordered, order = item_seq.sort(dim=1)
    new = torch.ones_like(ordered, dtype=torch.bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    new &= ordered > 0  # the padding item is not a node
    flat_new = new.reshape(-1)
    node_of_sorted = (flat_new.long().cumsum(0) - 1).clamp(min=0).view_as(ordered)  # global node index
    alias = torch.empty_like(node_of_sorted).scatter_(1, order, node_of_sorted)
    alias = alias.masked_fill(item_seq == 0, 0)
    nodes = ordered.reshape(-1)[flat_new]
    present = item_seq[:, 1:] > 0
    pairs = torch.stack([alias[:, :-1][present], alias[:, 1:][present]])
    source, target = torch.unique(pairs, dim=1) if pairs.numel() else pairs
    n_nodes = len(nodes)
    ones = torch.ones(len(source), device=item_seq.device)
    in_degree = torch.zeros(n_nodes, device=item_seq.device).index_add_(0, target, ones).clamp(min=1.0)
    out_degree = torch.zeros(n_nodes, device=item_seq.device).index_add_(0, source, ones).clamp(min=1.0)
    return PackedGraphs(nodes, alias, source, target, in_degree, out_degree)


def gnn_on_packed(gnn: GNN, graphs: PackedGraphs, hidden: torch.Tensor) -> torch.Tensor:
    """RecBole's gated GNN (``gnn``'s weights, ``gnn.step`` steps) on packed graphs: ``[T, d] -> [T, d]``.

    The same cell as ``GNN.GNNCell`` with the dense ``A @ X`` products written as sums over
    the edges: ``in(u) = sum_{v->u} W_in h_v / indeg(u)``, ``out(u) = sum_{u->v} W_out h_v / outdeg(u)``.
    """
    source, target = graphs.source, graphs.target
    for _ in range(gnn.step):
        incoming = torch.zeros_like(hidden).index_add_(0, target, gnn.linear_edge_in(hidden)[source])
        outgoing = torch.zeros_like(hidden).index_add_(0, source, gnn.linear_edge_out(hidden)[target])
        inputs = torch.cat([incoming / graphs.in_degree.unsqueeze(1) + gnn.b_iah,
                            outgoing / graphs.out_degree.unsqueeze(1) + gnn.b_ioh], dim=1)
        i_r, i_i, i_n = F.linear(inputs, gnn.w_ih, gnn.b_ih).chunk(3, 1)
        h_r, h_i, h_n = F.linear(hidden, gnn.w_hh, gnn.b_hh).chunk(3, 1)
        reset_gate, input_gate = torch.sigmoid(i_r + h_r), torch.sigmoid(i_i + h_i)
        new_gate = torch.tanh(i_n + reset_gate * h_n)
        hidden = (1 - input_gate) * hidden + input_gate * new_gate
    return hidden


def item_sets(item_seq: torch.Tensor, n_items: int) -> torch.Tensor:
    """``[B, L] -> [B, n_items]`` sparse CSR 0/1 rows: the distinct items of each sequence (padding
    0 excluded), columns sorted. Sparse because a row holds at most ``L`` of ``n_items`` items:
    products with it cost the items' popularity, not ``B x n_items``."""
    ordered, _ = item_seq.sort(dim=1)
    keep = ordered > 0
    keep[:, 1:] &= ordered[:, 1:] != ordered[:, :-1]
    counts = keep.sum(dim=1)
    crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    columns = ordered[keep]  # row-major, so each row's columns come sorted
    with quiet_sparse_csr():
        return torch.sparse_csr_tensor(crow, columns, torch.ones(len(columns), device=item_seq.device),
                                       (item_seq.size(0), n_items))


def shared_query_attention(attention: nn.MultiheadAttention, queries: torch.Tensor, sequence: torch.Tensor,
                           mask: torch.Tensor) -> torch.Tensor:
    """``attention(queries, sequence, sequence, key_padding_mask=~mask)`` for queries shared by every
    row, with the key/value projection run on the real positions only.

    A window of 50 over histories of about 8 items is mostly padding, and projecting every
    position was HIPHOP's largest product after the item scores. Padded positions get zero keys
    and values; the mask keeps them out as ``nn.MultiheadAttention``'s does.

    Args:
        attention: its weights (``batch_first``, packed in-projection, with biases).
        queries: ``[M, d]``.
        sequence: ``[B, L, d]``.
        mask: ``[B, L]``, True at real positions (every row has one).

    Returns:
        ``[B, M, d]``.
    """
    batch, length, width = sequence.shape
    heads = attention.num_heads
    w_query, w_key_value = attention.in_proj_weight.split([width, 2 * width])
    b_query, b_key_value = attention.in_proj_bias.split([width, 2 * width])
    key_value = sequence.new_zeros(batch, length, 2 * width)
    key_value[mask] = F.linear(sequence[mask], w_key_value, b_key_value)
    key, value = (x.reshape(batch, length, heads, -1).transpose(1, 2) for x in key_value.chunk(2, dim=-1))
    query = F.linear(queries, w_query, b_query).view(1, -1, heads, width // heads).transpose(1, 2)
    mixed = F.scaled_dot_product_attention(query.expand(batch, -1, -1, -1), key, value,
                                           attn_mask=mask[:, None, None, :],
                                           dropout_p=attention.dropout if attention.training else 0.0)
    return attention.out_proj(mixed.transpose(1, 2).reshape(batch, -1, width))


def top_k_per_row(rows: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, n_rows: int, k: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest entries of each row of a sparse matrix given as ``(rows, columns, values)``.

    Ties go to the lower column, so a neighbour list does not depend on the sort's whims.

    Returns:
        ``(values [n_rows, k], columns [n_rows, k])``, value 0 and column 0 where a row has fewer.
    """
    # Sorted by column, then stably by (row ascending, value descending), so equal values stay in
    # column order (a sparse product's entries need not come sorted). Values lie in [0, 1]:
    # 4 * row - value keeps rows apart, and float64 holds every float32 value exactly.
    order = torch.sort(columns, stable=True).indices
    rows, columns, values = rows[order], columns[order], values[order]
    order = torch.sort(rows.double() * 4 - values.double(), stable=True).indices
    rows, columns, values = rows[order], columns[order], values[order]
    per_row = torch.bincount(rows, minlength=n_rows)
    starts = per_row.cumsum(0) - per_row
    rank = torch.arange(len(rows), device=rows.device) - starts[rows]
    kept = rank < k
    top_values = torch.zeros(n_rows, k, device=values.device, dtype=values.dtype)
    top_columns = torch.zeros(n_rows, k, device=columns.device, dtype=torch.long)
    top_values[rows[kept], rank[kept]] = values[kept]
    top_columns[rows[kept], rank[kept]] = columns[kept]
    return top_values, top_columns


def last_items(item_seq: torch.Tensor, item_seq_len: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, L] -> [B, k]`` the last ``k`` items of each sequence in time order (0 where shorter)."""
    offsets = torch.arange(-k, 0, device=item_seq.device)  # -k .. -1
    positions = item_seq_len.unsqueeze(1) + offsets  # [B, k]
    taken = item_seq.gather(1, positions.clamp(min=0))
    return taken.masked_fill(positions < 0, 0)


def hard_negatives(anchors: torch.Tensor, item_seq: torch.Tensor, n_items: int, k: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` most cosine-similar in-batch sessions that share no item with each anchor.

    Args:
        anchors: ``[B, d]`` L2-normalised session vectors (the negatives are their detached copies).
        item_seq: ``[B, L]`` the sessions' items.

    Returns:
        ``(cosines [B, k'], index [B, k'])``, ``k' = min(k, B)``; ``-inf`` where a row has fewer.
    """
    sets = item_sets(item_seq, n_items)
    with quiet_sparse_csr():
        disjoint = (sets @ sets.t()).to_dense() == 0  # [B, B]; a session shares its items with itself
    similarity = (anchors @ anchors.detach().t()).masked_fill(~disjoint, float("-inf"))
    return similarity.topk(min(k, similarity.size(1)), dim=1)


class SessionMemory(nn.Module):
    """Training sessions as sparse item sets and item lists, one row per RecBole user id.

    ``global`` holds each user's unique training items, ``local`` the last ``k`` of them in
    time order. Buffers are not saved with a checkpoint: they are rebuilt from the dataset.
    """

    def __init__(self, history: TrainingHistory, last_k: int) -> None:
        super().__init__()
        n_users, n_items = history.n_users, history.n_items
        global_lists, local_lists = [], []
        for user in range(n_users):
            items = history.items_of(user)  # time order
            global_lists.append(np.unique(items))
            local_lists.append(np.unique(items[-last_k:]))
        for name, lists in (("global", global_lists), ("local", local_lists)):
            lengths = np.array([len(x) for x in lists], dtype=np.int64)
            indptr = np.concatenate([[0], np.cumsum(lengths)])
            flat = np.concatenate(lists).astype(np.int64) if lengths.sum() else np.zeros(0, dtype=np.int64)
            rows = np.repeat(np.arange(n_users), lengths)
            # [n_items, N] CSR: which sessions hold each item (the inverted index of the sets).
            by_item = torch.sparse_coo_tensor(torch.from_numpy(np.stack([flat, rows])), torch.ones(len(flat)),
                                              (n_items, n_users), check_invariants=True).coalesce()
            with quiet_sparse_csr():
                by_item = by_item.to_sparse_csr()
            self.register_buffer(f"{name}_indptr", torch.from_numpy(indptr), persistent=False)
            self.register_buffer(f"{name}_items", torch.from_numpy(flat), persistent=False)
            self.register_buffer(f"{name}_sizes", torch.from_numpy(lengths).float(), persistent=False)
            self.register_buffer(f"{name}_by_item", by_item, persistent=False)
        self.n_users = n_users
        self.n_sessions = int((np.diff(history.indptr) > 0).sum())

    def neighbours(self, query_items: torch.Tensor, users: torch.Tensor, k: int, scope: str
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``k`` Jaccard neighbours among the training sessions, the query's own user excluded.

        Args:
            query_items: ``[B, *]`` item ids of each query (0 = none); their set is compared.
            users: ``[B]`` the queries' user ids.
            scope: ``global`` or ``local`` (which sets of the memory to compare with).

        Returns:
            ``(ids [B, k], valid [B, k])``: user ids, most similar first (ties: the lower id), and
            whether the neighbour shares an item (slots beyond those that do: id 0, not valid).
        """
        by_item, sizes = getattr(self, f"{scope}_by_item"), getattr(self, f"{scope}_sizes")
        k = min(k, self.n_users)
        found = []
        # A chunk of queries at a time: the overlaps of an evaluation batch of thousands would not fit.
        for items, owners in zip(query_items.split(QUERY_CHUNK), users.split(QUERY_CHUNK)):
            query_sets = item_sets(items, by_item.size(0))
            with quiet_sparse_csr():
                # sparse x sparse: the work is the popularity of the query's items, not N x n_items.
                overlap = (query_sets @ by_item).to_sparse_coo()
            rows, sessions = overlap.indices()
            shared = overlap.values()
            other = sessions != owners[rows]  # never the query's own user
            rows, sessions, shared = rows[other], sessions[other], shared[other]
            query_sizes = query_sets.crow_indices().diff().to(shared.dtype)
            jaccard = shared / (query_sizes[rows] + sizes[sessions] - shared).clamp(min=1.0)
            found.append(top_k_per_row(rows, sessions, jaccard, len(owners), k))
        values = torch.cat([value for value, _ in found])
        ids = torch.cat([index for _, index in found])
        return ids, values > 0

    def mean_vectors(self, ids: torch.Tensor, table: torch.Tensor, scope: str) -> torch.Tensor:
        """``[B, K] -> [B, K, d]`` mean item vector of each listed session (0 for an empty one)."""
        indptr, items = getattr(self, f"{scope}_indptr"), getattr(self, f"{scope}_items")
        flat_ids = ids.reshape(-1)
        starts, lengths = indptr[flat_ids], indptr[flat_ids + 1] - indptr[flat_ids]
        offsets = lengths.cumsum(0) - lengths
        position = (torch.arange(int(lengths.sum()), device=ids.device) - offsets.repeat_interleave(lengths)
                    + starts.repeat_interleave(lengths))
        means = F.embedding_bag(items[position], table, offsets, mode="mean")
        return means.view(*ids.shape, table.size(1))


class IntentGuidedAttention(nn.Module):
    """Attention over candidate sessions whose scores and sparsity both depend on the intent.

    ``w_j = w0' relu(W1 v_j + W2 q + b)``, ``p = entmax_alpha(w)`` with
    ``alpha = 1 + sigmoid(w_a' q)`` (between softmax and sparsemax), output
    ``L2norm(selu(sum_j p_j v_j))``.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.key = nn.Linear(width, width, bias=False)
        self.query = nn.Linear(width, width, bias=True)
        self.score = nn.Linear(width, 1, bias=False)
        self.alpha = nn.Linear(width, 1)

    def forward(self, candidates: torch.Tensor, valid: torch.Tensor, intent: torch.Tensor) -> torch.Tensor:
        """``candidates [B, C, d]``, ``valid [B, C]`` (column 0 always), ``intent [B, d]`` -> ``[B, d]``."""
        logits = self.score(torch.relu(self.key(candidates) + self.query(intent).unsqueeze(1)))  # [B, C, 1]
        logits = logits.masked_fill(~valid.unsqueeze(2), _EXCLUDED)
        alpha = (1.0 + torch.sigmoid(self.alpha(intent))).clamp(min=1.0 + 1e-5).unsqueeze(1)  # [B, 1, 1]
        weights = entmax_bisect(logits, alpha, dim=1)
        mixed = (weights * candidates).sum(dim=1)
        return F.normalize(F.selu(mixed), dim=-1)


@dataclass
class SessionEncoding:
    """What one pass computes for a batch (all ``[B, d]``)."""

    h_seq: torch.Tensor
    h_fused: torch.Tensor
    h_sim: torch.Tensor | None
    session: torch.Tensor


class HIPHOP(SequentialRecommender):
    """HIPHOP on RecBole's sequential data (prefix rows; see the module docstring).

    Configuration (``properties/model/HIPHOP.yaml``): ``embedding_size``, ``hiphop_*`` keys.
    """

    dataset_class = HIPHOPDataset

    def __init__(self, config: Any, dataset: Any) -> None:
        super().__init__(config, dataset)
        self.USER_ID = config["USER_ID_FIELD"]
        self.width = int(config["embedding_size"])
        self.semantic = self._choice(config, "hiphop_semantic", SEMANTIC_MODES)
        self.loss = self._choice(config, "hiphop_loss", LOSSES)
        self.n_intents = int(config["hiphop_intents"])
        if self.n_intents < 1 or self.width % self.n_intents:
            raise InputError(f"hiphop_intents must be >= 1 and divide embedding_size ({self.width}), "
                             f"got {config['hiphop_intents']!r}")
        self.inter_session = bool(config["hiphop_inter_session"])
        self.graph_neighbours = self._positive(config, "hiphop_graph_neighbours")
        self.last_k = self._positive(config, "hiphop_last_k")
        self.similar_sessions = int(config["hiphop_similar_sessions"])
        self.scale = float(config["hiphop_scale"])
        self.margin = float(config["hiphop_margin"])
        self.focal_gamma = float(config["hiphop_focal_gamma"])
        self.contrastive_weight = float(config["hiphop_contrastive_weight"]) if self.inter_session else 0.0
        self.contrastive_negatives = int(config["hiphop_contrastive_negatives"])
        self.temperature0 = float(config["hiphop_temperature"])
        self.temperature_decay = float(config["hiphop_temperature_decay"])
        self.min_temperature = float(config["hiphop_min_temperature"])
        self.temperature = self.temperature0

        self.item_embedding = nn.Embedding(self.n_items, self.width)
        self.position_embedding = nn.Parameter(torch.empty(self.max_seq_length, self.width))
        self.gnn = GNN(self.width, int(config["hiphop_gnn_steps"]))
        self.dropout = nn.Dropout(float(config["hiphop_dropout"]))
        self.attend_last = nn.Linear(self.width, self.width)
        self.attend_item = nn.Linear(self.width, self.width)
        self.attend_score = nn.Linear(self.width, 1, bias=False)
        self.readout = nn.Linear(2 * self.width, self.width)
        if self.n_intents > 1:
            self.intent_queries = nn.Parameter(torch.empty(self.n_intents, self.width))
            self.intent_attention = nn.MultiheadAttention(self.width, self.n_intents, batch_first=True)
        if self.inter_session:
            self.global_attention = IntentGuidedAttention(self.width)
            self.local_attention = IntentGuidedAttention(self.width)
            self.aggregation_dropout = nn.Dropout(float(config["hiphop_aggregation_dropout"]))
        if self.semantic == "add":
            table = dataset.semantic_table("item") if hasattr(dataset, "semantic_table") else None
            if table is None:
                raise TypeError("HIPHOP with hiphop_semantic: add needs the item semantic table from HIPHOPDataset; "
                                "build the data with recbole_hsuga.runner.prepare_data")
            self.register_buffer("semantic_table", torch.from_numpy(table.table).float(), persistent=False)
            self.projector = nn.Linear(table.dim, self.width, bias=False)
        self._reset_parameters()

        if self.inter_session:
            history = TrainingHistory.from_datasets(dataset)
            self.memory = SessionMemory(history, self.last_k)
            window = torch.zeros(history.n_users, self.max_seq_length, dtype=torch.long)
            lengths = torch.zeros(history.n_users, dtype=torch.long)
            for user in range(history.n_users):
                items = history.items_of(user)[-self.max_seq_length:]
                window[user, : len(items)] = torch.from_numpy(items)
                lengths[user] = len(items)
            self.register_buffer("memory_window", window, persistent=False)  # [N, L]
            self.register_buffer("memory_length", lengths, persistent=False)  # [N]
            #: h_fused of every training session, as of the last refresh (saved: a checkpoint
            #: scores with the bank it was validated with).
            self.register_buffer("session_bank", torch.zeros(history.n_users, self.width))
            self.register_buffer("bank_ready", torch.zeros((), dtype=torch.bool))
            logger.info("HIPHOP: memory of %d training sessions (%d users), %d graph neighbours, last %d items",
                        self.memory.n_sessions, history.n_users, self.graph_neighbours, self.last_k)

    # ------------------------------------------------------------------ configuration
    @staticmethod
    def _choice(config: Any, key: str, allowed: tuple[str, ...]) -> str:
        value = str(config[key] or "").lower()
        if value not in allowed:
            raise InputError(f"{key} must be one of {allowed}, got {config[key]!r}")
        return value

    @staticmethod
    def _positive(config: Any, key: str) -> int:
        value = config[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{key} must be an int >= 1, got {value!r}")
        return value

    def _reset_parameters(self) -> None:
        # As released: every parameter uniform in +-1/sqrt(d) (SR-GNN's initialisation).
        bound = 1.0 / math.sqrt(self.width)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    # ------------------------------------------------------------------ encoder
    def item_table(self) -> torch.Tensor:
        """``[n_items, d]``: the ID table, plus the projected LLM vectors with ``hiphop_semantic: add``."""
        if self.semantic == "add":
            return self.item_embedding.weight + self.projector(self.semantic_table)
        return self.item_embedding.weight

    def _sequence(self, item_seq: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """``[B, L] -> [B, L, d]``: GNN node states at each position, plus position vectors."""
        graphs = packed_graphs(item_seq)
        hidden = self.dropout(F.normalize(F.embedding(graphs.nodes, table), dim=-1))
        hidden = self.dropout(gnn_on_packed(self.gnn, graphs, hidden))  # [T, d]
        return hidden[graphs.alias] + self.position_embedding[: item_seq.size(1)]

    def _readout(self, sequence: torch.Tensor, item_seq_len: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Soft attention ``[sum_i a_i h_i ; h_last]`` -> ``[B, d]`` (L2-normalised)."""
        last = self.gather_indexes(sequence, item_seq_len - 1)  # [B, d]
        item_terms = sequence.new_zeros(sequence.shape)
        item_terms[mask] = self.attend_item(sequence[mask])  # real positions only; padding is masked below
        scores = self.attend_score(torch.sigmoid(self.attend_last(last).unsqueeze(1) + item_terms))
        weights = torch.softmax(scores.masked_fill(~mask.unsqueeze(-1), -1e9), dim=1)  # [B, L, 1]
        pooled = (weights * sequence).sum(dim=1)
        return F.normalize(self.readout(torch.cat([pooled, last], dim=1)), dim=-1)

    def _intent(self, sequence: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, L, d] -> [B, d]``: max over the intents' attention outputs (mean over positions if M = 1)."""
        if self.n_intents == 1:
            return (sequence * mask.unsqueeze(-1)).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1)
        return shared_query_attention(self.intent_attention, self.intent_queries, sequence, mask).max(dim=1).values

    def _neighbour_branch(self, scope: str, own_items: torch.Tensor, users: torch.Tensor, table: torch.Tensor,
                          attention: IntentGuidedAttention, intent: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One graph (global or local): ``(output [B, d], neighbour ids [B, K], valid [B, K])``."""
        ids, valid = self.memory.neighbours(own_items, users, self.graph_neighbours, scope)
        own_mask = (own_items > 0).unsqueeze(-1).float()
        own = (F.embedding(own_items, table) * own_mask).sum(dim=1) / own_mask.sum(dim=1).clamp(min=1.0)
        candidates = torch.cat([own.unsqueeze(1), self.memory.mean_vectors(ids, table, scope)], dim=1)
        candidate_valid = torch.cat([torch.ones_like(valid[:, :1]), valid], dim=1)
        return attention(candidates, candidate_valid, intent), ids, valid

    def _fuse(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor, users: torch.Tensor, table: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``(h_seq, h_fused, neighbour ids [B, 2K], valid [B, 2K])`` (no neighbours without inter-session)."""
        mask = item_seq > 0
        sequence = self._sequence(item_seq, table)
        h_seq = self._readout(sequence, item_seq_len, mask)
        if not self.inter_session:
            return h_seq, h_seq, None, None
        intent = self._intent(sequence, mask)
        g, global_ids, global_valid = self._neighbour_branch("global", item_seq, users, table, self.global_attention,
                                                             intent)
        l, local_ids, local_valid = self._neighbour_branch("local", last_items(item_seq, item_seq_len, self.last_k),
                                                           users, table, self.local_attention, intent)
        ids = torch.cat([global_ids, local_ids], dim=1)
        valid = torch.cat([global_valid, local_valid], dim=1)
        return h_seq, h_seq + g + l, ids, valid

    def _aggregate(self, h_fused: torch.Tensor, ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """The session and its most similar banked neighbours, mixed by softmax over cosines -> ``[B, d]``."""
        query = F.normalize(h_fused, dim=-1)
        banked = self.session_bank[ids]  # [B, 2K, d]
        cosine = torch.einsum("bd,bkd->bk", query, F.normalize(banked, dim=-1)).masked_fill(~valid, -2.0)
        k = min(self.similar_sessions, ids.size(1))
        if k > 0:
            top, index = cosine.topk(k, dim=1)
            chosen = banked.gather(1, index.unsqueeze(-1).expand(-1, -1, self.width))
            candidates = torch.cat([h_fused.unsqueeze(1), chosen], dim=1)
            similarity = torch.cat([torch.ones_like(top[:, :1]), top], dim=1)
            similarity = similarity.masked_fill(similarity < -1.5, float("-inf"))  # invalid: not mixed in
        else:
            candidates, similarity = h_fused.unsqueeze(1), torch.ones_like(h_fused[:, :1])
        weights = torch.softmax(similarity, dim=1).unsqueeze(-1)
        return F.normalize(self.aggregation_dropout((weights * candidates).sum(dim=1)), dim=-1)

    def encode(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor, users: torch.Tensor) -> SessionEncoding:
        """The whole pass for ``item_seq [B, L]``, ``item_seq_len [B]``, ``users [B]``."""
        if self.inter_session and not bool(self.bank_ready):
            self.refresh_bank()
        table = self.item_table()
        h_seq, h_fused, ids, valid = self._fuse(item_seq, item_seq_len, users, table)
        if not self.inter_session:
            return SessionEncoding(h_seq, h_fused, None, h_seq)
        h_sim = self._aggregate(h_fused, ids, valid)
        return SessionEncoding(h_seq, h_fused, h_sim, F.normalize(h_seq + h_sim, dim=-1))

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        """``[B, L], [B], [B] -> [B, d]`` the L2-normalised session vector."""
        return self.encode(item_seq, item_seq_len, users).session

    # ------------------------------------------------------------------ training-session bank
    @torch.no_grad()
    def refresh_bank(self) -> None:
        """Recompute ``h_fused`` of every training session in eval mode (no dropout)."""
        was_training = self.training
        self.eval()
        table = self.item_table()
        users = torch.nonzero(self.memory_length > 0).squeeze(1)
        for chunk in users.split(QUERY_CHUNK):
            _, h_fused, _, _ = self._fuse(self.memory_window[chunk], self.memory_length[chunk], chunk, table)
            self.session_bank[chunk] = h_fused
        self.bank_ready.fill_(True)
        self.train(was_training)

    def on_train_epoch_start(self, epoch_idx: int) -> None:
        """Trainer hook: the bank from the current weights; the contrastive temperature of this epoch."""
        self.temperature = max(self.min_temperature, self.temperature0 * self.temperature_decay ** epoch_idx)
        if self.inter_session:
            self.refresh_bank()

    # ------------------------------------------------------------------ losses
    def _logits(self, session: torch.Tensor) -> torch.Tensor:
        """``[B, d] -> [B, n_items]`` cosines with every item (padding row -inf)."""
        cosine = session @ F.normalize(self.item_table(), dim=-1).t()
        cosine[:, 0] = float("-inf")
        return cosine

    def _prediction_loss(self, cosine: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.loss == "ce":
            return F.cross_entropy(self.scale * cosine, target)
        # ArcFace margin on the target's angle, then focal loss (the released default).
        rows = torch.arange(target.size(0), device=target.device)
        target_cos = cosine[rows, target].clamp(-1.0 + 1e-7, 1.0 - 1e-7)
        with_margin = torch.where(target_cos > math.cos(math.pi - self.margin),
                                  torch.cos(torch.acos(target_cos) + self.margin),
                                  target_cos - math.sin(math.pi - self.margin) * self.margin)
        logits = self.scale * cosine.clone()
        logits[rows, target] = self.scale * with_margin
        log_p = F.log_softmax(logits, dim=1)[rows, target]
        return (-(1.0 - log_p.exp()) ** self.focal_gamma * log_p).mean()

    def _contrastive_loss(self, h_seq: torch.Tensor, h_sim: torch.Tensor, item_seq: torch.Tensor) -> torch.Tensor:
        """InfoNCE: anchor ``h_seq``, positive ``h_sim``, negatives the most similar in-batch
        ``h_seq`` (detached, as released) of sessions sharing no item with the anchor."""
        anchors = F.normalize(h_seq, dim=-1)
        negatives, _ = hard_negatives(anchors, item_seq, self.n_items, self.contrastive_negatives)
        positive = (anchors * F.normalize(h_sim, dim=-1)).sum(dim=1, keepdim=True)
        logits = torch.cat([positive, negatives], dim=1) / self.temperature
        return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))

    def calculate_loss(self, interaction: Any) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``(prediction loss, weight x InfoNCE)`` (RecBole sums and logs the parts), or the first alone."""
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        encoding = self.encode(item_seq, item_seq_len, interaction[self.USER_ID])
        loss = self._prediction_loss(self._logits(encoding.session), interaction[self.POS_ITEM_ID])
        if self.contrastive_weight <= 0:
            return loss
        return loss, self.contrastive_weight * self._contrastive_loss(encoding.h_seq, encoding.h_sim, item_seq)

    # ------------------------------------------------------------------ scores
    def predict(self, interaction: Any) -> torch.Tensor:
        """``[B]`` cosine of each row's session with its candidate item."""
        session = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], interaction[self.USER_ID])
        items = F.normalize(self.item_table()[interaction[self.ITEM_ID]], dim=-1)
        return (session * items).sum(dim=1)

    def full_sort_predict(self, interaction: Any) -> torch.Tensor:
        """``[B, n_items]`` cosines with every item."""
        session = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], interaction[self.USER_ID])
        return session @ F.normalize(self.item_table(), dim=-1).t()
