"""Successive halving (ASHA's rule) for trials that run one after another.

Ray's ``ASHAScheduler`` stops weak trials of a Ray search; the hyperopt back-end runs its
trials sequentially in this process, where no scheduler sees their epochs, so the same
rule runs here, inside each trial's per-epoch callback:

* rungs lie at ``grace_period * reduction_factor**k`` epochs (``k = 0, 1, ...``, up to ``max_t``);
* when a trial reaches a rung, its *best validation score so far* is compared with the
  scores that earlier trials had at that rung: below the ``(1 - 1/reduction_factor)``
  quantile of those (i.e. outside their top ``1/reduction_factor``) it stops;
  the first trial at a rung always continues. Its score is recorded at the rung either way;
* a trial that reaches ``max_t`` epochs stops (as Ray's ASHA does; with ``max_t`` equal
  to the epoch cap training ends there anyway, and the tuner does not consult the rule).

:func:`stops_at_rung` is the decision itself, a pure function of numbers, computed as
Ray 2.6.3's ``_Bracket.cutoff`` computes it (``numpy.nanpercentile``, linear interpolation,
strict ``<``), so both back-ends stop the same trials given the same order of arrival.
:class:`HalvingRule` keeps the rung records of one search and can be seeded from a table
being resumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, NamedTuple, Sequence

from recbole_hsuga.errors import InputError

#: the schedulers ``--scheduler`` accepts: none (train every trial to its end) | asha.
SCHEDULERS = ("none", "asha")


class TrialStopped(Exception):
    """Raised out of a trial's per-epoch callback when the halving rule stops it."""

    def __init__(self, epoch: int, score: float, milestone: int | None, cutoff: float | None):
        self.epoch, self.score, self.milestone, self.cutoff = epoch, score, milestone, cutoff
        where = f"rung {milestone}: cutoff {cutoff:.6g}" if milestone is not None else "max_t reached"
        super().__init__(f"stopped after epoch {epoch} with best valid score {score:.6g} ({where})")


class RungDecision(NamedTuple):
    """What the rule decided at one report: ``milestone`` is None between rungs."""

    stop: bool
    milestone: int | None = None
    cutoff: float | None = None


def check_halving_settings(grace_period: int, reduction_factor: int, max_t: int, epochs: int | None = None) -> None:
    """Raise :class:`InputError` naming the first unusable setting."""
    for name, value in (("grace_period", grace_period), ("reduction_factor", reduction_factor), ("max_t", max_t)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"--{name} must be an integer, got {value!r}")
    if grace_period < 1:
        raise InputError(f"--grace_period must be at least 1 epoch, got {grace_period}")
    if reduction_factor < 2:
        raise InputError(f"--reduction_factor must be at least 2, got {reduction_factor}")
    if max_t < grace_period:
        raise InputError(f"--max_t={max_t} is below --grace_period={grace_period}")
    if epochs is not None and max_t > epochs:
        raise InputError(f"--max_t={max_t} exceeds the epoch cap epochs={epochs}: no trial trains that long")


def rung_milestones(grace_period: int, reduction_factor: int, max_t: int) -> list[int]:
    """Epochs of the rungs, ascending: ``grace_period * reduction_factor**k <= max_t``.

    Integer arithmetic; Ray computes the count with logarithms, which can lose the rung
    at exactly ``max_t`` (where trials stop anyway).
    """
    milestones, milestone = [], grace_period
    while milestone <= max_t:
        milestones.append(milestone)
        milestone *= reduction_factor
    return milestones


def rung_cutoff(earlier: Sequence[float], reduction_factor: int, bigger: bool = True) -> float | None:
    """The score a trial must reach at a rung given the ``earlier`` trials' scores there.

    ``None`` when no trial reached the rung before (the trial continues).
    """
    import numpy as np

    if len(earlier) == 0:
        return None
    sign = 1.0 if bigger else -1.0
    return sign * float(np.nanpercentile([sign * float(s) for s in earlier], (1 - 1 / reduction_factor) * 100))


def stops_at_rung(score: float, earlier: Sequence[float], reduction_factor: int, bigger: bool = True) -> bool:
    """Whether a trial with best-so-far ``score`` at a rung stops, given the ``earlier``
    trials' scores at that rung: it must be in their top ``1/reduction_factor``."""
    cutoff = rung_cutoff(earlier, reduction_factor, bigger)
    if cutoff is None:
        return False
    return score < cutoff if bigger else score > cutoff


@dataclass
class HalvingRule:
    """The rung records of one search and the decision for each report of a trial.

    ``recorded[milestone][trial]`` is the trial's best score so far when it reached the rung.
    """

    grace_period: int
    reduction_factor: int
    max_t: int
    bigger: bool = True
    recorded: dict[int, dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_halving_settings(self.grace_period, self.reduction_factor, self.max_t)
        self.milestones = rung_milestones(self.grace_period, self.reduction_factor, self.max_t)
        for milestone in self.milestones:
            self.recorded.setdefault(milestone, {})

    def observe(self, trial: str, epoch: int, score: float) -> RungDecision:
        """Report ``trial``'s best score so far after ``epoch`` (1-based) training epochs.

        At ``max_t`` the trial stops. Otherwise the highest rung at or below ``epoch``
        decides, once per trial and rung: later reports of a trial at the same rung continue.
        """
        if epoch >= self.max_t:
            return RungDecision(True)
        passed = [m for m in self.milestones if m <= epoch]
        if not passed:
            return RungDecision(False)
        milestone = passed[-1]
        recorded = self.recorded[milestone]
        if trial in recorded:
            return RungDecision(False)
        earlier = list(recorded.values())
        cutoff = rung_cutoff(earlier, self.reduction_factor, self.bigger)
        recorded[trial] = float(score)
        return RungDecision(stops_at_rung(score, earlier, self.reduction_factor, self.bigger), milestone, cutoff)

    def load(self, trial: str, rung_scores: Mapping) -> None:
        """Seed the records with a finished trial's ``{milestone: score}`` (a resumed table);
        milestones that are not rungs of this rule are ignored."""
        for milestone, score in rung_scores.items():
            milestone = int(milestone)
            if milestone in self.recorded and score is not None:
                self.recorded[milestone][trial] = float(score)
