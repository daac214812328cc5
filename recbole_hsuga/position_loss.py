"""Ranking loss at every position of a sequence row, for RecBole's causal backbones.

RecBole's ``SASRec.forward`` and ``GRU4Rec.forward`` compute the encoder output at every
position and end with ``self.gather_indexes(output, item_seq_len - 1)``, keeping the last
one. Sequence rows need all of them: :func:`position_outputs` runs the model's own
``forward`` with that final gather bypassed, so the computation (embeddings, dropout,
causal mask, encoder) is RecBole's, unforked, and any subclass (the HSUGA models) gets
the same treatment. The same weights serve both training modes, so checkpoints of either
load in the other.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch
from recbole.model.sequential_recommender import BERT4Rec, GRU4Rec, SASRec

from recbole_hsuga.data.sequence_loader import TARGET_SEQ
from recbole_hsuga.errors import InputError
from recbole_hsuga.sampled_softmax import NegativeSampler, sampler_of, softmax_loss

#: Backbones whose ``forward`` ends with the last-position gather and whose attention is causal.
CAUSAL_BACKBONES = (SASRec, GRU4Rec)
#: Tries at redrawing a negative that hits an item of its row; collisions are rare
#: (a row holds at most 2L of the catalogue's items), a survivor after the last try is kept.
NEGATIVE_REDRAWS = 10
#: RecBole's BPRLoss adds this inside the log.
BPR_GAMMA = 1e-10


def is_causal_backbone(model: Any) -> bool:
    return isinstance(model, CAUSAL_BACKBONES)


def check_sequence_rows_support(model: Any) -> None:
    """Sequence rows need a causal backbone or BERT4Rec (masking); anything else is refused up front."""
    if not isinstance(model, CAUSAL_BACKBONES + (BERT4Rec,)):
        raise InputError(f"train_rows: sequence supports SASRec, GRU4Rec, BERT4Rec and the models built on them; "
                         f"{type(model).__name__} trains with train_rows: prefix")


def _keep_every_position(output: torch.Tensor, gather_index: torch.Tensor) -> torch.Tensor:
    return output


@contextmanager
def _all_positions(model: Any) -> Iterator[None]:
    model.gather_indexes = _keep_every_position  # instance attribute shadows the method
    try:
        yield
    finally:
        del model.gather_indexes


def position_outputs(model: Any, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
    """Encoder output at every position: ``[B, L] -> [B, L, H]``.

    Position ``j`` has seen items ``0..j`` only (causal), so ``out[:, len - 1]`` equals
    ``model.forward(item_seq, item_seq_len)``.
    """
    if not is_causal_backbone(model):
        raise TypeError(f"per-position outputs need a causal backbone {[c.__name__ for c in CAUSAL_BACKBONES]}, "
                        f"got {type(model).__name__}")
    with _all_positions(model):
        return model.forward(item_seq, item_seq_len)


def sample_negatives(targets: torch.Tensor, row_items: torch.Tensor, n_items: int) -> torch.Tensor:
    """One uniform negative per position, never an item of the position's row.

    Args:
        targets: ``[B, L]`` target ids (0 = no loss).
        row_items: ``[B, M]`` every item of the row (inputs and targets); a negative that
            equals any of them is redrawn, so it is never the position's target nor another
            item the user interacted with inside this window (RecBole's prefix-mode sampler
            excludes all of the user's training items, which is the same set whenever the
            user's sequence fits one window).
        n_items: catalogue size including the padding id 0.

    Returns:
        ``[B, L]`` negative ids in ``[1, n_items)``.
    """
    negatives = torch.randint(1, n_items, targets.shape, device=targets.device)
    for _ in range(NEGATIVE_REDRAWS):
        clash = (negatives.unsqueeze(-1) == row_items.unsqueeze(1)).any(-1)
        if not bool(clash.any()):
            break
        negatives = torch.where(clash, torch.randint(1, n_items, targets.shape, device=targets.device), negatives)
    return negatives


def item_table_of(model: Any) -> torch.Tensor:
    """``[n_items, H]`` the representations a model scores against: its own
    ``item_representations()`` when it has one (dual-view models), else its item embedding."""
    own = getattr(model, "item_representations", None)
    return own() if own is not None else model.item_embedding.weight


def position_ranking_loss(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    item_table: torch.Tensor,
    loss_type: str,
    row_items: torch.Tensor | None = None,
    sampler: NegativeSampler | None = None,
) -> torch.Tensor:
    """Mean ranking loss over the positions that have a target.

    Args:
        outputs: ``[B, L, H]`` representations (after any fusion).
        targets: ``[B, L]`` target ids, 0 where a position has no loss.
        item_table: ``[n_items, H]`` item representations (:func:`item_table_of`).
        loss_type: ``CE`` (softmax over all items, or over ``sampler``'s negatives) or
            ``BPR`` (one sampled negative per position, see :func:`sample_negatives`);
            RecBole's two losses for these models.
        row_items: ``[B, M]`` items excluded as negatives (BPR only); defaults to ``targets``.
        sampler: CE's negatives (:mod:`recbole_hsuga.sampled_softmax`); None = all items.

    Returns:
        scalar loss; every position weighs the same, as every prefix row does in prefix mode.
    """
    active = targets > 0
    if not bool(active.any()):
        return outputs.sum() * 0.0
    chosen = outputs[active]  # [N, H]
    positives = targets[active]  # [N]
    if loss_type == "CE":
        return softmax_loss(chosen, positives, item_table, sampler)
    if loss_type == "BPR":
        excluded = targets if row_items is None else row_items
        negatives = sample_negatives(targets, excluded, item_table.size(0))[active]
        pos_score = (chosen * item_table[positives]).sum(-1)
        neg_score = (chosen * item_table[negatives]).sum(-1)
        return -torch.log(BPR_GAMMA + torch.sigmoid(pos_score - neg_score)).mean()
    raise ValueError(f"loss_type must be CE or BPR for sequence rows, got {loss_type!r}")


def row_items(interaction: Any, item_seq_field: str) -> torch.Tensor:
    """``[B, 2L]`` every item of each row (inputs, then targets): what a BPR negative must avoid."""
    return torch.cat([interaction[item_seq_field], interaction[TARGET_SEQ]], dim=1)


def sequence_rows_loss(model: Any, interaction: Any) -> torch.Tensor:
    """Training loss of a batch of sequence rows.

    A model with its own ``sequence_rows_loss`` (the HSUGA models, which fuse the semantic
    vector before scoring) computes it; RecBole's causal backbones get the mean loss over
    every position with a target; BERT4Rec's rows were masked by its transform, so its own
    ``calculate_loss`` applies unchanged.
    """
    own = getattr(model, "sequence_rows_loss", None)
    if own is not None:
        return own(interaction)
    if is_causal_backbone(model):
        outputs = position_outputs(model, interaction[model.ITEM_SEQ], interaction[model.ITEM_SEQ_LEN])
        return position_ranking_loss(outputs, interaction[TARGET_SEQ], item_table_of(model), model.loss_type,
                                     row_items(interaction, model.ITEM_SEQ), sampler_of(model))
    check_sequence_rows_support(model)
    if isinstance(model, BERT4Rec) and sampler_of(model) is not None and softmax_sampler_support(model) != "own":
        return masked_items_loss(model, interaction)
    return model.calculate_loss(interaction)


#: ``softmax_sampler_support`` values: the model's own losses read the sampler (``own``),
#: the loss is rebuilt from ``forward`` and the item table (``forward``), or unsupported (``none``).
SAMPLER_SUPPORT = ("own", "forward", "none")


def softmax_sampler_support(model: Any) -> str:
    """How ``model`` trains with sampled softmax negatives (see :data:`SAMPLER_SUPPORT`).

    A class states it with a ``softmax_sampler_support`` attribute; RecBole's SASRec, GRU4Rec and
    BERT4Rec (and subclasses that keep their loss) are ``forward``; other RecBole models add
    terms of their own to the loss (contrastive, normalised scores), so they are ``none``.
    """
    declared = getattr(model, "softmax_sampler_support", None)
    if declared is not None:
        return declared
    return "forward" if isinstance(model, CAUSAL_BACKBONES + (BERT4Rec,)) else "none"


def check_softmax_sampler_support(model: Any) -> None:
    if softmax_sampler_support(model) == "none":
        raise InputError(f"softmax_negatives > 0 (sampled softmax) is not supported by {type(model).__name__}: "
                         "its loss is not a softmax over a plain item table; set softmax_negatives: 0")


def prefix_rows_loss(model: Any, interaction: Any) -> torch.Tensor:
    """Training loss of a batch of prefix rows when the softmax samples its negatives.

    RecBole's ``calculate_loss`` always scores every item; this is the same loss on the
    model's own ``forward`` and item table with :func:`~recbole_hsuga.sampled_softmax.softmax_loss`.
    Models with their own ranking loss (the HSUGA, LLM-ESR and GRASP models) read the sampler
    themselves and keep their ``calculate_loss``.
    """
    if softmax_sampler_support(model) == "own":
        return model.calculate_loss(interaction)
    if isinstance(model, BERT4Rec):
        return masked_items_loss(model, interaction)
    outputs = model.forward(interaction[model.ITEM_SEQ], interaction[model.ITEM_SEQ_LEN])  # [B, H]
    return softmax_loss(outputs, interaction[model.POS_ITEM_ID], item_table_of(model), sampler_of(model))


def masked_items_loss(model: Any, interaction: Any) -> torch.Tensor:
    """RecBole BERT4Rec's masked-item loss with the run's softmax sampler.

    The outputs at the masked slots (``MASK_INDEX``; a slot of index 0 is padding and has no
    target) are scored against the item table without the mask token, plus ``output_bias``.
    """
    encoded = model.forward(interaction[model.MASK_ITEM_SEQ])  # [B, L, H]
    masked_index = interaction[model.MASK_INDEX]  # [B, M]
    active = masked_index > 0
    index = masked_index.unsqueeze(-1).expand(-1, -1, encoded.size(-1))
    outputs = torch.gather(encoded, 1, index)[active]  # [P, H]
    item_table = model.item_embedding.weight[: model.n_items]
    return softmax_loss(outputs, interaction[model.POS_ITEMS][active], item_table, sampler_of(model),
                        model.output_bias)
