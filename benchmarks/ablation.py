"""Component study of one HSUGA model: its backbone and the experiment YAMLs, same budget.

Each experiment is a file ``properties/experiments/<name>.yaml`` (``full``, ``no_gaa``,
``fused``, ``no_group_aware``, ``no_active_filter``, ...), optionally with settings of
its own after ``+`` (``full+gaa_alpha=0.01+gaa_sd_reduction=sum``); ``base`` is the RecBole
backbone itself (``SASRecHSUGA`` -> ``SASRec``). Every run gets the same extra settings
(epochs, loss, semantic vectors ...), so rows differ only in what their YAML switches.
The report gives HR@10 / NDCG@10 for all users and the head/tail groups under both
protocols (mean over seeds) and, for each variant, the NDCG@10 difference to ``base`` with
a Wilcoxon signed-rank test over users (x seeds).

    python benchmarks/ablation.py --model=SASRecHSUGA --experiments=base,full,no_gaa,fused \
        --seeds=42 --epochs=4 --loss_type=CE --semantic_suffix=useremb_text

Raw results go to ``benchmarks/results/raw/ablation-<dataset>-<model>/<experiment>/``;
``--collect_since=STAMP`` re-reports runs written since ``STAMP`` without training.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from common import (RAW, REPO, InputError, collect, group_table, pinned_to_prefix_rows, run_cli, run_script, seed_list,
                    user_level_test, write_report)

SHOWN = ["epochs", "loss_type", "learning_rate", "semantic_suffix", "semantic_fusion", "gaa", "gaa_alpha", "gaa_sd_reduction",
         "gaa_k_active", "gaa_k_longtail", "gaa_pearson_percentile", "gaa_group_aware", "gaa_active_filter"]


def backbone_of(model: str) -> str:
    if not model.endswith("HSUGA"):
        raise InputError(f"--model must be an HSUGA model (e.g. SASRecHSUGA), got {model!r}")
    return model[: -len("HSUGA")]


def parse_variant(spec: str) -> tuple[str, list[str]]:
    """``"full+gaa_alpha=0.01"`` -> ``("full", ["--gaa_alpha=0.01"])``."""
    name, *overrides = spec.split("+")
    for override in overrides:
        if "=" not in override:
            raise InputError(f"variant {spec!r}: settings after '+' are key=value, got {override!r}")
    if name == "base" and overrides:
        raise InputError(f"variant {spec!r}: the backbone takes no settings of its own")
    return name, [f"--{override}" for override in overrides]


def run_one(spec: str, seed: int, args, settings: list[str], folder: Path) -> dict:
    experiment, overrides = parse_variant(spec)
    model = backbone_of(args.model) if experiment == "base" else args.model
    settings = list(settings)
    if experiment != "base":
        yaml = REPO / "properties" / "experiments" / f"{experiment}.yaml"
        if not yaml.exists():
            raise InputError(f"unknown experiment {experiment!r}: {yaml} does not exist")
        settings.append(f"--config_files={yaml}")
        if args.semantic_suffix:
            settings.append(f"--semantic_suffix={args.semantic_suffix}")  # command line beats the YAML
        settings += overrides  # the variant's own settings come last and win
    return run_cli(model, args.dataset, args.data_path, folder, seed, settings)


def report(runs: dict[str, list[dict]], args, provenance: str) -> str:
    lines = [f"# Component study: {args.model} on {args.dataset}", "", provenance, "",
             "Each cell: mean over seeds, HR@10 / NDCG@10, test split. Δ: NDCG@10 (all users) minus `base`, "
             "with a Wilcoxon signed-rank test over users x seeds.", ""]
    for experiment, experiment_runs in runs.items():
        if experiment == "base":
            continue
        config = experiment_runs[0].get("config", {})
        lines.append(f"- `{experiment}`: " + ", ".join(f"{k}={config[k]}" for k in SHOWN if k in config))
    lines.append("")
    for protocol in ("full", "sampled"):
        # the shared group table with a first column named "variant" and one more column, the delta
        header, rule, *rows = group_table(runs, protocol)
        lines += [f"**{protocol} ranking**", "", header.replace("| model |", "| variant |", 1) + " Δ NDCG@10 vs base (p) |",
                  rule + "---|"]
        for (experiment, experiment_runs), row in zip(runs.items(), rows):
            delta = ""
            if experiment != "base" and "base" in runs:
                diff, p = user_level_test(runs["base"], experiment_runs, protocol)
                delta = f"{diff:+.4f} (p = {p:.2g})"
            lines.append(f"{row} {delta} |")
        lines.append("")
    seconds = {e: np.mean([r["timings"]["seconds_per_epoch"] for r in rs]) for e, rs in runs.items()}
    lines.append("Seconds per epoch: " + ", ".join(f"{e} {s:.0f}" for e, s in seconds.items()) + ".")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="SASRecHSUGA")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--experiments", default="base,full,no_gaa,fused,no_group_aware,no_active_filter")
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--semantic_suffix", default="useremb_text",
                        help="user vector file for every variant (overrides the YAMLs' useremb); empty keeps the YAMLs'")
    parser.add_argument("--out", default=None)
    parser.add_argument("--notes", default=None, help="markdown file appended to the report (reading notes)")
    parser.add_argument("--collect_since", default=None,
                        help="report the newest raw results written at or after this stamp (YYYYmmddTHHMM)")
    args, settings = parser.parse_known_args()
    settings = pinned_to_prefix_rows(settings)
    root = RAW / f"ablation-{args.dataset}-{args.model}"
    seeds = seed_list(args.seeds)
    started = time.time()
    runs: dict[str, list[dict]] = {}
    for experiment in args.experiments.split(","):
        folder = root / experiment
        model = backbone_of(args.model) if parse_variant(experiment)[0] == "base" else args.model
        if args.collect_since:
            runs[experiment] = [collect(model, seed, args.dataset, folder, args.collect_since) for seed in seeds]
        else:
            runs[experiment] = [run_one(experiment, seed, args, settings, folder) for seed in seeds]
        verb = "Collected" if args.collect_since else "Produced"
        provenance = (f"{verb} by `python benchmarks/ablation.py {' '.join(sys.argv[1:])}` on "
                      f"{time.strftime('%Y-%m-%d')} ({(time.time() - started) / 60:.0f} minutes; 2-core CPU, no GPU). "
                      f"Seeds {args.seeds}.")
        # rewritten after every variant, so a partial run leaves a report
        write_report(report(runs, args, provenance), args.notes,
                     Path(args.out) if args.out else REPO / "benchmarks" / "results" / f"ablation-{args.dataset}-{args.model}.md")


if __name__ == "__main__":
    run_script(main)
