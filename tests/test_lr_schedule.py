"""Learning-rate schedules: their rates, their checks, and real training that follows them."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import TINY_RUN, build_run
from recbole_hsuga import training_state
from recbole_hsuga.errors import InputError
from recbole_hsuga.lr_schedule import LearningRateSchedule


def test_cosine_decays_from_the_rate_to_its_floor_then_stays():
    schedule = LearningRateSchedule(kind="cosine", decay_epochs=4, min_ratio=0.1)
    rates = [schedule.multiplier(epoch) for epoch in range(7)]
    assert rates[0] == pytest.approx(1.0)
    assert rates[2] == pytest.approx(0.1 + 0.9 * 0.5)  # half way down
    assert rates[4] == rates[5] == rates[6] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(rates[:4], rates[1:5]))


def test_warmup_ramps_every_schedule_then_hands_over():
    for kind in ("constant", "cosine", "plateau"):
        schedule = LearningRateSchedule(kind=kind, warmup_epochs=3, decay_epochs=10)
        assert [schedule.multiplier(e) for e in range(3)] == pytest.approx([0.25, 0.5, 0.75])
        assert schedule.multiplier(3) == pytest.approx(1.0)  # the decay starts after the warmup
    assert not LearningRateSchedule(kind="constant", warmup_epochs=3).is_constant
    assert LearningRateSchedule().is_constant


def test_plateau_reduces_at_multiples_of_its_patience_down_to_the_floor():
    schedule = LearningRateSchedule(kind="plateau", plateau_patience=5, plateau_factor=0.5, min_ratio=0.2)
    assert [n for n in range(21) if schedule.reduces_after(n)] == [5, 10, 15, 20]
    assert [schedule.multiplier(9, reductions) for reductions in range(4)] == pytest.approx([1, 0.5, 0.25, 0.2])
    assert not LearningRateSchedule(kind="cosine").reduces_after(5)


@pytest.mark.parametrize("key,value,message", [
    ("lr_scheduler", "linear", r"lr_scheduler must be one of \('constant', 'cosine', 'plateau'\), got 'linear'"),
    ("lr_decay_epochs", 0, r"lr_decay_epochs must be an int >= 1, got 0"),
    ("lr_warmup_epochs", 1.5, r"lr_warmup_epochs must be an int >= 0, got 1.5"),
    ("lr_plateau_factor", 0, r"lr_plateau_factor must be a number in \(0, 1\], got 0"),
    ("lr_min_ratio", 2, r"lr_min_ratio must be a number in \[0, 1\], got 2"),
])
def test_a_bad_key_is_named(key, value, message):
    with pytest.raises(InputError, match=message):
        LearningRateSchedule.from_config({"lr_scheduler": "cosine", key: value})


def test_the_configured_default_is_recbole_constant_rate(toy_data_path, tmp_path):
    config, train_data, valid_data, _, _, trainer = build_run(
        toy_data_path, "toy-beauty", "SASRec", {**TINY_RUN, "epochs": 2, "checkpoint_dir": str(tmp_path)})
    assert config["lr_scheduler"] == "constant" and trainer.lr_schedule.is_constant
    trainer.fit(train_data, valid_data, saved=False, show_progress=False)
    assert trainer.optimizer.param_groups[0]["lr"] == config["learning_rate"]
    assert all("learning_rate" not in entry for entry in trainer.curve)


def test_training_follows_the_cosine_schedule(toy_data_path, tmp_path):
    settings = {**TINY_RUN, "epochs": 4, "learning_rate": 0.01, "lr_scheduler": "cosine", "lr_decay_epochs": 2,
                "lr_warmup_epochs": 1, "lr_min_ratio": 0.1, "checkpoint_dir": str(tmp_path)}
    _, train_data, valid_data, _, _, trainer = build_run(toy_data_path, "toy-beauty", "SASRec", settings)
    trainer.fit(train_data, valid_data, saved=False, show_progress=False)
    rates = [entry["learning_rate"] for entry in trainer.curve]
    assert rates == pytest.approx([0.005, 0.01, 0.01 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2))), 0.001])
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.001)


class Stop(Exception):
    """Stands for the process being killed after an epoch's validation."""


def test_plateau_run_resumes_at_the_rate_it_had_reached(toy_data_path, tmp_path):
    # A learning rate far too high keeps validation from improving, so the plateau rule fires.
    settings = {**TINY_RUN, "epochs": 6, "stopping_step": 10, "learning_rate": 0.5, "lr_scheduler": "plateau",
                "lr_plateau_patience": 1, "lr_plateau_factor": 0.5, "lr_min_ratio": 0.0, "resume_training": True,
                "loss_type": "CE"}

    def train(root, callback=None):
        run = build_run(toy_data_path, "toy-beauty", "SASRec", {**settings, "checkpoint_dir": str(root)})
        run[-1].fit(run[1], run[2], saved=True, show_progress=False, callback_fn=callback)
        return run[-1]

    straight = train(tmp_path / "a")
    assert straight.lr_reductions, "validation never went stale; the test no longer exercises the rule"
    rates = [entry["learning_rate"] for entry in straight.curve]
    expected = [0.5 * 0.5 ** sum(1 for epoch in straight.lr_reductions if epoch < e) for e in range(len(rates))]
    assert rates == pytest.approx(expected)

    def stop_after_first_reduction(epoch_idx: int, valid_score: float) -> None:
        if epoch_idx == straight.lr_reductions[0]:
            raise Stop

    with pytest.raises(Stop):
        train(tmp_path / "b", stop_after_first_reduction)
    resumed = train(tmp_path / "b")
    assert resumed.resumed_at_epochs == [straight.lr_reductions[0] + 1]
    assert resumed.lr_reductions == straight.lr_reductions
    assert [entry["learning_rate"] for entry in resumed.curve] == rates
    assert [entry["valid_score"] for entry in resumed.curve] == [entry["valid_score"] for entry in straight.curve]


def test_states_written_before_schedules_existed_resume_as_constant(toy_data_path, tmp_path):
    settings = {**TINY_RUN, "epochs": 3, "stopping_step": 10, "resume_training": True, "loss_type": "CE",
                "checkpoint_dir": str(tmp_path)}
    config, train_data, valid_data, _, _, trainer = build_run(toy_data_path, "toy-beauty", "SASRec", settings)

    def stop(epoch_idx: int, valid_score: float) -> None:
        raise Stop

    with pytest.raises(Stop):
        trainer.fit(train_data, valid_data, saved=True, show_progress=False, callback_fn=stop)
    path = training_state.state_path(config)
    state = torch.load(path, weights_only=False)
    for key in [key for key in state["settings"] if key.startswith("lr_")]:
        del state["settings"][key]  # as written before the keys were added
    del state["lists"]["lr_reductions"]
    torch.save(state, path)
    with pytest.raises(InputError, match=r"lr_scheduler='constant', this run has lr_scheduler='cosine'"):
        run = build_run(toy_data_path, "toy-beauty", "SASRec", {**settings, "lr_scheduler": "cosine"})
        run[-1].fit(run[1], run[2], saved=True, show_progress=False)
    run = build_run(toy_data_path, "toy-beauty", "SASRec", settings)
    run[-1].fit(run[1], run[2], saved=True, show_progress=False)
    assert run[-1].resumed_at_epochs == [1] and run[-1].lr_reductions == []
