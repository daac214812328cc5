"""Segment rows (``train_rows: segment``): one random segment per user per epoch, as ISRF's
released sampler draws them, served through RecBole's real training pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from conftest import TINY_DATASET, TINY_RUN, build_run
from recbole_hsuga.data.segment_loader import SegmentTrainDataLoader, sample_segments
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.errors import InputError


def history_of(sequences: list[list[int]], n_items: int = 50) -> TrainingHistory:
    indptr = np.cumsum([0] + [len(s) for s in sequences])
    return TrainingHistory(indptr=indptr, items=np.array([i for s in sequences for i in s], dtype=np.int64),
                           n_items=n_items)


def test_a_segment_is_a_run_of_training_items_and_its_next_item():
    sequences = [[1], [2, 3], [4, 5, 6, 7], list(range(10, 40))]
    history = history_of(sequences)
    for seed in range(50):
        rows = sample_segments(history, 6, np.random.default_rng(seed))
        assert rows.users.tolist() == [1, 2, 3]  # the user with one training item has no row
        for user, inputs, length, target in zip(rows.users, rows.inputs, rows.lengths, rows.targets):
            items = sequences[user]
            end = items.index(int(target))
            assert 1 <= end <= len(items) - 1 and 1 <= length <= min(6, end)
            assert inputs[:length].tolist() == items[end - length:end]  # the items just before the target
            assert not inputs[length:].any()


def test_several_segments_per_user_are_independent_draws():
    history = history_of([[1], list(range(10, 40)), [2, 3]])
    rows = sample_segments(history, 6, np.random.default_rng(0), per_user=4)
    assert rows.users.tolist() == [1, 1, 1, 1, 2, 2, 2, 2]
    assert len(set(rows.targets[:4].tolist())) > 1  # the long user's four segments differ
    assert rows.targets[4:].tolist() == [3, 3, 3, 3]  # two items: one possible segment


def test_segments_follow_the_released_start_then_end_draw():
    """For n training items: start uniform in [0, n-2], end uniform in [start+1, n-1]; so
    P(end = e) = sum over start < e of 1 / ((n-1)(n-1-start)), and the input length is end - start."""
    n, draws = 5, 40_000
    history = history_of([list(range(1, n + 1))] * draws)
    rows = sample_segments(history, 10, np.random.default_rng(0))
    end = rows.targets - 1
    for e in range(1, n):
        expected = sum(1 / ((n - 1) * (n - 1 - s)) for s in range(e))
        assert abs((end == e).mean() - expected) < 0.01
    assert abs((rows.lengths == end).mean() - 1 / (n - 1)) < 0.01  # start 0: the whole history before the target


def build_segment_run(root, model="SASRec", **overrides):
    return build_run(root, TINY_DATASET, model, {**TINY_RUN, "train_rows": "segment", "loss_type": "CE",
                                                 "epochs": 2, **overrides})


def test_a_run_trains_on_one_segment_per_user_drawn_again_every_epoch(tiny_root, tmp_path):
    config, train_data, valid_data, _, net, trainer = build_segment_run(
        tiny_root, checkpoint_dir=str(tmp_path / "saved"))
    rows = trainer.prepare_training(train_data, valid_data)
    assert isinstance(rows, SegmentTrainDataLoader)
    users_with_targets = int((trainer.training_history.user_counts() >= 2).sum())
    assert trainer.n_train_rows == users_with_targets < len(train_data._dataset)
    fields = ("user_id", "item_id_list", "item_length", "item_id")
    first = {f: rows._dataset.inter_feat[f].clone() for f in fields}
    assert sorted(first["user_id"].tolist()) == first["user_id"].unique().tolist()  # one row per user

    rows.set_epoch(1)
    second = {f: rows._dataset.inter_feat[f].clone() for f in fields}
    assert torch.equal(first["user_id"], second["user_id"]) and not torch.equal(first["item_id"], second["item_id"])
    # A run resumed at epoch 1 draws what the uninterrupted run drew there.
    resumed = SegmentTrainDataLoader(config, train_data._dataset, trainer.training_history)
    resumed.set_epoch(1)
    assert all(torch.equal(resumed._dataset.inter_feat[f], second[f]) for f in fields)

    before = {k: v.clone() for k, v in net.state_dict().items()}
    trainer.fit(train_data, valid_data, saved=False, show_progress=False)
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(np.isfinite(entry["train_loss"][0]) for entry in trainer.curve) and len(trainer.curve) == 2


def test_segment_rows_refuse_sampled_negatives_and_gaa(tiny_root, toy_with_vectors, tmp_path):
    _, train_data, valid_data, _, _, trainer = build_segment_run(tiny_root, loss_type="BPR")
    with pytest.raises(InputError, match="train_rows: segment rows carry no sampled negatives; loss_type BPR"):
        trainer.prepare_training(train_data, valid_data)
    # GAA's student is the user's representation on its history, not on a random segment of it.
    _, train_data, valid_data, _, _, trainer = build_run(toy_with_vectors, "toy-beauty", "SASRecHSUGA", {
        **TINY_RUN, "train_rows": "segment", "loss_type": "CE", "hidden_size": 16, "inner_size": 32,
        "gaa_k_active": 3, "gaa_k_longtail": 5})
    with pytest.raises(InputError, match="GAA's student is a user's representation on its training history"):
        trainer.prepare_training(train_data, valid_data)
    _, train_data, valid_data, _, _, trainer = build_segment_run(tiny_root, train_segments_per_user=0)
    with pytest.raises(InputError, match="train_segments_per_user must be at least 1, got 0"):
        trainer.prepare_training(train_data, valid_data)
    with pytest.raises(InputError, match="train_rows must be one of"):
        build_run(tiny_root, TINY_DATASET, "SASRec", {**TINY_RUN, "train_rows": "segments"})
