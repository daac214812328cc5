"""The benchmark scripts' run-set bookkeeping: which finished runs a report uses, how runs pair.

A run set spans sessions, so these decide which converged result ends up in a committed
table; they are tested on hand-made result files.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recbole_hsuga.errors import InputError

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench(import_benchmark):
    """The benchmark modules, imported as the scripts import them (their folder on the path)."""
    return import_benchmark("common"), import_benchmark("model_comparison")


def write_result(folder: Path, model: str, seed: int, stamp: str, config: dict, **extra) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model}-toy-seed{seed}-{stamp}.json"
    path.write_text(json.dumps({"seed": seed, "config": config, **extra}))
    return path


def test_variant_seeds_default_to_all_and_may_be_narrowed(bench):
    _, comparison = bench
    assert comparison.split_seeds("SASRec", [42, 43, 44]) == ("SASRec", [42, 43, 44])
    assert comparison.split_seeds("SASRecHSUGA+gaa_teacher_refresh_steps=30@42/44", [42, 43, 44]) == (
        "SASRecHSUGA+gaa_teacher_refresh_steps=30", [42, 44])
    with pytest.raises(InputError, match="not in --seeds"):
        comparison.split_seeds("SASRec@45", [42, 43, 44])
    with pytest.raises(InputError, match="integers joined by '/'"):
        comparison.split_seeds("SASRec@42,43", [42, 43, 44])


def test_variant_folders_keep_short_names_and_shorten_long_ones_uniquely(bench):
    _, comparison = bench
    # Existing run sets' folders keep their names.
    assert comparison.slug("SASRecHSUGA+hsuga_backbone=id_only+semantic_suffix=useremb_text") == (
        "SASRecHSUGA__hsuga_backbone=id_only__semantic_suffix=useremb_text")
    recipe = ("+softmax_negatives=0+MAX_ITEM_LIST_LENGTH=50+n_layers=2+n_heads=1+hidden_size=64+hidden_dropout_prob=0.1"
              "+attn_dropout_prob=0.2+weight_decay=0+learning_rate=0.0014938502855395982")
    spec = "SASRecHSUGA+hsuga_backbone=id_only+semantic_suffix=useremb_text" + recipe
    name = comparison.slug(spec)
    assert len(name) <= comparison.SLUG_MAX < 255
    assert name.startswith("SASRecHSUGA__hsuga_backbone=id_only__semantic_suffix=useremb_text__softmax_negatives=0__")
    head, digest = name.rsplit("__sha=", 1)
    assert len(digest) == 10 and not head.endswith("_")  # cut between settings, never inside one
    assert comparison.slug(spec) == name and comparison.slug(spec + "+gaa_alpha=0.5") != name


def test_finished_run_is_the_newest_with_the_same_settings(bench, tmp_path):
    common, _ = bench
    write_result(tmp_path, "SASRec", 42, "20261101T000000", {"loss_type": "CE", "train_rows": "sequence"})
    newer = write_result(tmp_path, "SASRec", 42, "20261102T000000", {"loss_type": "CE", "train_rows": "sequence"})
    write_result(tmp_path, "SASRec", 42, "20261103T000000", {"loss_type": "BPR", "train_rows": "sequence"})
    found = common.finished_run(tmp_path, "SASRec", "toy", 42, ["--loss_type=CE", "--train_rows=sequence"])
    assert found["_path"] == str(newer)
    assert common.finished_run(tmp_path, "SASRec", "toy", 43, ["--loss_type=CE"]) is None
    assert common.finished_run(tmp_path, "SASRec", "toy", 42, ["--loss_type=BCE"]) is None
    # Booleans are written by YAML/JSON as true/false and given on the command line as True/False.
    write_result(tmp_path, "SASRecLLMESR", 42, "20261101T000000", {"gaa": False})
    assert common.finished_run(tmp_path, "SASRecLLMESR", "toy", 42, ["--gaa=False"]) is not None
    # A tuning table hands over 50 where the run's config holds 50.0: the same run, not a new one.
    write_result(tmp_path, "SASRecHSUGA", 42, "20261101T000000", {"gaa_pearson_percentile": 50.0, "gaa_alpha": 0.1})
    assert common.finished_run(tmp_path, "SASRecHSUGA", "toy", 42,
                               ["--gaa_pearson_percentile=50", "--gaa_alpha=0.1"]) is not None
    assert common.finished_run(tmp_path, "SASRecHSUGA", "toy", 42, ["--gaa_pearson_percentile=50.5"]) is None
    assert common.finished_run(tmp_path, "SASRecHSUGA", "toy", 42, ["--gaa_alpha=0.10000001"]) is None
    # A file written before train_batch_unit existed was trained with its value of then (rows).
    old_meaning = common.finished_run(tmp_path, "SASRec", "toy", 42, ["--loss_type=CE", "--train_batch_unit=rows"])
    assert old_meaning["_path"] == str(newer)
    assert common.finished_run(tmp_path, "SASRec", "toy", 42, ["--train_batch_unit=prefix_rows"]) is None


def test_selected_epoch_and_wall_clock_to_it(bench):
    common, _ = bench
    result = {"curve": [{"epoch": 0, "valid_score": 0.1, "valid_seconds": 1.0},
                        {"epoch": 1, "valid_score": 0.3, "valid_seconds": 1.0},
                        {"epoch": 2, "valid_score": 0.3, "valid_seconds": 1.0},
                        {"epoch": 3, "valid_score": 0.2, "valid_seconds": 1.0}],
              "timings": {"epoch_seconds": [10.0, 20.0, 30.0, 40.0]}}
    # A tie goes to the later epoch: RecBole's early stopping saves the model on >=.
    assert common.best_epoch(result) == 3
    assert common.wall_to_best(result) == pytest.approx(10 + 20 + 30 + 3 * 1.0)
    # The plateau's first epoch within 99% of the best, and the first within a third of it.
    assert common.epoch_reaching(result, 0.99) == 2 and common.epoch_reaching(result, 1 / 3) == 1
    assert common.epoch_reaching({"curve": []}, 0.99) is None


def test_report_states_the_measured_machine_load(bench):
    common, _ = bench
    loaded = {"curve": [{"epoch": 0, "load_1min": 1.0}, {"epoch": 1, "load_1min": 2.0},
                        {"epoch": 2, "load_1min": 4.0}]}
    older = {"curve": [{"epoch": 0, "valid_score": 0.1}]}
    assert common.machine_load({"a": [loaded]}) == "1-minute load average at epoch ends: median 2.0, range 1.0-4.0"
    assert common.machine_load({"a": [loaded], "b": [older]}).endswith("; not recorded by 1 older run(s)")
    assert common.machine_load({"b": [older]}) == "machine load not recorded by these runs"


def test_user_level_test_pairs_users_not_file_rows(bench, tmp_path):
    common, _ = bench
    users = np.array([3, 1, 2])
    base_ranks = np.array([0, 9, 20])  # user 3 at rank 0, user 1 at rank 9, user 2 outside the top 10
    np.savez(tmp_path / "base.npz", users=users, full=base_ranks)
    # The same ranks per user, in another row order, except that user 2 moves to rank 0.
    np.savez(tmp_path / "other.npz", users=users[::-1], full=np.array([0, 9, 0]))
    diff, p = common.user_level_test([{"_ranks": str(tmp_path / "base.npz")}],
                                     [{"_ranks": str(tmp_path / "other.npz")}], "full")
    assert diff == pytest.approx(1.0 / 3)  # only user 2 changes, from NDCG 0 to 1
    assert 0.0 < p <= 1.0
    assert math.isnan(common.paired_seed_test([0.1], [0.2]))  # one seed: no test over seeds
    # Without group labels in the files there is no test within a group.
    assert all(map(math.isnan, common.user_level_test([{"_ranks": str(tmp_path / "base.npz")}],
                                                      [{"_ranks": str(tmp_path / "other.npz")}], "full", "tail_users")))


def test_user_level_test_within_a_group_uses_the_files_labels(bench, tmp_path):
    common, _ = bench
    users = np.array(["u1", "u2", "u3", "u4"])
    head = np.array([True, False, False, True])
    np.savez(tmp_path / "base.npz", users=users, full=np.array([20, 20, 0, 0]), head_users=head,
             head_items=np.zeros(4, dtype=bool))
    # Rows reversed; u1 (head) and u2 (tail) move into the top 10, u3 (tail) drops out.
    np.savez(tmp_path / "other.npz", users=users[::-1], full=np.array([0, 20, 0, 0]), head_users=head[::-1],
             head_items=np.zeros(4, dtype=bool))
    runs = [{"_ranks": str(tmp_path / "base.npz")}], [{"_ranks": str(tmp_path / "other.npz")}]
    head_diff, _ = common.user_level_test(*runs, "full", "head_users")
    tail_diff, _ = common.user_level_test(*runs, "full", "tail_users")
    assert head_diff == pytest.approx(0.5)  # u1 from 0 to 1, u4 stays at 1
    assert tail_diff == pytest.approx(0.0)  # u2 from 0 to 1, u3 from 1 to 0
    np.savez(tmp_path / "other.npz", users=users, full=np.array([0, 0, 20, 0]), head_users=~head,
             head_items=np.zeros(4, dtype=bool))
    with pytest.raises(InputError, match="different head_users groups"):
        common.user_level_test(*runs, "full", "head_users")


def test_plan_shares_the_baseline_and_runs_seed_major(bench, tmp_path):
    _, comparison = bench
    root, shared = tmp_path / "compare", tmp_path / "train-rows" / "sequence"
    settings = ["--train_rows=sequence"]
    write_result(shared, "SASRec", 42, "20261101T000000", {"train_rows": "sequence"})
    write_result(root / "SASRecLLMESR", "SASRecLLMESR", 42, "20261101T000000", {"train_rows": "sequence"})
    seeds_of = dict(comparison.split_seeds(spec, [42, 43]) for spec in ["SASRec", "SASRecLLMESR", "SASRecGRASP@42"])
    done, todo = comparison.plan_runs(seeds_of, [42, 43], root, shared, "toy", settings)
    assert {variant: [r["seed"] for r in runs] for variant, runs in done.items()} == {
        "SASRec": [42], "SASRecLLMESR": [42]}
    assert [(variant, seed) for variant, _, _, seed, _ in todo] == [
        ("SASRecGRASP", 42), ("SASRec", 43), ("SASRecLLMESR", 43)]
    folders = {(variant, seed): folder for variant, _, folder, seed, _ in todo}
    # The missing baseline run is trained where the other run set will find it.
    assert folders[("SASRec", 43)] == shared
    assert folders[("SASRecLLMESR", 43)] == root / "SASRecLLMESR"
    # A variant added late trains on every seed before the set's remainder, seed-major within.
    assert [(variant, seed) for variant, _, _, seed, _ in comparison.train_first(todo, ["SASRecLLMESR"])] == [
        ("SASRecLLMESR", 43), ("SASRecGRASP", 42), ("SASRec", 43)]


def test_variant_settings_replace_shared_ones_and_reused_folders_are_only_read(bench, tmp_path):
    _, comparison = bench
    root, prefix, sequence = tmp_path / "compare", tmp_path / "rows" / "prefix", tmp_path / "rows" / "sequence"
    settings = ["--train_rows=sequence", "--train_batch_size=256"]
    assert comparison.with_overrides(settings, ["--train_batch_size=48"]) == ["--train_rows=sequence",
                                                                             "--train_batch_size=48"]
    write_result(prefix, "GRU4Rec", 42, "20261101T000000", {"train_rows": "prefix", "train_batch_size": 256})
    write_result(sequence, "GRU4Rec", 42, "20261101T000000", {"train_rows": "sequence", "train_batch_size": 256})
    seeds_of = {"GRU4Rec+train_rows=prefix": [42], "GRU4Rec": [42], "GRU4Rec+train_batch_size=48": [42]}
    done, todo = comparison.plan_runs(seeds_of, [42], root, None, "toy", settings, (prefix, sequence))
    # Each reused run is the one whose settings the variant has, whichever folder it is in.
    assert done["GRU4Rec+train_rows=prefix"][0]["config"]["train_rows"] == "prefix"
    assert done["GRU4Rec"][0]["config"]["train_rows"] == "sequence"
    (variant, model, folder, seed, run_settings), = todo
    assert (variant, folder) == ("GRU4Rec+train_batch_size=48", root / "GRU4Rec__train_batch_size=48")
    assert run_settings == ["--train_rows=sequence", "--train_batch_size=48"]


def test_rewritten_report_names_the_training_command(bench, monkeypatch):
    common, _ = bench
    monkeypatch.setattr("sys.argv", ["model_comparison.py", "--name=x", "--report_only", "--seeds=42"])
    assert common.invocation("model_comparison.py") == "python benchmarks/model_comparison.py --name=x --seeds=42"
    # an argument with spaces stays one argument when the command is pasted back into a shell
    monkeypatch.setattr("sys.argv", ["asha_replay.py", "t.csv", "--run", "default recipe=r.json"])
    assert common.invocation("asha_replay.py") == "python benchmarks/asha_replay.py t.csv --run 'default recipe=r.json'"


def test_report_is_dated_by_its_newest_run(bench):
    common, _ = bench
    runs = {"SASRec": [{"created": "2026-11-29T22:36:13+00:00"}, {"created": "2026-11-30T01:22:26+00:00"}],
            "GRASP": [{"created": "2026-11-30T00:05:00+00:00"}]}
    assert common.newest_result_time(runs) == "2026-11-30 01:22"
    assert common.newest_result_time({}) == "no run yet"


def test_paired_comparison_between_two_variants_pairs_their_seeds(bench, tmp_path):
    common, comparison = bench

    def run(seed: int, all_ndcg: float, tail_ndcg: float, ranks: list[int], name: str) -> dict:
        groups = {g: {"ndcg@10": all_ndcg if g == "all" else tail_ndcg} for g in common.GROUPS}
        path = tmp_path / f"{name}-{seed}.npz"
        np.savez(path, users=np.array(["1", "2", "3", "4"]), full=np.array(ranks))
        return {"seed": seed, "_ranks": str(path), "metrics": {"test": {"full": groups}}}

    done = {"LLMESR": [run(42, 0.30, 0.10, [0, 5, 20, 20], "b"), run(43, 0.32, 0.12, [0, 5, 20, 20], "b"),
                       run(44, 0.31, 0.11, [0, 5, 20, 20], "b")],
            "HSUGA": [run(43, 0.34, 0.11, [0, 0, 20, 20], "o"), run(42, 0.31, 0.12, [0, 0, 0, 20], "o")]}
    row = comparison.paired_rows(done, "HSUGA", "LLMESR", "full")
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[0] == "HSUGA vs LLMESR" and cells[1] == "[42, 43]"  # seed 44 has no partner
    assert cells[2].startswith("+0.0150 (p = ")  # (0.01 + 0.02) / 2
    assert cells[2].count(";") == 1  # all users also get the Wilcoxon test over users
    assert cells[-1].startswith("+0.0050 (p = ") and ";" not in cells[-1]  # (0.02 - 0.01) / 2
    assert comparison.paired_rows(done, "HSUGA", "SASRec", "full") is None
    assert comparison.parse_pairs("HSUGA:LLMESR", ["LLMESR", "HSUGA"]) == [("HSUGA", "LLMESR")]
    with pytest.raises(InputError, match="OTHER:BASE"):
        comparison.parse_pairs("HSUGA-LLMESR", ["LLMESR", "HSUGA"])
    with pytest.raises(InputError, match="in --variants"):
        comparison.parse_pairs("GRASP:LLMESR", ["LLMESR", "HSUGA"])
    # Labels name long variants in the report; a label must name a variant.
    labels = comparison.parse_variant_labels(["HSUGA=HSUGA on the dual view (tuned)"], ["LLMESR", "HSUGA"])
    labelled = comparison.paired_rows(done, "HSUGA", "LLMESR", "full", labels)
    assert labelled.startswith("| HSUGA on the dual view (tuned) vs LLMESR | [42, 43] |")
    with pytest.raises(InputError, match="not a variant of --variants"):
        comparison.parse_variant_labels(["GRASP=GRASP (tuned)"], ["LLMESR", "HSUGA"])


def test_train_rows_reads_model_and_integer_seeds(import_benchmark):
    train_rows = import_benchmark("train_rows")

    assert train_rows.parse_runs(["SASRec:42,43", "GRU4Rec:42"]) == [("SASRec", 42), ("SASRec", 43), ("GRU4Rec", 42)]
    with pytest.raises(InputError, match="integer seeds, got 'SASRec:42,x'"):
        train_rows.parse_runs(["SASRec:42,x"])
    with pytest.raises(InputError, match="MODEL:SEED"):
        train_rows.parse_runs(["SASRec"])


def test_train_rows_wall_clock_ratio_uses_the_seeds_both_modes_have(import_benchmark, tmp_path):
    from argparse import Namespace

    common, train_rows = import_benchmark("common"), import_benchmark("train_rows")

    def run(seed: int, mode: str, epoch_seconds: float) -> dict:
        ranks = tmp_path / f"{mode}-{seed}.npz"
        np.savez(ranks, users=np.array(["1", "2"]), full=np.array([0, 20]), sampled=np.array([0, 5]))
        groups = {g: {"hit@10": 0.5, "ndcg@10": 0.5} for g in common.GROUPS}
        return {"seed": seed, "config": {"train_rows": mode}, "_ranks": str(ranks),
                "metrics": {"test": {"full": groups, "sampled": groups}},
                "curve": [{"epoch": 0, "valid_score": 0.1}, {"epoch": 1, "valid_score": 0.2}],
                "timings": {"epoch_seconds": [epoch_seconds] * 2, "seconds_per_epoch": epoch_seconds, "epochs": 2}}

    # Seed 43 has finished on sequence rows only: it must not enter the ratio.
    done = {("SASRec", "prefix"): [run(42, "prefix", 100.0)],
            ("SASRec", "sequence"): [run(42, "sequence", 40.0), run(43, "sequence", 10.0)]}
    args = Namespace(runs=["SASRec:42,43"], dataset="toy")
    text = train_rows.report(done, args, [])
    assert "sequence / prefix, seeds [42]: **0.40**" in text


@pytest.mark.parametrize("flag, message", [
    ("--pairs=SASRecGRASP:SASRec", "--pairs: 'SASRecGRASP:SASRec' must be OTHER:BASE with both in "
                                   "--variants (SASRec, SASRecLLMESR)"),
    ("--train_first=SASRecGRASP", "--train_first: 'SASRecGRASP' is not a variant of --variants "
                                  "(SASRec, SASRecLLMESR)"),
])
def test_bad_variant_names_exit_with_status_2_and_one_line(tmp_path, flag, message):
    """The script, run as a user runs it: the bad item is named before anything trains."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "model_comparison.py"), "--name=toy", "--variants=SASRec,SASRecLLMESR",
         "--seeds=42", flag, f"--out={tmp_path}", "--report_only"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"model_comparison.py: error: {message}"]
    assert not list(tmp_path.iterdir())  # nothing was written


def test_seed_list_names_a_malformed_value(bench):
    common, _ = bench
    assert common.seed_list("42,43,44") == [42, 43, 44]
    with pytest.raises(InputError, match="--seeds takes integers joined by ',', got '42;43'"):
        common.seed_list("42;43")


def test_label_rank_files_adds_the_labels_a_run_would_have_saved(fast_settings, tmp_path):
    """An old-style ranks file (no labels) gets back exactly the labels the run saved, checked
    against the run's reported group metrics; a label that disagrees with them is refused."""
    settings = [f"--{key}={value}" for key, value in fast_settings.items()]
    repo = BENCHMARKS.parent
    run = subprocess.run([sys.executable, str(repo / "run_recbole_hsuga.py"), "--model=SASRec", "--dataset=toy-beauty",
                          "--save_user_ranks=True", "--hidden_size=8", "--inner_size=16", *settings],
                         capture_output=True, text=True, timeout=600, cwd=repo)
    assert run.returncode == 0, run.stderr[-3000:]
    (result,) = (tmp_path / "results").glob("SASRec-toy-beauty-seed42-*.json")
    ranks_file = result.with_suffix(".ranks.npz")
    saved = dict(np.load(ranks_file))
    assert {"head_users", "head_items"} <= set(saved) and saved["head_users"].any() and saved["head_items"].any()
    np.savez_compressed(ranks_file, users=saved["users"], full=saved["full"], sampled=saved["sampled"])

    def label() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(BENCHMARKS / "label_rank_files.py"), "--dataset=toy-beauty",
                               f"--data_path={fast_settings['data_path']}", str(result)],
                              capture_output=True, text=True, timeout=600, cwd=repo)

    labelled = label()
    assert labelled.returncode == 0, labelled.stderr[-3000:]
    assert "1 rank files labelled" in labelled.stdout
    restored = np.load(ranks_file)
    for key in ("users", "full", "sampled", "head_users", "head_items"):
        np.testing.assert_array_equal(restored[key], saved[key])

    np.savez_compressed(ranks_file, **{**saved, "head_users": ~saved["head_users"]})
    refused = label()
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    line = lines[0]
    assert str(ranks_file) in line and "head_users has" in line
