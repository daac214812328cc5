"""A run stopped after an epoch and started again ends where the uninterrupted run ends."""

from __future__ import annotations

import os

import pytest
import torch

from conftest import TINY_RUN, build_run
from recbole_hsuga import training_state
from recbole_hsuga.errors import InputError


class Stop(Exception):
    """Stands for the process being killed after an epoch's validation."""


def stop_after(epoch: int):
    def callback(epoch_idx: int, valid_score: float) -> None:
        if epoch_idx == epoch:
            raise Stop

    return callback


def resumable_settings(root, model: str, train_rows: str) -> dict:
    settings = {**TINY_RUN, "epochs": 4, "stopping_step": 10, "train_rows": train_rows, "resume_training": True,
                "checkpoint_dir": str(root / "saved"), "loss_type": "CE"}
    if model == "SASRecHSUGA":
        settings.update(gaa=True, gaa_alpha=0.5, gaa_k_active=3, gaa_k_longtail=5)
    return settings


def train(toy_data_path, settings: dict, model: str, callback=None):
    config, train_data, valid_data, _, net, trainer = build_run(toy_data_path, "toy-beauty", model, settings)
    outcome = trainer.fit(train_data, valid_data, saved=True, show_progress=False, callback_fn=callback)
    return trainer, net, outcome


@pytest.mark.parametrize("model,train_rows", [("SASRec", "sequence"), ("SASRec", "prefix")])
def test_stopped_run_continues_to_the_same_model(toy_data_path, tmp_path, model, train_rows):
    straight, straight_net, straight_outcome = train(toy_data_path, resumable_settings(tmp_path / "a", model, train_rows),
                                                     model)

    settings = resumable_settings(tmp_path / "b", model, train_rows)
    with pytest.raises(Stop):
        train(toy_data_path, settings, model, callback=stop_after(1))
    state_file = training_state.state_path(build_run(toy_data_path, "toy-beauty", model, settings)[0])
    assert training_state.load(state_file, build_run(toy_data_path, "toy-beauty", model, settings)[0])["epoch"] == 1
    resumed, resumed_net, resumed_outcome = train(toy_data_path, settings, model)

    assert resumed.resumed_at_epochs == [2]
    assert [e["valid_score"] for e in resumed.curve] == [e["valid_score"] for e in straight.curve]
    assert [e["train_loss"] for e in resumed.curve] == [e["train_loss"] for e in straight.curve]
    assert len(resumed.epoch_seconds) == 4
    assert resumed_outcome[0] == straight_outcome[0]
    for name, tensor in straight_net.state_dict().items():
        torch.testing.assert_close(resumed_net.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
    # The best-epoch checkpoint is the one the first process started.
    assert resumed.saved_model_file != straight.saved_model_file
    assert resumed.saved_model_file.startswith(str(tmp_path / "b"))


def test_gaa_run_resumes_with_its_teacher_timings(toy_with_vectors, tmp_path):
    settings = resumable_settings(tmp_path, "SASRecHSUGA", "sequence")
    straight, _, _ = train(toy_with_vectors, {**settings, "checkpoint_dir": str(tmp_path / "a")}, "SASRecHSUGA")
    with pytest.raises(Stop):
        train(toy_with_vectors, settings, "SASRecHSUGA", callback=stop_after(2))
    resumed, _, _ = train(toy_with_vectors, settings, "SASRecHSUGA")
    assert resumed.resumed_at_epochs == [3]
    assert len(resumed.gaa_teacher_seconds) == 4
    assert [e["train_loss"] for e in resumed.curve] == [e["train_loss"] for e in straight.curve]


def test_finished_run_goes_straight_to_testing(toy_data_path, tmp_path):
    settings = {**resumable_settings(tmp_path, "SASRec", "sequence"), "epochs": 2}
    first, _, outcome = train(toy_data_path, settings, "SASRec")
    again, net, outcome_again = train(toy_data_path, settings, "SASRec")
    assert again.resumed_at_epochs == [] and len(again.curve) == 2
    assert outcome_again[0] == outcome[0]
    # Raising the cap of a run that stopped at it continues the run.
    more, _, _ = train(toy_data_path, {**settings, "epochs": 3}, "SASRec")
    assert more.resumed_at_epochs == [2] and len(more.curve) == 3
    more.forget_training_state()
    assert not more.training_state_file.exists()


def test_state_of_other_settings_is_refused(toy_data_path, tmp_path):
    settings = resumable_settings(tmp_path, "SASRec", "sequence")
    with pytest.raises(Stop):
        train(toy_data_path, settings, "SASRec", callback=stop_after(0))
    with pytest.raises(InputError, match=r"training-state-SASRec-toy-beauty-seed5\.pth: .*learning_rate=0\.001.*"
                                         r"learning_rate=0\.01"):
        train(toy_data_path, {**settings, "learning_rate": 0.01}, "SASRec")


def test_state_written_before_a_key_existed_has_the_value_runs_had_then(toy_data_path, tmp_path):
    settings = {**resumable_settings(tmp_path, "SASRec", "sequence"), "train_batch_unit": "rows"}
    with pytest.raises(Stop):
        train(toy_data_path, settings, "SASRec", callback=stop_after(0))
    path = training_state.state_path(build_run(toy_data_path, "toy-beauty", "SASRec", settings)[0])
    state = torch.load(path, weights_only=False)
    for key in ("train_batch_unit", "train_segments_per_user"):
        del state["settings"][key]  # as written before the key was added
    torch.save(state, path)
    with pytest.raises(InputError, match=r"train_batch_unit='rows', this run has train_batch_unit='prefix_rows'"):
        train(toy_data_path, {**settings, "train_batch_unit": "prefix_rows"}, "SASRec")
    resumed, _, _ = train(toy_data_path, settings, "SASRec")
    assert resumed.resumed_at_epochs == [1]


def test_second_process_on_the_same_run_is_refused(toy_data_path, tmp_path):
    settings = resumable_settings(tmp_path, "SASRec", "sequence")
    config = build_run(toy_data_path, "toy-beauty", "SASRec", settings)[0]
    # A lock held through another open file behaves as another process's lock.
    other = training_state.hold_lock(training_state.state_path(config))
    try:
        with pytest.raises(InputError, match=r"training-state-SASRec-toy-beauty-seed5\.pth\.lock: another process "
                                             rf"\(pid {os.getpid()}\) is training this run"):
            train(toy_data_path, settings, "SASRec")
        assert not training_state.state_path(config).exists()
    finally:
        other.close()
    # Released (the other process ended), the run trains; a stopped fit releases it too.
    with pytest.raises(Stop):
        train(toy_data_path, settings, "SASRec", callback=stop_after(0))
    resumed, _, _ = train(toy_data_path, settings, "SASRec")
    assert resumed.resumed_at_epochs == [1]


def test_run_without_the_switch_writes_no_state(toy_data_path, tmp_path):
    settings = {**resumable_settings(tmp_path, "SASRec", "sequence"), "resume_training": False, "epochs": 1}
    trainer, _, _ = train(toy_data_path, settings, "SASRec")
    assert not trainer.training_state_file.exists()


def test_cli_removes_the_state_once_the_result_is_written(fast_settings, tmp_path):
    import subprocess
    import sys

    from conftest import REPO_ROOT, TOY_DATASET

    settings = {**fast_settings, "train_rows": "sequence", "resume_training": True}
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "run_recbole_hsuga.py"), "--model=SASRec",
                           f"--dataset={TOY_DATASET}", *[f"--{k}={v}" for k, v in settings.items()]],
                          capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((tmp_path / "results").glob("SASRec-*.json"))) == 1
    assert list((tmp_path / "saved").glob("training-state-*")) == []
    assert list((tmp_path / "saved").glob("SASRec-*.pth"))  # the best-epoch checkpoint stays
