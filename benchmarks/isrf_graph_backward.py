"""ISRF's training step with its LightGCN backward against ``torch.sparse.mm``'s, in one process.

    python benchmarks/isrf_graph_backward.py --dataset=amazon-beauty --steps=6 --rounds=3 \
        --MAX_ITEM_LIST_LENGTH=20 --out=benchmarks/results/isrf-graph-backward-amazon-beauty.md

ISRF propagates two graphs with LightGCN in every training step (4 layers each). The model's
sparse product multiplies by a transpose computed once (``isrf_graphs._SparseProduct``);
``torch.sparse.mm`` builds the transpose of a CSR matrix in every backward pass. The two
alternate for ``--rounds`` rounds of ``--steps`` training steps on the same batches (zero_grad,
loss, backward, Adam), so load changes hit both alike; the report gives the median step of
each and their ratio, and checks that both give the same gradients on the first batch.
Other ``--key=value`` settings go to the model's config.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.model import isrf_graphs
from recbole_hsuga.registry import get_model
from recbole_hsuga.runner import configure_threads, prepare_data

from common import first_batches, invocation, run_script, step_seconds

#: torch's own product, the baseline: ``_SparseProduct.apply``'s signature, transpose unused.
TORCH_PRODUCT = staticmethod(lambda adjacency, adjacency_t, x: torch.sparse.mm(adjacency, x))


def gradients(model, batch) -> list[torch.Tensor]:
    model.zero_grad()
    model.calculate_loss(batch).backward()
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args, settings = parser.parse_known_args()
    config = HSUGAConfig(model="ISRF", dataset=args.dataset, cmd_args=settings + ["--state=WARNING"])
    configure_threads(config)
    _, train, _, _ = prepare_data(config)
    model = get_model("ISRF")(config, train._dataset)
    model.train()
    batches = first_batches(train, args.steps)
    products = {"model (transpose once)": isrf_graphs._SparseProduct.apply, "torch.sparse.mm": TORCH_PRODUCT}

    # Same gradients either way (dropout off for the check: both passes must see the same masks).
    model.eval()
    grads = {}
    for name, product in products.items():
        isrf_graphs._SparseProduct.apply = product
        grads[name] = gradients(model, batches[0])
    largest = max(float((a - b).abs().max()) for a, b in zip(*grads.values()))
    model.train()

    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    seconds = {name: [] for name in products}
    for _ in range(args.rounds):
        for name, product in products.items():
            isrf_graphs._SparseProduct.apply = product
            seconds[name] += step_seconds(model, optimizer, model.calculate_loss, batches)
    isrf_graphs._SparseProduct.apply = products["model (transpose once)"]

    baseline = statistics.median(seconds["torch.sparse.mm"])
    lines = ["# ISRF's training step: LightGCN's backward with a transpose computed once, against torch.sparse.mm's",
             "",
             f"Produced by `{invocation('isrf_graph_backward.py')}` on {time.strftime('%Y-%m-%d')} "
             f"({torch.get_num_threads()} torch thread(s); the two alternate for {args.rounds} rounds of "
             f"{args.steps} steps of {config['train_batch_size']} rows on the same batches).",
             "",
             "| LightGCN product | median s / step | ratio to torch.sparse.mm |",
             "|---|---|---|"]
    for name, values in seconds.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.3f} | {median / baseline:.2f} |")
    lines += ["", f"Largest gradient difference between the two on the first batch (dropout off): {largest:.2e}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    run_script(main)
