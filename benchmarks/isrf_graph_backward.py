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

import time

import torch

from recbole_hsuga.model import isrf_graphs

from common import (alternating_step_seconds, emit, invocation, loss_gradients, median_ratio_rows, run_script,
                    two_way_step_setup)

#: the model's product, which multiplies by a transpose computed once.
MODEL_PRODUCT = isrf_graphs._SparseProduct.apply
#: torch's own product, the baseline: ``_SparseProduct.apply``'s signature, transpose unused.
TORCH_PRODUCT = staticmethod(lambda adjacency, adjacency_t, x: torch.sparse.mm(adjacency, x))


def use_product(product) -> None:
    isrf_graphs._SparseProduct.apply = product


def main() -> None:
    args, config, model, batches = two_way_step_setup(__doc__, "ISRF")
    switches = {"model (transpose once)": lambda: use_product(MODEL_PRODUCT),
                "torch.sparse.mm": lambda: use_product(TORCH_PRODUCT)}

    # Same gradients either way (dropout off for the check: both passes must see the same masks).
    model.eval()
    grads = {}
    for name, switch in switches.items():
        switch()
        grads[name] = loss_gradients(model, batches[0])
    largest = max(float((a - b).abs().max()) for a, b in zip(*grads.values()))

    seconds = alternating_step_seconds(model, config["learning_rate"], switches, batches, args.rounds)
    emit([
        "# ISRF's training step: LightGCN's backward with a transpose computed once, against torch.sparse.mm's",
        "",
        f"Produced by `{invocation('isrf_graph_backward.py')}` on {time.strftime('%Y-%m-%d')} "
        f"({torch.get_num_threads()} torch thread(s); the two alternate for {args.rounds} rounds of "
        f"{args.steps} steps of {config['train_batch_size']} rows on the same batches).",
        "",
        "| LightGCN product | median s / step | ratio to torch.sparse.mm |",
        "|---|---|---|",
        *median_ratio_rows(seconds, "torch.sparse.mm"),
        "",
        f"Largest gradient difference between the two on the first batch (dropout off): {largest:.2e}.",
    ], args.out)


if __name__ == "__main__":
    run_script(main)
