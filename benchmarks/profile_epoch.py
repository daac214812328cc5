"""Where one training epoch spends its time (SASRec by default, any model with ``--model``):
cProfile over a block of batches.

    python benchmarks/profile_epoch.py --dataset=amazon-beauty --batches=20

Prints the data-loading time per batch, the train-step time split into forward / backward /
optimizer, and cProfile's top entries by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

import torch

from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.registry import get_model
from recbole_hsuga.runner import configure_threads, prepare_data

from common import first_batches, run_script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="SASRec")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=1,
                        help="steps before profiling: lazily built state (HIPHOP's session bank) is not counted")
    args, settings = parser.parse_known_args()
    config = HSUGAConfig(model=args.model, dataset=args.dataset, cmd_args=settings + ["--state=WARNING"])
    configure_threads(config)
    _, train, _, _ = prepare_data(config)
    model = get_model(args.model)(config, train._dataset)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    model.train()

    start = time.perf_counter()
    batches = first_batches(train, args.batches)
    load = (time.perf_counter() - start) / len(batches)

    def step(batch) -> tuple[float, float, float, float]:
        t0 = time.perf_counter()
        optimizer.zero_grad()
        loss = model.calculate_loss(batch)
        if isinstance(loss, tuple):  # RecBole's trainer sums a tuple of losses (HIPHOP's, GRASP's)
            loss = sum(loss)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        return t0, t1, t2, time.perf_counter()

    for batch in batches[:args.warmup]:
        step(batch)
    phases = {"forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    profiler = cProfile.Profile()
    profiler.enable()
    for batch in batches:
        t0, t1, t2, t3 = step(batch)
        phases["forward"] += t1 - t0
        phases["backward"] += t2 - t1
        phases["optimizer"] += t3 - t2
    profiler.disable()
    total = sum(phases.values())
    print(f"{args.model} on {args.dataset}: batch {config['train_batch_size']}, "
          f"MAX_ITEM_LIST_LENGTH {config['MAX_ITEM_LIST_LENGTH']}, {torch.get_num_threads()} thread(s), "
          f"anomaly detection {'on' if torch.is_anomaly_enabled() else 'off'}")
    print(f"data loading: {1000 * load:.1f} ms/batch; train step: {1000 * total / len(batches):.0f} ms/batch")
    for name, seconds in phases.items():
        print(f"  {name:<9} {100 * seconds / total:5.1f}%")
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(12)
    print(stream.getvalue())


if __name__ == "__main__":
    run_script(main)
