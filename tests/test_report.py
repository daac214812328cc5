"""python -m recbole_hsuga.report: the table's numbers, the two PNGs, model grouping, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recbole_hsuga.report import main
from recbole_hsuga.reporting.collect import collect_runs
from recbole_hsuga.reporting.stats import Cell, delta

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_result(folder: Path, model: str, seed: int, full_all: float, *, created: str = "2026-01-01T00:00:00+00:00",
                 config: dict | None = None, name: str | None = None) -> Path:
    """A result file as run_recbole_hsuga.py writes it, with NDCG@10 derived from ``full_all``."""
    groups = {"all": full_all, "tail_users": full_all / 2, "tail_items": full_all / 4}
    metrics = {
        "full": {group: {"n_users": 10, "ndcg@10": value, "hit@10": 2 * value} for group, value in groups.items()},
        "sampled": {group: {"n_users": 10, "ndcg@10": 3 * value, "hit@10": 4 * value} for group, value in groups.items()},
    }
    result = {
        "model": model, "dataset": "toy", "seed": seed, "created": created, "valid_metric": "NDCG@10",
        "metrics": {"valid": metrics, "test": metrics},
        "curve": [{"epoch": epoch, "train_loss": 1.0, "valid_score": full_all * (epoch + 1) / 3} for epoch in range(3)],
        "config": {"seed": seed, "checkpoint_dir": f"/tmp/{model}-{seed}", "epochs": 3, **(config or {})},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{model}-toy-seed{seed}-{created[:10]}.json")
    path.write_text(json.dumps(result))
    return path


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """Two models x two seeds: Base 0.10 / 0.12, Rival 0.11 / 0.15 (full, all users, NDCG@10)."""
    folder = tmp_path / "compare-toy"
    write_result(folder / "Base", "Base", 1, 0.10)
    write_result(folder / "Base", "Base", 2, 0.12)
    write_result(folder / "Rival__alpha=0.5", "Rival", 1, 0.11)
    write_result(folder / "Rival__alpha=0.5", "Rival", 2, 0.15)
    return folder


def row(table: str, model: str) -> list[str]:
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == model:
            return cells
    raise AssertionError(f"no row {model!r} in\n{table}")


def test_table_numbers_and_figures(study: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "glance"
    assert main(["--study", str(study), "--out", str(out)]) == 0
    table = (out / "compare-toy.md").read_text()
    header = row(table, "model")
    assert header[2:6] == ["full: all", "full: tail users", "full: tail items", "full: Δ% (all)"]
    assert header[6:] == ["sampled: all", "sampled: tail users", "sampled: tail items", "sampled: Δ% (all)"]
    base, rival = row(table, "Base (baseline)"), row(table, "Rival+alpha=0.5")
    assert base[1] == rival[1] == "2"
    # mean ± sample std over the two seeds; the best of each column in bold
    assert base[2] == "0.1100 ± 0.0141"
    assert rival[2] == "**0.1300 ± 0.0283**"
    assert rival[3] == "**0.0650 ± 0.0141**" and base[3] == "0.0550 ± 0.0071"
    assert rival[6] == "**0.3900 ± 0.0849**"
    # Δ% of the all-users mean: (0.13 - 0.11) / 0.11; paired t-test over 2 seeds: p = 0.30, no marker
    assert base[5] == "" and rival[5] == "+18.2%"
    assert rival[9] == "+18.2%"
    for name in ("compare-toy-bars.png", "compare-toy-curves.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert "![NDCG@10 per group](compare-toy-bars.png)" in table
    assert "wrote" in capsys.readouterr().out


def test_named_baseline_and_extra_runs(study: Path, tmp_path: Path) -> None:
    """--runs puts loose models in front; --baseline names the one the Δ% column compares against."""
    loose = tmp_path / "loose"
    write_result(loose, "Shared", 1, 0.05)
    write_result(loose, "Shared", 2, 0.05)
    out = tmp_path / "glance"
    assert main(["--study", str(study), "--runs", str(loose), "--baseline", "Rival+alpha=0.5", "--out", str(out)]) == 0
    table = (out / "compare-toy.md").read_text()
    assert [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")][1:4] == \
        ["Shared", "Base", "Rival+alpha=0.5 (baseline)"]
    # Base vs Rival: (0.11 - 0.13) / 0.13
    assert row(table, "Base")[5] == "-15.4%"


def test_labels_rename_models_and_the_baseline_may_use_either_name(study: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "glance"
    assert main(["--study", str(study), "--label", "Rival+alpha=0.5=Rival at 0.5", "--baseline", "Rival+alpha=0.5",
                 "--out", str(out)]) == 0
    table = (out / "compare-toy.md").read_text()
    assert row(table, "Rival at 0.5 (baseline)")[1] == "2" and row(table, "Base")[5] == "-15.4%"
    assert main(["--study", str(study), "--label", "Nope=x", "--out", str(out)]) == 2
    assert "--label 'Nope': no such model" in capsys.readouterr().err
    assert main(["--study", str(study), "--label", "Base", "--out", str(out)]) == 2
    assert "expected NAME=LABEL" in capsys.readouterr().err


def test_loose_runs_grouped_by_differing_settings(tmp_path: Path) -> None:
    """A model = the model field plus the settings its runs differ in; a repeated seed keeps the newest run."""
    write_result(tmp_path, "SASRec", 1, 0.10, config={"epochs": 10})
    write_result(tmp_path, "SASRec", 1, 0.20, config={"epochs": 20}, created="2026-01-01T00:00:00+00:00", name="a.json")
    write_result(tmp_path, "SASRec", 1, 0.30, config={"epochs": 20}, created="2026-01-02T00:00:00+00:00", name="b.json")
    write_result(tmp_path, "GRU4Rec", 1, 0.05)
    study = collect_runs([tmp_path])
    names = {model.name: model for model in study.models}
    assert set(names) == {"SASRec+epochs=10", "SASRec+epochs=20", "GRU4Rec"}
    newest = names["SASRec+epochs=20"]
    assert newest.repeats_dropped == 1
    assert newest.runs[1].path.name == "b.json"


def test_a_run_written_before_a_key_existed_counts_with_the_value_runs_had_then(tmp_path: Path) -> None:
    """A result file without a later key is the same setting as a newer run with the key's old value,
    and another setting than a newer run with a new value."""
    write_result(tmp_path, "SASRec", 1, 0.10, config={"epochs": 10})  # written before the key existed
    write_result(tmp_path, "SASRec", 2, 0.20, config={"epochs": 10, "train_segments_per_user": 1})
    write_result(tmp_path, "SASRec", 3, 0.30, config={"epochs": 10, "train_segments_per_user": 24})
    names = {model.name: sorted(model.runs) for model in collect_runs([tmp_path]).models}
    assert names == {"SASRec+train_segments_per_user=1": [1, 2], "SASRec+train_segments_per_user=24": [3]}


def test_significance_marker() -> None:
    """Three paired seeds with a steady gain: p < 0.01 -> ‡; two seeds with a noisy one: no marker."""
    base = Cell({1: 0.100, 2: 0.200, 3: 0.300})
    steady = delta(Cell({1: 0.110, 2: 0.211, 3: 0.312}), base)
    assert steady.paired_seeds == 3 and steady.p_value < 0.01 and steady.marker == "‡"
    noisy = delta(Cell({1: 0.11, 2: 0.15}), Cell({1: 0.10, 2: 0.12}))
    assert noisy.p_value == pytest.approx(0.2952, abs=1e-3) and noisy.marker == ""
    single = delta(Cell({1: 0.2}), Cell({1: 0.1, 2: 0.1}))
    assert single.p_value is None and single.percent == pytest.approx(100.0)


@pytest.mark.parametrize("content, culprit", [
    ("{not json", "not valid JSON"),
    (json.dumps({"model": "X", "dataset": "toy", "seed": 1}), "missing key 'metrics'"),
    (json.dumps({"model": "X", "dataset": "toy", "seed": 1, "metrics": {"test": {"full": {"all": {"ndcg@10": "high"}}}}}),
     "metrics.test.full.all.ndcg@10"),
])
def test_malformed_file_is_one_line(tmp_path: Path, capsys, content: str, culprit: str) -> None:
    bad = tmp_path / "runs" / "bad.json"
    bad.parent.mkdir()
    bad.write_text(content)
    assert main(["--runs", str(bad.parent), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and str(bad) in error and culprit in error
    assert error.startswith("python -m recbole_hsuga.report: error: ")


def test_unknown_baseline_and_missing_folder(study: Path, tmp_path: Path, capsys) -> None:
    assert main(["--study", str(study), "--baseline", "Nope", "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "'Nope'" in error and "Base" in error and error.count("\n") == 1
    assert main(["--study", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "missing" in capsys.readouterr().err
