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
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

REPO = Path(__file__).resolve().parent.parent
GROUPS = ["all", "head_users", "tail_users", "head_items", "tail_items"]
METRICS = ["hit@10", "ndcg@10"]
SETTINGS_SHOWN = ["epochs", "loss_type", "train_batch_size", "learning_rate", "MAX_ITEM_LIST_LENGTH", "hidden_size",
                  "semantic_suffix", "semantic_fusion", "gaa", "gaa_alpha", "gaa_sd_reduction", "gaa_k_active", "gaa_k_longtail",
                  "gaa_active_ratio", "gaa_pearson_percentile"]


def run(model: str, seed: int, args, settings: list[str], results_dir: Path) -> dict:
    before = set(results_dir.glob(f"{model}-{args.dataset}-seed{seed}-*.json"))
    command = [sys.executable, str(REPO / "run_recbole_hsuga.py"), f"--model={model}", f"--dataset={args.dataset}",
               f"--data_path={args.data_path}/", f"--results_dir={results_dir}", f"--seed={seed}",
               "--save_user_ranks=True", "--state=WARNING", *settings]
    if model.endswith("HSUGA"):
        command.append(f"--semantic_suffix={args.semantic_suffix}")
    print("running:", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)
    (path,) = set(results_dir.glob(f"{model}-{args.dataset}-seed{seed}-*.json")) - before
    return load_result(path)


def ndcg10(ranks: np.ndarray) -> np.ndarray:
    return np.where(ranks < 10, 1.0 / np.log2(ranks + 2.0), 0.0)


def user_level_test(base_runs: list[dict], hsuga_runs: list[dict], protocol: str) -> tuple[float, float]:
    """Wilcoxon over users of NDCG@10 differences, runs paired by seed and user."""
    diffs = []
    for base, hsuga in zip(base_runs, hsuga_runs):
        a, b = np.load(base["_ranks"]), np.load(hsuga["_ranks"])
        order_a, order_b = np.argsort(a["users"]), np.argsort(b["users"])
        assert (a["users"][order_a] == b["users"][order_b]).all()
        diffs.append(ndcg10(b[protocol][order_b]) - ndcg10(a[protocol][order_a]))
    diff = np.concatenate(diffs)
    nonzero = diff[diff != 0]
    p = float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) else 1.0
    return float(diff.mean()), p


def best_epoch(result: dict) -> int | None:
    """1-based epoch whose validation score was best (the model that was tested), from the curve.

    RecBole's early stopping saves a model whose score ties the best so far (``>=``), so a
    tie goes to the later epoch.
    """
    scored = [(entry["valid_score"], entry["epoch"]) for entry in result.get("curve", []) if "valid_score" in entry]
    return max(scored)[1] + 1 if scored else None


def load_result(path: Path) -> dict:
    result = json.loads(path.read_text())
    result["_ranks"] = str(path.with_suffix(".ranks.npz"))
    return result


def collect(model: str, seed: int, args, results_dir: Path) -> dict:
    """Newest result file of ``model`` and ``seed`` stamped in ``[--collect_since, --collect_until)``."""
    since, until = args.collect_since, getattr(args, "collect_until", None) or "9"
    found = sorted(p for p in results_dir.glob(f"{model}-{args.dataset}-seed{seed}-*.json")
                   if since <= p.stem.rsplit("-", 1)[-1] < until)
    if not found:
        raise SystemExit(f"no result for {model}, seed {seed} in {results_dir} stamped from {since} to {until}")
    return load_result(found[-1])


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
            lines.append("| model | " + " | ".join(GROUPS) + " |")
            lines.append("|---|" + "---|" * len(GROUPS))
            for runs in (base_runs, hsuga_runs):
                cells = []
                for group in GROUPS:
                    vals = [[r["metrics"]["test"][protocol][group][m] for m in METRICS] for r in runs]
                    mean = np.mean(vals, axis=0)
                    cells.append(f"{mean[0]:.4f} / {mean[1]:.4f}")
                lines.append(f"| {runs[0]['model']} | " + " | ".join(cells) + " |")
            per_seed_base = [r["metrics"]["test"][protocol]["all"]["ndcg@10"] for r in base_runs]
            per_seed_hsuga = [r["metrics"]["test"][protocol]["all"]["ndcg@10"] for r in hsuga_runs]
            t_p = float(stats.ttest_rel(per_seed_hsuga, per_seed_base).pvalue) if len(base_runs) > 1 else float("nan")
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


def write_report(text: str, notes: str | None, out: Path) -> None:
    """Write ``text`` plus the hand-written reading notes in ``notes`` (if any) to ``out`` and print it."""
    if notes:
        text += "\n" + Path(notes).read_text()
    out.write_text(text)
    print(text, flush=True)


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
    results_dir = REPO / "benchmarks" / "results" / "raw"
    results_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    pairs = {}
    seeds = [int(s) for s in args.seeds.split(",")]
    for base in args.pairs.split(","):
        base_runs, hsuga_runs = [], []
        for seed in seeds:
            if args.collect_since:
                base_runs.append(collect(base, seed, args, results_dir))
                hsuga_runs.append(collect(f"{base}HSUGA", seed, args, results_dir))
            else:
                base_runs.append(run(base, seed, args, settings, results_dir))
                hsuga_runs.append(run(f"{base}HSUGA", seed, args, settings, results_dir))
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
    main()
