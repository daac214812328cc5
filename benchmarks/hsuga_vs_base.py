"""HSUGA models against their RecBole backbones, seeds 42/43/44, with paired tests.

For each pair (SASRec vs SASRecHSUGA, GRU4Rec vs GRU4RecHSUGA, optionally BERT4Rec vs
BERT4RecHSUGA) and each seed, both models train under identical settings (same loss, epochs,
data, fixed negatives) in their own processes. The report gives HR@10 / NDCG@10 under both
protocols for all users, head/tail users and head/tail items (mean over seeds), a paired
t-test across seeds and a Wilcoxon signed-rank test over users (per-user test ranks pooled
over seeds), the seconds-per-epoch ratio HSUGA / base and GAA's one-time neighbour search.

    python benchmarks/hsuga_vs_base.py --pairs=SASRec,GRU4Rec --epochs=5 --semantic_suffix=useremb_text

Runs can be split across processes (e.g. one per core, ``--pairs=BERT4Rec --seeds=43``) and
reported together afterwards from their result files, without training again:

    python benchmarks/hsuga_vs_base.py --pairs=SASRec,GRU4Rec,BERT4Rec --collect_since=20261122T0730
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from common import (RAW, REPO, best_epoch, collect, group_table, paired_seed_test, pinned_to_prefix_rows, run_cli,
                    run_script, seed_list, user_level_test, write_report)

SETTINGS_SHOWN = ["epochs", "loss_type", "train_batch_size", "learning_rate", "MAX_ITEM_LIST_LENGTH", "hidden_size",
                  "semantic_suffix", "semantic_fusion", "gaa", "gaa_alpha", "gaa_sd_reduction", "gaa_k_active", "gaa_k_longtail",
                  "gaa_active_ratio", "gaa_pearson_percentile"]


def run(model: str, seed: int, args, settings: list[str]) -> dict:
    """Train and test ``model`` with ``settings``; HSUGA models also get ``--semantic_suffix``."""
    if model.endswith("HSUGA"):
        settings = [*settings, f"--semantic_suffix={args.semantic_suffix}"]
    return run_cli(model, args.dataset, args.data_path, RAW, seed, settings)


def report(pairs: dict[str, tuple[list[dict], list[dict]]], args, settings, provenance: str) -> str:
    lines = [f"# HSUGA vs backbone on {args.dataset}", "",
             f"{provenance} (2-core CPU, no GPU, shared with other jobs). Seeds {args.seeds}. "
             f"User semantic vectors: `{args.semantic_suffix}` (see its sidecar JSON for the extractor and model). "
             "Each cell: mean over seeds (HR@10 / NDCG@10), test split.", ""]
    for base_name, (base_runs, hsuga_runs) in pairs.items():
        hsuga_name = hsuga_runs[0]["model"]
        lines.append(f"## {base_name} vs {hsuga_name}\n")
        config = hsuga_runs[0].get("config", {})
        lines.append("Settings (from the result files): " + ", ".join(
            f"{key}={config[key]}" for key in SETTINGS_SHOWN if key in config) + ".\n")
        for protocol in ("full", "sampled"):
            lines.append(f"**{protocol} ranking**\n")
            lines += group_table({runs[0]["model"]: runs for runs in (base_runs, hsuga_runs)}, protocol)
            per_seed_base = [r["metrics"]["test"][protocol]["all"]["ndcg@10"] for r in base_runs]
            per_seed_hsuga = [r["metrics"]["test"][protocol]["all"]["ndcg@10"] for r in hsuga_runs]
            t_p = paired_seed_test(per_seed_base, per_seed_hsuga)
            mean_diff, w_p = user_level_test(base_runs, hsuga_runs, protocol)
            lines.append(f"\nNDCG@10 (all users) per seed: {per_seed_base} vs {per_seed_hsuga}; paired t-test over "
                         f"seeds p = {t_p:.3g}; Wilcoxon over users x seeds: mean difference {mean_diff:+.4f}, "
                         f"p = {w_p:.3g}.\n")
        spe_base = np.mean([r["timings"]["seconds_per_epoch"] for r in base_runs])
        spe_hsuga = np.mean([r["timings"]["seconds_per_epoch"] for r in hsuga_runs])
        search = [r.get("trainer_report", {}).get("gaa", {}).get("neighbour_stats", {}).get("search_seconds") for r in hsuga_runs]
        epochs = [r["timings"]["epochs"] for r in base_runs + hsuga_runs]
        best = [best_epoch(r) for r in base_runs + hsuga_runs]
        lines.append(f"Cost: {spe_base:.1f} s/epoch vs {spe_hsuga:.1f} s/epoch, ratio **{spe_hsuga / spe_base:.2f}** "
                     f"(target <= 1.5); GAA neighbour search (one-time, per run; cached on disk after the first): "
                     f"{search} s. Epochs run (base seeds, then HSUGA seeds): {epochs}; epoch of the selected "
                     f"model (by validation, 1-based; None where the run kept no curve): {best}.\n")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--pairs", default="SASRec,GRU4Rec", help="backbones; each runs against <name>HSUGA")
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--semantic_suffix", default="useremb_text")
    parser.add_argument("--out", default=None)
    parser.add_argument("--collect_until", default=None, help="with --collect_since: only results stamped before this")
    parser.add_argument("--notes", default=None, help="markdown file appended to the report (reading notes)")
    parser.add_argument("--collect_since", default=None,
                        help="report the newest raw results written at or after this stamp (YYYYmmddTHHMM) instead of training")
    args, settings = parser.parse_known_args()
    settings = pinned_to_prefix_rows(settings)
    started = time.time()
    pairs = {}
    seeds = seed_list(args.seeds)
    for base in args.pairs.split(","):
        base_runs, hsuga_runs = [], []
        for seed in seeds:
            for model, runs in ((base, base_runs), (f"{base}HSUGA", hsuga_runs)):
                if args.collect_since:
                    runs.append(collect(model, seed, args.dataset, RAW, args.collect_since, args.collect_until))
                else:
                    runs.append(run(model, seed, args, settings))
        pairs[base] = (base_runs, hsuga_runs)
        if args.collect_since:
            hours = sum(r["timings"]["total_seconds"] for runs in pairs.values() for r in runs[0] + runs[1]) / 3600
            provenance = (f"Collected by `python benchmarks/hsuga_vs_base.py {' '.join(sys.argv[1:])}` on "
                          f"{time.strftime('%Y-%m-%d')} from runs totalling {hours:.1f} process-hours")
        else:
            provenance = (f"Produced by `python benchmarks/hsuga_vs_base.py {' '.join(sys.argv[1:])}` on "
                          f"{time.strftime('%Y-%m-%d')} in {(time.time() - started) / 60:.0f} minutes")
        # rewritten after every pair, so a partial run leaves a report
        write_report(report(pairs, args, settings, provenance), args.notes,
                     Path(args.out) if args.out else REPO / "benchmarks" / "results" / f"hsuga-vs-base-{args.dataset}.md")


if __name__ == "__main__":
    run_script(main)
