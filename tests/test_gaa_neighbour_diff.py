"""benchmarks/gaa_neighbour_diff.py: two GAA runs' neighbour sets and SD loss share, side by side."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from recbole_hsuga.errors import InputError
from recbole_hsuga.gaa.neighbours import NeighbourSets


@pytest.fixture
def diff(import_benchmark):
    return import_benchmark("gaa_neighbour_diff")


def neighbour_sets(lists: list[list[int]], active: list[bool]) -> NeighbourSets:
    """CSR sets over users 0..n-1 from per-user lists (user 0, RecBole's padding, ineligible)."""
    indptr = np.cumsum([0] + [len(x) for x in lists]).astype(np.int64)
    indices = np.array([v for x in lists for v in x], dtype=np.int64)
    eligible = np.array([False] + [True] * (len(lists) - 1))
    return NeighbourSets(indptr, indices, np.array(active), eligible, {"params": {}})


def write_run(folder: Path, name: str, sets: NeighbourSets, losses: list[tuple[float, float]],
              valid: list[float]) -> Path:
    """A result file whose ``checkpoint_dir`` holds ``sets`` as the trainer caches them."""
    checkpoint_dir = folder / name
    sets.save(checkpoint_dir / "gaa_cache" / "key.npz")
    result = {"model": name, "dataset": "toy", "seed": 42, "config": {"checkpoint_dir": str(checkpoint_dir)},
              "curve": [{"epoch": e, "train_loss": list(loss), "valid_score": v}
                        for e, (loss, v) in enumerate(zip(losses, valid))]}
    path = folder / f"{name}.json"
    path.write_text(json.dumps(result))
    return path


def test_group_rows_and_loss_shares_are_measured_from_the_caches_and_curves(diff, tmp_path, capsys):
    active = [False, True, True, False, False]
    uniform = neighbour_sets([[], [2, 3, 4], [1, 3, 4], [1, 2, 4], [1, 2, 3]], active)
    group_aware = neighbour_sets([[], [2], [1, 3], [1, 2, 4], [1, 2, 3]], active)
    first = write_run(tmp_path, "uniform", uniform, [(90.0, 10.0), (80.0, 20.0)], [0.1, 0.2])
    second = write_run(tmp_path, "aware", group_aware, [(91.0, 9.0), (80.0, 5.0)], [0.3, 0.2])
    table = tmp_path / "rows.csv"
    diff.main(["--run", f"U={first}", "--run", f"G={second}", "--csv", str(table)])
    report = capsys.readouterr().out
    rows = {r["group"]: r for r in csv.DictReader(table.open())}
    assert rows["active"]["users"] == "2" and rows["long-tail"]["users"] == "2"
    assert float(rows["active"]["first_neighbours"]) == 3.0 and float(rows["active"]["second_neighbours"]) == 1.5
    assert float(rows["active"]["identical"]) == 0.0 and float(rows["active"]["second_inside_first"]) == 1.0
    assert float(rows["active"]["jaccard"]) == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert float(rows["long-tail"]["identical"]) == 1.0 and float(rows["long-tail"]["jaccard"]) == 1.0
    # SD shares: U selected epoch 1 (20 / 100), G selected epoch 0 (9 / 100); last epoch G 5 / 85.
    assert "| U | 42 | 10.00% | 20.00% (epoch 1) | 20.00% |" in report
    assert "| G | 42 | 9.00% | 9.00% (epoch 0) | 5.88% |" in report
    assert "over their 2 shared epochs: 1.11e-02." in report  # |91 - 90| / 90


def test_a_run_without_gaa_is_named(diff, tmp_path):
    sets = neighbour_sets([[], [2], [1]], [False, True, False])
    with_gaa = write_run(tmp_path, "gaa", sets, [(1.0, 0.1)], [0.1])
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"model": "SASRec", "dataset": "toy", "seed": 42,
                                 "config": {"checkpoint_dir": str(tmp_path / "nowhere")}, "curve": []}))
    with pytest.raises(InputError, match="plain.json: expected one neighbour cache"):
        diff.main(["--run", f"A={with_gaa}", "--run", f"B={plain}"])
    with pytest.raises(InputError, match="exactly two runs"):
        diff.main(["--run", f"A={with_gaa}"])
