"""NextId: the "next unseen id" rule as a model, a probe of a leaking item numbering.

Where item ids are numbered in order of first appearance along the users' sequences (S3-Rec's
Beauty, P5's copy of it, amazon-beauty and amazon-fashion here; ``prepare`` reports it as
``item_id_numbering``), the item a user meets next is often one that appeared for the first
time just after the user's newest one, i.e. the next unseen number. A model that reads ids as
text can learn that rule; this probe *is* the rule, so its score is what the numbering alone is
worth, through the same evaluator and protocols as every trained model:

    python run_recbole_hsuga.py --model=NextId --dataset=amazon-beauty

Scores: an item whose id ``x`` (the written id, read as a number) is above the largest id ``m``
of the user's input sequence scores ``-(x - m)`` (``m + 1`` first, then ``m + 2``, ...); every
other item scores below all of those. Items the user has seen all have ids ``<= m``, so none of
them is recommended before an unseen one. Nothing is learnt: the one parameter exists because
RecBole's trainer builds an optimiser (as RecBole's ``Pop`` does), and one epoch is run.

The numbers are :func:`~recbole_hsuga.data.text_ids.text_id_numbers` under ``text_ids``: the
probe's YAML reads the ``written`` ids (the leak); ``--text_ids=permuted``, the default of every
model that writes ids as text, gives the same rule on re-indexed ids, i.e. what is left of it.
"""

from __future__ import annotations

from typing import Any

import torch
from recbole.model.abstract_recommender import SequentialRecommender
from torch import nn

from recbole_hsuga.data.text_ids import text_id_numbers, text_ids_from_config

#: every item at or below the user's largest id scores below this (ids are far smaller).
_BELOW = -1e9


class NextId(SequentialRecommender):
    """Ranks the items after the user's largest written id, nearest first (see the module docstring)."""

    def __init__(self, config: Any, dataset: Any) -> None:
        super().__init__(config, dataset)
        order, seed = text_ids_from_config(config)
        numbers = text_id_numbers(dataset, self.ITEM_ID, order, seed)  # [n_items]
        self.register_buffer("written_id", torch.from_numpy(numbers), persistent=False)
        self.fake_loss = nn.Parameter(torch.zeros(1))

    def calculate_loss(self, interaction: Any) -> torch.Tensor:
        return self.fake_loss.sum()

    def _scores(self, item_seq: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """``item_seq [B, L]``, ``candidates [B, C]`` (internal ids) -> ``[B, C]`` scores."""
        newest = self.written_id[item_seq].max(dim=1).values.unsqueeze(1)  # [B, 1]; padding is -inf
        gap = self.written_id[candidates] - newest
        return torch.where(gap > 0, -gap, _BELOW + gap).float()

    def predict(self, interaction: Any) -> torch.Tensor:
        """``[B]`` the score of each row's candidate item."""
        return self._scores(interaction[self.ITEM_SEQ], interaction[self.ITEM_ID].unsqueeze(1)).squeeze(1)

    def full_sort_predict(self, interaction: Any) -> torch.Tensor:
        """``[B, n_items]`` scores of every item."""
        item_seq = interaction[self.ITEM_SEQ]
        every = torch.arange(self.n_items, device=item_seq.device).expand(item_seq.size(0), -1)
        return self._scores(item_seq, every)

