"""Numbers over seeds: a cell's mean and spread, a model's change against a baseline and its test."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from recbole_hsuga.reporting.collect import Model

#: significance markers, strictest first: (threshold, marker).
MARKERS = ((0.01, "‡"), (0.05, "†"))


@dataclass(frozen=True)
class Cell:
    """One metric of one model over its seeds."""

    values: dict[int, float]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.values.values())))

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (0 with one seed)."""
        return float(np.std(list(self.values.values()), ddof=1)) if self.n > 1 else 0.0


@dataclass(frozen=True)
class Delta:
    """A model's relative change against the baseline, over the seeds both have (all seeds if none shared)."""

    percent: float
    p_value: float | None
    paired_seeds: int

    @property
    def marker(self) -> str:
        """``‡`` for p < 0.01, ``†`` for p < 0.05, else empty (also without a test)."""
        if self.p_value is None:
            return ""
        for threshold, marker in MARKERS:
            if self.p_value < threshold:
                return marker
        return ""


def cell(model: Model, split: str, protocol: str, group: str, metric: str) -> Cell | None:
    """``metric`` of ``model`` over its seeds; None when no run measured it."""
    values = {}
    for seed, run in model.runs.items():
        value = run.value(split, protocol, group, metric)
        if value is not None:
            values[seed] = value
    return Cell(values) if values else None


def delta(other: Cell, base: Cell) -> Delta | None:
    """``other`` against ``base`` in percent, with a paired t-test over seeds when two or more are shared.

    None when the baseline's mean is zero (no relative change).
    """
    shared = sorted(set(other.values) & set(base.values))
    if shared:
        other_values = [other.values[seed] for seed in shared]
        base_values = [base.values[seed] for seed in shared]
    else:
        other_values, base_values = list(other.values.values()), list(base.values.values())
    base_mean = float(np.mean(base_values))
    if base_mean == 0:
        return None
    percent = 100.0 * (float(np.mean(other_values)) - base_mean) / base_mean
    p_value = None
    if len(shared) >= 2:
        differences = np.subtract(other_values, base_values)
        if np.allclose(differences, differences[0]):
            p_value = 1.0 if differences[0] == 0 else 0.0  # no spread: the t statistic is 0 or infinite
        else:
            p_value = float(stats.ttest_rel(other_values, base_values).pvalue)
            if math.isnan(p_value):
                p_value = None
    return Delta(percent=percent, p_value=p_value, paired_seeds=len(shared))
