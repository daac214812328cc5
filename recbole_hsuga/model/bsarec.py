"""BSARec (Shin et al., "An Attentive Inductive Bias for Sequential Recommendation beyond
the Self-Attention", AAAI 2024) as a RecBole sequential model.

Reference: the authors' code, github.com/yehjin-shin/BSARec (``src/model/bsarec.py``,
``src/model/_modules.py``, ``src/model/_abstract_model.py``), read for the architecture;
this is an independent implementation on RecBole's building blocks.

Architecture (as in the official code):

- input: ``LayerNorm(item_emb + position_emb)``, then dropout; positions ``0 .. L-1``
  count from the start of the (padded) window, no ``sqrt(H)`` scaling;
- ``n_layers`` blocks, each ``FeedForward(alpha * D(x) + (1 - alpha) * A(x))``:

  * ``D`` (:class:`FrequencyLayer`, the "inductive bias"): ``rfft`` along the sequence
    (``norm="ortho"``), keep the lowest ``c // 2 + 1`` frequency bins, ``irfft`` back: the
    low-pass part ``x_low``; ``x_high = x - x_low``; ``D(x) = LayerNorm(dropout(x_low +
    beta * x_high) + x)`` with ``beta = sqrt_beta ** 2``, ``sqrt_beta`` a learnable
    ``[1, 1, H]`` vector drawn from ``N(0, 1)``;
  * ``A``: multi-head self-attention with RecBole's causal + key-padding mask
    (``-10000`` on masked scores), ``LayerNorm(dropout(dense(context)) + x)``; RecBole's
    :class:`~recbole.model.layers.MultiHeadAttention` is the official module;
  * the point-wise feed-forward block ``LayerNorm(dropout(W2 act(W1 h)) + h)`` (RecBole's
    :class:`~recbole.model.layers.FeedForward`, the official module, GELU with ``erf``);

- the user representation is the last block's output at the last slot, scored with a dot
  product against the item embedding table (padding row included, as in the official CE);
- initialisation: ``N(0, initializer_range)`` for every Linear and Embedding weight (the
  padding row too), zero Linear biases, LayerNorms at ``(1, 0)``; ``sqrt_beta`` keeps its
  ``N(0, 1)`` draw.

Deviations from the official code:

1. **Padding side.** RecBole pads sequences on the right (items at ``0 .. len-1``); the
   official code pads on the left (items end at slot ``L-1``). The frequency filter is
   circular and non-causal, so where the padding sits changes every slot's low-pass
   value, and the position embedding of the most recent item would depend on the length.
   :meth:`BSARec.forward` therefore moves each row's items to the right end
   (:func:`left_pad`) before embedding, and reads the output at slot ``L-1``: the encoder
   sees exactly the official layout (window ``L = MAX_ITEM_LIST_LENGTH``, 50 in both).
   Consequences kept from the official model: padding slots hold the (fixed, never
   trained) embedding of item 0 plus their position, the filter mixes them into every
   slot, so a representation depends on the window length ``L``, not only on the items.
   What the design guarantees: values of ``item_seq`` past ``item_seq_len`` are ignored,
   and a row's representation does not depend on the other rows of its batch.
2. **Training rows.** RecBole's prefix rows: one row per training target, with up to ``L``
   earlier items. The official loader also trains the user's first item from an empty
   history (an all-padding input) and keeps only the last ``L`` training items of each
   user as targets; neither is reproduced (the data pipeline is this project's).
   ``train_rows: sequence`` (a loss at every position of one pass) is refused: the
   filter lets a position see later items. ``properties/model/BSARec.yaml`` sets
   ``train_rows: prefix``.
3. **Loss.** RecBole's conventions: ``loss_type: CE`` is ``nn.CrossEntropyLoss`` over the
   whole item table (the official loss exactly); ``BPR`` (one sampled negative, RecBole's
   BPRLoss) is an addition; ``softmax_negatives > 0`` (sampled softmax) is rebuilt by the
   trainer from :meth:`BSARec.forward` and the item table (``softmax_sampler_support =
   "forward"``).
4. **Evaluation.** This project's protocols. The official evaluation ranks all items with
   the user's earlier items' scores set to 0 (not removed: items scoring below 0 still rank
   under them); the nearest protocol here is ``eval_protocol: unseen``.
5. **Feed-forward width** ``inner_size`` is a setting (the official code fixes ``4 H``;
   the YAML's 256 is that value for ``H = 64``). LayerNorms are ``torch.nn.LayerNorm``
   with ``eps = layer_norm_eps`` (1e-12), numerically the official TF-style LayerNorm.
6. **Training settings** (optimiser, batch size, early stopping) are this project's
   (``properties/overall.yaml``); the official Beauty run used Adam with lr 5e-4, batch 256
   and patience 10 on NDCG/HR (``--learning_rate=0.0005 --train_batch_size=256
   --stopping_step=10`` reproduce those).
7. **Computation.** The official model runs every block at every slot and keeps the last;
   here the last block runs at the last slot only (:meth:`BSARec.encode_last`): the same
   function and gradients, about half the training step. Dropout draws masks for fewer
   slots, so a seed's random stream is not the full encoder's.
"""

from __future__ import annotations

from typing import Any

import torch
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.model.layers import FeedForward, MultiHeadAttention
from recbole.model.loss import BPRLoss
from torch import nn

from recbole_hsuga.errors import InputError


def left_pad(item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
    """RecBole's right-padded rows with their items moved to the right end.

    Args:
        item_seq: ``[B, L]`` item ids, row ``b``'s items at ``0 .. item_seq_len[b] - 1``
            (anything after them is ignored).
        item_seq_len: ``[B]`` number of items per row (at most ``L``).

    Returns:
        ``[B, L]`` the same items at ``L - item_seq_len[b] .. L - 1``, zeros before them.
    """
    length = item_seq.size(1)
    slots = torch.arange(length, device=item_seq.device).unsqueeze(0)  # [1, L]
    shift = (length - item_seq_len).unsqueeze(1)  # [B, 1]
    source = (slots - shift).clamp(min=0)  # [B, L] where each slot's item comes from
    return torch.where(slots >= shift, item_seq.gather(1, source), torch.zeros_like(item_seq))


class FrequencyLayer(nn.Module):
    """BSARec's inductive bias ``D``: a low-pass filter with a learnable high-frequency gain.

    ``x [B, L, H] -> LayerNorm(dropout(x_low + sqrt_beta**2 * x_high) + x)`` (see the
    module docstring). The filter is along the sequence axis, per hidden unit; ``c``
    counts frequencies as the official code does: ``c // 2 + 1`` rfft bins are kept.
    """

    def __init__(self, hidden_size: int, c: int, hidden_dropout_prob: float, layer_norm_eps: float):
        super().__init__()
        self.n_low_bins = c // 2 + 1
        self.sqrt_beta = nn.Parameter(torch.randn(1, 1, hidden_size))
        self.out_dropout = nn.Dropout(hidden_dropout_prob)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, L, H] -> (x_low, x_high)``, both ``[B, L, H]``, ``x_low + x_high = x``."""
        length = x.size(1)
        spectrum = torch.fft.rfft(x, dim=1, norm="ortho")  # [B, L // 2 + 1, H] complex
        kept = torch.arange(spectrum.size(1), device=x.device) < self.n_low_bins  # [L // 2 + 1]
        low = torch.fft.irfft(spectrum * kept.view(1, -1, 1), n=length, dim=1, norm="ortho")
        return low, x - low

    def filter(self, x: torch.Tensor) -> torch.Tensor:
        """``x_low + beta * x_high`` ``[B, L, H]``, ``beta = sqrt_beta ** 2`` per hidden unit."""
        low, high = self.split(x)
        return low + self.sqrt_beta ** 2 * high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.out_dropout(self.filter(x)) + x)

    def forward_last(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` at the last slot only: ``x [B, L, H] -> [B, 1, H]``.

        The filter reads every slot (the spectrum needs the whole row); the dropout, residual
        and LayerNorm run on the one slot that is kept.
        """
        return self.LayerNorm(self.out_dropout(self.filter(x)[:, -1:]) + x[:, -1:])


def attend_last(attention: MultiHeadAttention, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """RecBole's :class:`~recbole.model.layers.MultiHeadAttention` with one query, the last slot.

    The same computation as ``attention(x, attention_mask)[:, -1:]`` (keys and values at every
    slot, the query and everything after the scores at the last one), on the module's own
    weights, dropouts and LayerNorm.

    Args:
        attention: the block's attention module.
        x: ``[B, L, H]`` the block's input.
        attention_mask: ``[B, 1, L, L]`` additive mask (0 where allowed, -10000 elsewhere).

    Returns:
        ``[B, 1, H]`` the attention sub-layer's output at slot ``L - 1``.
    """
    def heads(projected: torch.Tensor) -> torch.Tensor:  # [B, l, H] -> [B, heads, l, H / heads]
        return attention.transpose_for_scores(projected).permute(0, 2, 1, 3)

    query = heads(attention.query(x[:, -1:]))  # [B, heads, 1, d]
    key = heads(attention.key(x))  # [B, heads, L, d]
    value = heads(attention.value(x))  # [B, heads, L, d]
    scores = query @ key.transpose(-1, -2) / attention.sqrt_attention_head_size + attention_mask[:, :, -1:]
    probs = attention.attn_dropout(attention.softmax(scores))  # [B, heads, 1, L]
    context = (probs @ value).permute(0, 2, 1, 3).reshape(x.size(0), 1, attention.all_head_size)
    return attention.LayerNorm(attention.out_dropout(attention.dense(context)) + x[:, -1:])


class BSARecBlock(nn.Module):
    """One BSARec block: ``FeedForward(alpha * D(x) + (1 - alpha) * A(x, mask))``."""

    def __init__(self, hidden_size: int, n_heads: int, inner_size: int, hidden_dropout_prob: float,
                 attn_dropout_prob: float, hidden_act: str, layer_norm_eps: float, alpha: float, c: int):
        super().__init__()
        self.alpha = alpha
        self.filter_layer = FrequencyLayer(hidden_size, c, hidden_dropout_prob, layer_norm_eps)
        self.attention_layer = MultiHeadAttention(n_heads, hidden_size, hidden_dropout_prob, attn_dropout_prob,
                                                  layer_norm_eps)
        self.feed_forward = FeedForward(hidden_size, inner_size, hidden_dropout_prob, hidden_act, layer_norm_eps)

    def mix(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``alpha * D(x) + (1 - alpha) * A(x)`` ``[B, L, H]`` (``attention_mask`` ``[B, 1, L, L]``)."""
        return self.alpha * self.filter_layer(x) + (1 - self.alpha) * self.attention_layer(x, attention_mask)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.feed_forward(self.mix(x, attention_mask))

    def forward_last(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` at the last slot only: ``x [B, L, H] -> [B, 1, H]``."""
        mixed = (self.alpha * self.filter_layer.forward_last(x)
                 + (1 - self.alpha) * attend_last(self.attention_layer, x, attention_mask))
        return self.feed_forward(mixed)


class BSARec(SequentialRecommender):
    """BSARec on RecBole's sequential interface (module docstring: design and deviations).

    Settings (``properties/model/BSARec.yaml``): ``hidden_size``, ``n_layers``, ``n_heads``,
    ``inner_size``, ``hidden_dropout_prob``, ``attn_dropout_prob``, ``hidden_act``,
    ``layer_norm_eps``, ``initializer_range``, ``alpha`` (weight of the frequency filter,
    ``[0, 1]``), ``c`` (``c // 2 + 1`` low-frequency bins kept), ``loss_type`` (CE | BPR).
    """

    #: The trainer's sampled softmax scores :meth:`forward` against ``item_embedding``.
    softmax_sampler_support = "forward"

    def __init__(self, config: Any, dataset: Any):
        super().__init__(config, dataset)
        self.n_layers: int = config["n_layers"]
        self.n_heads: int = config["n_heads"]
        self.hidden_size: int = config["hidden_size"]
        self.inner_size: int = config["inner_size"]
        self.hidden_dropout_prob: float = config["hidden_dropout_prob"]
        self.attn_dropout_prob: float = config["attn_dropout_prob"]
        self.hidden_act: str = config["hidden_act"]
        self.layer_norm_eps: float = config["layer_norm_eps"]
        self.initializer_range: float = config["initializer_range"]
        self.alpha: float = float(config["alpha"])
        self.c: int = config["c"]
        self.loss_type: str = config["loss_type"]
        if not 0.0 <= self.alpha <= 1.0:
            raise InputError(f"alpha: BSARec's filter weight must be in [0, 1], got {config['alpha']!r}")
        if isinstance(self.c, bool) or not isinstance(self.c, int) or self.c < 0:
            raise InputError(f"c: BSARec's low-frequency cut-off must be an int >= 0, got {config['c']!r}")

        self.item_embedding = nn.Embedding(self.n_items, self.hidden_size, padding_idx=0)
        self.position_embedding = nn.Embedding(self.max_seq_length, self.hidden_size)
        self.LayerNorm = nn.LayerNorm(self.hidden_size, eps=self.layer_norm_eps)
        self.dropout = nn.Dropout(self.hidden_dropout_prob)
        self.blocks = nn.ModuleList(
            BSARecBlock(self.hidden_size, self.n_heads, self.inner_size, self.hidden_dropout_prob,
                        self.attn_dropout_prob, self.hidden_act, self.layer_norm_eps, self.alpha, self.c)
            for _ in range(self.n_layers)
        )
        if self.loss_type == "BPR":
            self.loss_fct = BPRLoss()
        elif self.loss_type == "CE":
            self.loss_fct = nn.CrossEntropyLoss()
        else:
            raise InputError(f"loss_type: BSARec trains with CE or BPR, got {self.loss_type!r}")
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        """The official (and RecBole SASRec's) initialisation; ``sqrt_beta`` is left as drawn."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=self.initializer_range)
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)
        if isinstance(module, nn.Linear) and module.bias is not None:
            module.bias.data.zero_()

    def embed(self, padded_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The first block's input ``[B, L, H]`` and the attention mask ``[B, 1, L, L]``
        (causal + key padding) of left-padded rows ``[B, L]``."""
        positions = torch.arange(padded_seq.size(1), device=padded_seq.device).unsqueeze(0)  # [1, L]
        hidden = self.dropout(self.LayerNorm(self.item_embedding(padded_seq) + self.position_embedding(positions)))
        return hidden, self.get_attention_mask(padded_seq)

    def encode(self, padded_seq: torch.Tensor) -> torch.Tensor:
        """The encoder at every slot of left-padded rows: ``[B, L] -> [B, L, H]``.

        ``padded_seq`` is laid out as the official code lays it out (:func:`left_pad`).
        """
        hidden, attention_mask = self.embed(padded_seq)
        for block in self.blocks:
            hidden = block(hidden, attention_mask)
        return hidden

    def encode_last(self, padded_seq: torch.Tensor) -> torch.Tensor:
        """``encode(padded_seq)[:, -1]`` ``[B, H]``, with the last block run at that slot only.

        The model reads one slot, and in the last block no slot feeds another after the
        attention, so the other ``L - 1`` slots' queries, feed-forward and LayerNorms there
        are never used: skipping them is the same function at 0.56x a training step
        (amazon-beauty, window 50, ``benchmarks/results/bsarec-last-slot-amazon-beauty.md``).
        """
        hidden, attention_mask = self.embed(padded_seq)
        if not len(self.blocks):
            return hidden[:, -1]
        for block in self.blocks[:-1]:
            hidden = block(hidden, attention_mask)
        return self.blocks[-1].forward_last(hidden, attention_mask)[:, 0]

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` right-padded rows and ``[B]`` lengths -> ``[B, H]`` representation
        (the encoder's last slot after moving the items to the right end)."""
        return self.encode_last(left_pad(item_seq, item_seq_len))

    def calculate_loss(self, interaction: Any) -> torch.Tensor:
        """Mean loss of a batch of prefix rows (CE over every item, or BPR)."""
        seq_output = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])  # [B, H]
        pos_items = interaction[self.POS_ITEM_ID]  # [B]
        if self.loss_type == "BPR":
            neg_items = interaction[self.NEG_ITEM_ID]
            pos_score = (seq_output * self.item_embedding(pos_items)).sum(dim=-1)  # [B]
            neg_score = (seq_output * self.item_embedding(neg_items)).sum(dim=-1)  # [B]
            return self.loss_fct(pos_score, neg_score)
        logits = seq_output @ self.item_embedding.weight.t()  # [B, n_items]
        return self.loss_fct(logits, pos_items)

    def predict(self, interaction: Any) -> torch.Tensor:
        """``[B]`` scores of the rows' ``item_id``."""
        seq_output = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return (seq_output * self.item_embedding(interaction[self.ITEM_ID])).sum(dim=-1)

    def full_sort_predict(self, interaction: Any) -> torch.Tensor:
        """``[B, n_items]`` scores of every item (column 0 is the padding item)."""
        seq_output = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return seq_output @ self.item_embedding.weight.t()
