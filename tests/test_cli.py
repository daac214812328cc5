"""End to end: the CLI trains, selects on validation, tests, prints and writes results."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import REPO_ROOT


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / "run_recbole_hsuga.py"), *args],
                          capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)


def test_cli_runs_a_recbole_baseline_end_to_end(fast_settings, tmp_path):
    settings = [f"--{key}={value}" for key, value in fast_settings.items() if key != "state"]
    user_yaml = tmp_path / "exp.yaml"
    user_yaml.write_text("learning_rate: 0.002\n")
    proc = _run_cli("--model=SASRec", "--dataset=toy-beauty", f"--config_files={user_yaml}", *settings)
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert "test results: SASRec on toy-beauty" in output and "tail_items" in output

    files = list((tmp_path / "results").glob("SASRec-toy-beauty-seed42-*.json"))
    assert len(files) == 1
    result = json.loads(files[0].read_text())
    assert result["config"]["learning_rate"] == 0.002
    for split in ("valid", "test"):
        for protocol in ("full", "sampled"):
            groups = result["metrics"][split][protocol]
            assert set(groups) == {"all", "head_users", "tail_users", "head_items", "tail_items"}
            for group in groups.values():
                assert set(group) >= {"hit@5", "hit@10", "hit@20", "ndcg@5", "ndcg@10", "ndcg@20", "n_users"}
                assert all(0.0 <= group[m] <= 1.0 for m in group if m != "n_users")
            assert groups["head_users"]["n_users"] + groups["tail_users"]["n_users"] == groups["all"]["n_users"] == 300
            # Ranking among 101 candidates can only be easier than among all items.
            assert result["metrics"][split]["sampled"]["all"]["hit@10"] >= result["metrics"][split]["full"]["all"]["hit@10"]
    assert result["timings"]["epochs"] == 1 and result["timings"]["seconds_per_epoch"] > 0
    (epoch,) = result["curve"]  # one point per epoch, ready to plot
    assert epoch["train_loss"][0] > 0 and epoch["valid_score"] == result["best_valid_score"]
    assert epoch["load_1min"] >= 0  # how busy the machine was, which the epoch's seconds depend on
    assert result["seed"] == 42 and result["checkpoint"].endswith(".pth")
    with (tmp_path / "results" / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 3 * 5 * 7  # splits x protocols x groups x (6 metrics + n_users)


def test_cli_rejects_settings_without_a_value():
    proc = _run_cli("--model=SASRec", "--epochs")
    assert proc.returncode == 2 and "--key=value" in proc.stderr


def semantic_toy_data(fast_settings: dict, tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of the toy dataset with random user vectors (``useremb`` and ``useremb_text``)
    and item vectors (``itememb``) for every user and item; returns the data root and users."""
    from dataset_tools.formats.features import ITEM_FIELDS, write_feature_file
    from dataset_tools.formats.inter import read_user_sequences

    folder = tmp_path / "data" / "toy-beauty"
    shutil.copytree(Path(fast_settings["data_path"]) / "toy-beauty", folder)
    sequences = read_user_sequences(folder / "toy-beauty.inter")
    users = list(sequences)
    rng = np.random.default_rng(0)
    for suffix in ("useremb", "useremb_text"):
        vectors = rng.normal(size=(len(users), 8)).astype(np.float32)
        write_feature_file(folder / f"toy-beauty.{suffix}", users, vectors, {"extractor": "test"})
    items = sorted({item for sequence in sequences.values() for item in sequence})
    write_feature_file(folder / "toy-beauty.itememb", items, rng.normal(size=(len(items), 12)).astype(np.float32),
                       {"extractor": "test"}, fields=ITEM_FIELDS)
    return tmp_path / "data", users


def test_cli_runs_sasrechsuga_with_group_aware_alignment(fast_settings, tmp_path):
    """The paper's HSUGA through the CLI: the dual-view backbone, user vectors retrieve GAA
    neighbours, no fusion."""
    data, users = semantic_toy_data(fast_settings, tmp_path)
    settings = {**fast_settings, "data_path": str(data)}
    proc = _run_cli("--model=SASRecHSUGA", "--dataset=toy-beauty", "--loss_type=CE",
                    f"--config_files={REPO_ROOT / 'properties' / 'experiments' / 'full.yaml'}",
                    *[f"--{key}={value}" for key, value in settings.items() if key != "state"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test results: SASRecHSUGA on toy-beauty" in proc.stdout + proc.stderr

    (path,) = (tmp_path / "results").glob("SASRecHSUGA-toy-beauty-seed42-*.json")
    result = json.loads(path.read_text())
    assert result["config"]["semantic_fusion"] == "none" and result["config"]["gaa"] is True
    assert result["config"]["hsuga_backbone"] == "dual_view"
    stats = result["trainer_report"]["gaa"]["neighbour_stats"]
    assert stats["n_users"] == len(users) and stats["n_without_vector"] == 0
    assert stats["groups"]["active"]["users"] == round(0.2 * len(users))
    (epoch,) = result["curve"]
    assert len(epoch["train_loss"]) == 2 and epoch["train_loss"][1] > 0  # ranking and alpha * SD
    assert 0.0 <= result["metrics"]["test"]["full"]["all"]["ndcg@10"] <= 1.0


def test_cli_runs_sasrecllmesr(fast_settings, tmp_path):
    """LLM-ESR through the CLI: uniform self-distillation on the text vectors, 10 neighbours each."""
    data, users = semantic_toy_data(fast_settings, tmp_path)
    settings = {**fast_settings, "data_path": str(data)}
    proc = _run_cli("--model=SASRecLLMESR", "--dataset=toy-beauty",
                    *[f"--{key}={value}" for key, value in settings.items() if key != "state"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = (tmp_path / "results").glob("SASRecLLMESR-toy-beauty-seed42-*.json")
    result = json.loads(path.read_text())
    config = result["config"]
    assert config["semantic_suffix"] == "useremb_text" and config["gaa_group_aware"] is False
    assert config["loss_type"] == "CE" and config["gaa_alpha"] == 0.1
    stats = result["trainer_report"]["gaa"]["neighbour_stats"]
    assert stats["n_users"] == len(users)
    (epoch,) = result["curve"]
    assert len(epoch["train_loss"]) == 2 and epoch["train_loss"][1] > 0


def test_cli_training_progress_in_a_log_is_plain_lines(fast_settings):
    """Output to a pipe (a log file): plain progress lines inside the epoch, no tqdm carriage returns,
    even where show_progress asks for bars."""
    settings = [f"--{key}={value}" for key, value in fast_settings.items() if key not in ("state", "show_progress")]
    proc = _run_cli("--model=SASRec", "--dataset=toy-beauty", "--show_progress=True", "--progress_log_seconds=1e-9",
                    *settings)
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert "Train     0: 1/" in output and " batch (" in output
    assert "\r" not in output
