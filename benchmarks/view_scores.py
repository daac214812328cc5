"""A trained dual-view model (LLM-ESR, HSUGA) tested with each view's share of its score.

    python benchmarks/view_scores.py \
        benchmarks/results/raw/compare-llm-enhanced-amazon-beauty/SASRecLLMESR/SASRecLLMESR-amazon-beauty-seed42-*.json

A dual-view score is the sum of two dot products, ``h_id · e_id(j) + h_sem · adapter(x_sem(j))``
(:class:`recbole_hsuga.model.dual_view.DualViewMixin`). This script loads the run's
best checkpoint (the one its result file names), rebuilds the data as the run did, and
tests the model three times with the project's evaluator: with the full score, with the
ID view's term alone and with the semantic view's term alone; both protocols, all users
and the head/tail groups. It shows which view puts test targets in the top 10, and for
which items.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from common import GROUPS, REPO, emit, load_result

from recbole_hsuga.compat import load_recbole_checkpoint
from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.runner import build_model_and_trainer, configure_threads, prepare_data

#: settings of the run that shape the model or its data (the rest is training-only).
MODEL_KEYS = ["semantic_suffix", "item_semantic_suffix", "hsuga_backbone", "hidden_size", "inner_size", "n_layers",
              "n_heads", "MAX_ITEM_LIST_LENGTH", "seed", "hsu_fusion", "eval_sampled_negatives", "head_fraction"]


def view_scorer(model, view: str):
    """``full_sort_predict`` restricted to one view's term (``both`` keeps the model's own)."""
    original = model.full_sort_predict
    if view == "both":
        return original
    half = model.view_size

    def scores(interaction):
        users = model.user_representation(interaction)  # [B, 2H] = [h_id ; h_sem]
        items = model.item_representations()  # [n_items, 2H] = [e_id ; adapter(x_sem)]
        part = slice(0, half) if view == "id" else slice(half, 2 * half)
        return users[:, part] @ items[:, part].t()

    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", help="result JSON of a dual-view run (its checkpoint must still exist)")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    result = load_result(Path(args.result))
    settings = {key: result["config"][key] for key in MODEL_KEYS if result["config"].get(key) is not None}
    config = HSUGAConfig(model=result["model"], dataset=result["dataset"],
                         config_dict={**settings, "data_path": f"{args.data_path}/", "state": "WARNING",
                                      "checkpoint_dir": str(REPO / "saved" / "view-scores")})
    configure_threads(config)
    _, train_data, valid_data, test_data = prepare_data(config)
    model, trainer = build_model_and_trainer(config, train_data._dataset)
    checkpoint = load_recbole_checkpoint(result["checkpoint"], map_location="cpu")
    model.load_state_dict(checkpoint["state_dict"])
    if not getattr(model, "dual_view", False):
        raise SystemExit(f"{result['model']} in {args.result} is not a dual-view model")
    trainer.set_training_history(TrainingHistory.from_dataloaders(train_data, valid_data))
    lines = [f"# {result['model']} (seed {result['seed']}) tested with each view's term of the score", "",
             f"Produced by `python benchmarks/view_scores.py {' '.join(sys.argv[1:])}`; checkpoint "
             f"`{Path(result['checkpoint']).name}` (the run's selected epoch). Cells: test HR@10 / NDCG@10.", ""]
    for protocol in ("full", "sampled"):
        lines += [f"**{protocol} ranking**", "", "| score | " + " | ".join(GROUPS) + " |", "|---|" + "---|" * len(GROUPS)]
        for view in ("both", "id", "semantic"):
            model.full_sort_predict = view_scorer(model, view)
            with torch.no_grad():
                metrics = trainer.evaluate(test_data, load_best_model=False)
            model.__dict__.pop("full_sort_predict", None)
            cells = [f"{metrics[f'{protocol}/{g}/hit@10']:.4f} / {metrics[f'{protocol}/{g}/ndcg@10']:.4f}" for g in GROUPS]
            lines.append(f"| {view} | " + " | ".join(cells) + " |")
        lines.append("")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
