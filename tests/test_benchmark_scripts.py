"""The shell scripts that run the benchmarks and the project: they parse, and refuse what they do not know.

Long run sets are restarted every session from these scripts, so a syntax error or a step
that silently does nothing costs a session's cores; these checks run nothing heavy.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted([*REPO.glob("benchmarks/*.sh"), *REPO.glob("scripts/*.sh"), REPO / ".ci" / "run"])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(REPO)))
def test_script_parses(script):
    completed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("script, argument, message", [
    ("benchmarks/frontier.sh", "99", "frontier.sh: unknown step '99' (steps: 1 to 21)"),
    ("benchmarks/lanes.sh", "nope", "lanes.sh: unknown lane 'nope' (lanes: pair tuning runs)"),
])
def test_unknown_step_or_lane_exits_2_with_one_line(script, argument, message):
    completed = subprocess.run(["bash", str(REPO / script), argument], capture_output=True, text=True,
                               env={"PATH": "/usr/bin:/bin", "PYTHON": "false"})
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [message]


def stand_in_python(tmp_path: Path) -> Path:
    """An interpreter for frontier.sh that trains nothing: best_trial.py answers fixed settings, and
    every other command line is printed (one argument per line) instead of run; each best_trial.py
    command line is appended to ``best_trial.calls``."""
    stub = tmp_path / "python"
    stub.write_text(
        "#!/bin/bash\n"
        'if [[ "$1" == benchmarks/best_trial.py ]]; then\n'
        f'  echo "$*" >> {tmp_path / "best_trial.calls"}\n'
        '  if [[ " $* " == *" --format=variant "* ]]; then echo "+learning_rate=0.002"; else echo "--learning_rate=0.002"; fi\n'
        "  exit 0\n"
        "fi\n"
        'printf "%s\\n" "$@"\n')
    stub.chmod(0o755)
    return stub


def frontier_command(tmp_path: Path, step: str) -> list[str]:
    completed = subprocess.run(["bash", str(REPO / "benchmarks" / "frontier.sh"), step], capture_output=True, text=True,
                               env={"PATH": "/usr/bin:/bin", "PYTHON": str(stand_in_python(tmp_path))})
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


def command_options(args: list[str]) -> dict[str, str]:
    """``--key=value`` arguments of a printed command as ``{key: value}``; the first '=' splits, and
    a key given twice keeps its first value."""
    options: dict[str, str] = {}
    for argument in args:
        if argument.startswith("--") and "=" in argument:
            key, value = argument[2:].split("=", 1)
            options.setdefault(key, value)
    return options


def assert_sasrec_recipe_has_the_incumbent(tmp_path: Path) -> None:
    calls = [line.split() for line in (tmp_path / "best_trial.calls").read_text().splitlines()]
    sasrec = [call for call in calls if "/sasrec-recipe/" in call[1] or "step 8 has no table" in " ".join(call)]
    assert sasrec, calls
    for call in sasrec:
        incumbent = next(a for a in call if a.startswith("--incumbent=")).split("=", 1)[1]
        assert incumbent.startswith("benchmarks/results/raw/compare-frontier-select-unseen-amazon-beauty/SASRec/"
                                    "SASRec-amazon-beauty-seed42-") and (REPO / incumbent).is_file()


def test_an_own_key_search_runs_on_the_tuned_recipe_with_the_shared_budget(tmp_path):
    args = frontier_command(tmp_path, "9")
    assert args[:3] == ["run_hyper_hsuga.py", "--model=SASRecHSUGA", "--params_file=properties/hyper/gaa_own.hyper"]
    assert {"--hsuga_backbone=id_only", "--semantic_suffix=useremb_text", "--learning_rate=0.002"} <= set(args)
    assert {"--max_evals=30", "--algo=exhaustive", "--scheduler=asha", "--epochs=50", "--eval_protocol=unseen"} <= set(args)
    assert "--first_trial=defaults" in args  # the paper's keys are trained first, so no rung stops them
    assert args[-1] == "--results_dir=benchmarks/results/raw/tuning-frontier-amazon-beauty/gaa-id-only"
    # The recipe is step 8's best or the default recipe's converged run, whichever validates higher.
    assert_sasrec_recipe_has_the_incumbent(tmp_path)
    # Step 8 draws at random (a continuous learning rate) under the same budget otherwise.
    recipe = frontier_command(tmp_path, "8")
    assert "--algo=random" in recipe and "--algo=exhaustive" not in recipe
    assert "--first_trial=defaults" not in recipe  # its table's budget predates the option; the incumbent stands in
    assert "--params_file=properties/hyper/sasrec_recipe_small.hyper" in recipe
    assert recipe[-1] == "--results_dir=benchmarks/results/raw/tuning-frontier-amazon-beauty/sasrec-recipe"
    assert {a for a in recipe if a.startswith("--max_evals") or a.startswith("--epochs")} == {"--max_evals=30", "--epochs=50"}


def test_the_own_recipe_models_search_their_own_keys_from_their_defaults(tmp_path):
    args = frontier_command(tmp_path, "17")
    searches = [a for a in args if a.startswith("--params_file=")]
    assert searches == ["--params_file=properties/hyper/lightsans.hyper", "--params_file=properties/hyper/core.hyper",
                        "--params_file=properties/hyper/fearec.hyper"]
    assert args.count("--first_trial=defaults") == 3 and args.count("--max_evals=30") == 3
    assert args.count("--train_rows=prefix") == 3 and args.count("--MAX_ITEM_LIST_LENGTH=50") == 3
    assert [a for a in args if a.startswith("--results_dir=")] == [
        f"--results_dir=benchmarks/results/raw/tuning-frontier-amazon-beauty/{label}" for label in ("lightsans", "core", "fearec")]


def test_the_re_measure_labels_every_tuned_variant(tmp_path):
    args = frontier_command(tmp_path, "15")
    variants = next(a for a in args if a.startswith("--variants=")).split("=", 1)[1].split(",")
    labelled = {a.split("=", 1)[1].rpartition("=")[0] for a in args if a.startswith("--label=")}
    tuned = [v for v in variants if v.endswith("+learning_rate=0.002")]
    # SASRec, GAA x2, LLMInit, LLM-ESR, HSUGA, GRASP, BSARec, FEARec, CORE, LightSANs
    assert len(tuned) == 11 and set(tuned) <= labelled
    # Both HSUGA forms are SASRecHSUGA: the dual view states its backbone, so a reused run cannot be the ID-only one.
    assert any(v.startswith("SASRecHSUGA+hsuga_backbone=dual_view+") for v in variants)
    assert_sasrec_recipe_has_the_incumbent(tmp_path)


def test_the_sasrec_family_is_re_measured_first_in_the_re_measure_s_run_set(tmp_path):
    def option(args, key):
        return command_options(args)[key]

    family = frontier_command(tmp_path, "18")
    variants = option(family, "variants").split(",")
    tuned = [v for v in variants if v.endswith("+learning_rate=0.002")]
    # SASRec, GAA x2, LLMInit, LLM-ESR, HSUGA, GRASP on the tuned recipe; eSASRec and the default SASRec beside them
    assert len(tuned) == 7 and len(variants) == 9
    assert not any(v.startswith(("BSARec", "FEARec", "CORE", "LightSANs")) for v in variants)
    labelled = {a.split("=", 1)[1].rpartition("=")[0] for a in family if a.startswith("--label=")}
    assert set(variants) <= labelled
    assert option(family, "out") == "benchmarks/results/compare-frontier-tuned-sasrec-family-amazon-beauty.md"
    assert option(family, "seeds") == "42,43,44"
    # step 15 trains in the same run set, so it reuses these runs, and keeps every pair of step 18
    everything = frontier_command(tmp_path, "15")
    assert option(everything, "name") == option(family, "name") == "frontier-tuned"
    assert set(option(family, "pairs").split(",")) < set(option(everything, "pairs").split(","))
    assert set(variants) < set(option(everything, "variants").split(","))
    assert_sasrec_recipe_has_the_incumbent(tmp_path)


def test_the_schedule_probe_pairs_each_schedule_with_the_constant_rate_sasrec(tmp_path):
    option = command_options(frontier_command(tmp_path, "19"))
    variants = option["variants"].split(",")
    assert variants == ["SASRec", "SASRec+lr_scheduler=cosine+lr_decay_epochs=50", "SASRec+lr_scheduler=plateau"]
    assert option["pairs"].split(",") == [f"{v}:SASRec" for v in variants[1:]]
    # the same run set as step 5, so the constant-rate SASRec is step 5's runs
    assert option["name"] == "frontier-select-unseen" and option["eval_protocol"] == "unseen"


def test_the_residual_dual_view_is_paired_with_its_released_wiring_and_sasrec(tmp_path):
    option = command_options(frontier_command(tmp_path, "20"))
    residual = "SASRecLLMESR+dual_view_residual=True"
    assert option["variants"].split(",")[:3] == ["SASRec", "SASRecLLMESR", residual]
    pairs = option["pairs"].split(",")
    assert {f"{residual}:SASRec", f"{residual}:SASRecLLMESR", "SASRecLLMESR:SASRec"} <= set(pairs)
    hsuga = option["variants"].split(",")[3]
    assert hsuga.startswith("SASRecHSUGA+hsuga_backbone=dual_view+") and hsuga.endswith("+dual_view_residual=True")
    assert option["name"] == "frontier-select-unseen" and option["eval_protocol"] == "unseen"


def test_the_sd_weight_probe_pairs_hsuga_with_llmesr_at_alpha_one_and_reuses_the_alpha_point_one_runs(tmp_path):
    option = command_options(frontier_command(tmp_path, "21"))
    step20_variants = command_options(frontier_command(tmp_path, "20"))["variants"].split(",")
    llmesr, hsuga = step20_variants[2], step20_variants[3]
    # alpha 0.1 is step 20's variants verbatim, so their finished runs are reused, and the baseline
    assert option["variants"].split(",") == [llmesr, hsuga, f"{llmesr}+gaa_alpha=1.0", f"{hsuga}+gaa_alpha=1.0"]
    assert f"{hsuga}+gaa_alpha=1.0:{llmesr}+gaa_alpha=1.0" in option["pairs"].split(",")
    assert option["name"] == "frontier-select-unseen" and option["eval_protocol"] == "unseen"


def test_lanes_starts_nothing_when_one_of_its_names_is_unknown(tmp_path):
    import time

    marker = tmp_path / "started"
    stub = tmp_path / "python"
    stub.write_text(f"#!/bin/bash\ntouch {marker}\n")
    stub.chmod(0o755)
    completed = subprocess.run(["bash", str(REPO / "benchmarks" / "lanes.sh"), "tuning", "nope"], capture_output=True,
                               text=True, env={"PATH": "/usr/bin:/bin", "PYTHON": str(stub)})
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == ["lanes.sh: unknown lane 'nope' (lanes: pair tuning runs)"]
    time.sleep(1.0)  # a lane started in the background would have called the interpreter by now
    assert not marker.exists()


def test_hsu_user_sample_is_fixed_and_counts_head_users(tiny_root, tmp_path):
    """The sample an HSU slice runs on is the same on every machine (a seeded hash order, not
    file order), and a sample larger than the dataset is refused with exit 2."""
    import sys

    from conftest import TINY_DATASET

    def sample(out: Path, users: int, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(REPO / "benchmarks" / "hsu_sample_users.py"), f"--data={tiny_root}",
                               f"--dataset={TINY_DATASET}", f"--users={users}", f"--out={out}", *extra],
                              capture_output=True, text=True)

    first, second = sample(tmp_path / "a.txt", 10), sample(tmp_path / "b.txt", 10)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    lines = (tmp_path / "a.txt").read_text().splitlines()
    assert len(lines) == len(set(lines)) == 10 and (tmp_path / "b.txt").read_text().splitlines() == lines
    assert "10 of 40 users (seed 0)" in first.stdout and " head, " in first.stdout
    assert sample(tmp_path / "c.txt", 41).returncode == 2
    # the head and long-tail parts of the same sample, in its order, split it without overlap
    head, tail = sample(tmp_path / "head.txt", 10, "--group=head"), sample(tmp_path / "tail.txt", 10, "--group=tail")
    assert head.returncode == tail.returncode == 0
    head_users = (tmp_path / "head.txt").read_text().splitlines()
    tail_users = (tmp_path / "tail.txt").read_text().splitlines()
    assert sorted(head_users + tail_users) == sorted(lines) and not set(head_users) & set(tail_users)
    assert head_users == [user for user in lines if user in head_users] and head_users
    counted = int(first.stdout.split("; ")[1].split(" head")[0])
    assert len(head_users) == counted and f"its {counted} head users of 10 of 40 users" in head.stdout
