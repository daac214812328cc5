"""benchmarks/valid_test_gap.py: validation against test NDCG@10 of a trained run, by item popularity."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import TOY_DATASET
from dataset_tools.formats.inter import read_user_sequences
from recbole_hsuga.errors import InputError


@pytest.fixture
def gap(import_benchmark):
    return import_benchmark("valid_test_gap")


@pytest.fixture
def trained_run(fast_settings):
    """A one-epoch SASRec on the toy data with its checkpoint and result file."""
    from recbole_hsuga.runner import run

    run("SASRec", TOY_DATASET, config_dict={**fast_settings, "eval_protocol": "unseen", "seed": 3})
    [path] = Path(fast_settings["results_dir"]).glob("SASRec-*.json")
    return path


def test_the_reloaded_run_reproduces_its_split_scores_and_buckets_cover_every_user(
        gap, trained_run, fast_settings, tmp_path, capsys):
    table = tmp_path / "gap.csv"
    gap.main(["--run", f"A={trained_run}", "--run", f"B={trained_run}",
              f"--data_path={fast_settings['data_path']}", "--csv", str(table)])
    report = capsys.readouterr().out
    rows = list(csv.DictReader(table.open()))
    overall = {r["run"]: r for r in rows if r["split"] == "all"}
    stored = json.loads(trained_run.read_text())["metrics"]
    for label in ("A", "B"):
        assert float(overall[label]["valid"]) == pytest.approx(stored["valid"]["unseen"]["all"]["ndcg@10"], abs=1e-4)
        assert float(overall[label]["test"]) == pytest.approx(stored["test"]["unseen"]["all"]["ndcg@10"], abs=1e-4)
    sequences = read_user_sequences(Path(fast_settings["data_path"]) / TOY_DATASET / f"{TOY_DATASET}.inter")
    # Buckets by the test target's training count partition the users; so do the newest input item's.
    for split in ("target count", "newest input item count"):
        users = [int(r["users"]) for r in rows if r["split"] == split and r["run"] == "A"]
        assert sum(users) == len(sequences)
    # The newest-input buckets hold the same users under both splits: their user-weighted means
    # give back the overall scores.
    newest = [r for r in rows if r["split"] == "newest input item count" and r["run"] == "A"]
    weights = np.array([int(r["users"]) for r in newest], dtype=float)
    for split in ("valid", "test"):
        cells = np.array([float(r[split]) if int(r["users"]) else 0.0 for r in newest])
        assert (weights * cells).sum() / weights.sum() == pytest.approx(float(overall["A"][split]), abs=1e-9)
    # The drift column: validation per target-popularity bucket at the test targets' shares.
    by_target = [r for r in rows if r["split"] == "target count" and r["run"] == "A"]
    mix = sum(int(r["users"]) / len(sequences) * float(r["valid"]) for r in by_target if int(r["valid_users"]))
    [row] = [line for line in report.splitlines() if line.startswith("| A | unseen | 3 |")]
    assert float(row.split("|")[7]) == pytest.approx(mix, abs=5e-5)


def test_a_malformed_run_is_named(gap):
    with pytest.raises(InputError, match="--run 'A': expected LABEL=RESULT_JSON"):
        gap.main(["--run", "A"])
