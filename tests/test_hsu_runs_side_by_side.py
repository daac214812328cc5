"""benchmarks/hsu_runs_side_by_side.py: HSU runs compared on the users they share, by each user's last stage."""

from __future__ import annotations

import json

import pytest

from dataset_tools import DatasetToolsError
from recbole_hsuga.errors import InputError


def write_run(root, run, records):
    folder = root / "toy" / "hsu" / run
    folder.mkdir(parents=True)
    (folder / "stages.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def stage(user, number, interests, tokens, calls=1, retries=0):
    return {"user": user, "stage": number, "interests": interests, "completion_tokens": tokens,
            "calls": calls, "retries": retries}


def test_runs_are_compared_on_shared_users_by_their_last_stage(tmp_path, capsys, import_benchmark):
    side_by_side = import_benchmark("hsu_runs_side_by_side")
    write_run(tmp_path, "a", [stage("u2", 2, ["Lipstick", "Nail polish, coral"], 40, calls=2),
                              stage("u2", 1, ["Makeup"], 20), stage("u1", 1, ["Hair Care"], 10)])
    write_run(tmp_path, "b", [stage("u2", 1, ["Lipstick", "Nail polish, coral", "Sunscreen"], 90, retries=1),
                              stage("u3", 1, ["Skin Care"], 30)])

    side_by_side.main(["--dataset", "toy", "--data", str(tmp_path), "--run", "a", "--run", "b"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1 users in every run")
    assert lines[-2] == "| `a` | 2.00 | 4.00 | 40.0 | 2.00 | 0 | 1 |"  # u2's stage 2, not stage 1
    assert lines[-1] == "| `b` | 3.00 | 5.00 | 90.0 | 1.00 | 1 | 0 |"

    with pytest.raises(InputError, match="--run missing: neither"):
        side_by_side.main(["--dataset", "toy", "--data", str(tmp_path), "--run", "a", "--run", "missing"])
    (tmp_path / "toy" / "hsu" / "b" / "stages.jsonl").write_text("{not json\n")
    with pytest.raises(DatasetToolsError, match="line 1: not valid JSON"):
        side_by_side.main(["--dataset", "toy", "--data", str(tmp_path), "--run", "a", "--run", "b"])
