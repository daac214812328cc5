"""Prefix rows vs sequence rows, each trained to convergence: cost and accuracy.

    python benchmarks/train_rows.py --runs=SASRec:42,43,44 --runs=GRU4Rec:42 --runs=BERT4Rec:42 \
        --jobs=2 --loss_type=CE --train_batch_size=256

Every (model, seed) trains twice through the CLI, ``--train_rows=prefix`` and
``--train_rows=sequence``, with the same settings (any extra ``--key=value`` is passed to
both) and early stopping on validation NDCG@10 (``stopping_step`` evaluations without
improvement; the epoch cap is ``epochs``). ``--jobs`` runs that many processes side by side
(one torch thread each). Raw result files go to
``benchmarks/results/raw/train-rows-<dataset>/<mode>/``; a run whose result file is already
there (same model, seed and settings) is not trained again, so a run set larger than one
session resumes where it stopped. The report (rewritten after every finished run) gives
seconds per epoch, epochs run, the best epoch, wall-clock to the best epoch (training plus
per-epoch validation), and test HR@10 / NDCG@10 under both protocols for all users and
the head/tail groups, with a paired t-test over seeds and a Wilcoxon test over users.

``--report_only`` writes the report from the result files without training.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from common import (GROUPS, RAW, REPO, InputError, best_epoch, epoch_reaching, finished_run, group_table, invocation,
                    machine_load, newest_result_time, paired_seed_test, run_config, run_in_parallel, run_script,
                    user_level_test, wall_to_best, write_report)

MODES = ("prefix", "sequence")
SHOWN = ["loss_type", "train_batch_size", "train_batch_unit", "learning_rate", "MAX_ITEM_LIST_LENGTH", "hidden_size",
         "epochs", "stopping_step", "train_window_stride", "torch_num_threads"]


def parse_runs(specs: list[str]) -> list[tuple[str, int]]:
    """``["SASRec:42,43"]`` -> ``[("SASRec", 42), ("SASRec", 43)]``."""
    runs = []
    for spec in specs:
        model, _, seeds = spec.partition(":")
        if not model or not all(seed.strip().isdigit() for seed in seeds.split(",")):
            raise InputError(f"--runs takes MODEL:SEED[,SEED...] with integer seeds, got {spec!r}")
        runs += [(model, int(seed)) for seed in seeds.split(",")]
    return runs


def report(done: dict[tuple[str, str], list[dict]], args, settings: list[str]) -> str:
    lines = [f"# Prefix rows vs sequence rows on {args.dataset}", "",
             f"Produced by `{invocation('train_rows.py')}` (newest run "
             f"{newest_result_time(done)}; 2-core CPU, no GPU, one torch thread per run; "
             f"{machine_load(done)}). Each run trains until validation NDCG@10 (full ranking) stops improving. "
             "Cells: mean over seeds, test split, HR@10 / NDCG@10.", ""]
    for model in dict.fromkeys(m for m, _ in parse_runs(args.runs)):
        by_mode = {mode: sorted(done.get((model, mode), []), key=lambda r: r["seed"]) for mode in MODES}
        if not any(by_mode.values()):
            continue
        lines.append(f"## {model}\n")
        some = next(r for runs in by_mode.values() for r in runs)
        config = run_config(some)
        lines.append("Settings: " + ", ".join(f"{k}={config.get(k)}" for k in SHOWN) + ".\n")
        lines += ["| mode | seeds | s / epoch | epochs run | best epoch | epoch reaching 99% of best | "
                  "wall-clock to best (s) | rows / epoch |",
                  "|---|---|---|---|---|---|---|---|"]
        for mode, runs in by_mode.items():
            if not runs:
                lines.append(f"| {mode} | (not run yet) | | | | | | |")
                continue
            best = [best_epoch(r) for r in runs]
            lines.append(f"| {mode} | {[r['seed'] for r in runs]} | "
                         f"{np.mean([r['timings']['seconds_per_epoch'] for r in runs]):.1f} | "
                         f"{[r['timings']['epochs'] for r in runs]} | {best} | "
                         f"{[epoch_reaching(r, 0.99) for r in runs]} | "
                         f"{np.mean([wall_to_best(r) for r in runs]):.0f} | "
                         f"{some_rows(runs)} |")
        lines.append("")
        # Runs paired by seed, over the seeds both modes have, so that a seed still training in
        # one mode weighs on neither side of a comparison.
        by_seed = {mode: {r["seed"]: r for r in runs} for mode, runs in by_mode.items()}
        seeds = sorted(by_seed["prefix"].keys() & by_seed["sequence"].keys())
        prefix_runs = [by_seed["prefix"][s] for s in seeds]
        sequence_runs = [by_seed["sequence"][s] for s in seeds]
        if seeds:
            prefix_wall = np.mean([wall_to_best(r) for r in prefix_runs])
            sequence_wall = np.mean([wall_to_best(r) for r in sequence_runs])
            lines.append(f"Wall-clock to the best epoch, sequence / prefix, seeds {seeds}: "
                         f"**{sequence_wall / prefix_wall:.2f}** (target <= 0.25). Seconds as each run measured "
                         "them, with whatever else shared the cores at the time; `benchmarks/training_step_cost.py` "
                         "measures both modes' per-epoch cost in one process, and epochs to the best epoch do not "
                         "depend on load.\n")
        present = {f"{model} {mode}": runs for mode, runs in by_mode.items() if runs}
        for protocol in ("full", "sampled"):
            lines.append(f"**{protocol} ranking**\n")
            lines += group_table(present, protocol)
            if seeds:
                base = [p["metrics"]["test"][protocol]["all"]["ndcg@10"] for p in prefix_runs]
                other = [q["metrics"]["test"][protocol]["all"]["ndcg@10"] for q in sequence_runs]
                diff, p_users = user_level_test(prefix_runs, sequence_runs, protocol)
                lines.append(f"\nNDCG@10 (all users) per seed {seeds}: prefix {base} vs sequence {other}; paired "
                             f"t-test over seeds p = {paired_seed_test(base, other):.3g}; Wilcoxon over users x seeds: "
                             f"mean difference {diff:+.4f}, p = {p_users:.3g}.\n")
                within = {group: user_level_test(prefix_runs, sequence_runs, protocol, group)
                          for group in GROUPS if group != "all"}
                if not any(np.isnan(p_group) for _, p_group in within.values()):
                    lines.append("Within groups (sequence minus prefix, Wilcoxon over users x seeds): " + ", ".join(
                        f"{group} {d:+.4f} (p = {p_group:.3g})" for group, (d, p_group) in within.items()) + ".\n")
            else:
                lines.append("")
    return "\n".join(lines) + "\n"


def some_rows(runs: list[dict]) -> str:
    samples = runs[0]["timings"].get("train_samples_per_second")
    per_epoch = runs[0]["timings"].get("seconds_per_epoch")
    return f"{samples * per_epoch:.0f}" if samples and per_epoch else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", action="append", default=None, help="MODEL:SEED[,SEED...]; repeatable")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--out", default=None)
    parser.add_argument("--notes", default=None, help="markdown file appended to the report (reading notes)")
    parser.add_argument("--report_only", action="store_true")
    args, settings = parser.parse_known_args()
    args.runs = args.runs or ["SASRec:42,43,44", "GRU4Rec:42", "BERT4Rec:42"]
    root = RAW / f"train-rows-{args.dataset}"
    out = Path(args.out) if args.out else REPO / "benchmarks" / "results" / f"train-rows-{args.dataset}.md"
    modes = args.modes.split(",")
    done: dict[tuple[str, str], list[dict]] = {}
    todo = []
    for model, seed in parse_runs(args.runs):
        for mode in modes:
            run_settings = [*settings, f"--train_rows={mode}"]
            result = finished_run(root / mode, model, args.dataset, seed, run_settings)
            if result is not None:
                done.setdefault((model, mode), []).append(result)
            elif not args.report_only:
                todo.append((model, seed, mode, run_settings))
    print(f"{sum(len(v) for v in done.values())} runs found, {len(todo)} to train", flush=True)
    if done:
        write_report(report(done, args, settings), args.notes, out)
    def on_result(key, result):
        done.setdefault(key, []).append(result)
        write_report(report(done, args, settings), args.notes, out)

    run_in_parallel([((model, mode), model, root / mode, seed, run_settings) for model, seed, mode, run_settings in todo],
                    args.dataset, args.data_path, args.jobs, on_result)

if __name__ == "__main__":
    run_script(main)
