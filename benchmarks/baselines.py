"""RecBole's SASRec, GRU4Rec and BERT4Rec on amazon-beauty: the floor later models must beat.

Each model trains in its own process (so peak memory is its own) through
run_recbole_hsuga.py, under both protocols with the head/tail table, one seed. The
script first measures the CPU settings (benchmarks/epoch_speed.py) and then writes
benchmarks/results/baselines-<dataset>.md.

    python benchmarks/baselines.py --epochs=10 --stopping_step=3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, group_table, pinned_to_prefix_rows

MODELS = ["SASRec", "GRU4Rec", "BERT4Rec"]


def ensure_prepared(dataset: str, data_path: Path, raw: Path) -> None:
    if (data_path / dataset / f"{dataset}.inter").is_file():
        return
    subprocess.run([sys.executable, "-m", "dataset_tools", "prepare", dataset, "--raw", str(raw), "--out", str(data_path)],
                   check=True, cwd=REPO)


def run_model(model: str, dataset: str, data_path: Path, results_dir: Path, settings: list[str]) -> dict:
    before = set(results_dir.glob(f"{model}-{dataset}-*.json"))
    command = [sys.executable, str(REPO / "run_recbole_hsuga.py"), f"--model={model}", f"--dataset={dataset}",
               f"--data_path={data_path}/", f"--results_dir={results_dir}", "--state=WARNING", *settings]
    print("running:", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)
    (path,) = set(results_dir.glob(f"{model}-{dataset}-*.json")) - before
    return json.loads(path.read_text())


def speed_section(dataset: str, settings: list[str]) -> tuple[str, dict]:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "epoch_speed.py"), "--model=SASRec",
                           f"--dataset={dataset}", "--batches=10", "--rounds=2", "--state=WARNING", *settings],
                          check=True, cwd=REPO, capture_output=True, text=True)
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    lines = ["| variant | samples/s | est. s/epoch | speed-up |", "|---|---|---|---|"]
    for name, entry in report["variants"].items():
        lines.append(f"| {name} | {entry['samples_per_second']} | {entry['estimated_seconds_per_epoch']} | {entry['speedup_vs_before']}x |")
    return "\n".join(lines), report


def metrics_table(results: list[dict]) -> str:
    """Test HR@10 / NDCG@10 per group under both protocols, one row per result."""
    lines = []
    for protocol in ("full", "sampled"):
        lines.append(f"\n**test, {protocol} ranking** (HR@10 / NDCG@10; HR@5, HR@20, NDCG@5, NDCG@20 in the JSON files)\n")
        lines += group_table({result["model"]: [result] for result in results}, protocol)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--raw", default=str(REPO.parent / "shared" / "data" / "amazon-beauty"))
    parser.add_argument("--models", default=",".join(MODELS))
    args, settings = parser.parse_known_args()
    settings = pinned_to_prefix_rows(settings)
    data_path = Path(args.data_path).resolve()
    ensure_prepared(args.dataset, data_path, Path(args.raw))
    results_dir = REPO / "benchmarks" / "results" / "raw"
    results_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    speed_table, speed = speed_section(args.dataset, [f"--data_path={data_path}/"])
    results = [run_model(m, args.dataset, data_path, results_dir, settings) for m in args.models.split(",")]

    cost = ["| model | loss | epochs run | best valid NDCG@10 | s/epoch | train samples/s | eval s (valid+test) | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|"]
    for r in results:
        t = r["timings"]
        cost.append(f"| {r['model']} | {r['config'].get('loss_type')} | {t['epochs']} | {r['best_valid_score']:.4f} | "
                    f"{t['seconds_per_epoch']} | {t['train_samples_per_second']} | {t['eval_seconds']} | {r['peak_rss_mb']} |")
    first = results[0]
    text = f"""# Baselines on {args.dataset}

Produced by `python benchmarks/baselines.py {' '.join(settings)}` on {time.strftime('%Y-%m-%d')} in
{(time.time() - started) / 60:.0f} minutes; raw result files in `benchmarks/results/raw/`.
Machine: 2-core CPU without GPU, shared with other jobs while this ran (timings are pessimistic).
Seed {first['seed']}; leave-one-out by time order; model selected on validation
{first['valid_metric']} ({first['eval_protocol']} ranking); {first['config'].get('eval_sampled_negatives')} fixed
sampled negatives per user; head = top {int(100 * first['config'].get('head_fraction', 0.2))}% by training
interactions (users) / training popularity (items). MAX_ITEM_LIST_LENGTH
{first['config'].get('MAX_ITEM_LIST_LENGTH')}, batch {first['config'].get('train_batch_size')}, learning rate
{first['config'].get('learning_rate')}, at most {first['config'].get('epochs')} epochs with early stopping after
{first['config'].get('stopping_step')} evaluations without improvement; RecBole's default hyper-parameters otherwise.

## Test metrics
{metrics_table(results)}

## Cost

{chr(10).join(cost)}

## CPU settings (SASRec, one process, alternating blocks of {speed['batches_per_round']} batches)

{speed_table}

"before" is RecBole as shipped (anomaly detection switched on by sine.py, torch's default
{speed['default_threads']} threads); "after" is recbole-hsuga's default.
"""
    out = REPO / "benchmarks" / "results" / f"baselines-{args.dataset}.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
