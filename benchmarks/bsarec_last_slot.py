"""BSARec's training step with its last block run at the last slot only, against the full encoder, in one process.

    python benchmarks/bsarec_last_slot.py --dataset=amazon-beauty --steps=6 --rounds=3 \
        --MAX_ITEM_LIST_LENGTH=50 --learning_rate=0.0005 \
        --out=benchmarks/results/bsarec-last-slot-amazon-beauty.md

BSARec reads one slot of its encoder (the last). :meth:`BSARec.encode_last` runs every block
but the last over all ``L`` slots and the last block at that slot only;
the baseline runs the whole encoder and keeps its last slot (``encode(...)[:, -1]``, the model
before the change). The two alternate for ``--rounds`` rounds of ``--steps`` training steps on
the same prefix-row batches (zero_grad, CE loss, backward, Adam), so load changes hit both alike;
the report gives the median step of each, their ratio, and the largest difference in outputs and
gradients on the first batch with dropout off (the same function, so round-off only).
Other ``--key=value`` settings go to the model's config.
"""

from __future__ import annotations

import time
import types

import torch

from recbole_hsuga.model.bsarec import left_pad

from common import (alternating_step_seconds, emit, invocation, loss_gradients, median_ratio_rows, run_script,
                    two_way_step_setup)

MODEL = "last block at the last slot (model)"
BASELINE = "full encoder, last slot kept (baseline)"


def full_encoder_forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
    """The baseline: every block at every slot, then the last slot ``[B, H]``."""
    return self.encode(left_pad(item_seq, item_seq_len))[:, -1]


def ways(model) -> dict:
    """Switches of ``model.forward`` (which ``calculate_loss`` calls) to the model's own or the baseline."""
    def own() -> None:
        vars(model).pop("forward", None)

    def full() -> None:
        model.forward = types.MethodType(full_encoder_forward, model)

    return {MODEL: own, BASELINE: full}


def main() -> None:
    args, config, model, batches = two_way_step_setup(__doc__, "BSARec")
    switches = ways(model)

    # Same function: outputs and gradients agree up to round-off (dropout off, so no masks differ).
    model.eval()
    outputs, gradients = {}, {}
    for name, switch in switches.items():
        switch()
        with torch.no_grad():
            outputs[name] = model(batches[0][model.ITEM_SEQ], batches[0][model.ITEM_SEQ_LEN])
        gradients[name] = loss_gradients(model, batches[0])
    output_diff = float((outputs[MODEL] - outputs[BASELINE]).abs().max())
    gradient_diff = max(float((a - b).abs().max()) for a, b in zip(gradients[MODEL], gradients[BASELINE]))

    seconds = alternating_step_seconds(model, config["learning_rate"], switches, batches, args.rounds)
    emit([
        "# BSARec's training step: the last block at the last slot only, against the full encoder",
        "",
        f"Produced by `{invocation('bsarec_last_slot.py')}` on {time.strftime('%Y-%m-%d')} "
        f"({torch.get_num_threads()} torch thread(s); the two alternate for {args.rounds} rounds of "
        f"{args.steps} steps of {config['train_batch_size']} prefix rows, window "
        f"{config['MAX_ITEM_LIST_LENGTH']}, {config['n_layers']} blocks, on the same batches).",
        "",
        "| encoder | median s / step | ratio to the full encoder |",
        "|---|---|---|",
        *median_ratio_rows(seconds, BASELINE),
        "",
        f"Largest difference on the first batch with dropout off: outputs {output_diff:.2e}, "
        f"gradients {gradient_diff:.2e}.",
    ], args.out)


if __name__ == "__main__":
    run_script(main)
