"""A finished benchmark run's model, rebuilt and loaded from its best checkpoint, for scripts that
test a trained model in ways its run did not (``view_scores.py``, ``grasp_gates.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from common import GROUPS, REPO, load_result

from recbole_hsuga.compat import load_recbole_checkpoint
from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.runner import build_model_and_trainer, configure_threads, prepare_data

#: settings of a run that shape the model or its data (the rest is training-only).
MODEL_KEYS = ["semantic_suffix", "item_semantic_suffix", "hsuga_backbone", "hidden_size", "inner_size", "n_layers",
              "n_heads", "MAX_ITEM_LIST_LENGTH", "seed", "hsu_fusion", "eval_sampled_negatives", "head_fraction",
              "grasp_user_suffix", "grasp_user_neighbour_suffix", "grasp_item_suffix", "grasp_item_neighbour_suffix",
              "grasp_missing", "grasp_attention", "grasp_similar", "grasp_global", "grasp_mlp_layers",
              "grasp_id_embedding", "grasp_score_chunk", "dual_view_residual"]


class TrainedRun(NamedTuple):
    result: dict  # the run's result file
    model: Any  # the model with the selected epoch's weights
    trainer: Any  # the project's trainer for that model (evaluator with head/tail groups)
    test_data: Any  # the run's test loader (same fixed negatives, same full ranking)
    valid_data: Any  # the run's validation loader


def load_trained_run(result_path: str | Path, data_path: str | Path = REPO / "dataset",
                     scratch_dir: str | Path = REPO / "saved" / "trained-model") -> TrainedRun:
    """Rebuild the data and model of the run ``result_path`` describes and load the checkpoint it names.

    ``scratch_dir`` is the trainer's checkpoint folder, which RecBole creates; nothing is saved there."""
    result = load_result(Path(result_path))
    settings = {key: result["config"][key] for key in MODEL_KEYS if result["config"].get(key) is not None}
    config = HSUGAConfig(model=result["model"], dataset=result["dataset"],
                         config_dict={**settings, "data_path": f"{data_path}/", "state": "WARNING",
                                      "checkpoint_dir": str(scratch_dir)})
    configure_threads(config)
    _, train_data, valid_data, test_data = prepare_data(config)
    model, trainer = build_model_and_trainer(config, train_data._dataset)
    checkpoint = load_recbole_checkpoint(result["checkpoint"], map_location="cpu")
    model.load_state_dict(checkpoint["state_dict"])
    trainer.set_training_history(TrainingHistory.from_dataloaders(train_data, valid_data))
    return TrainedRun(result, model, trainer, test_data, valid_data)


def evaluation_table(metrics_by_name: dict[str, dict], protocol: str, first_column: str) -> list[str]:
    """Markdown lines ``| name | HR@10 / NDCG@10 per group |`` from the trainer's ``evaluate``
    results (flat keys ``protocol/group/metric``), one row per name."""
    lines = [f"| {first_column} | " + " | ".join(GROUPS) + " |", "|---|" + "---|" * len(GROUPS)]
    for name, values in metrics_by_name.items():
        cells = [f"{values[f'{protocol}/{g}/hit@10']:.4f} / {values[f'{protocol}/{g}/ndcg@10']:.4f}" for g in GROUPS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines
