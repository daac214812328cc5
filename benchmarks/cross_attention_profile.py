"""Where a trained dual-view model's cross-attention looks from the last position, by input length.

    python benchmarks/cross_attention_profile.py \\
        benchmarks/results/raw/diagnose-dual-view-amazon-beauty/SASRecLLMESR-amazon-beauty-seed42-*.json

LLM-ESR's dual view (``recbole_hsuga.model.dual_view``) feeds its encoder the *outputs* of two
cross-attentions, with no residual (as released): the ID branch at position ``j`` is a mixture
of the ID embeddings of positions ``<= j``, weighted by how the semantic query at ``j`` matches
them, and the semantic branch the other way round. Unless the attention learns to stay on its
own position, the most recent item -- the strongest single signal for the next purchase on
amazon-beauty -- reaches the encoder diluted among the earlier ones, more the longer the input.

This script loads the run's selected checkpoint, runs its test inputs through the model and
reports, from the last input position (the one the score is read from) of each
cross-attention, averaged over users per input length bucket:

- ``own``: the attention weight on the last position itself (1 = the item passes unmixed);
- ``uniform``: what a uniform mixture over the input would give there (1 / length);
- ``effective items``: ``exp(entropy)`` of the weights, the number of items mixed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from common import REPO, InputError, emit, invocation, run_script
from trained_model import load_trained_run

#: input lengths at test (the training items and the validation item, capped by the window).
BUCKETS = [("1-5", 1, 5), ("6-10", 6, 10), ("11-19", 11, 19), ("20 (window full)", 20, 10**9)]


def profile(model, test_data) -> dict[str, dict[str, np.ndarray]]:
    """Per user: input length, and per cross-attention the own weight and effective items at the last position."""
    captured: dict[str, tuple] = {}
    hooks = [getattr(model, name).register_forward_pre_hook(
        lambda module, inputs, name=name: captured.__setitem__(name, inputs)) for name in
        ("semantic_to_id", "id_to_semantic")]
    lengths, rows = [], {name: {"own": [], "effective": []} for name in ("semantic_to_id", "id_to_semantic")}
    try:
        with torch.no_grad():
            for batch in test_data:
                interaction = batch[0]
                item_seq, item_seq_len = interaction[model.ITEM_SEQ], interaction[model.ITEM_SEQ_LEN]
                model.forward(item_seq, item_seq_len)
                last = (item_seq_len - 1).long()
                users = torch.arange(item_seq.size(0))
                lengths.append(item_seq_len.numpy())
                for name, (query, key_value, seq) in captured.items():
                    weights = getattr(model, name).attention_weights(query, key_value, seq)  # [B, h, L, L]
                    at_last = weights[users, :, last, :]  # [B, h, L]: the last query's weights
                    own = at_last[users, :, last].mean(dim=1)  # averaged over heads
                    entropy = -(at_last.clamp_min(1e-12).log() * at_last).sum(-1).mean(dim=1)
                    rows[name]["own"].append(own.numpy())
                    rows[name]["effective"].append(entropy.exp().numpy())
    finally:
        for hook in hooks:
            hook.remove()
    return {"length": np.concatenate(lengths),
            **{name: {key: np.concatenate(parts) for key, parts in cells.items()} for name, cells in rows.items()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", help="result JSON of a dual-view run (its checkpoint must still exist)")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    result, model, _, test_data, _ = load_trained_run(args.result, args.data_path)
    if not getattr(model, "dual_view", False):
        raise InputError(f"{result['model']} in {args.result} has no dual view (hsuga_backbone: id_only)")
    model.eval()
    cells = profile(model, test_data)
    length = cells["length"]
    lines = [f"# {result['model']} (seed {result['seed']}): cross-attention at the last input position", "",
             f"Produced by `{invocation('cross_attention_profile.py')}`; checkpoint "
             f"`{Path(result['checkpoint']).name}` (the run's selected epoch), test inputs. Cells: mean over users "
             "(and the 2 heads) of the weight the last position puts on itself, against 1 / length for a uniform "
             "mixture, and exp(entropy) of its weights (the number of items it mixes).", "",
             "| input length | users | ID branch: own | semantic branch: own | uniform | ID branch: effective items "
             "| semantic branch: effective items |", "|---|---:|---:|---:|---:|---:|---:|"]
    for label, low, high in [("all", 1, 10**9), *BUCKETS]:
        chosen = (length >= low) & (length <= high)
        if not chosen.any():
            continue
        ids, semantic = cells["semantic_to_id"], cells["id_to_semantic"]
        lines.append(f"| {label} | {int(chosen.sum())} | {ids['own'][chosen].mean():.3f} | "
                     f"{semantic['own'][chosen].mean():.3f} | {np.mean(1 / length[chosen]):.3f} | "
                     f"{ids['effective'][chosen].mean():.2f} | {semantic['effective'][chosen].mean():.2f} |")
    emit(lines, args.out)


if __name__ == "__main__":
    run_script(main)
