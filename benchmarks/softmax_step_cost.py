"""Seconds per training step of full softmax against sampled softmax, in one process.

    python benchmarks/softmax_step_cost.py --model=SASRec --steps=10 --rounds=3 \
        --variants=full,position:256,batch:256 --train_batch_size=256 --train_batch_unit=rows

Every variant trains the same sequence-row batches (``--key=value`` settings go to the config as
on the CLI) with its own copy of the same initial weights; the variants alternate for
``--rounds`` rounds so that machine load hits all of them alike. A variant is ``full`` (CE over
every item) or ``<per>:<N>`` (``softmax_negatives_per`` and ``softmax_negatives``). A step is
forward + backward + Adam. Prints a markdown table (``--out`` writes it) with the median
ms / step, the estimated seconds per epoch and the ratio to the first variant.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time

import torch
from common import emit, first_batches, run_script, step_seconds

from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.sequence_loader import SequenceTrainDataLoader, rows_layout
from recbole_hsuga.data.sequence_rows import build_rows
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.errors import InputError
from recbole_hsuga.position_loss import sequence_rows_loss
from recbole_hsuga.runner import configure_threads, prepare_data
from recbole_hsuga.sampled_softmax import SCOPES, NegativeSampler


def parse_variant(spec: str) -> tuple[str, int]:
    """``"full"`` -> ``("full", 0)``; ``"batch:256"`` -> ``("batch", 256)``."""
    if spec == "full":
        return spec, 0
    per, _, count = spec.partition(":")
    if per not in SCOPES or not count.isdigit() or int(count) < 1:
        raise InputError(f"--variants: {spec!r} must be 'full' or '<per>:<N>' with per in {SCOPES} and N >= 1")
    return per, int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="SASRec")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="full,position:256,batch:256")
    parser.add_argument("--out", default=None)
    args, settings = parser.parse_known_args()
    variants = {spec: parse_variant(spec) for spec in args.variants.split(",")}
    config = HSUGAConfig(model=args.model, dataset=args.dataset,
                         cmd_args=settings + ["--state=WARNING", "--train_rows=sequence", "--loss_type=CE"])
    configure_threads(config)
    _, train_data, valid_data, _ = prepare_data(config)
    history = TrainingHistory.from_dataloaders(train_data, valid_data)
    torch.manual_seed(0)
    base_model = config.model_class(config, train_data._dataset)
    rows = build_rows(history, rows_layout(base_model), int(config["MAX_ITEM_LIST_LENGTH"]),
                      int(config["train_window_stride"] or 0))
    loader = SequenceTrainDataLoader(config, train_data._dataset, rows)
    batches = first_batches(loader, args.steps)
    steps_per_epoch = -(-len(rows) // loader.rows_per_batch)

    plans = {}
    for spec, (per, count) in variants.items():
        model = copy.deepcopy(base_model)
        model.softmax_sampler = NegativeSampler.uniform(count, model.n_items, per) if count else None
        plans[spec] = (model, torch.optim.Adam(model.parameters(), lr=1e-3))
    timings: dict[str, list[float]] = {spec: [] for spec in variants}
    for round_index in range(args.rounds):
        for spec, (model, optimizer) in plans.items():
            timings[spec].extend(step_seconds(model, optimizer, lambda batch, m=model: sequence_rows_loss(m, batch),
                                              batches))
        print(f"round {round_index + 1}/{args.rounds}: " + ", ".join(
            f"{spec} {1000 * statistics.median(t):.0f} ms" for spec, t in timings.items()), flush=True)

    first = next(iter(variants))
    base = statistics.median(timings[first])
    lines = [f"# Softmax step cost: {args.model} on {args.dataset}", "",
             f"Produced by `python benchmarks/softmax_step_cost.py {' '.join(sys.argv[1:])}` on "
             f"{time.strftime('%Y-%m-%d')} (2-core CPU, no GPU, {torch.get_num_threads()} torch thread(s); the "
             f"variants alternate on the same {len(batches)} batches for {args.rounds} rounds).", "",
             f"{base_model.n_items - 1} items, MAX_ITEM_LIST_LENGTH {config['MAX_ITEM_LIST_LENGTH']}, "
             f"{loader.rows_per_batch} sequence rows per batch, {steps_per_epoch} steps per epoch.", "",
             f"| variant | median ms / step | est. s / epoch | ratio vs {first} |", "|---|---|---|---|"]
    for spec, values in timings.items():
        median = statistics.median(values)
        lines.append(f"| {spec} | {1000 * median:.1f} | {median * steps_per_epoch:.1f} | {median / base:.3f} |")
    emit(lines, args.out)


if __name__ == "__main__":
    run_script(main)
