"""ISRF's cost in the CPU-sized configuration and in the paper's t5-small one, and its projection to a GPU.

    python benchmarks/isrf_cost.py --dataset=amazon-beauty --steps=3 --eval_batches=1

Both models are built as the CLI builds them (``runner.prepare_data``, the registry's trainer,
``prepare_training``'s prefix rows). The t5-small contender is ISRF with the width, depth, heads
and feed-forward width of t5-small (512, 6 + 6 blocks, 8 heads, 2,048) and its 32,128-token
output layer (the digit vocabulary's ids are the first rows; prompts are tokenised by the digit
vocabulary, about as many tokens per id as t5-small's SentencePiece pieces). Weights are random:
cost does not depend on them.

Per model, in one process and alternating, the script times ``--steps`` training steps
(zero_grad, ``calculate_loss``, backward, AdamW) and ``--eval_batches`` full-sort validation
batches (the constrained beam search), and counts their floating-point operations with
``torch.utils.flop_counter.FlopCounterMode`` (matrix products and attention; a product with a
sparse matrix, the LightGCNs' adjacency, counts 2 x its stored entries x the dense operand's
columns: the counter's own formulas skip its forward and count its backward as dense). Per epoch and per validation pass:
counted FLOPs x steps per epoch (or validation users). The GPU projection divides those FLOPs by
``--gpu_peak_tflops`` x ``--gpu_utilisation``: an assumption, stated in the report, not a
measurement (the default peak is an RTX 4090's dense FP32/TF32 rate, the paper's card).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import REPO, emit, first_batches, invocation, run_script
from model_step_cost import prepare_model
from torch.utils.flop_counter import FlopCounterMode



def matrix_product_flops(a: torch.Tensor, b: torch.Tensor, *args, **kwargs) -> int:
    """FLOPs of ``aten.mm``: ``2 m k n`` dense; ``2 nnz n`` with a sparse left or right operand."""
    if a.layout != torch.strided:
        return 2 * int(a._nnz()) * b.shape[1]
    if b.layout != torch.strided:
        return 2 * int(b._nnz()) * a.shape[0]
    return 2 * a.shape[0] * a.shape[1] * b.shape[1]


def sparse_addmm_flops(bias: torch.Tensor, sparse: torch.Tensor, dense: torch.Tensor, *args, **kwargs) -> int:
    """FLOPs of ``aten._sparse_addmm`` (``torch.sparse.mm``'s forward): ``2 nnz n``."""
    return 2 * int(sparse._nnz()) * dense.shape[1]


# the counter passes these the tensors, not their shapes
matrix_product_flops._get_raw = True
sparse_addmm_flops._get_raw = True
#: the counter's formulas with the sparse products counted by their stored entries
FLOP_FORMULAS = {torch.ops.aten.mm: matrix_product_flops, torch.ops.aten._sparse_addmm: sparse_addmm_flops}

T5_SMALL = "ISRF+isrf_d_model=512+isrf_layers=6+isrf_heads=8+isrf_d_ff=2048"
#: t5-small's vocabulary (output layer rows).
T5_SMALL_VOCABULARY = 32128


class Contender:
    """One ISRF configuration with its data, a fixed set of batches and its timings."""

    def __init__(self, spec: str, dataset: str, settings: list[str], steps: int, eval_batches: int,
                 vocabulary: int | None) -> None:
        self.spec = spec
        prepared = prepare_model(spec, dataset, settings, "isrf-cost")
        self.model, config, rows, valid_data = prepared.model, prepared.config, prepared.training_rows, prepared.valid_data
        if vocabulary:
            self.model.t5.resize_token_embeddings(vocabulary)
        self.steps_per_epoch = len(rows)
        self.validation_users = valid_data.sample_size  # one full-sort row per validation user
        self.batches = first_batches(rows, steps)
        self.eval_batches = first_batches(valid_data, eval_batches)
        self.rows_per_eval_batch = [len(batch[0]) for batch in self.eval_batches]
        self.parameters = sum(p.numel() for p in self.model.parameters())
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=float(config["learning_rate"]))
        self.step_seconds: list[float] = []
        self.eval_seconds: list[float] = []  # per validation user
        self.step_flops = self._count(self._train_step, self.batches[0])
        self.eval_flops = self._count(self._eval_batch, self.eval_batches[0]) / self.rows_per_eval_batch[0]

    def _train_step(self, batch) -> None:
        self.model.train()
        self.optimizer.zero_grad()
        self.model.calculate_loss(batch).backward()
        self.optimizer.step()

    @torch.no_grad()
    def _eval_batch(self, batch) -> None:
        self.model.eval()
        self.model.full_sort_predict(batch[0])

    @staticmethod
    def _count(step, batch) -> float:
        counter = FlopCounterMode(display=False, custom_mapping=FLOP_FORMULAS)
        with counter:
            step(batch)
        return float(counter.get_total_flops())

    def round(self) -> None:
        for batch in self.batches:
            started = time.perf_counter()
            self._train_step(batch)
            self.step_seconds.append(time.perf_counter() - started)
        for batch, rows in zip(self.eval_batches, self.rows_per_eval_batch):
            started = time.perf_counter()
            self._eval_batch(batch)
            self.eval_seconds.append((time.perf_counter() - started) / rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--eval_batches", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--eval_batch_size", type=int, default=64)
    parser.add_argument("--gpu_peak_tflops", type=float, default=82.6,
                        help="peak rate of the projected GPU (RTX 4090 dense FP32/TF32: 82.6)")
    parser.add_argument("--gpu_utilisation", type=float, default=0.2,
                        help="assumed share of that peak a 60M-parameter T5 sustains")
    parser.add_argument("--out", default=None)
    args, settings = parser.parse_known_args()
    settings = [f"--data_path={args.data_path}/", f"--eval_batch_size={args.eval_batch_size}", *settings]
    contenders = [Contender("ISRF", args.dataset, settings, args.steps, args.eval_batches, None),
                  Contender(T5_SMALL, args.dataset, settings, args.steps, args.eval_batches, T5_SMALL_VOCABULARY)]
    for index in range(args.rounds):
        for contender in contenders:
            contender.round()
        print(f"round {index + 1}/{args.rounds}: " + ", ".join(
            f"{c.spec} {statistics.median(c.step_seconds):.2f} s/step, "
            f"{1000 * statistics.median(c.eval_seconds):.0f} ms/validation user" for c in contenders), flush=True)

    rate = args.gpu_peak_tflops * 1e12 * args.gpu_utilisation
    base = contenders[0]
    lines = [f"# ISRF's cost on {args.dataset}: the CPU-sized T5 and t5-small, projected to a GPU", "",
             f"Produced by `{invocation('isrf_cost.py')}` on {time.strftime('%Y-%m-%d')} (2-core CPU, no GPU, "
             f"{torch.get_num_threads()} torch thread; the two alternate for {args.rounds} rounds of {args.steps} "
             f"training steps of {base.batches[0]['item_id'].numel()} rows and {args.eval_batches} full-sort "
             f"validation batch(es) of {base.rows_per_eval_batch[0]} users). FLOPs counted by "
             "`torch.utils.flop_counter` (products and attention; a sparse adjacency's product counted by its stored "
             "entries).", "",
             f"GPU projection = counted FLOPs / ({args.gpu_peak_tflops:g} TFLOP/s peak x {args.gpu_utilisation:g} "
             "assumed utilisation). The peak is an RTX 4090's dense FP32/TF32 rate (the paper's card); the "
             "utilisation is an assumption, not a measurement. The paper reports, for ISRF on Beauty on that card "
             "(three tasks per epoch: direct, sequential, explanation), 8m04s per training epoch and 8m22s for "
             "sequential inference (its Table 7).", "",
             "| configuration | parameters | steps / epoch | GFLOP / step | CPU s / step (ratio) | "
             "epoch: TFLOP, CPU h, GPU min (projected) | GFLOP / validation user | validation pass: CPU h, "
             "GPU s (projected) |", "|---|---|---|---|---|---|---|---|"]
    users = base.validation_users
    for c in contenders:
        step = statistics.median(c.step_seconds)
        per_user = statistics.median(c.eval_seconds)
        epoch_flops = c.step_flops * c.steps_per_epoch
        eval_flops = c.eval_flops * users
        lines.append(
            f"| {c.spec} | {c.parameters / 1e6:.1f} M | {c.steps_per_epoch} | {c.step_flops / 1e9:.1f} | "
            f"{step:.2f} ({step / statistics.median(base.step_seconds):.1f}) | "
            f"{epoch_flops / 1e12:.0f}, {step * c.steps_per_epoch / 3600:.1f}, {epoch_flops / rate / 60:.1f} | "
            f"{c.eval_flops / 1e9:.2f} | {per_user * users / 3600:.1f}, {eval_flops / rate:.1f} |")
    lines += ["", f"Validation users: {users} (the full-sort pass only; the sampled protocol's 101 candidates per user "
              "are scored by teacher forcing on top of it). A converged run is (epochs to the best validation score + the "
              "patience of 5) x (epoch + validation pass), plus one test pass.", "",
              "The beam search decodes one token per step for 30 beams per user, which keeps a GPU far below the "
              "utilisation a training step reaches, so the validation projection is a lower bound; the paper's "
              "measured 8m22s for sequential inference is the better guide there."]
    emit(lines, args.out)


if __name__ == "__main__":
    run_script(main)
