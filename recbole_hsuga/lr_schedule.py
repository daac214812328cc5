"""Learning-rate schedules by training epoch: constant, cosine decay and reduce-on-plateau.

RecBole trains at one learning rate throughout. Issue 24 lists the schedule among the recipe
knobs to measure, so the trainer scales every optimizer parameter group's configured rate by
a multiplier that this module computes once per epoch:

* ``lr_scheduler: constant`` -- 1 (RecBole's behaviour, after the optional warmup);
* ``cosine`` -- half a cosine from 1 down to ``lr_min_ratio`` over ``lr_decay_epochs`` epochs
  after the warmup, then ``lr_min_ratio``;
* ``plateau`` -- ``lr_plateau_factor ** n`` (not below ``lr_min_ratio``), ``n`` the reductions
  so far: one each time the validations without improvement reach a multiple of
  ``lr_plateau_patience``, the count that RecBole's early stopping keeps (``cur_step``), so
  the rate halves (factor 0.5) at 5, 10 and 15 stale validations of a run that stops at 20.

``lr_warmup_epochs`` W > 0 ramps every schedule linearly: epoch e < W trains at
``(e + 1) / (W + 1)`` of its rate. A multiplier rather than a rate keeps models whose
optimizers hold several parameter groups at their own ratios. Everything here depends only on
the epoch and the number of reductions, which a resumed run restores, so a run continued from
its training state trains at the rates an uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from recbole_hsuga.errors import InputError

SCHEDULES = ("constant", "cosine", "plateau")


@dataclass(frozen=True)
class LearningRateSchedule:
    """A per-epoch learning-rate multiplier (see the module docstring for each kind)."""

    kind: str = "constant"
    warmup_epochs: int = 0
    decay_epochs: int = 50
    min_ratio: float = 0.01
    plateau_patience: int = 5
    plateau_factor: float = 0.5

    @classmethod
    def from_config(cls, config: Any) -> "LearningRateSchedule":
        """Read the ``lr_*`` keys; a bad value raises :class:`InputError` naming its key."""

        def value(key: str, default: Any) -> Any:
            try:
                found = config[key]
            except KeyError:
                found = None
            return default if found is None else found

        kind = str(value("lr_scheduler", "constant")).lower()
        if kind not in SCHEDULES:
            raise InputError(f"lr_scheduler must be one of {SCHEDULES}, got {value('lr_scheduler', None)!r}")
        schedule = cls(kind=kind, warmup_epochs=value("lr_warmup_epochs", 0),
                       decay_epochs=value("lr_decay_epochs", 50), min_ratio=value("lr_min_ratio", 0.01),
                       plateau_patience=value("lr_plateau_patience", 5),
                       plateau_factor=value("lr_plateau_factor", 0.5))
        schedule._check()
        return schedule

    def _check(self) -> None:
        for key, number, low in (("lr_warmup_epochs", self.warmup_epochs, 0),
                                 ("lr_decay_epochs", self.decay_epochs, 1),
                                 ("lr_plateau_patience", self.plateau_patience, 1)):
            if isinstance(number, bool) or not isinstance(number, int) or number < low:
                raise InputError(f"{key} must be an int >= {low}, got {number!r}")
        for key, number, low_open in (("lr_min_ratio", self.min_ratio, False),
                                      ("lr_plateau_factor", self.plateau_factor, True)):
            bad_type = isinstance(number, bool) or not isinstance(number, (int, float))
            if bad_type or number > 1 or number < 0 or (low_open and number == 0):
                bound = "in (0, 1]" if low_open else "in [0, 1]"
                raise InputError(f"{key} must be a number {bound}, got {number!r}")

    @property
    def is_constant(self) -> bool:
        """Whether every epoch trains at the configured rate (nothing to set)."""
        return self.kind == "constant" and self.warmup_epochs == 0

    def multiplier(self, epoch: int, reductions: int = 0) -> float:
        """The share of the configured rate that training epoch ``epoch`` (0-based) uses,
        after ``reductions`` plateau reductions."""
        ramp = (epoch + 1) / (self.warmup_epochs + 1) if epoch < self.warmup_epochs else 1.0
        if self.kind == "cosine":
            progress = min(max(epoch - self.warmup_epochs, 0), self.decay_epochs) / self.decay_epochs
            share = self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        elif self.kind == "plateau":
            share = max(self.plateau_factor ** reductions, self.min_ratio)
        else:
            share = 1.0
        return ramp * share

    def reduces_after(self, stale_validations: int) -> bool:
        """Whether a validation that leaves ``stale_validations`` evaluations without
        improvement reduces the rate (plateau only)."""
        return (self.kind == "plateau" and stale_validations > 0
                and stale_validations % self.plateau_patience == 0)
