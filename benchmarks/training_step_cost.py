"""Seconds per training epoch of one backbone: prefix rows vs sequence rows, and what shortens a step.

    python benchmarks/training_step_cost.py --model=SASRec --dataset=amazon-beauty --steps=12 --rounds=3

In one process, on the same data, each variant trains ``--steps`` batches per round and
the variants alternate for ``--rounds`` rounds (so machine load hits all of them alike).
A step is forward + backward + Adam. The estimate of an epoch is the median step time
times the number of steps an epoch of that row layout takes. Variants:

* ``prefix``: RecBole's prefix rows and the model's own ``calculate_loss`` (the baseline);
* ``sequence``: one row per user window, loss at every position (``train_rows: sequence``);
* ``sequence+bf16``: the same under ``torch.autocast("cpu", torch.bfloat16)`` (RecBole's ``enable_amp``);
* ``sequence+no-dropout``: dropout probabilities 0 — not a training setting, the bound on
  what any cheaper dropout could save;
* ``sequence+compile``: ``torch.compile`` of the model's forward (steady state, compile time reported);
* ``sequence+2threads``: two torch threads instead of one.

Writes a markdown table (``--out``) with ms/step, estimated s/epoch and the ratio to ``prefix``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from common import emit, first_batches, run_script, step_seconds

from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.sequence_loader import TARGET_SEQ, SequenceTrainDataLoader, rows_layout
from recbole_hsuga.data.sequence_rows import build_rows
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.position_loss import position_outputs, position_ranking_loss
from recbole_hsuga.registry import get_model
from recbole_hsuga.runner import configure_threads, prepare_data

REPO = Path(__file__).resolve().parent.parent
VARIANTS = ("prefix", "sequence", "sequence+bf16", "sequence+no-dropout", "sequence+compile", "sequence+2threads")


def sequence_loss(model, batch, loss_type: str) -> torch.Tensor:
    outputs = position_outputs(model, batch["item_id_list"], batch["item_length"])
    targets = batch[TARGET_SEQ]
    row_items = torch.cat([batch["item_id_list"], targets], dim=1)
    return position_ranking_loss(outputs, targets, model.item_embedding.weight, loss_type, row_items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="SASRec")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", default=None)
    args, settings = parser.parse_known_args()
    variants = args.variants.split(",")
    config = HSUGAConfig(model=args.model, dataset=args.dataset, cmd_args=settings + ["--state=WARNING"])
    configure_threads(config)
    base_threads = torch.get_num_threads()
    _, train_data, valid_data, _ = prepare_data(config)
    history = TrainingHistory.from_dataloaders(train_data, valid_data)
    model_class = get_model(args.model)
    torch.manual_seed(0)
    model = model_class(config, train_data._dataset)
    rows = build_rows(history, rows_layout(model), int(config["MAX_ITEM_LIST_LENGTH"]),
                      int(config["train_window_stride"] or 0))
    sequence_loader = SequenceTrainDataLoader(config, train_data._dataset, rows)
    batch_size = int(config["train_batch_size"])
    steps_per_epoch = {"prefix": -(-len(train_data._dataset) // batch_size),
                       "sequence": -(-len(rows) // sequence_loader.rows_per_batch)}
    prefix_batches = first_batches(train_data, args.steps)
    sequence_batches = first_batches(sequence_loader, args.steps)
    loss_type = config["loss_type"]
    causal = rows_layout(model) == "causal"

    def seq_loss(m):
        return (lambda batch: sequence_loss(m, batch, loss_type)) if causal else m.calculate_loss

    no_dropout = model_class(config, train_data._dataset)
    no_dropout.load_state_dict(model.state_dict())
    for module in no_dropout.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    compiled_seconds = None
    compiled = None
    if "sequence+compile" in variants:
        compiled = model_class(config, train_data._dataset)
        compiled.load_state_dict(model.state_dict())
        compiled.forward = torch.compile(compiled.forward, dynamic=False)
        start = time.perf_counter()
        step_seconds(compiled, torch.optim.Adam(compiled.parameters(), lr=1e-3), seq_loss(compiled), sequence_batches[:2])
        compiled_seconds = time.perf_counter() - start

    plans = {
        "prefix": (model, prefix_batches, model.calculate_loss, False, base_threads),
        "sequence": (model, sequence_batches, seq_loss(model), False, base_threads),
        "sequence+bf16": (model, sequence_batches, seq_loss(model), True, base_threads),
        "sequence+no-dropout": (no_dropout, sequence_batches, seq_loss(no_dropout), False, base_threads),
        "sequence+compile": (compiled, sequence_batches, seq_loss(compiled) if compiled else None, False, base_threads),
        "sequence+2threads": (model, sequence_batches, seq_loss(model), False, 2),
    }
    optimizers = {}
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for round_index in range(args.rounds):
        for name in variants:
            net, batches, loss_fn, autocast, threads = plans[name]
            torch.set_num_threads(threads)
            optimizer = optimizers.setdefault(id(net), torch.optim.Adam(net.parameters(), lr=1e-3))
            timings[name].extend(step_seconds(net, optimizer, loss_fn, batches, autocast))
            torch.set_num_threads(base_threads)
        print(f"round {round_index + 1}/{args.rounds}: " + ", ".join(
            f"{name} {1000 * statistics.median(t):.0f} ms" for name, t in timings.items()), flush=True)

    base = statistics.median(timings["prefix"]) * steps_per_epoch["prefix"] if "prefix" in timings else None
    lines = [f"# Training step cost: {args.model} on {args.dataset}", "",
             f"Produced by `python benchmarks/training_step_cost.py {' '.join(__import__('sys').argv[1:])}` on "
             f"{time.strftime('%Y-%m-%d')} (2-core CPU, no GPU, {base_threads} torch thread(s) unless the variant says "
             f"otherwise; variants alternate on the same batches for {args.rounds} rounds of {args.steps} steps).", "",
             f"Batch {batch_size}, loss {loss_type}, MAX_ITEM_LIST_LENGTH {config['MAX_ITEM_LIST_LENGTH']}; "
             f"prefix rows per epoch {len(train_data._dataset)}, sequence rows per epoch {len(rows)} "
             f"({len(train_data._dataset) / len(rows):.2f}x fewer)."
             + (f" torch.compile took {compiled_seconds:.1f} s for its first two steps." if compiled_seconds else ""), "",
             "| variant | median ms / step | est. s / epoch | ratio vs prefix |", "|---|---|---|---|"]
    for name, values in timings.items():
        layout = "prefix" if name == "prefix" else "sequence"
        epoch = statistics.median(values) * steps_per_epoch[layout]
        ratio = f"{epoch / base:.3f}" if base else "-"
        lines.append(f"| {name} | {1000 * statistics.median(values):.1f} | {epoch:.1f} | {ratio} |")
    emit(lines, args.out)


if __name__ == "__main__":
    run_script(main)
