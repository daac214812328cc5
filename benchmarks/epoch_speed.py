"""Training speed of one model before / after this package's CPU settings, in one process.

"before" is RecBole as shipped: autograd anomaly detection on (RecBole's sine.py turns it
on at import) and torch's default thread count. "after" is what recbole-hsuga runs with:
anomaly detection off and ``torch_num_threads`` threads. The variants alternate batch
blocks on the same data and model so that load from other processes hits both alike.

    python benchmarks/epoch_speed.py --model=SASRec --dataset=amazon-beauty --batches=40
"""

from __future__ import annotations

import argparse
import json

import torch

from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.registry import get_model
from recbole_hsuga.runner import prepare_data

from common import first_batches, run_script, timed_steps


def _time_batches(model, optimizer, batches, anomaly: bool, threads: int) -> float:
    torch.set_num_threads(threads)
    torch.autograd.set_detect_anomaly(anomaly)
    try:
        return timed_steps(model, optimizer, model.calculate_loss, batches)
    finally:
        torch.autograd.set_detect_anomaly(False)


def measure(model_name: str, dataset: str, n_batches: int, rounds: int, settings: list[str]) -> dict:
    config = HSUGAConfig(model=model_name, dataset=dataset, cmd_args=settings)
    _, train_data, _, _ = prepare_data(config)
    model = get_model(model_name)(config, train_data._dataset)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    batches = first_batches(train_data, n_batches)
    samples = sum(len(b) for b in batches)
    default_threads = torch.get_num_threads()
    tuned_threads = int(config["torch_num_threads"] or default_threads)
    variants = {
        "before (anomaly on, default threads)": (True, default_threads),
        "anomaly off, default threads": (False, default_threads),
        f"after (anomaly off, {tuned_threads} thread(s))": (False, tuned_threads),
    }
    totals = {name: 0.0 for name in variants}
    _time_batches(model, optimizer, batches[:2], False, tuned_threads)  # warm-up
    for _ in range(rounds):
        for name, (anomaly, threads) in variants.items():
            totals[name] += _time_batches(model, optimizer, batches, anomaly, threads)
    epoch_rows = len(train_data._dataset)
    report = {"model": model_name, "dataset": dataset, "batch_size": config["train_batch_size"],
              "batches_per_round": n_batches, "rounds": rounds, "default_threads": default_threads,
              "train_rows_per_epoch": epoch_rows, "variants": {}}
    for name, seconds in totals.items():
        per_sample = seconds / (samples * rounds)
        report["variants"][name] = {"samples_per_second": round(1 / per_sample, 1),
                                    "estimated_seconds_per_epoch": round(per_sample * epoch_rows, 1)}
    base = report["variants"][next(iter(variants))]["samples_per_second"]
    for entry in report["variants"].values():
        entry["speedup_vs_before"] = round(entry["samples_per_second"] / base, 2)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="SASRec")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args, settings = parser.parse_known_args()
    print(json.dumps(measure(args.model, args.dataset, args.batches, args.rounds, settings), indent=2))


if __name__ == "__main__":
    run_script(main)
