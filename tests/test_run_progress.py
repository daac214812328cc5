"""benchmarks/run_progress.py: an unfinished run's best validation score beside the finished
runs of the same seed, each cut at the unfinished run's last epoch."""

from __future__ import annotations

import json

import pytest
import torch


@pytest.fixture
def progress(import_benchmark):
    return import_benchmark("run_progress")


def curve(scores):
    return [{"epoch": e, "valid_score": s} for e, s in enumerate(scores)]


def test_finished_runs_are_cut_at_the_unfinished_runs_epoch(progress, tmp_path, capsys):
    state_dir = tmp_path / "saved" / "set" / "GAA_shuffled" / "SASRecHSUGA-42"
    state_dir.mkdir(parents=True)
    torch.save({"lists": {"curve": curve([0.1, 0.3, 0.2])}, "finished": False},
               state_dir / "training-state-SASRecHSUGA-toy-seed42.pth")
    for variant, scores in {"SASRec": [0.1, 0.2, 0.25, 0.9], "GAA": [0.2, 0.35, 0.3, 0.95]}.items():
        folder = tmp_path / "raw" / "set" / variant
        folder.mkdir(parents=True)
        (folder / "run-seed42.json").write_text(json.dumps({"seed": 42, "created": "2026-12-01", "curve": curve(scores)}))
        (folder / "run-seed43.json").write_text(json.dumps({"seed": 43, "created": "2026-12-01", "curve": curve([1.0])}))
    progress.main(["--run_set", "set", "--saved", str(tmp_path / "saved"), "--raw", str(tmp_path / "raw")])
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `GAA_shuffled`")]
    # epochs 0-2 only: the finished runs' later 0.9 / 0.95 do not count
    assert row == ["| `GAA_shuffled` | 42 | 3 | 0.3000 | 0.3500 | 0.2500 |"]


def test_best_by_epoch_ignores_later_epochs_and_missing_scores(progress):
    rows = [{"epoch": 0, "valid_score": 0.2}, {"epoch": 1, "valid_score": None}, {"epoch": 2, "valid_score": 0.5}]
    assert progress.best_by_epoch(rows, 1) == 0.2
    assert progress.best_by_epoch(rows, 2) == 0.5
    assert progress.best_by_epoch([], 3) is None


def test_a_missing_run_set_is_one_clear_error(progress, tmp_path):
    from recbole_hsuga.errors import InputError

    with pytest.raises(InputError, match="no such run set folder"):
        progress.main(["--run_set", "nope", "--saved", str(tmp_path)])
