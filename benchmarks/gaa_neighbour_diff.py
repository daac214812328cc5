"""How far two GAA-trained runs differ in what GAA is made of: neighbour sets and the loss's SD share.

    python benchmarks/gaa_neighbour_diff.py \\
        --run "LLM-ESR=benchmarks/results/raw/compare-frontier-select-unseen-amazon-beauty/SASRecLLMESR__dual_view_residual=True/SASRecLLMESR-amazon-beauty-seed42-20261207T080852.json" \\
        --run "HSUGA=benchmarks/results/raw/compare-frontier-select-unseen-amazon-beauty/SASRecHSUGA__hsuga_backbone=dual_view__semantic_suffix=useremb_text__dual_view_residual=True/SASRecHSUGA-amazon-beauty-seed42-20261207T092230.json"

LLM-ESR's retrieval-augmented self-distillation and HSUGA's group-aware alignment are the
same loss in this framework (``alpha * mean_u ||f(u) - mean_{v in N_u} f(v)||^2``, teacher
detached); they differ only in the neighbour sets ``N_u``. When two such runs test level,
this says whether that is because the sets hardly differ or because the term hardly weighs:

- per user group (active / long-tail, as the trainer split them): neighbours per user in each
  run, the share of users whose sets are identical, whose second-run set lies inside the
  first's, and the mean Jaccard overlap;
- from the runs' training curves: the SD term's share of the training loss (first, selected
  and last epoch) and the largest relative difference of the two runs' ranking losses over
  their shared epochs (how far the runs' trajectories drift apart).

The neighbour sets are read from each run's cache (``<checkpoint_dir>/gaa_cache/*.npz``, written
when the run started), so the runs' ``saved/`` folders must still exist. ``--csv`` writes the
group rows for plotting.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import (InputError, best_epoch, emit, invocation, labelled_run, load_result, mean_or_nan, run_script,
                    write_rows)

from recbole_hsuga.gaa.neighbours import NeighbourSets


def neighbour_cache(result: dict, path: str) -> NeighbourSets:
    """The one neighbour-set cache of a run, found through its result file's ``checkpoint_dir``."""
    folder = Path(str(result["config"].get("checkpoint_dir") or "")) / "gaa_cache"
    caches = sorted(folder.glob("*.npz"))
    if len(caches) != 1:
        raise InputError(f"{path}: expected one neighbour cache in {folder}, found {len(caches)} "
                         "(a run trained without GAA, or its saved/ folder is gone)")
    return NeighbourSets.load(caches[0])


def overlap_by_group(first: NeighbourSets, second: NeighbourSets) -> list[dict]:
    """Per group (``second``'s active flags; both runs' must agree): sizes, identical, subset, Jaccard."""
    if first.n_users != second.n_users or not np.array_equal(first.is_active, second.is_active):
        raise InputError("the two runs split users into different active groups (another dataset or active ratio)")
    rows = []
    for group, members in (("active", second.is_active), ("long-tail", second.eligible & ~second.is_active)):
        sizes, identical, inside, jaccard = [], [], [], []
        for user in np.flatnonzero(members):
            a, b = set(first.neighbours_of(user).tolist()), set(second.neighbours_of(user).tolist())
            sizes.append((len(a), len(b)))
            identical.append(a == b)
            inside.append(b <= a)
            jaccard.append(len(a & b) / len(a | b) if a | b else 1.0)
        sizes_array = np.asarray(sizes, dtype=float).reshape(-1, 2)
        rows.append({"group": group, "users": int(members.sum()),
                     "first_neighbours": mean_or_nan(sizes_array[:, 0]),
                     "second_neighbours": mean_or_nan(sizes_array[:, 1]),
                     "identical": mean_or_nan(identical), "second_inside_first": mean_or_nan(inside),
                     "jaccard": mean_or_nan(jaccard)})
    return rows


def loss_parts(result: dict, path: str) -> dict[int, tuple[float, float]]:
    """``{epoch: (ranking loss, alpha * SD)}`` from a GAA run's training curve."""
    parts = {}
    for point in result.get("curve") or []:
        loss = point.get("train_loss")
        if not isinstance(loss, list) or len(loss) != 2:
            raise InputError(f"{path}: epoch {point.get('epoch')} has no (ranking, alpha * SD) loss pair; "
                             "not a GAA-trained run")
        parts[int(point["epoch"])] = (float(loss[0]), float(loss[1]))
    if not parts:
        raise InputError(f"{path}: no training curve")
    return parts


def sd_share(parts: dict[int, tuple[float, float]], epoch: int) -> float:
    rank, sd = parts[epoch]
    return sd / (rank + sd)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="LABEL=RESULT_JSON",
                        help="twice: the reference run first")
    parser.add_argument("--out", default=None)
    parser.add_argument("--csv", default=None)
    args = parser.parse_args(argv)
    if len(args.run) != 2:
        raise InputError(f"--run: give exactly two runs, got {len(args.run)}")
    runs = []
    for spec in args.run:
        label, path = labelled_run(spec)
        result = load_result(Path(path))
        runs.append((label, result, neighbour_cache(result, path), loss_parts(result, path)))
    (first_label, first, first_sets, first_parts), (second_label, second, second_sets, second_parts) = runs
    rows = overlap_by_group(first_sets, second_sets)
    lines = [f"# GAA neighbour sets and loss: {second_label} against {first_label} ({first['dataset']})", "",
             f"Produced by `{invocation('gaa_neighbour_diff.py')}`.", "",
             f"| group | users | neighbours, {first_label} | neighbours, {second_label} | identical sets "
             f"| {second_label}'s inside {first_label}'s | Jaccard |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['group']} | {row['users']} | {row['first_neighbours']:.2f} | "
                     f"{row['second_neighbours']:.2f} | {row['identical']:.1%} | {row['second_inside_first']:.1%} | "
                     f"{row['jaccard']:.3f} |")
    lines += ["", "Epochs as the runs' curves number them (from 0).", "",
              "| run | seed | SD share of the loss: first epoch | selected epoch | last epoch |",
              "|---|---:|---:|---:|---:|"]
    for label, result, _, parts in runs:
        selected = best_epoch(result) - 1  # the curve counts from 0, best_epoch from 1
        selected_cell = f"{sd_share(parts, selected):.2%} (epoch {selected})" if selected in parts else "-"
        lines.append(f"| {label} | {result['seed']} | {sd_share(parts, min(parts)):.2%} | {selected_cell} | "
                     f"{sd_share(parts, max(parts)):.2%} |")
    shared = sorted(set(first_parts) & set(second_parts))
    drift = max(abs(second_parts[e][0] - first_parts[e][0]) / first_parts[e][0] for e in shared) if shared else None
    lines += ["", f"Largest relative difference of the two ranking losses over their {len(shared)} shared epochs: "
              + (f"{drift:.2e}." if drift is not None else "no shared epoch.")]
    emit(lines, args.out)
    write_rows(rows, args.csv)


if __name__ == "__main__":
    run_script(main)
