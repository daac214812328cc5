"""The study's two PNG figures: the metric per group and protocol (bars), and validation curves.

Drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas, never through
``pyplot``: no display, no global state, the same on a headless machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recbole_hsuga.reporting.collect import Model, Study
from recbole_hsuga.reporting.stats import cell
from recbole_hsuga.reporting.table import GROUPS, present_protocols

DPI = 120


def _colours(n: int) -> list:
    """One colour per model, stable between the two figures."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def bar_figure(study: Study, path: str | Path, split: str = "test", metric: str = "ndcg@10") -> Path:
    """One panel per protocol; per group one bar per model (mean over seeds), the seeds' std as error bars."""
    protocols = present_protocols(study, split, metric)
    n_models = len(study.models)
    colours = _colours(n_models)
    figure = Figure(figsize=(4.2 * max(len(protocols), 1) + 0.5, 4.2))
    axes = figure.subplots(1, max(len(protocols), 1), squeeze=False)[0]
    width = 0.8 / max(n_models, 1)
    positions = np.arange(len(GROUPS))
    for ax, protocol in zip(axes, protocols):
        for index, model in enumerate(study.models):
            cells = [cell(model, split, protocol, group, metric) for group, _ in GROUPS]
            means = [c.mean if c is not None else np.nan for c in cells]
            spread = [c.std if c is not None else 0.0 for c in cells]
            ax.bar(positions + (index - (n_models - 1) / 2) * width, means, width, yerr=spread, capsize=2,
                   color=colours[index], label=model.name, error_kw={"elinewidth": 0.8})
        ax.set_xticks(positions, [title for _, title in GROUPS])
        ax.set_title(f"{protocol} ranking")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].set_ylabel(f"{metric.upper()} ({split})")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2 if n_models > 3 else n_models,
                  fontsize="small", frameon=False)
    figure.suptitle(f"{study.name}: {metric.upper()} per group (error bars: std over seeds)", fontsize="medium")
    return _save(figure, Path(path))


def mean_curve(model: Model) -> tuple[list[int], list[float]]:
    """Epochs and the mean validation score over the seeds that validated at each epoch
    (past the epoch where a seed stopped, the mean is over the seeds still training)."""
    scores: dict[int, list[float]] = {}
    for run in model.runs.values():
        for epoch, score in run.curve:
            scores.setdefault(epoch, []).append(score)
    epochs = sorted(scores)
    return epochs, [float(np.mean(scores[epoch])) for epoch in epochs]


def curve_figure(study: Study, path: str | Path) -> Path:
    """One line per model: validation score per epoch (mean over seeds), its peak marked."""
    colours = _colours(len(study.models))
    figure = Figure(figsize=(8, 4.6))
    ax = figure.subplots()
    for index, model in enumerate(study.models):
        epochs, means = mean_curve(model)
        if not epochs:
            continue
        ax.plot(epochs, means, color=colours[index], linewidth=1.4, label=f"{model.name} ({len(model.seeds)} seed{'s' if len(model.seeds) != 1 else ''})")
        peak = int(np.argmax(means))
        ax.plot([epochs[peak]], [means[peak]], "o", color=colours[index], markersize=5)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {study.valid_metric()} (mean over seeds)")
    ax.set_title(f"{study.name}: validation curves (dot: peak)", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="small", frameon=False)
    return _save(figure, Path(path))
