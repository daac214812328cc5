"""benchmarks/best_trial.py hands a search's best finished trial to the next run set, and only
from a search that has used its budget."""

from __future__ import annotations

import json

import pytest

from recbole_hsuga.errors import InputError
from recbole_hsuga.tuning.table import BUDGET_COLUMN, TuningTable, budget_text

NAMES = ["softmax_sampling", "n_layers", "learning_rate"]


def write_table(path, rows, max_evals):
    table = TuningTable(path, NAMES, "NDCG@10", "unseen")
    for number, (params, status, score) in enumerate(rows, start=1):
        table.append({"trial": f"trial{number:04d}", **{k: json.dumps(v) for k, v in params.items()}, "status": status,
                      "valid_score": score, BUDGET_COLUMN: budget_text({"max_evals": max_evals})})
    return path


def test_the_best_finished_trial_is_printed_as_settings_and_as_a_variant(tmp_path, import_benchmark, capsys):
    best_trial = import_benchmark("best_trial")
    path = write_table(tmp_path / "t.csv", [
        ({"softmax_sampling": "uniform", "n_layers": 2, "learning_rate": 0.001}, "finished", 0.05),
        # a higher score from a trial the scheduler stopped has no test result: not the answer
        ({"softmax_sampling": "popularity", "n_layers": 3, "learning_rate": 0.002}, "early-terminated", 0.07),
        ({"softmax_sampling": "popularity", "n_layers": 1, "learning_rate": 0.0005}, "finished", 0.06),
    ], max_evals=3)
    best_trial.main([str(path)])
    assert capsys.readouterr().out.strip() == "--softmax_sampling=popularity --n_layers=1 --learning_rate=0.0005"
    best_trial.main([str(path), "--format=variant"])
    assert capsys.readouterr().out.strip() == "+softmax_sampling=popularity+n_layers=1+learning_rate=0.0005"


def test_a_search_short_of_its_budget_is_refused_unless_partial_is_asked_for(tmp_path, import_benchmark):
    best_trial = import_benchmark("best_trial")
    path = write_table(tmp_path / "t.csv", [
        ({"softmax_sampling": "uniform", "n_layers": 2, "learning_rate": 0.001}, "finished", 0.05),
        ({"softmax_sampling": "uniform", "n_layers": 1, "learning_rate": 0.001}, "failed", ""),
    ], max_evals=3)
    with pytest.raises(InputError, match="1 of the budget's 3 trials have ended"):
        best_trial.best_settings(path)
    assert best_trial.best_settings(path, allow_partial=True) == {"softmax_sampling": "uniform", "n_layers": 2,
                                                                   "learning_rate": 0.001}
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a tuning table"):
        best_trial.best_settings(other)
