"""Softmax ranking loss over all items or over sampled negatives (``loss_type: CE``).

Full CE scores every position against the whole catalogue: on amazon-beauty (12,102 items)
that output layer is the floor of an epoch's cost in both training modes
(``benchmarks/results/training-step-cost-amazon-beauty-SASRec.md``). Sampled softmax scores a
position's target against ``softmax_negatives`` sampled items instead, the loss of the
strongest published SASRec on this data (eSASRec / RecTools: 256 uniform negatives per
position). Settings (``properties/overall.yaml``):

* ``softmax_negatives: 0`` -- full CE (RecBole's); ``N > 0`` -- sampled softmax with ``N``
  negatives;
* ``softmax_negatives_per: position`` -- drawn independently for every position (RecTools
  draws ``[B, L, N]`` the same way); ``batch`` -- one set of ``N`` shared by every position of
  the batch (TensorFlow's ``sampled_softmax_loss``): the negatives' scores are then one
  ``[P, H] x [H, N]`` product instead of a ``[P, N, H]`` gather and its scatter-add backward,
  which on a CPU costs about as much as the full softmax it replaces;
* ``softmax_sampling: uniform`` -- negatives uniform over the catalogue (padding excluded);
  ``popularity`` -- drawn with probability ``q_j ∝ count_j ** softmax_popularity_power``
  (training interactions) and every logit, the target's included, corrected by ``- log q_j``
  (the logQ correction of Yi et al., RecSys 2019, as TensorFlow's ``sampled_softmax_loss``
  applies it). Under uniform sampling that correction is the same constant for every logit
  and cancels, so it is not computed.

A negative equal to its position's own target (an "accidental hit") gets logit ``-inf``, so a
row is never pushed away from its own target; other items of the row may be drawn, as in
RecTools. The positive is at index 0 of each position's ``1 + N`` logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from recbole_hsuga.errors import InputError

SAMPLINGS = ("uniform", "popularity")
SCOPES = ("position", "batch")
#: Model attribute the trainer sets to the run's sampler (None: full softmax).
SAMPLER_ATTRIBUTE = "softmax_sampler"


@dataclass
class NegativeSampler:
    """Draws softmax negatives from items ``1 .. n_items - 1``.

    Attributes:
        n_negatives: negatives per position ``N``.
        n_items: item ids in the score table, padding id 0 included.
        per: ``position`` (N draws for each position) or ``batch`` (N draws shared by the batch).
        cdf: ``[n_items]`` cumulative sampling distribution (popularity), None for uniform.
        log_q: ``[n_items]`` log sampling probability per draw (popularity), None for uniform.
    """

    n_negatives: int
    n_items: int
    per: str = "position"
    cdf: torch.Tensor | None = None
    log_q: torch.Tensor | None = None

    @classmethod
    def uniform(cls, n_negatives: int, n_items: int, per: str = "position") -> "NegativeSampler":
        return cls(n_negatives, n_items, per)

    @classmethod
    def popularity(cls, n_negatives: int, item_counts: np.ndarray, power: float = 1.0,
                   per: str = "position") -> "NegativeSampler":
        """``q_j ∝ count_j ** power``; the padding id and never-seen items are never drawn.

        Args:
            item_counts: ``[n_items]`` training interactions per item (id 0 = padding).
        """
        weights = np.asarray(item_counts, dtype=np.float64).copy()
        weights[0] = 0.0
        weights = np.where(weights > 0, weights ** power, 0.0)
        if weights.sum() <= 0:
            raise ValueError("popularity sampling needs at least one item with training interactions")
        probabilities = weights / weights.sum()
        cdf = torch.from_numpy(np.cumsum(probabilities)).float()
        cdf[-1] = 1.0  # rounding must not leave a draw of exactly 1 past the last item
        # An item that is never drawn keeps a finite log q: it only appears here as a target
        # (every training target has interactions), and then its correction must not be -inf.
        floor = probabilities[probabilities > 0].min()
        log_q = torch.from_numpy(np.log(np.maximum(probabilities, floor))).float()
        return cls(n_negatives, len(item_counts), per, cdf=cdf, log_q=log_q)

    def draw(self, n_positions: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """``[n_positions, N]`` negative item ids."""
        shape = (n_positions, self.n_negatives)
        if self.cdf is None:
            return torch.randint(1, self.n_items, shape, device=device)
        self.cdf = self.cdf.to(device)
        draws = torch.searchsorted(self.cdf, torch.rand(shape, device=device), right=True)
        return draws.clamp_(1, self.n_items - 1)

    def correction(self, items: torch.Tensor) -> torch.Tensor | None:
        """``log q`` of ``items`` (same shape), None when the correction cancels (uniform)."""
        if self.log_q is None:
            return None
        self.log_q = self.log_q.to(items.device)
        return self.log_q[items]


def sampler_from_config(config: Any, item_counts: np.ndarray | None, n_items: int) -> NegativeSampler | None:
    """The run's sampler, or None for full softmax; bad settings raise :class:`InputError`.

    Args:
        item_counts: ``[n_items]`` training popularity (needed for ``popularity``).
        n_items: rows of the score table, padding included (BERT4Rec's mask token excluded).
    """
    n_negatives = config["softmax_negatives"] or 0
    if isinstance(n_negatives, bool) or not isinstance(n_negatives, int) or n_negatives < 0:
        raise InputError(f"softmax_negatives must be an int >= 0 (0 = softmax over all items), got {n_negatives!r}")
    if n_negatives == 0:
        return None
    loss_type = config["loss_type"]
    if loss_type != "CE":
        raise InputError(f"softmax_negatives: {n_negatives} is a softmax loss and needs loss_type: CE, "
                         f"got loss_type: {loss_type}")
    sampling = str(config["softmax_sampling"] or "uniform").lower()
    if sampling not in SAMPLINGS:
        raise InputError(f"softmax_sampling must be one of {SAMPLINGS}, got {config['softmax_sampling']!r}")
    per = str(config["softmax_negatives_per"] or "position").lower()
    if per not in SCOPES:
        raise InputError(f"softmax_negatives_per must be one of {SCOPES}, got {config['softmax_negatives_per']!r}")
    if sampling == "uniform":
        return NegativeSampler.uniform(n_negatives, n_items, per)
    power = config["softmax_popularity_power"]
    power = 1.0 if power is None else float(power)
    if item_counts is None:
        raise ValueError("popularity sampling needs the training item counts")
    return NegativeSampler.popularity(n_negatives, np.asarray(item_counts)[:n_items], power, per)


def softmax_losses(
    outputs: torch.Tensor,
    positives: torch.Tensor,
    item_table: torch.Tensor,
    sampler: NegativeSampler | None = None,
    item_bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-position softmax loss ``-log p(target)``.

    Args:
        outputs: ``[P, H]`` representations of the positions that have a target.
        positives: ``[P]`` target item ids.
        item_table: ``[n_items, H]`` item representations (row 0 = padding).
        sampler: None for the softmax over all items, else the negatives' sampler.
        item_bias: ``[n_items]`` per-item score bias (BERT4Rec's ``output_bias``), or None.

    Returns:
        ``[P]`` losses.
    """
    if sampler is None:
        logits = outputs @ item_table.t()  # [P, n_items]
        if item_bias is not None:
            logits = logits + item_bias
        return F.cross_entropy(logits, positives, reduction="none")
    positive_logit = (outputs * item_table[positives]).sum(-1, keepdim=True)  # [P, 1]
    if sampler.per == "batch":
        negatives = sampler.draw(1, device=outputs.device)  # [1, N], broadcast over positions
        negative_logits = outputs @ item_table[negatives[0]].t()  # [P, N]
    else:
        negatives = sampler.draw(positives.size(0), device=outputs.device)  # [P, N]
        negative_logits = torch.einsum("ph,pnh->pn", outputs, item_table[negatives])  # [P, N]
    if item_bias is not None:
        positive_logit = positive_logit + item_bias[positives].unsqueeze(-1)
        negative_logits = negative_logits + item_bias[negatives]
    log_q_positive, log_q_negatives = sampler.correction(positives), sampler.correction(negatives)
    if log_q_positive is not None:
        positive_logit = positive_logit - log_q_positive.unsqueeze(-1)
        negative_logits = negative_logits - log_q_negatives
    negative_logits = negative_logits.masked_fill(negatives == positives.unsqueeze(-1), float("-inf"))
    logits = torch.cat([positive_logit, negative_logits], dim=1)  # [P, 1 + N]
    return F.cross_entropy(logits, torch.zeros_like(positives), reduction="none")


def softmax_loss(outputs: torch.Tensor, positives: torch.Tensor, item_table: torch.Tensor,
                 sampler: NegativeSampler | None = None, item_bias: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of :func:`softmax_losses` over the ``P`` positions (scalar)."""
    return softmax_losses(outputs, positives, item_table, sampler, item_bias).mean()


def sampler_of(model: Any) -> NegativeSampler | None:
    """The sampler the trainer gave ``model`` (None: full softmax)."""
    return getattr(model, SAMPLER_ATTRIBUTE, None)
