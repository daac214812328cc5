"""Test NDCG@10 by the length of a user's training history, per model, from committed rank files.

    python benchmarks/history_profile.py --dataset=amazon-beauty \\
        --run "SASRec=benchmarks/results/raw/train-rows-amazon-beauty/sequence/SASRec-amazon-beauty-seed4*.json" \\
        --run "LLM-ESR=benchmarks/results/raw/compare-llm-enhanced-amazon-beauty/SASRecLLMESR/*seed4*.json"

A model's all-user mean hides where it wins and loses: on amazon-beauty 63% of the users have
at most 5 training items, so a model that cannot use a long history can still validate close
to one that can. For every ``--run LABEL=GLOB`` (result JSON files with their ``.ranks.npz``,
one per seed; cells average the seeds user by user) and every bucket of training-history
length (a user's items less the two held out, as the evaluator's training history counts
them), this prints:

- test NDCG@10 under ``full`` ranking and, where the rank files hold it, under ``unseen``
  (history masked);
- the change against the first run, in %, with a Wilcoxon signed-rank p over the bucket's
  users (seed-averaged NDCG@10, ``full``);
- where the rank files hold both protocols: the mean number of the user's own history items
  ranked above the target under ``full`` (``full`` rank minus ``unseen`` rank), which says how
  much of a model's ``full`` loss is spent on re-recommending what the user already has.

``--csv`` writes the same cells as rows for plotting.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np
from common import REPO, InputError, emit, invocation, load_result, ndcg_at_10, run_script, write_rows
from scipy.stats import wilcoxon

from dataset_tools.formats.inter import read_user_sequences

#: (label, fewest, most) training items; 20 is the default window, so the last bucket's test
#: inputs are truncated.
BUCKETS = [("3-5", 3, 5), ("6-10", 6, 10), ("11-20", 11, 20), ("21-50", 21, 50), (">50", 51, 10**9)]
HELD_OUT = 2


def training_lengths(inter_file: Path) -> dict[str, int]:
    """Each user's training-history length (items less the validation and test items)."""
    return {user: len(items) - HELD_OUT for user, items in read_user_sequences(inter_file).items()}


def seed_averaged(pattern: str, label: str) -> tuple[np.ndarray, dict[str, np.ndarray], list[dict]]:
    """``(users, {protocol: seed-mean per-user NDCG@10 or history items above}, results)``."""
    paths = sorted(glob.glob(pattern))
    if not paths:
        raise InputError(f"--run {label}={pattern}: no result file matches")
    results = [load_result(Path(path)) for path in paths]
    users = None
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for result in results:
        if not Path(result["_ranks"]).is_file():
            raise InputError(f"{result['_path']}: no rank file beside it (train with --save_user_ranks=True)")
        ranks = np.load(result["_ranks"])
        order = np.argsort(ranks["users"].astype(str))
        these = ranks["users"].astype(str)[order]
        if users is None:
            users = these
        elif not np.array_equal(users, these):
            raise InputError(f"{result['_path']}: its test users differ from {results[0]['_path']}'s")
        cells = {"full": ndcg_at_10(ranks["full"][order])}
        if "unseen" in ranks.files:
            cells["unseen"] = ndcg_at_10(ranks["unseen"][order])
            cells["history_above"] = (ranks["full"][order] - ranks["unseen"][order]).astype(float)
        for key, values in cells.items():
            sums[key] = sums.get(key, 0) + values
            counts[key] = counts.get(key, 0) + 1
    # A protocol that only some seeds' rank files hold is left out rather than averaged unevenly.
    averaged = {key: values / len(results) for key, values in sums.items() if counts[key] == len(results)}
    return users, averaged, results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="LABEL=GLOB",
                        help="a model's result files, one per seed (the first --run is the baseline)")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--out", default=None)
    parser.add_argument("--csv", default=None)
    args = parser.parse_args(argv)
    lengths = training_lengths(Path(args.data_path) / args.dataset / f"{args.dataset}.inter")
    runs = []
    for spec in args.run:
        label, sep, pattern = spec.partition("=")
        if not sep or not label or not pattern:
            raise InputError(f"--run takes LABEL=GLOB, got {spec!r}")
        runs.append((label, *seed_averaged(pattern, label)))
    base_label, base_users, base_cells, _ = runs[0]
    missing = [user for user in base_users if user not in lengths]
    if missing:
        raise InputError(f"{args.dataset}.inter has no user {missing[0]!r} of {base_label}'s rank files")
    length = np.array([lengths[user] for user in base_users])

    lines = [f"# Test NDCG@10 by training-history length on {args.dataset}", "",
             f"Produced by `{invocation('history_profile.py')}`. Buckets: a user's training items (all but the "
             "last two). Cells: test NDCG@10, each user's value averaged over the run's seeds; Δ% against "
             f"{base_label} under `full`, Wilcoxon signed-rank p over the bucket's users; history above: mean "
             "count of the user's own history items ranked above the target under `full` (where the rank files "
             "hold `unseen` ranks).", "",
             "| model (seeds) | history | users | full | Δ% full (p) | unseen | history above |",
             "|---|---|---:|---:|---:|---:|---:|"]
    rows = []
    for label, users, cells, results in runs:
        if not np.array_equal(users, base_users):
            raise InputError(f"--run {label}: its test users differ from {base_label}'s")
        seeds = ",".join(str(result["seed"]) for result in results)
        for bucket, low, high in [("all", 0, 10**9), *BUCKETS]:
            chosen = (length >= low) & (length <= high)
            if not chosen.any():
                continue
            full = float(cells["full"][chosen].mean())
            base = float(base_cells["full"][chosen].mean())
            delta, p = "", ""
            if label != base_label and base > 0:
                differences = cells["full"][chosen] - base_cells["full"][chosen]
                p_value = wilcoxon(differences).pvalue if np.any(differences) else 1.0
                delta, p = f"{100 * (full - base) / base:+.1f}%", f"{p_value:.1g}"
            unseen = float(cells["unseen"][chosen].mean()) if "unseen" in cells else None
            above = float(cells["history_above"][chosen].mean()) if "history_above" in cells else None
            lines.append(f"| {label} ({seeds}) | {bucket} | {int(chosen.sum())} | {full:.4f} | "
                         f"{delta + (f' ({p})' if p else '')} | {'' if unseen is None else f'{unseen:.4f}'} | "
                         f"{'' if above is None else f'{above:.2f}'} |")
            rows.append({"model": label, "seeds": seeds, "history": bucket, "users": int(chosen.sum()),
                         "ndcg10_full": round(full, 6), "delta_pct_full": delta.rstrip("%"), "wilcoxon_p": p,
                         "ndcg10_unseen": "" if unseen is None else round(unseen, 6),
                         "history_above": "" if above is None else round(above, 3)})
    emit(lines, args.out)
    write_rows(rows, args.csv)


if __name__ == "__main__":
    run_script(main)
