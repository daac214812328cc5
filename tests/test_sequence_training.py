"""Training with ``train_rows: sequence``: RecBole's models and the HSUGA models, GAA's students
and weights, checkpoints across modes, and the CLI."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from conftest import REPO_ROOT, TINY_RUN, build_run
from recbole_hsuga.compat import load_recbole_checkpoint
from recbole_hsuga.data.sequence_loader import LAST_WINDOW, SequenceTrainDataLoader
from recbole_hsuga.gaa.loss import NeighbourCSR, self_distillation_loss
from recbole_hsuga.registry import get_model, get_trainer
from recbole_hsuga.trainer import prefix_row_weights

DATASET = "toy-beauty"


def build(root: Path, tmp_path: Path, model: str, **overrides):
    return build_run(root, DATASET, model, {
        **TINY_RUN, "checkpoint_dir": str(tmp_path / "saved"), "train_batch_size": 64, "eval_batch_size": 256,
        "MAX_ITEM_LIST_LENGTH": 8, "hidden_size": 16, "inner_size": 32, "embedding_size": 16, "gaa_k_active": 3,
        "gaa_k_longtail": 5, "seed": 7, "train_rows": "sequence", **overrides})


@pytest.mark.parametrize("model,loss_type", [("SASRec", "CE"), ("SASRec", "BPR"), ("GRU4Rec", "CE"),
                                             ("BERT4Rec", "CE"), ("SASRecHSUGA", "CE"), ("GRU4RecHSUGA", "BPR"),
                                             ("BERT4RecHSUGA", "CE")])
def test_each_model_trains_an_epoch_on_sequence_rows_and_reloads(toy_with_vectors, tmp_path, model, loss_type):
    config, train_data, valid_data, test_data, net, trainer = build(toy_with_vectors, tmp_path, model,
                                                                   loss_type=loss_type)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    assert trainer.n_train_rows < len(train_data._dataset)  # fewer rows than RecBole's prefix rows
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items())
    loss = trainer.curve[0]["train_loss"][0]
    assert np.isfinite(loss) and loss > 0
    scores = trainer.evaluate(test_data, load_best_model=True)
    # The checkpoint has RecBole's own layout: the plain class loads it and scores the same.
    fresh = get_model(model)(config, train_data._dataset)
    fresh.load_state_dict(load_recbole_checkpoint(trainer.saved_model_file)["state_dict"])
    reloaded = get_trainer(config["MODEL_TYPE"], model, type(fresh))(config, fresh)
    reloaded.set_training_history(trainer.training_history)
    assert reloaded.evaluate(test_data, load_best_model=False) == scores


@pytest.mark.parametrize("unit", ["prefix_rows", "rows"])
def test_log_states_the_rows_and_targets_per_batch(toy_with_vectors, tmp_path, caplog, unit):
    _, train_data, valid_data, _, _, trainer = build(toy_with_vectors, tmp_path, "SASRec", train_batch_size=16,
                                                     train_batch_unit=unit)
    trainer.logger.addHandler(caplog.handler)  # RecBole's logger does not propagate to the root logger
    caplog.set_level(logging.INFO, logger=trainer.logger.name)
    try:
        rows = trainer.prepare_training(train_data, valid_data)
    finally:
        trainer.logger.removeHandler(caplog.handler)
    n_targets, n_rows, n_prefix = int((rows.rows.targets > 0).sum()), len(rows.rows), len(train_data._dataset)
    # Every prefix row is one target, so the two counts agree for users that fit one window.
    assert n_targets == n_prefix
    per_batch = round(16 * n_rows / n_prefix) if unit == "prefix_rows" else 16
    assert rows.rows_per_batch == per_batch
    assert (f"{n_rows} rows ({n_prefix} prefix rows), {per_batch} rows per batch (train_batch_size=16, "
            f"train_batch_unit={unit}), {n_targets} training targets, about {n_targets / n_rows * per_batch:.0f} "
            "per batch") in caplog.text


def test_prefix_checkpoint_loads_into_a_sequence_run(toy_with_vectors, tmp_path):
    _, train_data, valid_data, _, net, trainer = build(toy_with_vectors, tmp_path, "SASRec", train_rows="prefix")
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    _, _, _, _, other, _ = build(toy_with_vectors, tmp_path, "SASRec")
    other.load_state_dict(load_recbole_checkpoint(trainer.saved_model_file)["state_dict"])


def test_gaa_students_are_one_per_user_per_epoch(toy_with_vectors, tmp_path):
    _, train_data, valid_data, _, net, trainer = build(toy_with_vectors, tmp_path, "SASRecHSUGA", loss_type="CE",
                                                       MAX_ITEM_LIST_LENGTH=4)
    trainer.fit(train_data, valid_data, saved=False, show_progress=False)  # builds history and neighbours
    rows = trainer.training_rows(train_data)
    assert isinstance(rows, SequenceTrainDataLoader)
    assert (np.bincount(rows.rows.users) > 1).any(), "some users need several windows at this length"
    students = []
    net.eval()
    for batch in rows:
        _, student, users = net.ranking_loss_and_students(batch)
        assert student.shape[0] == int(batch[LAST_WINDOW].sum())
        expected = net.encode_sequence(batch["item_id_list"][batch[LAST_WINDOW]],
                                       batch["item_length"][batch[LAST_WINDOW]])
        torch.testing.assert_close(student, expected, rtol=1e-5, atol=1e-5)
        students.extend(users.tolist())
    assert sorted(students) == sorted(set(rows.rows.users.tolist()))  # every user exactly once
    assert trainer._row_weights is None  # sequence rows need no per-user reweighting


def test_prefix_rows_weigh_gaa_per_user():
    """Hand-built: user 1 owns three rows, user 2 one; each user must weigh the same."""
    class Rows:
        uid_field = "user_id"
        inter_feat = {"user_id": torch.tensor([1, 1, 1, 2])}

    weights = prefix_row_weights(Rows(), n_users=3)
    torch.testing.assert_close(weights, torch.tensor([0.0, 1 / 3, 1.0]))
    teacher = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    neighbours = NeighbourCSR.from_numpy(np.array([0, 0, 1, 2, 2]), np.array([3, 3]))  # 1 -> 3, 2 -> 3
    users = torch.tensor([1, 1, 1, 2])
    student = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [3.0, 3.0]], requires_grad=True)
    # distances (mean over d): user 1 rows 0 each, user 2 row 4.
    plain = self_distillation_loss(student, users, teacher, neighbours, reduction="mean")
    weighted = self_distillation_loss(student, users, teacher, neighbours, reduction="mean",
                                      weights=weights[users])
    assert plain.item() == pytest.approx(1.0)  # (0 + 0 + 0 + 4) / 4 rows
    assert weighted.item() == pytest.approx(2.0)  # (0 + 4) / 2 users
    weighted.backward()
    assert student.grad is not None and float(student.grad[:3].abs().sum()) == 0.0


def test_sequence_rows_refuse_a_model_without_positions(toy_with_vectors, tmp_path):
    from recbole_hsuga.errors import InputError

    _, train_data, valid_data, _, _, trainer = build(toy_with_vectors, tmp_path, "Caser")
    with pytest.raises(InputError, match="train_rows: sequence supports"):
        trainer.fit(train_data, valid_data, saved=False, show_progress=False)


@pytest.mark.parametrize("model", ["SASRec", "SASRecHSUGA"])
def test_cli_trains_in_sequence_mode(fast_settings, toy_with_vectors, tmp_path, model):
    settings = {**fast_settings, "data_path": str(toy_with_vectors), "train_rows": "sequence", "loss_type": "CE"}
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "run_recbole_hsuga.py"), f"--model={model}",
                           f"--dataset={DATASET}", *[f"--{k}={v}" for k, v in settings.items() if k != "state"]],
                          capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = (tmp_path / "results").glob(f"{model}-{DATASET}-seed42-*.json")
    result = json.loads(path.read_text())
    assert result["config"]["train_rows"] == "sequence" and result["timings"]["epochs"] == 1
    assert result["metrics"]["test"]["full"]["all"]["n_users"] == 300
