"""A trained LLM-enhanced model tested with each term of its score.

    python benchmarks/view_scores.py \
        benchmarks/results/raw/compare-llm-enhanced-amazon-beauty/SASRecLLMESR/SASRecLLMESR-amazon-beauty-seed42-*.json

Both kinds of model score an item with a sum of an ID term and a semantic term, computed
from the same trained user representation:

- dual view (LLM-ESR, HSUGA; :class:`recbole_hsuga.model.dual_view.DualViewMixin`):
  ``h_id · e_id(j) + h_sem · adapter(x_sem(j))``;
- GRASP (``grasp_id_embedding: add``; :class:`recbole_hsuga.model.grasp.HolisticItems`):
  ``o · e_id(j) + o · MLP(gated levels of j's semantic vectors)``.

This script loads the run's best checkpoint (the one its result file names), rebuilds the
data as the run did, and tests the model three times with the project's evaluator: with
the full score, with the ID term alone and with the semantic term alone; both protocols,
all users and the head/tail groups. It shows which term puts test targets in the top 10,
and for which items. The encoder is untouched: each term is scored from the same ``o``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from common import REPO, InputError, emit, invocation, run_script
from trained_model import evaluation_table, load_trained_run


def view_scorer(model, view: str):
    """``full_sort_predict`` restricted to one term of the score (``both`` keeps the model's own)."""
    original = model.full_sort_predict
    if view == "both":
        return original
    if getattr(model, "dual_view", False):
        half = model.view_size

        def scores(interaction):
            users = model.user_representation(interaction)  # [B, 2H] = [h_id ; h_sem]
            items = model.item_representations()  # [n_items, 2H] = [e_id ; adapter(x_sem)]
            part = slice(0, half) if view == "id" else slice(half, 2 * half)
            return users[:, part] @ items[:, part].t()

        return scores

    def grasp_scores(interaction):
        output = model.sequence_output(interaction)  # [B, H]
        if view == "id":
            return output @ model.item_embedding.weight[: model.n_items].t()
        return model.holistic.scores(output, model.user_ids(interaction), model.grasp_score_chunk)

    return grasp_scores


def split_score(model) -> bool:
    """Whether the model's score is an ID term plus a semantic term that can be tested apart."""
    return getattr(model, "dual_view", False) or getattr(model, "grasp_id_embedding", None) == "add"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", help="result JSON of a dual-view run (its checkpoint must still exist)")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    result, model, trainer, test_data, _ = load_trained_run(args.result, args.data_path)
    if not split_score(model):
        raise InputError(f"{result['model']} in {args.result} has no separate ID and semantic terms "
                         "(a dual-view model, or GRASP with grasp_id_embedding: add)")
    lines = [f"# {result['model']} (seed {result['seed']}) tested with each term of its score", "",
             f"Produced by `{invocation('view_scores.py')}`; checkpoint "
             f"`{Path(result['checkpoint']).name}` (the run's selected epoch). Cells: test HR@10 / NDCG@10.", ""]
    metrics = {}
    for view in ("both", "id", "semantic"):  # one evaluation per view gives both protocols
        model.full_sort_predict = view_scorer(model, view)
        with torch.no_grad():
            metrics[view] = trainer.evaluate(test_data, load_best_model=False)
        model.__dict__.pop("full_sort_predict", None)
    for protocol in ("full", "sampled"):
        lines += [f"**{protocol} ranking**", "", *evaluation_table(metrics, protocol, "score"), ""]
    emit(lines, args.out)


if __name__ == "__main__":
    run_script(main)
