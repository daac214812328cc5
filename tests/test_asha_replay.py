"""benchmarks/asha_replay.py replays a search's halving rule on converged runs' validation curves."""

from __future__ import annotations

import json

import pytest

from recbole_hsuga.errors import InputError
from recbole_hsuga.tuning.table import BUDGET_COLUMN, TuningTable, budget_text

BUDGET = {"max_evals": 3, "scheduler": "asha", "grace_period": 2, "reduction_factor": 3, "max_t": 7, "epochs": 7}


def write_table(path, rung_scores, budget=BUDGET):
    """Trials that ended with the given ``{milestone: best score so far}`` records, in trial order."""
    table = TuningTable(path, ["learning_rate"], "NDCG@10", "unseen")
    for number, scores in enumerate(rung_scores, start=1):
        table.append({"trial": f"trial{number:04d}", "learning_rate": "0.001", "status": "early-terminated",
                      "valid_score": max(scores.values()), "rung_scores": json.dumps({str(m): s for m, s in scores.items()}),
                      BUDGET_COLUMN: budget_text(budget)})
    return path


def write_run(path, scores, test=0.05):
    path.write_text(json.dumps({"model": "SASRec", "eval_protocol": "unseen", "best_valid_score": max(scores),
                                "curve": [{"epoch": e, "valid_score": s} for e, s in enumerate(scores)],
                                "metrics": {"test": {"unseen": {"all": {"ndcg@10": test}}}}}))
    return path


def test_a_slow_starting_run_is_stopped_at_the_first_rung_at_most_arrival_positions(tmp_path, import_benchmark):
    replay = import_benchmark("asha_replay")
    # three fast starters: 0.05, 0.06, 0.04 after 2 epochs
    table = write_table(tmp_path / "t.csv", [{2: 0.05}, {2: 0.06, 6: 0.065}, {2: 0.04}])
    slow = write_run(tmp_path / "slow.json", [0.01, 0.03, 0.05, 0.06, 0.07, 0.08], test=0.06)
    lines = replay.report(table, replay.labelled_runs([f"slow start={slow}"]))
    row = next(line for line in lines if line.startswith("| slow start |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    # best by epoch 2 is 0.03, by epoch 6 0.08; arriving last, the rung-2 cutoff is the 2/3 quantile
    # of (0.05, 0.06, 0.04) = 0.0533, so it stops there; arriving first it passes (no earlier trial),
    # after trial 1 (cutoff 0.05) and later it stops: 3 of 4 positions.
    assert cells[1:3] == ["0.0300", "0.0800"]
    assert cells[3] == "rung 2"
    assert cells[4] == "rung 2: 3, passes: 1 (of 4)"
    assert cells[5:] == ["0.0800", "0.0600"]
    assert "rung 2: 0.0533" in "\n".join(lines)
    # no trial of this table reached rung 6: no cutoff there, and the report says why
    early = write_table(tmp_path / "early.csv", [{2: 0.05}, {2: 0.04}])
    text = "\n".join(replay.report(early, replay.labelled_runs([f"slow start={slow}"])))
    assert "rung 6: none (no trial reached it, so every run passes)" in text


def test_arrival_position_and_later_rungs_follow_the_rule(tmp_path, import_benchmark):
    replay = import_benchmark("asha_replay")
    rows = [{"trial": "trial0001", "rung_scores": json.dumps({"2": 0.02, "6": 0.03})},
            {"trial": "trial0002", "rung_scores": json.dumps({"2": 0.05, "6": 0.09})}]
    curve = [{"epoch": e, "valid_score": s} for e, s in enumerate([0.045, 0.045, 0.05, 0.05, 0.05, 0.06])]
    verdict = replay.RungRecords.of(rows, BUDGET).replay(curve)
    # first: passes; after trial 1 (0.02 at rung 2, 0.03 at rung 6): passes both;
    # after both: rung-2 cutoff 2/3-quantile of (0.02, 0.05) = 0.045 is above it; rung-6 cutoff 0.07 stops it.
    assert verdict["last"] == 6
    assert verdict["positions"] == {replay.NEVER: 2, 6: 1}


def test_bad_input_names_what_is_wrong(tmp_path, import_benchmark):
    replay = import_benchmark("asha_replay")
    with pytest.raises(InputError, match="--run takes LABEL=RESULT.json"):
        replay.labelled_runs(["no-label"])
    table = write_table(tmp_path / "t.csv", [{2: 0.05}], budget={**BUDGET, "scheduler": "none"})
    run = write_run(tmp_path / "r.json", [0.01, 0.02])
    with pytest.raises(InputError, match="scheduler 'none': there is no rung rule"):
        replay.report(table, replay.labelled_runs([f"r={run}"]))
    with pytest.raises(InputError, match="missing.csv: tuning table not found"):
        replay.report(tmp_path / "missing.csv", [])
