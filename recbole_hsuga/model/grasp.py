"""GRASP (Generation Augmented Retrieval with Holistic Attention for Sequential Prediction).

The GRASP paper is the specification (no public code exists):

- four frozen tables per dataset, computed offline: user and item LLM vectors ``U``, ``I``
  and the mean of each row's top-k cosine neighbours without itself ``Ū``, ``Ī``
  (:class:`~recbole_hsuga.data.grasp_dataset.GRASPSequentialDataset` loads them);
- holistic attention ``A(q, v) = σ(q·vᵀ / √d) · v``; per (user, item) pair
  ``self = A(u, i)``, ``similar = A(ū, ī)``, ``global = A([u ‖ ū], [i ‖ ī])``;
- ``i_all = MLP([self ‖ similar ‖ global])`` is the backbone's item input and the item side
  of the score ``o · i_all`` (the paper's ``σ(o · i_all)`` with BCE is ``grasp_loss: bce``).

Choices where the paper is silent (each a key in ``properties/model/GRASPMixin.yaml``):

- **Width.** The tables (e.g. 384-d MiniLM, 1536-d in the paper) are projected to the
  model's width ``H`` by trainable adapters, LLM-ESR's form ``Linear(d, d/2) ->
  Linear(d/2, H)`` without activation: one adapter for the user side (``u`` and ``ū`` live
  in the same space, so they share it) and one for the item side (``i``, ``ī``). Then
  ``d = H`` in ``A`` for self and similar, ``2H`` for global. The tables stay frozen
  (non-persistent buffers: checkpoints hold the adapters, not the tables).
- **A on single vectors.** ``q`` and ``v`` are one vector each, so ``σ(q·vᵀ/√d)`` is one
  scalar gate per pair and level: ``A(u, i) = σ(u·i/√H) · i``. ``grasp_attention:
  softmax`` (the paper's ablation) cannot normalise one scalar (its softmax is 1, i.e. no
  attention), so it normalises over the pair's enabled levels (self, similar, global):
  the levels compete for one unit of weight, which is what the paper says softmax does
  ("forced competition", "single-peak"). ``none`` gives every level weight 1 (the paper's
  "w/o Attention"). ``grasp_similar`` / ``grasp_global`` drop a level (its MLP input too).
- **MLP depth** ``grasp_mlp_layers`` (default 1: ``Linear(4H, H)``). The paper says the
  MLP "adjusts the dimension". With one linear layer ``i_all`` is, per item, a fixed
  linear map of the gated levels, so every score factorises exactly:
  ``o · i_all(u, j) = Σ_l w_l(u, j) · (o · W_l v_l(j)) + o · b`` -- full ranking and CE
  over all items cost a few ``[B, H] x [H, n]`` products (gates included) instead of an
  MLP per (user, item) pair. Deeper MLPs (GELU between layers, width ``H``) are exact too:
  their first layer is factorised the same way, the rest runs per pair on chunks of
  ``grasp_score_chunk`` items (memory ``B x chunk x H``); with CE in training they keep
  every chunk for backward (``B x n_items x H`` activations), so use them with small
  batches or BPR / bce.
- **ID embeddings** ``grasp_id_embedding``: ``add`` (default) keeps the backbone's
  trainable item embedding and adds it to ``i_all`` on both sides (input and score):
  the paper updates "the parameters of the SRS backbone", which own that table, and
  without it items with near-identical texts could not be told apart; ``none`` is the
  literal reading (``i_all`` alone; BERT4Rec keeps its mask token's learned row).
- **u for the sequence's items**: the row's user. Each input item ``s_k`` enters the
  encoder as ``i_all(u, s_k)``, the same user-conditioned vector the target is scored
  with. The user vector summarises the user's training history (the held-out guard
  checks it never saw a validation/test target); in training it has seen the row's
  target, as with HSUGA's fusion (README, "User vectors (fusion)").
- **Missing vectors** (``grasp_missing``): ``mean`` of the table's known rows (default)
  or ``zero``; padding positions of the input are zero before the position embedding.
- **Loss**: the backbone's ``loss_type`` (CE over all items, BPR with RecBole's sampled
  negative), as the other models, so runs compare like for like; ``grasp_loss: bce`` is
  the paper's Eq. 6: binary cross-entropy of ``σ(o · i_all)`` on the positive and one
  uniform negative per target.
- **Sequence rows** (``train_rows: sequence``): SASRec and GRU4Rec train at every
  position through :func:`~recbole_hsuga.position_loss.position_outputs`; BERT4Rec keeps
  its masked rows. The row's users reach ``forward`` through :meth:`GRASPMixin.rows_of`,
  because RecBole's ``forward(item_seq, item_seq_len)`` has no user argument.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from recbole.model.sequential_recommender import BERT4Rec, GRU4Rec, SASRec
from torch import nn
from torch.nn import functional as F

from recbole_hsuga.data.grasp_dataset import GRASPSequentialDataset
from recbole_hsuga.data.sequence_loader import TARGET_SEQ
from recbole_hsuga.errors import InputError
from recbole_hsuga.model.bert4rec_hsuga import BERT4RecDualView
from recbole_hsuga.model.hsuga_mixin import HSUGAMixin
from recbole_hsuga.position_loss import BPR_GAMMA, position_outputs, row_items, sample_negatives

ATTENTIONS = ("sigmoid", "softmax", "none")
ID_EMBEDDINGS = ("add", "none")
GRASP_LOSSES = ("backbone", "bce")


def holistic_attention(query: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """The paper's ``A(q, v) = σ(q·vᵀ / √d) · v`` for single vectors (``[..., d]`` each)."""
    gate = torch.sigmoid((query * value).sum(-1, keepdim=True) / math.sqrt(query.size(-1)))
    return gate * value


def level_weights(logits: torch.Tensor, attention: str) -> torch.Tensor:
    """``[..., levels]`` attention logits -> weights: σ each (sigmoid), softmax over the
    levels (softmax), or 1 (none)."""
    if attention == "sigmoid":
        return torch.sigmoid(logits)
    if attention == "softmax":
        return torch.softmax(logits, dim=-1)
    return torch.ones_like(logits)


def _choice(config: Any, key: str, choices: tuple[str, ...], default: str) -> str:
    value = str(config[key] if config[key] is not None else default).lower()
    if value not in choices:
        raise InputError(f"{key} must be one of {choices}, got {config[key]!r}")
    return value


def _adapter(dim: int, width: int) -> nn.Sequential:
    """LLM-ESR's adapter ``Linear(d, d/2) -> Linear(d/2, H)`` (no activation)."""
    return nn.Sequential(nn.Linear(dim, max(1, dim // 2)), nn.Linear(max(1, dim // 2), width))


class HolisticItems(nn.Module):
    """GRASP's user-conditioned item vectors ``i_all(u, j)`` and their scores.

    Holds the four frozen tables, the two adapters and the MLP. The MLP's first layer is
    kept as one ``Linear`` (``mlp[0]``, input ``[self ‖ similar ‖ global]``) and applied
    factorised: its weight is split into the column blocks of the levels, so a pair's
    first-layer output is ``Σ_l w_l(u, j) · (W_l v_l(j)) + b`` with per-item ``W_l v_l``
    computed once per call (:meth:`item_blocks`). This equals ``mlp[0]`` applied to the
    concatenation (tested) and is what makes full ranking cheap.
    """

    def __init__(self, tables: dict[str, torch.Tensor], width: int, attention: str, similar: bool,
                 global_level: bool, mlp_layers: int) -> None:
        super().__init__()
        for name in ("user", "user_neighbours", "item", "item_neighbours"):
            self.register_buffer(name, tables[name].float(), persistent=False)
        self.width = width
        self.attention = attention
        self.similar = similar
        self.global_level = global_level
        self.user_adapter = _adapter(self.user.size(1), width)
        self.item_adapter = _adapter(self.item.size(1), width)
        in_size = width * (1 + int(similar) + 2 * int(global_level))
        if mlp_layers < 1:
            raise InputError(f"grasp_mlp_layers must be >= 1, got {mlp_layers}")
        layers: list[nn.Module] = [nn.Linear(in_size, width)]
        for _ in range(mlp_layers - 1):
            layers += [nn.GELU(), nn.Linear(width, width)]
        self.mlp = nn.Sequential(*layers)

    @property
    def n_items(self) -> int:
        return self.item.size(0)

    # ------------------------------------------------------------------ sides
    def user_side(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(u, ū)`` adapted: ``[*S, H]`` each."""
        return self.user_adapter(self.user[users]), self.user_adapter(self.user_neighbours[users])

    def item_side(self, items: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(i, ī)`` adapted for ``items`` (``None``: every item): ``[*S, H]`` each."""
        if items is None:
            return self.item_adapter(self.item), self.item_adapter(self.item_neighbours)
        return self.item_adapter(self.item[items]), self.item_adapter(self.item_neighbours[items])

    def item_blocks(self, item: torch.Tensor, item_bar: torch.Tensor) -> list[torch.Tensor]:
        """Per level, the first MLP layer's block applied to that level's value: ``[*S, H1]`` each.

        Levels in order: self (``i``), similar (``ī``), global (``[i ‖ ī]``)."""
        weight = self.mlp[0].weight  # [H1, in]
        h = self.width
        blocks = [item @ weight[:, :h].t()]
        offset = h
        if self.similar:
            blocks.append(item_bar @ weight[:, offset: offset + h].t())
            offset += h
        if self.global_level:
            blocks.append(item @ weight[:, offset: offset + h].t() + item_bar @ weight[:, offset + h: offset + 2 * h].t())
        return blocks

    def logits(self, self_dot: torch.Tensor, similar_dot: torch.Tensor) -> torch.Tensor:
        """Attention logits of the enabled levels from ``u·i`` and ``ū·ī``: ``[..., levels]``.

        The global level's ``[u ‖ ū]·[i ‖ ī]`` is the sum of the two dot products, over ``√(2H)``."""
        levels = [self_dot / math.sqrt(self.width)]
        if self.similar:
            levels.append(similar_dot / math.sqrt(self.width))
        if self.global_level:
            levels.append((self_dot + similar_dot) / math.sqrt(2 * self.width))
        return torch.stack(levels, dim=-1)

    # ------------------------------------------------------------------ pairs
    def pair_vectors(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``i_all(u, j)`` for ``users [B]`` and ``items [B, *S]`` -> ``[B, *S, H]``."""
        u, u_bar = self.user_side(users)  # [B, H]
        i, i_bar = self.item_side(items)  # [B, *S, H]
        shape = (u.size(0),) + (1,) * (items.dim() - 1) + (u.size(1),)
        u, u_bar = u.view(shape), u_bar.view(shape)
        weights = level_weights(self.logits((u * i).sum(-1), (u_bar * i_bar).sum(-1)), self.attention)
        blocks = self.item_blocks(i, i_bar)
        first = sum(weights[..., level: level + 1] * block for level, block in enumerate(blocks)) + self.mlp[0].bias
        return self.mlp[1:](first)

    def pair_vectors_reference(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """The same as :meth:`pair_vectors`, written as the paper does (``A`` per level, concatenation,
        MLP); used by the tests to check the factorised form."""
        u, u_bar = self.user_side(users)
        i, i_bar = self.item_side(items)
        shape = (u.size(0),) + (1,) * (items.dim() - 1) + (u.size(1),)
        u, u_bar = u.view(shape).expand_as(i), u_bar.view(shape).expand_as(i)
        weights = level_weights(self.logits((u * i).sum(-1), (u_bar * i_bar).sum(-1)), self.attention)
        values = [i] + ([i_bar] if self.similar else []) + ([torch.cat([i, i_bar], -1)] if self.global_level else [])
        return self.mlp(torch.cat([weights[..., k: k + 1] * v for k, v in enumerate(values)], dim=-1))

    def scores(self, output: torch.Tensor, users: torch.Tensor, chunk: int) -> torch.Tensor:
        """``o · i_all(u, j)`` for every item ``j``: ``output [B, H]``, ``users [B]`` -> ``[B, n_items]``.

        Exact and memory-bounded: items are taken ``chunk`` at a time; a one-layer MLP
        needs only ``[B, chunk]`` matrices, a deeper one ``[B, chunk, H]``. The attention
        weights depend on the user only, so they are computed once per distinct user (rows
        of sequence training share users: ~5 positions per user) and gathered per row; each
        level's term is added in place of stacking the levels, which on a CPU cost more than
        the matrix products.
        """
        distinct, row_of = torch.unique(users, return_inverse=True)
        u, u_bar = self.user_side(distinct)  # [U, H]
        items, items_bar = self.item_side()  # [n_items, H]
        blocks = self.item_blocks(items, items_bar)  # per level [n_items, H1]
        bias = self.mlp[0].bias
        one_layer = len(self.mlp) == 1
        bias_score = (output @ bias).unsqueeze(1) if one_layer else None
        parts = []
        for start in range(0, self.n_items, max(1, chunk)):
            window = slice(start, start + max(1, chunk))
            logits = self.logits(u @ items[window].t(), u_bar @ items_bar[window].t())  # [U, C, levels]
            weights = level_weights(logits, self.attention).permute(2, 0, 1)  # [levels, U, C]
            if one_layer:
                score = bias_score
                for weight, block in zip(weights, blocks):
                    score = score + weight[row_of] * (output @ block[window].t())  # [B, C]
                parts.append(score)
                continue
            first = sum(weight[row_of].unsqueeze(-1) * block[window].unsqueeze(0)
                        for weight, block in zip(weights, blocks)) + bias  # [B, C, H1]
            parts.append(torch.einsum("bch,bh->bc", self.mlp[1:](first), output))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]


class GRASPMixin:
    """GRASP on a RecBole sequential backbone; the backbone classes supply ``forward``.

    A backbone's ``forward`` builds its input with :meth:`grasp_inputs` (the users come
    from :meth:`rows_of`), and scores with :meth:`grasp_scores` / :meth:`grasp_pair_scores`.
    """

    dataset_class = GRASPSequentialDataset
    #: Per-user gated item scores; sampled softmax negatives are not implemented for GRASP.
    softmax_sampler_support = "none"

    def _init_grasp(self, config: Any, dataset: Any, width: int) -> None:
        """Call at the end of ``__init__`` (after RecBole's weight initialisation)."""
        self.USER_ID = config["USER_ID_FIELD"]
        if self.loss_type not in ("BPR", "CE"):
            raise InputError(f"loss_type must be 'BPR' or 'CE', got {self.loss_type!r}")
        tables = getattr(dataset, "semantic_tables", None) or {}
        missing = [name for name in ("user", "user_neighbours", "item", "item_neighbours") if name not in tables]
        if missing:
            raise TypeError(f"{type(self).__name__} needs GRASP's semantic tables {missing} from its dataset class "
                            f"(GRASPSequentialDataset), got a {type(dataset).__name__} without them; build the data "
                            "with recbole_hsuga.runner.prepare_data")
        if tables["item"].table.shape[0] != self.n_items:
            raise ValueError(f"item semantic table has {tables['item'].table.shape[0]} rows, the model {self.n_items} items")
        self.grasp_attention = _choice(config, "grasp_attention", ATTENTIONS, "sigmoid")
        self.grasp_id_embedding = _choice(config, "grasp_id_embedding", ID_EMBEDDINGS, "add")
        self.grasp_loss = _choice(config, "grasp_loss", GRASP_LOSSES, "backbone")
        chunk = config["grasp_score_chunk"]
        self.grasp_score_chunk = int(chunk) if chunk else 2048
        if self.grasp_score_chunk < 1:
            raise InputError(f"grasp_score_chunk must be >= 1, got {chunk!r}")
        flag = lambda key: True if config[key] is None else bool(config[key])  # noqa: E731
        layers = config["grasp_mlp_layers"]
        self.holistic = HolisticItems(
            {name: torch.from_numpy(table.table) for name, table in tables.items()}, width, self.grasp_attention,
            flag("grasp_similar"), flag("grasp_global"), 1 if layers is None else int(layers))
        self.holistic.apply(self._init_weights)  # the backbone's own initialisation rule
        self._grasp_users: torch.Tensor | None = None

    # ------------------------------------------------------------------ users of the rows
    user_ids = HSUGAMixin.user_ids  # ``[B]`` internal user ids of the rows

    @contextmanager
    def rows_of(self, users: torch.Tensor) -> Iterator[None]:
        """Make ``users [B]`` the users of the sequences the next ``forward`` calls encode."""
        previous, self._grasp_users = self._grasp_users, users
        try:
            yield
        finally:
            self._grasp_users = previous

    def _row_users(self, item_seq: torch.Tensor) -> torch.Tensor:
        users = self._grasp_users
        if users is None or users.size(0) != item_seq.size(0):
            raise RuntimeError(f"{type(self).__name__}.forward needs the rows' users: call it inside "
                               "`with model.rows_of(users):` (calculate_loss, predict and full_sort_predict do)")
        return users

    # ------------------------------------------------------------------ items
    def grasp_inputs(self, item_seq: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        """The encoder's item input ``[B, L, H]``: ``i_all(u, s_k)`` (+ the ID row), zero at padding."""
        known = item_seq.clamp(max=self.n_items - 1)
        vectors = self.holistic.pair_vectors(users, known)
        if self.grasp_id_embedding == "add":
            vectors = vectors + self.item_embedding(known)
        return vectors * (item_seq > 0).unsqueeze(-1).to(vectors.dtype)

    def grasp_pair_scores(self, output: torch.Tensor, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``o · i_all(u, j)`` for ``output [B, H]``, ``users [B]``, ``items [B]`` -> ``[B]``."""
        vectors = self.holistic.pair_vectors(users, items)
        if self.grasp_id_embedding == "add":
            vectors = vectors + self.item_embedding(items)
        return (output * vectors).sum(-1)

    def grasp_scores(self, output: torch.Tensor, users: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """``[B, n_items]`` scores of every item (column 0 is the padding item)."""
        scores = self.holistic.scores(output, users, chunk or self.grasp_score_chunk)
        if self.grasp_id_embedding == "add":
            scores = scores + output @ self.item_embedding.weight[: self.n_items].t()
        return scores

    def _pair_loss(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """BPR (``grasp_loss: backbone``) or the paper's BCE of ``σ(o · i_all)`` on ``[N]`` positive
        and negative scores."""
        if self.grasp_loss == "bce":
            return F.binary_cross_entropy_with_logits(torch.cat([pos, neg]),
                                                      torch.cat([torch.ones_like(pos), torch.zeros_like(neg)]))
        return -torch.log(BPR_GAMMA + torch.sigmoid(pos - neg)).mean()

    def _uses_sampled_pairs(self) -> bool:
        return self.grasp_loss == "bce" or self.loss_type == "BPR"

    def _negatives(self, given: Any, positives: torch.Tensor) -> torch.Tensor:
        """RecBole's sampled negatives for BPR; for ``bce`` one uniform negative per positive that is
        never that positive (CE rows carry no sampled negative)."""
        if self.grasp_loss == "backbone":
            return given
        return sample_negatives(positives.unsqueeze(1), positives.unsqueeze(1), self.n_items).squeeze(1)


class NextItemGRASPMixin(GRASPMixin):
    """Loss and scoring for backbones that predict from the last position (SASRec, GRU4Rec)."""

    def sequence_output(self, interaction: Any) -> torch.Tensor:
        """``o``: ``[B, H]`` backbone output at each row's last item."""
        with self.rows_of(self.user_ids(interaction)):
            return self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])

    def calculate_loss(self, interaction: Any) -> torch.Tensor:
        users = self.user_ids(interaction)
        output = self.sequence_output(interaction)
        positives = interaction[self.POS_ITEM_ID]
        if self._uses_sampled_pairs():
            given = interaction[self.NEG_ITEM_ID] if self.grasp_loss == "backbone" else None
            negatives = self._negatives(given, positives)
            return self._pair_loss(self.grasp_pair_scores(output, users, positives),
                                   self.grasp_pair_scores(output, users, negatives))
        return F.cross_entropy(self.grasp_scores(output, users), positives)

    def sequence_rows_loss(self, interaction: Any) -> torch.Tensor:
        """``train_rows: sequence``: the loss at every position that has a target."""
        users = self.user_ids(interaction)
        item_seq, targets = interaction[self.ITEM_SEQ], interaction[TARGET_SEQ]
        with self.rows_of(users):
            outputs = position_outputs(self, item_seq, interaction[self.ITEM_SEQ_LEN])  # [B, L, H]
        active = targets > 0
        if not bool(active.any()):
            return outputs.sum() * 0.0
        output = outputs[active]  # [N, H]
        position_users = users.unsqueeze(1).expand_as(targets)[active]
        positives = targets[active]
        if self._uses_sampled_pairs():
            negatives = sample_negatives(targets, row_items(interaction, self.ITEM_SEQ), self.n_items)[active]
            return self._pair_loss(self.grasp_pair_scores(output, position_users, positives),
                                   self.grasp_pair_scores(output, position_users, negatives))
        return F.cross_entropy(self.grasp_scores(output, position_users), positives)

    def predict(self, interaction: Any) -> torch.Tensor:
        """``[B]`` scores of the rows' ``item_id``."""
        output = self.sequence_output(interaction)
        return self.grasp_pair_scores(output, self.user_ids(interaction), interaction[self.ITEM_ID])

    def full_sort_predict(self, interaction: Any) -> torch.Tensor:
        """``[B, n_items]`` scores of every item."""
        return self.grasp_scores(self.sequence_output(interaction), self.user_ids(interaction))


# ---------------------------------------------------------------------------- backbones

class SASRecGRASP(NextItemGRASPMixin, SASRec):
    """GRASP on RecBole's (causal) SASRec: ``i_all(u, s_k) (+ e_id) + position``, LayerNorm,
    dropout, RecBole's ``trm_encoder`` with its causal mask; ``o`` at the last position."""

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._init_grasp(config, dataset, self.hidden_size)

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(item_seq.size(1), dtype=torch.long, device=item_seq.device)
        input_emb = self.grasp_inputs(item_seq, self._row_users(item_seq)) + self.position_embedding(positions)
        input_emb = self.dropout(self.LayerNorm(input_emb))
        output = self.trm_encoder(input_emb, self.get_attention_mask(item_seq), output_all_encoded_layers=True)[-1]
        # Must stay the last call: sequence rows bypass this gather (position_loss.position_outputs).
        return self.gather_indexes(output, item_seq_len - 1)  # [B, H]


class GRU4RecGRASP(NextItemGRASPMixin, GRU4Rec):
    """GRASP on RecBole's GRU4Rec, in ``embedding_size``: ``i_all(u, s_k) (+ e_id)``, embedding
    dropout, the GRU and its dense layer; ``o`` at the last position."""

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._init_grasp(config, dataset, self.embedding_size)

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        inputs = self.emb_dropout(self.grasp_inputs(item_seq, self._row_users(item_seq)))
        gru_output, _ = self.gru_layers(inputs)
        output = self.dense(gru_output)
        # Must stay the last call: sequence rows bypass this gather (position_loss.position_outputs).
        return self.gather_indexes(output, item_seq_len - 1)  # [B, E]


class BERT4RecGRASP(GRASPMixin, BERT4Rec):
    """GRASP on RecBole's BERT4Rec: masked positions enter with the mask token's learned row,
    the others with ``i_all(u, s_k) (+ e_id)``; scores ``o · i_all(u, j) + b_j`` (BERT4Rec's
    item bias). Training is RecBole's masked-item task in both ``train_rows`` modes; ``o``
    for prediction is the output at a mask token appended after the sequence."""

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self._init_grasp(config, dataset, self.hidden_size)

    append_mask_token = BERT4RecDualView.append_mask_token

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` (mask tokens included) -> ``[B, L, H]``."""
        is_mask = (item_seq == self.mask_token).unsqueeze(-1)
        inputs = self.grasp_inputs(item_seq.masked_fill(is_mask.squeeze(-1), 0), self._row_users(item_seq))
        inputs = torch.where(is_mask, self.item_embedding.weight[self.mask_token], inputs)
        positions = torch.arange(item_seq.size(1), dtype=torch.long, device=item_seq.device)
        input_emb = self.dropout(self.LayerNorm(inputs + self.position_embedding(positions)))
        mask = self.get_attention_mask(item_seq, bidirectional=True)
        output = self.trm_encoder(input_emb, mask, output_all_encoded_layers=True)[-1]
        return self.output_ln(self.output_gelu(self.output_ffn(output)))

    def sequence_output(self, interaction: Any) -> torch.Tensor:
        item_seq, item_seq_len = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        with self.rows_of(self.user_ids(interaction)):
            encoded = self.forward(self.append_mask_token(item_seq, item_seq_len))
        return self.gather_indexes(encoded, item_seq_len - 1)  # [B, H]

    def calculate_loss(self, interaction: Any) -> torch.Tensor:
        masked_item_seq = interaction[self.MASK_ITEM_SEQ]
        masked_index = interaction[self.MASK_INDEX]  # [B, M]
        users = self.user_ids(interaction)
        with self.rows_of(users):
            encoded = self.forward(masked_item_seq)
        index = masked_index.unsqueeze(-1).expand(-1, -1, encoded.size(-1))
        active = masked_index > 0  # padding slots carry no loss
        output = torch.gather(encoded, 1, index)[active]  # [N, H]
        slot_users = users.unsqueeze(1).expand_as(masked_index)[active]
        positives = interaction[self.POS_ITEMS][active]
        if self._uses_sampled_pairs():
            given = interaction[self.NEG_ITEMS][active] if self.grasp_loss == "backbone" else None
            negatives = self._negatives(given, positives)
            pos = self.grasp_pair_scores(output, slot_users, positives) + self.output_bias[positives]
            neg = self.grasp_pair_scores(output, slot_users, negatives) + self.output_bias[negatives]
            return self._pair_loss(pos, neg)
        logits = self.grasp_scores(output, slot_users) + self.output_bias
        return F.cross_entropy(logits, positives)

    def predict(self, interaction: Any) -> torch.Tensor:
        items = interaction[self.ITEM_ID]
        output = self.sequence_output(interaction)
        return self.grasp_pair_scores(output, self.user_ids(interaction), items) + self.output_bias[items]

    def full_sort_predict(self, interaction: Any) -> torch.Tensor:
        output = self.sequence_output(interaction)
        return self.grasp_scores(output, self.user_ids(interaction)) + self.output_bias
