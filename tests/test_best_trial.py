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
        best_trial.hand_over(path)
    assert best_trial.hand_over(path, allow_partial=True) == {"softmax_sampling": "uniform", "n_layers": 2,
                                                              "learning_rate": 0.001}
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a tuning table"):
        best_trial.hand_over(other)


def write_result(path, config, curve, model="SASRec", seed=42):
    """A result file as run_recbole_hsuga.py writes it, reduced to what the hand-over reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scores = [row["valid_score"] for row in curve]
    path.write_text(json.dumps({"model": model, "dataset": "d", "seed": seed, "valid_metric": "NDCG@10",
                                "eval_protocol": "unseen", "best_valid_score": max(scores), "curve": curve,
                                "config": {"train_rows": "sequence", "hidden_size": 64, "epochs": 50, **config}}))
    return path


def curve_of(scores):
    return [{"epoch": epoch, "valid_score": score} for epoch, score in enumerate(scores)]


def table_with_a_finished_trial(tmp_path, score=0.06):
    """A finished search of one trial (n_layers 1, learning rate 2e-3) whose result file lies in
    the layout run_hyper_hsuga.py writes: beside the table, under its stem and the trial."""
    path = tmp_path / "search.csv"
    result = write_result(tmp_path / "search" / "trial0001" / "SASRec-d-seed42-1.json",
                          {"softmax_sampling": "uniform", "n_layers": 1, "learning_rate": 0.002}, curve_of([0.04, score]))
    table = TuningTable(path, NAMES, "NDCG@10", "unseen")
    table.append({"trial": "trial0001", "softmax_sampling": '"uniform"', "n_layers": "1", "learning_rate": "0.002",
                  "status": "finished", "valid_score": score, "result_file": str(result),
                  BUDGET_COLUMN: budget_text({"max_evals": 1, "epochs": 50})})
    return path


def test_an_incumbent_that_no_trial_beats_is_handed_over(tmp_path, import_benchmark, capsys):
    """The default recipe starts slowly and ends best: the search's early termination would have
    stopped it, so the hand-over keeps it unless a finished trial scores above it."""
    best_trial = import_benchmark("best_trial")
    table = table_with_a_finished_trial(tmp_path, score=0.06)
    incumbent = write_result(tmp_path / "default.json", {"softmax_sampling": "uniform", "n_layers": 2,
                                                          "learning_rate": 0.001}, curve_of([0.01, 0.03, 0.065]))
    best_trial.main([str(table), f"--incumbent={incumbent}"])
    captured = capsys.readouterr()
    assert captured.out.strip() == "--softmax_sampling=uniform --n_layers=2 --learning_rate=0.001"
    assert "(valid 0.0650 within 50 epochs) is not beaten by the search's best finished trial0001 (0.0600)" in captured.err
    # without the incumbent, the search's own best
    best_trial.main([str(table)])
    assert capsys.readouterr().out.strip() == "--softmax_sampling=uniform --n_layers=1 --learning_rate=0.002"


def test_a_trial_above_the_incumbent_wins_and_the_incumbent_counts_only_epochs_within_the_cap(tmp_path, import_benchmark,
                                                                                                capsys):
    best_trial = import_benchmark("best_trial")
    table = table_with_a_finished_trial(tmp_path, score=0.06)
    # 0.07 only at epoch 60 (the incumbent trained with a cap of 200): within the search's 50, 0.055
    late = curve_of([0.05] * 10 + [0.055] * 50 + [0.07])
    incumbent = write_result(tmp_path / "default.json", {"softmax_sampling": "uniform", "n_layers": 2,
                                                          "learning_rate": 0.001, "epochs": 200}, late)
    best_trial.main([str(table), f"--incumbent={incumbent}", "--format=variant"])
    captured = capsys.readouterr()
    assert captured.out.strip() == "+softmax_sampling=uniform+n_layers=1+learning_rate=0.002"
    assert "trial0001 (valid 0.0600) beats the incumbent" in captured.err and "(0.0550 within 50 epochs)" in captured.err


def test_an_incumbent_trained_otherwise_is_refused_naming_the_setting(tmp_path, import_benchmark):
    best_trial = import_benchmark("best_trial")
    table = table_with_a_finished_trial(tmp_path)
    searched = {"softmax_sampling": "uniform", "n_layers": 2, "learning_rate": 0.001}
    other_rows = write_result(tmp_path / "prefix.json", {**searched, "train_rows": "prefix"}, curve_of([0.07]))
    with pytest.raises(InputError, match=r"prefix.json: not trained like the search's trials .*: train_rows 'prefix' vs 'sequence'"):
        best_trial.hand_over(table, incumbent_path=other_rows)
    other_model = write_result(tmp_path / "gaa.json", searched, curve_of([0.07]), model="SASRecHSUGA")
    with pytest.raises(InputError, match="model 'SASRecHSUGA' vs 'SASRec'"):
        best_trial.hand_over(table, incumbent_path=other_model)
    other_seed = write_result(tmp_path / "seed43.json", searched, curve_of([0.07]), seed=43)
    with pytest.raises(InputError, match="seed 43 vs 42"):
        best_trial.hand_over(table, incumbent_path=other_seed)
    with pytest.raises(InputError, match="missing.json: result file not found"):
        best_trial.hand_over(table, incumbent_path=tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text('{"model": "SASRec",\n oops')
    with pytest.raises(InputError, match="broken.json: line 2: not a result file"):
        best_trial.hand_over(table, incumbent_path=tmp_path / "broken.json")


def test_the_trials_result_file_is_found_beside_a_moved_table(tmp_path, import_benchmark):
    """A table cloned elsewhere holds the absolute paths of the machine that ran it."""
    best_trial = import_benchmark("best_trial")
    table = table_with_a_finished_trial(tmp_path / "ran")
    moved = tmp_path / "clone"
    (tmp_path / "ran").rename(moved)
    incumbent = write_result(tmp_path / "default.json", {"softmax_sampling": "uniform", "n_layers": 2,
                                                          "learning_rate": 0.001}, curve_of([0.07]))
    assert best_trial.hand_over(moved / "search.csv", incumbent_path=incumbent) == {
        "softmax_sampling": "uniform", "n_layers": 2, "learning_rate": 0.001}
