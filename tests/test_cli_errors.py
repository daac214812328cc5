"""Bad input through the real command lines: one line naming the culprit, exit status 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, TOY_DATASET

TRAIN = "run_recbole_hsuga.py"
TUNE = "run_hyper_hsuga.py"


def _cli(script: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *args], capture_output=True, text=True,
                          timeout=600, cwd=REPO_ROOT, env={**os.environ, **(env or {})})


def _one_line_error(proc: subprocess.CompletedProcess, script: str = TRAIN) -> str:
    """Assert status 2 and exactly one error line (the last); return that line."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(f"{script}: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr[-3000:]
    return errors[0]


@pytest.fixture(scope="module")
def data_with_vectors(toy_data_path, tmp_path_factory) -> Path:
    """The toy dataset plus a user vector file ``<dataset>.useremb`` (for HSUGA models)."""
    from dataset_tools.formats.features import write_feature_file

    root = tmp_path_factory.mktemp("vectors")
    folder = root / TOY_DATASET
    shutil.copytree(toy_data_path / TOY_DATASET, folder)
    users = sorted({line.split("\t")[0] for line in (folder / f"{TOY_DATASET}.inter").read_text().splitlines()[1:]})
    vectors = np.random.default_rng(0).normal(size=(len(users), 8)).astype(np.float32)
    write_feature_file(folder / f"{TOY_DATASET}.useremb", users, vectors, {"extractor": "test"})
    return root


def _settings(data_path: Path, tmp_path: Path) -> list[str]:
    return [f"--dataset={TOY_DATASET}", f"--data_path={data_path}", f"--checkpoint_dir={tmp_path / 'saved'}",
            f"--results_dir={tmp_path / 'results'}", "--epochs=1", "--state=WARNING", "--show_progress=False"]


def test_missing_vector_file_names_the_file(data_with_vectors, tmp_path):
    line = _one_line_error(_cli(TRAIN, "--model=SASRecHSUGA", "--semantic_suffix=nothere",
                                *_settings(data_with_vectors, tmp_path)))
    assert str(data_with_vectors / TOY_DATASET / f"{TOY_DATASET}.nothere") in line


def test_wrongly_typed_setting_names_key_type_and_origin(data_with_vectors, tmp_path):
    line = _one_line_error(_cli(TRAIN, "--model=SASRecHSUGA", "--gaa_alpha=abc", *_settings(data_with_vectors, tmp_path)))
    assert "gaa_alpha: expected float, got 'abc' (from --gaa_alpha=abc; declared in properties/model/" in line


def test_unknown_fusion_is_one_line(data_with_vectors, tmp_path):
    line = _one_line_error(_cli(TRAIN, "--model=SASRecHSUGA", "--semantic_fusion=multiply",
                                *_settings(data_with_vectors, tmp_path)))
    assert "semantic_fusion" in line and "multiply" in line


def test_unknown_model_is_one_line_without_recboles_optional_packages(toy_data_path, tmp_path):
    line = _one_line_error(_cli(TRAIN, "--model=NoSuchModel", *_settings(toy_data_path, tmp_path)))
    assert "unknown model 'NoSuchModel'" in line and "lightgbm" not in line


def test_missing_config_file_and_dataset_folder(toy_data_path, tmp_path):
    missing = tmp_path / "nope.yaml"
    line = _one_line_error(_cli(TRAIN, "--model=SASRec", f"--config_files={missing}", *_settings(toy_data_path, tmp_path)))
    assert f"config file not found: {missing}" in line
    line = _one_line_error(_cli(TRAIN, "--model=SASRec", *_settings(toy_data_path, tmp_path), "--dataset=nosuchdata"))
    assert "dataset 'nosuchdata' not found" in line and str(toy_data_path / "nosuchdata") in line


def test_verbose_flag_and_environment_show_the_traceback(toy_data_path, tmp_path):
    proc = _cli(TRAIN, "-v", "--model=SASRec", "--epochs=ten", *_settings(toy_data_path, tmp_path)[:-3])
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "epochs: expected int, got 'ten'" in proc.stderr
    proc = _cli(TRAIN, "--model=NoSuchModel", *_settings(toy_data_path, tmp_path), env={"RECBOLE_HSUGA_TRACEBACK": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "InputError" in proc.stderr


def test_tuning_cli_answers_bad_input_in_one_line(toy_data_path, tmp_path):
    bad = tmp_path / "bad.hyper"
    bad.write_text("gaa_alpha choice [0.1, 0.5]\nlearning_rate between 0,1\n")
    line = _one_line_error(_cli(TUNE, "--model=SASRecHSUGA", f"--params_file={bad}", *_settings(toy_data_path, tmp_path)), TUNE)
    assert f"{bad}:2" in line and "between" in line
    good = REPO_ROOT / "properties" / "hyper" / "gaa_alpha.hyper"
    line = _one_line_error(_cli(TUNE, "--model=SASRecHSUGA", f"--params_file={good}", "--gaa_k_active=many",
                                *_settings(toy_data_path, tmp_path)), TUNE)
    assert "gaa_k_active: expected int, got 'many'" in line
