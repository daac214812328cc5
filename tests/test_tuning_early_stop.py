"""Early termination of weak trials: the successive-halving rule, its use by the hyperopt
back-end, the status column, the budget a table states, and the scheduler flags."""

from __future__ import annotations

import csv
import json
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from recbole_hsuga.errors import InputError
from recbole_hsuga.tuning import (
    HalvingRule,
    TuningTable,
    read_hyper_file,
    rung_cutoff,
    rung_milestones,
    stops_at_rung,
    tune_model,
)
from recbole_hsuga.tuning.halving import check_halving_settings

DATASET = "toy-beauty"


def write(path, text: str):
    path.write_text(textwrap.dedent(text))
    return path


def read_rows(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    "grace, factor, max_t, expected",
    [(1, 2, 8, [1, 2, 4, 8]), (5, 3, 20, [5, 15]), (5, 3, 45, [5, 15, 45]), (1, 2, 2, [1, 2]), (3, 2, 3, [3]),
     (1, 3, 243, [1, 3, 9, 27, 81, 243])],
)
def test_rungs_lie_at_grace_times_powers_of_the_factor(grace, factor, max_t, expected):
    assert rung_milestones(grace, factor, max_t) == expected


def test_cutoff_is_the_quantile_that_keeps_the_top_one_over_factor():
    # Two earlier trials, factor 2: the median. A score equal to the cutoff continues.
    assert rung_cutoff([0.1, 0.3], 2) == pytest.approx(0.2)
    assert stops_at_rung(0.19, [0.1, 0.3], 2) and not stops_at_rung(0.2, [0.1, 0.3], 2)
    # Four earlier trials, factor 3: the 66.7th percentile of 0.1..0.4 is 0.3 (linear interpolation).
    assert rung_cutoff([0.4, 0.1, 0.3, 0.2], 3) == pytest.approx(0.3)
    assert stops_at_rung(0.29, [0.4, 0.1, 0.3, 0.2], 3) and not stops_at_rung(0.31, [0.4, 0.1, 0.3, 0.2], 3)
    # One earlier trial: it sets the bar. None: nobody to compare with, the trial goes on.
    assert stops_at_rung(0.09, [0.1], 4) and not stops_at_rung(0.1, [0.1], 4)
    assert rung_cutoff([], 3) is None and not stops_at_rung(-1.0, [], 3)
    # Smaller is better (a loss): the bar is mirrored.
    assert rung_cutoff([1.0, 3.0], 2, bigger=False) == pytest.approx(2.0)
    assert stops_at_rung(2.5, [1.0, 3.0], 2, bigger=False) and not stops_at_rung(1.5, [1.0, 3.0], 2, bigger=False)


def test_halving_rule_stops_each_weak_trial_at_its_rung():
    """Four trials one after another, rungs at 1, 2, 4 epochs (factor 2, max_t 8)."""
    rule = HalvingRule(grace_period=1, reduction_factor=2, max_t=8)
    stopped = {}

    def run(trial, best_by_epoch):
        for epoch, best in enumerate(best_by_epoch, start=1):
            decision = rule.observe(trial, epoch, best)
            if decision.stop:
                stopped[trial] = (epoch, decision.milestone, decision.cutoff)
                return

    run("A", [0.10, 0.20, 0.25, 0.30, 0.31, 0.32, 0.33])  # first at every rung: never stopped
    run("B", [0.05, 0.30])  # rung 1: 0.05 < A's 0.10
    run("C", [0.15, 0.18, 0.40])  # rung 1: 0.15 >= median(0.10, 0.05); rung 2: 0.18 < A's 0.20
    run("D", [0.12, 0.22, 0.23, 0.26, 0.50])  # rungs 1, 2 passed; rung 4: 0.26 < A's 0.30
    run("E", [0.11, 0.21, 0.24, 0.35, 0.36, 0.37, 0.38])  # rung 4: 0.35 >= median(0.30, 0.26)
    assert set(stopped) == {"B", "C", "D"}
    assert stopped["B"] == (1, 1, pytest.approx(0.10))
    assert stopped["C"] == (2, 2, pytest.approx(0.20))
    assert stopped["D"][:2] == (4, 4) and stopped["D"][2] == pytest.approx(0.30)
    # Every trial that reached a rung is recorded there, stopped ones included.
    assert rule.recorded[1] == {"A": 0.10, "B": 0.05, "C": 0.15, "D": 0.12, "E": 0.11}
    assert rule.recorded[2] == {"A": 0.20, "C": 0.18, "D": 0.22, "E": 0.21}
    assert rule.recorded[4] == {"A": 0.30, "D": 0.26, "E": 0.35}
    # Between rungs nothing is decided; a second report at the same rung goes on; max_t stops.
    assert rule.observe("E", 3, 0.0) == (False, None, None)
    assert not rule.observe("B", 1, 0.0).stop
    assert rule.observe("E", 8, 0.9).stop


def test_halving_rule_is_seeded_from_a_resumed_table_and_minimises_losses():
    rule = HalvingRule(grace_period=2, reduction_factor=2, max_t=10, bigger=False)
    rule.load("old", {"2": 1.0, "4": 0.5, "3": 9.9})  # 3 is no rung: ignored
    assert rule.recorded == {2: {"old": 1.0}, 4: {"old": 0.5}, 8: {}}
    assert rule.observe("new", 2, 1.2).stop  # loss 1.2 is worse than the earlier 1.0
    assert not rule.observe("newer", 2, 0.9).stop


def test_the_rule_matches_rays_asha_bracket():
    """Ray's ASHA (``_Bracket``, s=0) and :class:`HalvingRule` stop the same trials on the
    same stream of per-epoch reports (below max_t), and have the same rungs below max_t."""
    from ray.tune.schedulers import TrialScheduler
    from ray.tune.schedulers.async_hyperband import _Bracket

    rng = np.random.default_rng(7)
    for grace, factor, max_t in [(1, 2, 16), (2, 3, 40), (1, 4, 30)]:
        bracket = _Bracket(grace, max_t, factor, 0)
        assert sorted(m for m, _ in bracket._rungs if m < max_t) == [m for m in rung_milestones(grace, factor, max_t) if m < max_t]
        rule = HalvingRule(grace, factor, max_t)
        for number in range(25):
            trial = SimpleNamespace(trial_id=f"t{number}")
            best = 0.0
            for epoch in range(1, max_t):
                best = max(best, float(rng.uniform(0, 1)) * epoch / max_t)
                ray_stops = bracket.on_result(trial, epoch, best) == TrialScheduler.STOP
                assert rule.observe(trial.trial_id, epoch, best).stop == ray_stops, (grace, factor, max_t, number, epoch)
                if ray_stops:
                    break


@pytest.mark.parametrize(
    "args, message",
    [((0, 3, 10), "--grace_period must be at least 1"), ((1, 1, 10), "--reduction_factor must be at least 2"),
     ((5, 3, 4), "--max_t=4 is below --grace_period=5"), ((1, 2.5, 10), "--reduction_factor must be an integer")],
)
def test_bad_halving_settings_are_input_errors(args, message):
    with pytest.raises(InputError, match=message):
        check_halving_settings(*args)
    with pytest.raises(InputError, match="exceeds the epoch cap epochs=20"):
        check_halving_settings(1, 2, 30, epochs=20)


# --------------------------------------------------------------------------- table: status and budget


BUDGET = {"tool": "hyperopt", "algo": "random", "max_evals": 8, "early_stop": 10, "scheduler": "asha", "grace_period": 5,
          "reduction_factor": 3, "max_t": 20, "epochs": 20, "search_seed": 2020, "seed": 42}


def test_table_states_budget_and_status_and_ranks_finished_trials_first(tmp_path):
    table = TuningTable(tmp_path / "t.csv", ["a"], "NDCG@10", "full", bigger=True, budget=BUDGET)
    budget = json.dumps(BUDGET)
    table.append({"trial": "t1", "a": "1", "status": "finished", "valid_score": 0.2, "epochs": 20, "budget": budget})
    table.append({"trial": "t2", "a": "2", "status": "early-terminated", "valid_score": 0.25, "epochs": 5, "budget": budget})
    table.append({"trial": "t3", "a": "3", "status": "failed", "valid_score": "", "epochs": "", "budget": budget, "error": "boom"})
    # The early-terminated trial scores higher but was not trained to its end: the finished one is chosen.
    assert table.best()["trial"] == "t1"
    assert set(table.completed()) == {'{"a": 1}', '{"a": 2}'}  # a failed trial is tried again on resume
    lines = table.markdown_path.read_text().splitlines()
    assert lines[0] == ("Budget: 8 trials (max_evals); scheduler asha (grace_period 5 epochs, reduction_factor 3, max_t 20 "
                        "epochs); epoch cap 20; search seed 2020, training seed 42; hyperopt/random; early_stop 10 trials.")
    assert lines[2] == "| trial | a | status | epochs | valid NDCG@10 | test NDCG@10 | seconds |"
    assert [line.split(" | ")[0] for line in lines[4:7]] == ["| t2", "| t1", "| t3"]  # by score, no score last
    assert lines[6].startswith("| t3 | 3 | failed |  |  |")
    assert lines[-1] == "Ended: 2 of 8 trials (1 finished, 1 early-terminated); 1 failed; 0.00 core-hours of trials in all."

    table.check_budget(dict(BUDGET))
    with pytest.raises(InputError, match=r"budget key 'max_evals' is 8 in the table but 16 now"):
        table.check_budget(dict(BUDGET, max_evals=16))
    with pytest.raises(InputError, match=r"budget key 'scheduler' is 'asha' in the table but 'none' now"):
        table.check_budget(dict(BUDGET, scheduler="none"))


# --------------------------------------------------------------------------- end to end (hyperopt)


def test_hyperopt_asha_early_terminates_a_weak_trial_and_resumes(toy_data_path, fast_settings, tmp_path):
    # Grid order of two points under search seed 2020 is [second, first]: the good rate runs
    # first, the bad one (1e-7 barely moves the untrained model) meets it at rung 1.
    space = write(tmp_path / "lr.hyper", "learning_rate choice [1e-7, 0.01]\n")
    settings = [f"--{k}={v}" for k, v in dict(fast_settings, epochs=2).items()]
    flags = ["--scheduler=asha", "--grace_period=1", "--reduction_factor=2"]
    outcome = tune_model("SASRec", DATASET, space, tool="hyperopt", algo="exhaustive", settings=settings + flags)

    rows = read_rows(outcome.csv_path)
    assert [(r["trial"], json.loads(r["learning_rate"]), r["status"]) for r in rows] == [
        ("trial0001", 0.01, "finished"), ("trial0002", 1e-7, "early-terminated")]
    good, bad = rows
    assert good["epochs"] == "2" and bad["epochs"] == "1"
    assert float(bad["valid_score"]) < json.loads(good["rung_scores"])["1"]
    assert json.loads(bad["rung_scores"]) == {"1": pytest.approx(float(bad["valid_score"]))}
    assert bad["test/full/ndcg@10"] == "" and float(good["test/full/ndcg@10"]) > 0
    run = json.loads(open(good["result_file"]).read())
    assert float(good["valid_score"]) == pytest.approx(run["best_valid_score"])
    budget = json.loads(good["budget"])
    assert budget == {"tool": "hyperopt", "algo": "exhaustive", "max_evals": 2, "early_stop": 10, "scheduler": "asha",
                      "grace_period": 1, "reduction_factor": 2, "max_t": 2, "epochs": 2, "search_seed": 2020, "seed": 42}
    assert bad["budget"] == good["budget"]
    assert outcome.best_params == {"learning_rate": 0.01}
    markdown = outcome.markdown_path.read_text()
    assert markdown.startswith("Budget: 2 trials (max_evals); scheduler asha (grace_period 1 epochs, reduction_factor 2, max_t 2")
    assert "| trial0002 | 1e-07 | early-terminated | 1 |" in markdown

    # Resuming under the same budget trains nothing again ...
    again = tune_model("SASRec", DATASET, space, tool="hyperopt", algo="exhaustive", settings=settings + flags,
                       resume_table=outcome.csv_path)
    assert len(read_rows(outcome.csv_path)) == 2 and again.best_params == outcome.best_params
    # ... and another budget is refused, naming the key.
    with pytest.raises(InputError, match=r"budget key 'reduction_factor' is 2 in the table but 3 now"):
        tune_model("SASRec", DATASET, space, tool="hyperopt", algo="exhaustive", resume_table=outcome.csv_path,
                   settings=settings + ["--scheduler=asha", "--grace_period=1", "--reduction_factor=3"])
    with pytest.raises(InputError, match=r"budget key 'epochs' is 2 in the table but 3 now"):
        tune_model("SASRec", DATASET, space, tool="hyperopt", algo="exhaustive", resume_table=outcome.csv_path,
                   settings=[f"--{k}={v}" for k, v in dict(fast_settings, epochs=3).items()] + flags)


def test_a_search_killed_mid_trial_continues_that_trial_from_its_last_validated_epoch(toy_data_path, fast_settings,
                                                                                     tmp_path, monkeypatch):
    # Grid order is [second, first]: the barely-moving rate runs first, the good one second and
    # stays above it at rung 1, so both trials train all 3 epochs.
    space = write(tmp_path / "lr.hyper", "learning_rate choice [0.01, 1e-7]\n")
    flags = ["--scheduler=asha", "--grace_period=1", "--reduction_factor=2"]

    def search(root, resume_table=None):
        settings = dict(fast_settings, epochs=3, checkpoint_dir=str(root / "saved"), results_dir=str(root / "results"))
        return tune_model("SASRec", DATASET, space, tool="hyperopt", algo="exhaustive", resume_table=resume_table,
                          settings=[f"--{k}={v}" for k, v in settings.items()] + flags)

    uninterrupted = read_rows(search(tmp_path / "whole").csv_path)

    # A process killed while the second trial trains: the interrupt leaves its second epoch's
    # validation saved and nothing in the table.
    from recbole_hsuga.tuning import objective

    update, calls = objective.EpochTracker.update, []

    def killed_at_the_fifth_validation(tracker, epoch_idx, valid_score):
        calls.append(epoch_idx)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return update(tracker, epoch_idx, valid_score)

    monkeypatch.setattr(objective.EpochTracker, "update", killed_at_the_fifth_validation)
    with pytest.raises(KeyboardInterrupt):
        search(tmp_path / "killed")
    monkeypatch.setattr(objective.EpochTracker, "update", update)
    table = next((tmp_path / "killed" / "results").glob("tuning-*.csv"))
    assert [row["trial"] for row in read_rows(table)] == ["trial0001"]
    trained_before = float((tmp_path / "killed" / "saved" / table.stem / "trial0002" / objective.ELAPSED_FILE).read_text())

    resumed = read_rows(search(tmp_path / "killed", resume_table=table).csv_path)
    assert [row["trial"] for row in resumed] == ["trial0001", "trial0002"]
    second = resumed[1]
    assert json.loads(open(second["result_file"]).read())["trainer_report"]["resumed_at_epochs"] == [2]
    for column in ("learning_rate", "status", "epochs", "rung_scores", "valid_score", "test/full/ndcg@10"):
        assert second[column] == uninterrupted[1][column], column
    assert float(second["seconds"]) > trained_before > 0  # the time before the stop counts
    assert not list((tmp_path / "killed" / "saved").rglob("training-state-*"))  # removed once the result is written


def test_a_trial_folder_left_by_other_parameters_is_cleared_not_refused(tmp_path):
    from recbole_hsuga.tuning.objective import PARAMS_FILE, TuningObjective

    table = TuningTable(tmp_path / "t.csv", ["a"], "NDCG@10", "full", bigger=True)
    objective = TuningObjective("SASRec", DATASET, [], [], {"checkpoint_dir": str(tmp_path / "saved")}, table)
    folder = objective.trial_checkpoints("trial0002")
    folder.mkdir(parents=True)
    (folder / PARAMS_FILE).write_text('{"a": 1}')
    (folder / "training-state-SASRec-toy-beauty-seed42.pth").write_text("another trial's state")
    objective._claim_checkpoints("trial0002", {"a": 2})  # a retried failure shifted what TPE draws here
    assert sorted(path.name for path in folder.iterdir()) == [PARAMS_FILE]
    (folder / "training-state-SASRec-toy-beauty-seed42.pth").write_text("this trial's state")
    objective._claim_checkpoints("trial0002", {"a": 2})  # the same parameters: its state stays
    assert (folder / "training-state-SASRec-toy-beauty-seed42.pth").read_text() == "this trial's state"


def test_hyperopt_records_a_failed_trial_and_goes_on(toy_data_path, fast_settings, tmp_path):
    # 3 heads do not divide SASRec's hidden size 64: RecBole raises while building the model.
    space = write(tmp_path / "heads.hyper", "n_heads choice [1, 3]\n")
    settings = [f"--{k}={v}" for k, v in fast_settings.items()]
    outcome = tune_model("SASRec", DATASET, space, tool="hyperopt", algo="exhaustive", settings=settings)
    rows = {json.loads(r["n_heads"]): r for r in read_rows(outcome.csv_path)}
    assert rows[1]["status"] == "finished" and float(rows[1]["valid_score"]) > 0
    assert rows[3]["status"] == "failed" and rows[3]["valid_score"] == ""
    assert "not a multiple" in rows[3]["error"] or "heads" in rows[3]["error"], rows[3]["error"]
    assert outcome.best_params == {"n_heads": 1}
    assert json.loads(rows[3]["budget"])["scheduler"] == "none"


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    "flags, message",
    [(["--scheduler=bogus"], "unknown scheduler 'bogus'; use one of none, asha"),
     (["--scheduler=asha", "--reduction_factor=1"], "--reduction_factor must be at least 2"),
     (["--scheduler=asha", "--grace_period=two"], "--grace_period must be an integer"),
     (["--scheduler=asha", "--max_t=5"], "--max_t=5 exceeds the epoch cap epochs=1"),
     (["--grace_period=2"], "--grace_period only apply with --scheduler=asha")],
)
def test_bad_scheduler_flags_stop_with_one_line_and_status_2(flags, message, fast_settings, tmp_path, capsys):
    from recbole_hsuga.cli import tune_main

    space = write(tmp_path / "lr.hyper", "learning_rate choice [0.01]\n")
    settings = [f"--{k}={v}" for k, v in fast_settings.items()]
    status = tune_main(["--model=SASRec", f"--dataset={DATASET}", f"--params_file={space}", *settings, *flags])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 2
    assert [line for line in err if ": error: " in line] == [err[-1]] and f": error: {message}" in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").glob("tuning-*.csv"))


# --------------------------------------------------------------------------- committed search spaces


HYPER_FILES = {
    "sasrec_recipe.hyper": "SASRec",
    "sasrec_recipe_small.hyper": "SASRec",
    "gaa_own.hyper": "SASRecHSUGA",
    "llmesr.hyper": "SASRecLLMESR",
    "grasp.hyper": "SASRecGRASP",
    "bsarec.hyper": "BSARec",
    "fearec.hyper": "FEARec",
    "core.hyper": "CORE",
    "lightsans.hyper": "LightSANs",
}


@pytest.mark.parametrize("name, model", sorted(HYPER_FILES.items()))
def test_committed_spaces_parse_both_ways_and_name_the_models_keys(name, model, toy_data_path, tmp_path):
    """Each file starts with a comment header, parses with this package's parser, and each of
    its parameter lines parses with RecBole's own ``.hyper`` reader to the same choices; every
    key is a setting the model's config knows."""
    import hyperopt.pyll.stochastic
    from recbole.trainer.hyper_tuning import HyperTuning

    from recbole_hsuga.config import HSUGAConfig, properties_dir

    path = properties_dir() / "hyper" / name
    text = path.read_text()
    assert text.startswith("# ")
    parameters = read_hyper_file(path)
    # RecBole's reader has no comments: give it the parameter lines alone.
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) == len(parameters)
    stripped = tmp_path / name
    stripped.write_text("\n".join(lines) + "\n")
    recbole_space = HyperTuning._build_space_from_file(str(stripped))
    assert list(recbole_space) == [p.name for p in parameters]
    rng = np.random.default_rng(0)
    for _ in range(20):
        draw = hyperopt.pyll.stochastic.sample(recbole_space, rng=rng)
        for p in parameters:
            if p.kind == "choice":
                assert draw[p.name] in p.values and type(draw[p.name]) in {type(v) for v in p.values}
            else:
                assert np.exp(p.values[0]) <= draw[p.name] <= np.exp(p.values[1])

    from recbole_hsuga.registry import get_model

    try:
        get_model(model)
    except InputError:  # BSARec is being added by another change
        pytest.skip(f"model {model} is not registered in this tree yet")
    config = HSUGAConfig(model=model, dataset=DATASET, config_dict={"data_path": str(toy_data_path)})
    unknown = [p.name for p in parameters if p.name not in config.final_config_dict]
    assert not unknown, f"{name}: {unknown} are not settings of {model}"
    # the model's configured values are a point of the space, so --first_trial=defaults can start from them
    from recbole_hsuga.tuning.driver import first_point

    point = first_point(model, path, parameters, {p.name: config[p.name] for p in parameters})
    assert list(point) == [p.name for p in parameters]


def test_recipe_space_has_the_requested_grid():
    from recbole_hsuga.config import properties_dir

    params = {p.name: (p.kind, p.values) for p in read_hyper_file(properties_dir() / "hyper" / "sasrec_recipe.hyper")}
    assert params["softmax_negatives"] == ("choice", (0, 128, 256, 512))
    assert params["softmax_sampling"] == ("choice", ("uniform", "popularity"))
    assert params["MAX_ITEM_LIST_LENGTH"] == ("choice", (20, 50, 100))
    assert params["weight_decay"] == ("choice", (0, 1e-6, 1e-4))
    kind, (low, high) = params["learning_rate"]
    assert kind == "loguniform" and np.exp(low) < 1e-3 < np.exp(high)


def test_small_recipe_space_is_the_recipe_space_without_its_costliest_values():
    """The space frontier step 8 searches on two cores: the same parameters and values, less
    window 100 and width 128 (hidden_size fixed at SASRec.yaml's 64), the same learning rate."""
    from recbole_hsuga.config import properties_dir

    def read(name):
        return {p.name: (p.kind, p.values) for p in read_hyper_file(properties_dir() / "hyper" / name)}

    full, small = read("sasrec_recipe.hyper"), read("sasrec_recipe_small.hyper")
    assert set(small) == set(full) - {"hidden_size"}
    assert small["MAX_ITEM_LIST_LENGTH"] == ("choice", (20, 50))
    for name in set(small) - {"MAX_ITEM_LIST_LENGTH"}:
        assert small[name] == full[name], name


def test_the_first_trial_can_be_the_configured_values_which_no_rung_stops(toy_data_path, fast_settings, tmp_path):
    """A recipe that learns slowly but ends best is stopped by the first rung when it arrives after
    fast starters (benchmarks/results/asha-replay-sasrec-recipe-amazon-beauty.md); as the first
    trial it is the first at every rung, so it trains to its end and the search's best is never
    below it. SASRec.yaml configures learning_rate 0.001."""
    space = write(tmp_path / "lr.hyper", "learning_rate choice [1e-7, 0.001, 0.01]\n")
    settings = [f"--{k}={v}" for k, v in dict(fast_settings, epochs=2).items()]
    flags = ["--scheduler=asha", "--grace_period=1", "--reduction_factor=2"]
    outcome = tune_model("SASRec", DATASET, space, tool="hyperopt", algo="exhaustive", settings=settings + flags,
                         first_trial="defaults")
    rows = read_rows(outcome.csv_path)
    assert (rows[0]["trial"], json.loads(rows[0]["learning_rate"]), rows[0]["status"]) == ("trial0001", 0.001, "finished")
    # the grid draws the other two points, not the configured one again: three distinct trials
    assert sorted(json.loads(r["learning_rate"]) for r in rows) == [1e-7, 0.001, 0.01]
    assert json.loads(rows[0]["budget"])["first_trial"] == "defaults"
    assert "; first trial: the configured values." in outcome.markdown_path.read_text().splitlines()[0]
    # resuming trains nothing again, and a table of the other kind of first trial is refused
    again = tune_model("SASRec", DATASET, space, tool="hyperopt", algo="exhaustive", settings=settings + flags,
                       resume_table=outcome.csv_path, first_trial="defaults")
    assert len(read_rows(outcome.csv_path)) == 3 and again.best_params == outcome.best_params
    with pytest.raises(InputError, match="budget key 'first_trial' is 'defaults' in the table but None now"):
        tune_model("SASRec", DATASET, space, tool="hyperopt", algo="exhaustive", settings=settings + flags,
                   resume_table=outcome.csv_path)


def test_configured_values_outside_the_space_or_with_ray_are_refused_naming_the_key(toy_data_path, fast_settings,
                                                                                     tmp_path):
    settings = [f"--{k}={v}" for k, v in fast_settings.items()]
    narrow = write(tmp_path / "lr.hyper", "learning_rate choice [1e-7, 0.01]\n")
    with pytest.raises(InputError, match=r"--first_trial=defaults: SASRec's configured learning_rate = 0.001 is not "
                                         r"among the choices \[1e-07, 0.01\]"):
        tune_model("SASRec", DATASET, narrow, tool="hyperopt", algo="exhaustive", settings=settings,
                   first_trial="defaults")
    wide = write(tmp_path / "wide.hyper", "learning_rate loguniform -8,-2\n")
    with pytest.raises(InputError, match="--first_trial=defaults needs --tool=hyperopt"):
        tune_model("SASRec", DATASET, wide, tool="ray", algo="random", settings=settings, first_trial="defaults")
    with pytest.raises(InputError, match="unknown --first_trial 'best'"):
        tune_model("SASRec", DATASET, wide, tool="hyperopt", algo="random", settings=settings, first_trial="best")


def test_a_configured_value_is_a_point_of_each_kind_of_range():
    from recbole_hsuga.tuning.space import SearchParameter, point_of

    # a choice returns its own candidate, so the grid's point and the first trial are one point
    weight_decay = SearchParameter("weight_decay", "choice", (0, 1e-6, 1e-4))
    assert point_of(weight_decay, 0.0) == 0 and isinstance(point_of(weight_decay, 0.0), int)
    assert point_of(SearchParameter("softmax_sampling", "choice", ("uniform", "popularity")), "uniform") == "uniform"
    with pytest.raises(InputError, match="flag = True is not among the choices"):
        point_of(SearchParameter("flag", "choice", (1, 0)), True)  # a bool is not the number 1
    rate = SearchParameter("learning_rate", "loguniform", (-8.5, -5.3))  # 2.0e-4 .. 5.0e-3
    assert point_of(rate, 0.001) == 0.001
    with pytest.raises(InputError, match=r"learning_rate = 0.01 lies outside its loguniform range \[0.000203, 0.00499\]"):
        point_of(rate, 0.01)
    with pytest.raises(InputError, match="is not positive"):
        point_of(rate, 0.0)
    size = SearchParameter("hidden_size", "quniform", (32, 128, 32))
    assert point_of(size, 64) == 64
    with pytest.raises(InputError, match="hidden_size = 48 is not a multiple of the step 32"):
        point_of(size, 48)
    with pytest.raises(InputError, match="dropout = 'high' is not a number"):
        point_of(SearchParameter("dropout", "uniform", (0.1, 0.5)), "high")
