"""Hyper-parameter search: .hyper parsing, both back-ends' spaces, selection on validation."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dataset_tools.formats.features import ITEM_FIELDS, write_feature_file
from recbole_hsuga.tuning import (
    HyperFileError,
    SearchParameter,
    TuningTable,
    ValidationHyperTuning,
    init_ray,
    make_worker_setup_hook,
    read_hyper_file,
    space_size,
    to_hyperopt_space,
    to_ray_space,
    tune_model,
)

DATASET = "toy-beauty"


def write(path, text: str):
    path.write_text(textwrap.dedent(text))
    return path


# --------------------------------------------------------------------------- parsing


def test_hyper_file_parses_all_kinds_comments_and_quoted_hash(tmp_path):
    path = write(
        tmp_path / "space.hyper",
        """\
        # a comment line
        gaa_alpha choice [1.0, 0.5, 0.1]   # spaces inside the list are allowed
        semantic_fusion choice ['add','#gate']

        dropout_prob uniform 0.1,0.5
        embedding_size quniform 32,128,32
        learning_rate loguniform -8,0
        """,
    )
    params = read_hyper_file(path)
    assert params == [
        SearchParameter("gaa_alpha", "choice", (1.0, 0.5, 0.1)),
        SearchParameter("semantic_fusion", "choice", ("add", "#gate")),
        SearchParameter("dropout_prob", "uniform", (0.1, 0.5)),
        SearchParameter("embedding_size", "quniform", (32.0, 128.0, 32.0)),
        SearchParameter("learning_rate", "loguniform", (-8.0, 0.0)),
    ]
    assert space_size(params) is None
    assert space_size(params[:2]) == 6


def test_paper_grid_file_has_the_appendix_grids():
    from recbole_hsuga.config import properties_dir

    params = {p.name: p.values for p in read_hyper_file(properties_dir() / "hyper" / "gaa.hyper")}
    assert params == {
        "gaa_alpha": (1.0, 0.5, 0.1, 0.05, 0.01),
        "gaa_k_active": (2, 6, 10, 14, 18),
        "gaa_k_longtail": (2, 6, 10, 14, 18),
        "gaa_pearson_percentile": (0, 12.5, 25, 37.5, 50, 62.5, 75, 87.5),
        "semantic_fusion": ("add", "gate", "concat"),
    }


@pytest.mark.parametrize(
    "line, message",
    [
        ("gaa_alpha choice", "expected 'name kind values'"),
        ("gaa_alpha normal 0,1", "unknown kind 'normal'"),
        ("gaa_alpha choice [1, x]", "not a Python literal list"),
        ("gaa_alpha choice []", "non-empty list"),
        ("gaa_alpha uniform 1,0", "not below upper bound"),
        ("gaa_alpha quniform 0,1", "expected 3 comma-separated numbers"),
        ("gaa_alpha uniform a,b", "are not numbers"),
        ("gaa_alpha choice [1]\ngaa_alpha choice [2]", "defined twice"),
    ],
)
def test_bad_hyper_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.hyper"
    path.write_text("# header\n" + line + "\n")
    with pytest.raises(HyperFileError, match=message) as error:
        read_hyper_file(path)
    assert f"{path}:{line.count(chr(10)) + 2}" in str(error.value)


def test_hyperopt_and_ray_spaces_draw_from_the_same_distributions(tmp_path):
    import hyperopt.pyll.stochastic
    from ray.tune.search.sample import Categorical, Float

    params = read_hyper_file(
        write(tmp_path / "s.hyper", "fusion choice ['add','gate']\nlr loguniform -8,-2\nq quniform 32,128,32\n")
    )
    rng = np.random.default_rng(0)
    for _ in range(50):
        sample = hyperopt.pyll.stochastic.sample(to_hyperopt_space(params), rng=rng)
        assert sample["fusion"] in ("add", "gate")
        assert math.exp(-8) <= sample["lr"] <= math.exp(-2)
        assert sample["q"] in (32, 64, 96, 128) and isinstance(sample["q"], int)

    ray_space = to_ray_space(params)
    assert isinstance(ray_space["fusion"], Categorical) and ray_space["fusion"].categories == ["add", "gate"]
    # hyperopt's loguniform bounds are ln(value); Ray takes the values themselves.
    assert isinstance(ray_space["lr"], Float)
    assert ray_space["lr"].lower == pytest.approx(math.exp(-8)) and ray_space["lr"].upper == pytest.approx(math.exp(-2))
    draws = [ray_space["q"].sample() for _ in range(50)]
    assert set(draws) <= {32, 64, 96, 128} and all(isinstance(d, int) for d in draws)
    fractional = to_hyperopt_space([SearchParameter("p", "quniform", (0.1, 0.5, 0.1))])
    assert isinstance(hyperopt.pyll.stochastic.sample(fractional, rng=rng)["p"], float)
    assert to_ray_space(params[:1], grid=True) == {"fusion": {"grid_search": ["add", "gate"]}}


# --------------------------------------------------------------------------- hyperopt search mechanics


class ScoreByParams:
    """A deterministic objective: the score is a fixed function of the parameters."""

    def __init__(self, scores: dict, bigger: bool):
        self.scores, self.bigger, self.seen = scores, bigger, []

    def __call__(self, params, _files=None):
        self.seen.append((params["a"], params["b"]))
        return {"model": "m", "best_valid_score": self.scores[(params["a"], params["b"])], "valid_score_bigger": self.bigger,
                "best_valid_result": {}, "test_result": {}}


GRID = [SearchParameter("a", "choice", (1, 2, 3)), SearchParameter("b", "choice", ("x", "y"))]


def test_grid_search_visits_every_point_once_and_max_evals_caps_it():
    scores = {(a, b): a + (b == "y") for a in (1, 2, 3) for b in "xy"}
    objective = ScoreByParams(scores, bigger=True)
    tuner = ValidationHyperTuning(objective, GRID, algo="exhaustive", early_stop=100)
    tuner.run()
    assert sorted(objective.seen) == sorted(scores)
    assert tuner.best_params == {"a": 3, "b": "y"} and tuner.best_score == 4

    capped = ScoreByParams(scores, bigger=True)
    ValidationHyperTuning(capped, GRID, algo="exhaustive", max_evals=4, early_stop=100).run()
    assert len(capped.seen) == 4 and len(set(capped.seen)) == 4


def test_a_best_score_of_zero_is_kept():
    # Smaller is better and the best point scores exactly 0: RecBole's `if not best_score`
    # would have replaced it by the next trial.
    scores = {(a, b): 0.0 if (a, b) == (1, "x") else float(a) for a in (1, 2, 3) for b in "xy"}
    objective = ScoreByParams(scores, bigger=False)
    tuner = ValidationHyperTuning(objective, GRID, algo="exhaustive", early_stop=100)
    tuner.run()
    assert tuner.best_score == 0.0 and tuner.best_params == {"a": 1, "b": "x"}


def test_table_appends_ranks_by_validation_and_finds_finished_trials(tmp_path):
    table = TuningTable(tmp_path / "t.csv", ["a"], "NDCG@10", "full", bigger=True)
    table.append({"trial": "t1", "a": json.dumps(1), "valid_score": 0.2, "test/full/ndcg@10": 0.9, "seconds": 1.0})
    table.append({"trial": "t2", "a": json.dumps(2), "valid_score": 0.3, "test/full/ndcg@10": 0.1, "seconds": 1.0})
    assert table.best()["trial"] == "t2"  # best valid, although its test value is worse
    assert set(table.completed()) == {'{"a": 1}', '{"a": 2}'}
    markdown = table.markdown_path.read_text().splitlines()
    # Rows without a status or budget (tables written before those columns) were finished trials.
    assert markdown[0] == "| trial | a | status | epochs | valid NDCG@10 | test NDCG@10 | seconds |"
    assert markdown[2].startswith("| t2 | 2 | finished |  | 0.3000 | 0.1000 |")


def test_searched_keys_may_not_be_fixed_and_grids_must_be_discrete(tmp_path):
    grid = write(tmp_path / "g.hyper", "gaa_alpha choice [0.1, 0.5]\n")
    with pytest.raises(ValueError, match=r"\['gaa_alpha'\] are both fixed"):
        tune_model("SASRecHSUGA", DATASET, grid, settings=["--gaa_alpha=0.2"])
    continuous = write(tmp_path / "c.hyper", "gaa_alpha uniform 0,1\n")
    with pytest.raises(ValueError, match="exhaustive search needs choice parameters"):
        tune_model("SASRecHSUGA", DATASET, continuous, algo="exhaustive")


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def hsuga_data(toy_data_path, tmp_path):
    """A copy of the toy dataset with a tiny ``toy-beauty.useremb`` and ``toy-beauty.itememb`` (8-d vectors;
    the HSUGA models' dual-view default reads the item file)."""
    root = tmp_path / "data"
    shutil.copytree(toy_data_path / DATASET, root / DATASET)
    lines = (root / DATASET / f"{DATASET}.inter").read_text().splitlines()[1:]
    users = sorted({line.split("\t")[0] for line in lines})
    vectors = np.random.default_rng(0).normal(size=(len(users), 8))
    write_feature_file(root / DATASET / f"{DATASET}.useremb", users, vectors, {"extractor": "test"})
    items = sorted({line.split("\t")[1] for line in lines})
    write_feature_file(root / DATASET / f"{DATASET}.itememb", items, np.random.default_rng(1).normal(size=(len(items), 8)),
                       {"extractor": "test"}, fields=ITEM_FIELDS)
    return root


def settings_for(fast_settings: dict, data_root) -> list[str]:
    settings = dict(fast_settings, data_path=str(data_root))
    return [f"--{key}={value}" for key, value in settings.items()]


def read_rows(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_hyperopt_two_trials_select_on_validation_and_resume(hsuga_data, fast_settings, tmp_path):
    space = write(tmp_path / "gaa.hyper", "gaa_alpha choice [0.5, 0.0]\nsemantic_fusion choice ['gate']\n")
    settings = settings_for(fast_settings, hsuga_data)
    outcome = tune_model("SASRecHSUGA", DATASET, space, tool="hyperopt", algo="exhaustive", settings=settings)

    assert outcome.csv_path.parent == tmp_path / "results"
    assert outcome.csv_path.name.startswith(f"tuning-SASRecHSUGA-{DATASET}-hyperopt-")
    rows = read_rows(outcome.csv_path)
    assert sorted(json.loads(r["gaa_alpha"]) for r in rows) == [0.0, 0.5]
    for row in rows:
        # The selection score is the validation metric of that run, not its test metric.
        run = json.loads(open(row["result_file"]).read())
        assert float(row["valid_score"]) == pytest.approx(run["best_valid_score"])
        assert float(row["valid/full/ndcg@10"]) == pytest.approx(run["metrics"]["valid"]["full"]["all"]["ndcg@10"])
        assert float(row["test/full/ndcg@10"]) == pytest.approx(run["metrics"]["test"]["full"]["all"]["ndcg@10"])
        assert run["config"]["semantic_fusion"] == "gate"
        assert float(row["seconds"]) > 0
    best = max(rows, key=lambda r: float(r["valid_score"]))
    assert outcome.best_params == {"gaa_alpha": json.loads(best["gaa_alpha"]), "semantic_fusion": "gate"}
    assert all(r["status"] == "finished" for r in rows)
    assert "| trial | gaa_alpha | semantic_fusion | status | epochs | valid NDCG@10 | test NDCG@10 | seconds |" in outcome.markdown_path.read_text()
    assert not any((tmp_path / "saved").rglob("*.pth"))  # trial checkpoints are removed

    # Resuming the finished table trains nothing again and keeps the same answer.
    again = tune_model("SASRecHSUGA", DATASET, space, tool="hyperopt", algo="exhaustive", settings=settings, resume_table=outcome.csv_path)
    assert again.csv_path == outcome.csv_path and len(read_rows(outcome.csv_path)) == 2
    assert again.best_params == outcome.best_params


def test_ray_worker_hook_ships_by_value_without_torch():
    import ray.cloudpickle as cloudpickle

    payload = cloudpickle.dumps(make_worker_setup_hook())
    code = (
        "import sys, pickle, numpy as np; f = pickle.loads(sys.stdin.buffer.read()); f();"
        "assert np.bool8 is np.bool_ and np.float is float;"
        "assert 'torch' not in sys.modules and 'recbole_hsuga' not in sys.modules, sorted(sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()


@pytest.fixture
def local_ray():
    import ray

    init_ray(num_cpus=2)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_two_trials_select_on_validation_under_asha(local_ray, toy_data_path, fast_settings, tmp_path, monkeypatch):
    # A plain RecBole model keeps the (slow to start) Ray test short; paths are relative on
    # purpose: the tuner makes them absolute for the workers. Two trials of 2 epochs run in
    # parallel, reporting every epoch to ASHA (rung at epoch 1): which one reaches the rung
    # first is up to the machine, so 1e-7 (an untrained model) may finish or be stopped there;
    # 0.01 always finishes.
    monkeypatch.chdir(tmp_path)
    shutil.copytree(toy_data_path, tmp_path / "data")
    write(tmp_path / "lr.hyper", "learning_rate choice [0.01, 1e-7]\n")
    settings = dict(fast_settings, data_path="data", checkpoint_dir="saved", results_dir="results", epochs=2)
    outcome = tune_model(
        "SASRec", DATASET, "lr.hyper", tool="ray", algo="exhaustive", num_cpus=2,
        settings=[f"--{k}={v}" for k, v in settings.items()] + ["--scheduler=asha", "--grace_period=1", "--reduction_factor=2"],
    )
    assert outcome.csv_path.parent == tmp_path / "results" and "-ray-" in outcome.csv_path.name
    rows = {json.loads(r["learning_rate"]): r for r in read_rows(outcome.csv_path)}
    assert sorted(rows) == [1e-7, 0.01]
    good, bad = rows[0.01], rows[1e-7]
    assert good["status"] == "finished" and good["epochs"] == "2" and good["test/full/ndcg@10"] != ""
    assert bad["status"] in ("finished", "early-terminated")
    if bad["status"] == "early-terminated":  # recorded by the driver with its best score so far
        assert bad["epochs"] == "1" and bad["test/full/ndcg@10"] == ""
        assert float(bad["valid_score"]) < json.loads(good["rung_scores"])["1"]
    assert float(bad["valid_score"]) < float(good["valid_score"])
    assert all(r["trial"].startswith("ray_trainable_") for r in rows.values())
    assert json.loads(good["budget"])["scheduler"] == "asha" and good["budget"] == bad["budget"]
    assert outcome.best_params == {"learning_rate": 0.01}
    assert outcome.markdown_path.read_text().startswith("Budget: 2 trials (max_evals); scheduler asha (grace_period 1")


@pytest.mark.slow
def test_ray_asha_stops_the_weak_trial_one_at_a_time(local_ray, toy_data_path, fast_settings, tmp_path):
    # One trial at a time: the grid runs 0.01 first, so 1e-7 meets it at rung 1 and ASHA stops it;
    # the worker never returns, the driver's callback records the row.
    write(tmp_path / "lr.hyper", "learning_rate choice [0.01, 1e-7]\n")
    settings = dict(fast_settings, epochs=2)
    outcome = tune_model(
        "SASRec", DATASET, tmp_path / "lr.hyper", tool="ray", algo="exhaustive", num_cpus=1,
        settings=[f"--{k}={v}" for k, v in settings.items()] + ["--scheduler=asha", "--grace_period=1", "--reduction_factor=2"],
    )
    rows = read_rows(outcome.csv_path)
    assert [(json.loads(r["learning_rate"]), r["status"], r["epochs"]) for r in rows] == [
        (0.01, "finished", "2"), (1e-7, "early-terminated", "1")]
    assert float(rows[1]["valid_score"]) < json.loads(rows[0]["rung_scores"])["1"]
    assert json.loads(rows[1]["rung_scores"]) == {"1": pytest.approx(float(rows[1]["valid_score"]))}
    # Neither trial leaves its model file or training state behind, the stopped one included.
    assert not [path for path in (tmp_path / "saved").rglob("*") if path.is_file()]

    # Resumed, both rows are reused (the early-terminated one too) and no row is added.
    again = tune_model(
        "SASRec", DATASET, tmp_path / "lr.hyper", tool="ray", algo="exhaustive", num_cpus=1, resume_table=outcome.csv_path,
        settings=[f"--{k}={v}" for k, v in settings.items()] + ["--scheduler=asha", "--grace_period=1", "--reduction_factor=2"],
    )
    assert read_rows(outcome.csv_path) == rows and again.best_params == {"learning_rate": 0.01}
