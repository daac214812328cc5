"""A trained GRASP's per-user attention gates: how much they vary, and what they are worth.

    python benchmarks/grasp_gates.py \
        benchmarks/results/raw/compare-llm-enhanced-amazon-beauty/SASRecGRASP/SASRecGRASP-amazon-beauty-seed42-*.json

GRASP gates each semantic level of an item per user: ``w_l(u, j) = σ(u_l · j_l / √d)``
(:class:`recbole_hsuga.model.grasp.HolisticItems`). Its item vectors, and so its scores,
differ per user only through these gates. This script separates two readings of a
GRASP that ranks popular targets below SASRec: that the gates add per-user noise to every
item, or that they carry little either way (and the cause is elsewhere, e.g. overfitting).

1. **Spread.** Over every (user, item) pair, per level: the mean gate, the spread of an
   item's gate over users (mean over items of the standard deviation), the spread of the
   items' mean gates, and the share of the gate variance that lies between users of the
   same item.
2. **Intervention.** The trained model is tested again with every user's vectors ``u`` and
   ``ū`` replaced by their population means. The gates then depend on the item only; the
   encoder, the ID table and everything else are untouched (``u`` enters the model only
   through the gates). Both protocols, all users and the head/tail groups.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
from common import REPO, InputError, emit, invocation, run_script
from trained_model import evaluation_table, load_trained_run

from recbole_hsuga.model.grasp import HolisticItems, level_weights


def level_names(holistic: HolisticItems) -> list[str]:
    """Names of the enabled levels, in the order of :meth:`HolisticItems.logits`."""
    return ["self"] + (["similar"] if holistic.similar else []) + (["global"] if holistic.global_level else [])


@torch.no_grad()
def gate_spread(holistic: HolisticItems, user_chunk: int = 512) -> dict[str, dict[str, float]]:
    """Statistics of ``w_l(u, j)`` over users ``1..n_users-1`` and items ``1..n_items-1`` (row 0
    of each table is padding), per level.

    Returns ``{level: {"mean", "user_std", "item_std", "user_share"}}``: the mean gate; the mean
    over items of the gate's standard deviation over users; the standard deviation over items
    of the per-item mean gate; and ``E_j[Var_u w] / Var w``, the share of the total variance that
    lies between users of the same item.
    """
    items, items_bar = holistic.item_side()
    items, items_bar = items[1:], items_bar[1:]  # [n, H]
    names = level_names(holistic)
    total = torch.zeros(len(names), items.size(0), dtype=torch.float64)
    squares = torch.zeros_like(total)
    n_users = holistic.user.size(0) - 1
    for start in range(1, n_users + 1, user_chunk):
        users = torch.arange(start, min(start + user_chunk, n_users + 1))
        u, u_bar = holistic.user_side(users)  # [U, H]
        weights = level_weights(holistic.logits(u @ items.t(), u_bar @ items_bar.t()), holistic.attention)  # [U, n, L]
        weights = weights.double().permute(2, 0, 1)  # [L, U, n]
        total += weights.sum(1)
        squares += (weights ** 2).sum(1)
    item_mean = total / n_users  # [L, n]
    within = (squares / n_users - item_mean ** 2).clamp(min=0)  # Var over users, per item
    overall = item_mean.mean(1, keepdim=True)
    variance = within.mean(1) + ((item_mean - overall) ** 2).mean(1)  # law of total variance
    return {name: {"mean": float(overall[k]), "user_std": float(within[k].sqrt().mean()),
                   "item_std": float(item_mean[k].std(unbiased=False)),
                   "user_share": float(within[k].mean() / variance[k]) if variance[k] > 0 else float("nan")}
            for k, name in enumerate(names)}


@contextmanager
def population_mean_user(holistic: HolisticItems) -> Iterator[None]:
    """Within the block, every user's ``u`` and ``ū`` rows are their means over users ``1..``."""
    saved = {name: getattr(holistic, name) for name in ("user", "user_neighbours")}
    try:
        for name, table in saved.items():
            setattr(holistic, name, table[1:].mean(0, keepdim=True).expand_as(table).clone())
        yield
    finally:
        for name, table in saved.items():
            setattr(holistic, name, table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", help="result JSON of a GRASP run (its checkpoint must still exist)")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    result, model, trainer, test_data, _ = load_trained_run(args.result, args.data_path)
    holistic = getattr(model, "holistic", None)
    if not isinstance(holistic, HolisticItems):
        raise InputError(f"{result['model']} in {args.result} is not a GRASP model")
    model.eval()
    spread = gate_spread(holistic)
    metrics = {}
    with torch.no_grad():
        metrics["trained gates"] = trainer.evaluate(test_data, load_best_model=False)
        with population_mean_user(holistic):
            metrics["population-mean user"] = trainer.evaluate(test_data, load_best_model=False)
    lines = [f"# {result['model']} (seed {result['seed']}): its per-user gates", "",
             f"Produced by `{invocation('grasp_gates.py')}`; checkpoint `{Path(result['checkpoint']).name}` "
             f"(the run's selected epoch), `grasp_attention: {holistic.attention}`.", "",
             "**Gate spread** over every (user, item) pair", "",
             "| level | mean gate | std over users, per item (mean) | std of the items' mean gates | "
             "share of variance between users |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {s['mean']:.3f} | {s['user_std']:.3f} | {s['item_std']:.3f} | {s['user_share']:.2f} |"
              for name, s in spread.items()]
    lines += ["", "**Test HR@10 / NDCG@10** with the trained gates and with every user replaced by the "
              "population-mean user (gates per item only)", ""]
    for protocol in ("full", "sampled"):
        lines += [f"*{protocol} ranking*", "", *evaluation_table(metrics, protocol, "gates"), ""]
    emit(lines, args.out)


if __name__ == "__main__":
    run_script(main)
