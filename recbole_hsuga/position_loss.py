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
from torch.nn import functional as F

from recbole_hsuga.data.sequence_loader import TARGET_SEQ
from recbole_hsuga.errors import InputError

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
) -> torch.Tensor:
    """Mean ranking loss over the positions that have a target.

    Args:
        outputs: ``[B, L, H]`` representations (after any fusion).
        targets: ``[B, L]`` target ids, 0 where a position has no loss.
        item_table: ``[n_items, H]`` item representations (:func:`item_table_of`).
        loss_type: ``CE`` (softmax over all items) or ``BPR`` (one sampled negative per
            position, see :func:`sample_negatives`); RecBole's two losses for these models.
        row_items: ``[B, M]`` items excluded as negatives (BPR only); defaults to ``targets``.

    Returns:
        scalar loss; every position weighs the same, as every prefix row does in prefix mode.
    """
    active = targets > 0
    if not bool(active.any()):
        return outputs.sum() * 0.0
    chosen = outputs[active]  # [N, H]
    positives = targets[active]  # [N]
    if loss_type == "CE":
        return F.cross_entropy(chosen @ item_table.t(), positives)
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
                                     row_items(interaction, model.ITEM_SEQ))
    check_sequence_rows_support(model)
    return model.calculate_loss(interaction)
