"""The staged pipeline end to end with the real CPU engine (llama.cpp in-process with the
packaged SmolLM2): lockstep batches, resume after a crash mid-stage, incremental update,
fallback on malformed outputs, oneshot mode, the CLI and the report.

Model outputs are never asserted verbatim (greedy outputs differ across engines); tests
check structure, keys and what was (not) recomputed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from conftest import REPO_ROOT  # noqa: E402
from dataset_tools.__main__ import main as cli_main  # noqa: E402
from dataset_tools.hsu.engines import make_engine  # noqa: E402
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest  # noqa: E402
from dataset_tools.hsu.items import ItemLineTemplate  # noqa: E402
from dataset_tools.hsu.lockstep import HsuSettings  # noqa: E402
from dataset_tools.hsu.run_folder import run_dataset  # noqa: E402
from dataset_tools.hsu.store import STAGES_FILE, load_final_interests, read_jsonl  # noqa: E402

DATASET = "toy"
ITEMS = {
    "1": ("Matte red lipstick", ["Makeup", "Lips"]),
    "2": ("Lip balm with SPF", ["Skin Care", "Lips"]),
    "3": ("Volumizing mascara", ["Makeup", "Eyes"]),
    "4": ("Argan oil shampoo", ["Hair Care", "Shampoo"]),
    "5": ("Ionic hair dryer", ["Hair Care", "Tools"]),
    "6": ("Nail polish, coral", ["Makeup", "Nails"]),
    "7": ("Cuticle oil pen", ["Nails", "Care"]),
    "8": ("Sunscreen SPF 50", ["Skin Care", "Sun"]),
    "9": ("Hair mask, keratin", ["Hair Care", "Masks"]),
}
# Small caps keep CPU time low; outputs that hit them are parse failures -> retry -> fallback.
SETTINGS = HsuSettings(
    stage_length=2,
    item_line=ItemLineTemplate(("No.{order}", "title: {title}", "categories: {categories}")),
    max_retries=1,
    max_tokens_interests=110,
    max_tokens_selection=70,
    batch_size=4,
)


class CountingEngine(Engine):
    """Delegates to a real engine, counts requests and can simulate a crash.

    ``crash_on_call``: raise on that (1-based) ``generate`` call, before running it, as a
    killed process would lose the step in flight.
    """

    def __init__(self, inner: Engine, crash_on_call: int | None = None) -> None:
        super().__init__(inner.model_id, inner.constrained)
        self.name = inner.name
        self.inner = inner
        self.crash_on_call = crash_on_call
        self.calls = 0
        self.requests: list[GenerationRequest] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.calls += 1
        if self.crash_on_call == self.calls:
            raise KeyboardInterrupt("simulated kill")
        self.requests.extend(requests)
        return self.inner.generate(requests)


@pytest.fixture(scope="module")
def engine():
    with make_engine("llamacpp", "smollm2", n_threads=1, n_ctx=2048) as real:
        yield real


@pytest.fixture
def write_dataset(write_inter):
    """``write_dataset(root, sequences)``: ``<root>/toy/toy.inter`` and its item text; returns the folder."""

    def write(root: Path, sequences: dict[str, list[str]]) -> Path:
        folder = root / DATASET
        write_inter(folder / f"{DATASET}.inter", sequences)
        with (folder / f"{DATASET}.item_text.jsonl").open("w", encoding="utf-8") as handle:
            for item_id, (title, categories) in ITEMS.items():
                handle.write(json.dumps({"item_id": item_id, "title": title, "categories": categories}) + "\n")
        return folder

    return write


def stage_records(run_dir: Path) -> list[dict]:
    return read_jsonl(run_dir / STAGES_FILE)


def test_resume_after_a_crash_mid_stage_recomputes_nothing(tmp_path, engine, write_dataset):
    # u1: 4 training items -> 2 stages; u2: 2 training items -> 1 stage. Held-out items 8, 9.
    write_dataset(tmp_path, {"u1": ["1", "2", "3", "4", "8", "9"], "u2": ["4", "5", "8", "9"]})
    # call 1 = stage-1 summaries of u1 and u2 (one lockstep batch); call 2 = u1's stage-2
    # selection, killed before it returns.
    crashing = CountingEngine(engine, crash_on_call=2)
    with pytest.raises(KeyboardInterrupt):
        run_dataset(tmp_path, DATASET, "r", crashing, SETTINGS, progress=False)
    assert crashing.calls == 2 and len(crashing.requests) == 2  # u1 and u2 in one batch
    run_dir = tmp_path / DATASET / "hsu" / "r"
    before = stage_records(run_dir)
    assert sorted((r["user"], r["stage"]) for r in before) == [("u1", 1), ("u2", 1)]
    for request in crashing.requests:  # the held-out items never reach the LLM
        assert "Sunscreen" not in request.messages[1]["content"] and "Hair mask" not in request.messages[1]["content"]
    with (run_dir / STAGES_FILE).open("a", encoding="utf-8") as handle:
        handle.write('{"key": "torn')  # and a write that was cut off by the kill

    resumed = CountingEngine(engine)
    outcome = run_dataset(tmp_path, DATASET, "r", resumed, SETTINGS, progress=False)
    assert outcome.stats.stages_reused == 2 and outcome.stats.stages_computed == 1
    # only u1's stage 2 was asked: a selection (+ its execution unless Retain), plus retries
    assert all("previous interests" in r.messages[1]["content"] for r in resumed.requests)
    after = stage_records(run_dir)
    keys = [r["key"] for r in after]
    assert len(keys) == len(set(keys)) == 3
    assert after[:2] == before  # finished stages untouched
    stage2 = after[2]
    assert (stage2["user"], stage2["stage"], stage2["items"]) == ("u1", 2, ["3", "4"])
    assert stage2["prev_key"] == before[0]["key"] if before[0]["user"] == "u1" else before[1]["key"]
    assert stage2["operation"] in {"add", "delete", "update", "retain"}

    trajectories = read_jsonl(run_dir / "trajectories.jsonl")
    assert [t["user"] for t in trajectories] == ["u1", "u2"] and all(t["complete"] for t in trajectories)
    u1 = trajectories[0]
    assert [s["stage"] for s in u1["stages"]] == [1, 2] and u1["final_interests"] == stage2["interests"]
    assert {"engine", "model", "prompt_version"} <= set(u1) and u1["model"].startswith("SmolLM2")
    assert all(s["prompt_tokens"] > 0 and s["latency_s"] > 0 for s in u1["stages"])
    finals = load_final_interests(run_dir)
    assert set(finals) <= {"u1", "u2"} and all(isinstance(v, str) for v in finals.values())

    # a third run has nothing left to do and calls no engine
    idle = CountingEngine(engine)
    assert run_dataset(tmp_path, DATASET, "r", idle, SETTINGS, progress=False).stats.stages_computed == 0
    assert idle.calls == 0


def test_incremental_update_processes_only_the_new_stage(tmp_path, engine, write_dataset):
    write_dataset(tmp_path, {"u1": ["1", "2", "3", "4", "8", "9"]})  # 2 stages
    first = CountingEngine(engine)
    run_dataset(tmp_path, DATASET, "r", first, SETTINGS, progress=False)
    run_dir = tmp_path / DATASET / "hsu" / "r"
    stored = stage_records(run_dir)
    assert [r["stage"] for r in stored] == [1, 2]

    # the user's history grows by two items: the old held-out items become training items
    # of a new third stage, the two newest are the new held-out items.
    write_dataset(tmp_path, {"u1": ["1", "2", "3", "4", "8", "9", "5", "6"]})
    update = CountingEngine(engine)
    outcome = run_dataset(tmp_path, DATASET, "r", update, SETTINGS, progress=False)
    assert outcome.stats.stages_reused == 2 and outcome.stats.stages_computed == 1
    # the interaction record shown (the previous interests may quote titles: SmolLM2 copies them)
    records_seen = "\n".join(r.messages[1]["content"].split("interaction record of the user")[-1] for r in update.requests)
    assert "Sunscreen" in records_seen and "Hair mask" in records_seen  # stage 3 = items 8, 9
    assert "Matte red lipstick" not in records_seen  # stage 1 items are not shown again
    # the new stage starts from the stored interests of stage 2
    assert all(f"Interest 1: {stored[1]['interests'][0]}" in r.messages[1]["content"] for r in update.requests[:1])
    records = stage_records(run_dir)
    assert records[:2] == stored and records[2]["stage"] == 3 and records[2]["prev_key"] == stored[1]["key"]

    # one more item: a new partial stage 4 ([5]) is processed...
    write_dataset(tmp_path, {"u1": ["1", "2", "3", "4", "8", "9", "5", "6", "7"]})
    assert run_dataset(tmp_path, DATASET, "r", CountingEngine(engine), SETTINGS, progress=False).stats.stages_computed == 1
    # ...and recomputed when it grows to [5, 6]; earlier stages stay stored
    write_dataset(tmp_path, {"u1": ["1", "2", "3", "4", "8", "9", "5", "6", "7", "1"]})
    outcome = run_dataset(tmp_path, DATASET, "r", CountingEngine(engine), SETTINGS, progress=False)
    assert outcome.stats.stages_reused == 3 and outcome.stats.stages_computed == 1
    trajectory = read_jsonl(run_dir / "trajectories.jsonl")[0]
    assert [s["items"] for s in trajectory["stages"]] == [["1", "2"], ["3", "4"], ["8", "9"], ["5", "6"]]
    assert trajectory["complete"] and len(stage_records(run_dir)) == 5  # the stale partial stage stays stored


def test_malformed_outputs_are_retried_then_fall_back_to_retain(tmp_path, engine, write_dataset):
    # Unconstrained decoding capped at 4 tokens cannot produce the format: every call fails.
    unconstrained = make_engine("llamacpp", "smollm2", n_threads=1, n_ctx=2048, constrained=False)
    settings = HsuSettings(
        stage_length=2, item_line=SETTINGS.item_line, max_retries=2, max_tokens_interests=4, max_tokens_selection=4
    )
    write_dataset(tmp_path, {"u1": ["1", "2", "3", "4", "8", "9"]})
    with unconstrained:
        outcome = run_dataset(tmp_path, DATASET, "bad", unconstrained, settings, progress=False)
    records = stage_records(tmp_path / DATASET / "hsu" / "bad")
    assert [r["fallback"] for r in records] == ["summary", "selection"]
    assert [r["operation"] for r in records] == ["summary", "retain"]
    assert all(r["retries"] == 2 and r["parse_failures"] == 3 and r["calls"] == 3 for r in records)
    assert records[1]["interests"] == records[0]["interests"]  # Retain keeps the previous text
    report = outcome.report
    assert report["fallbacks"] == {"summary": 1, "selection": 1} and report["retries"] == 4
    assert report["parse_failures"] == 6 and report["parse_failure_rate"] == 1.0


def test_oneshot_mode_and_ablation_through_the_cli(tmp_path, capsys, write_dataset):
    write_dataset(tmp_path, {"u1": ["1", "2", "3", "4", "5", "8", "9"], "u2": ["6", "7", "8", "9"]})
    spec = tmp_path / "toy.yaml"
    spec.write_text(
        "hsu:\n  stage_length: 2\n  operations: [delete, update, retain]\n"
        "  item_line: ['No.{order}', 'title: {title}']\n",
        encoding="utf-8",
    )
    common = ["--data", str(tmp_path), "--spec", str(spec), "--no-progress", "--limit-users", "1"]
    assert cli_main(["-q", "hsu", DATASET, "--mode", "oneshot", *common]) == 0
    run_dir = tmp_path / DATASET / "hsu" / "oneshot-llamacpp-smollm2"
    records = stage_records(run_dir)
    assert len(records) == 1 and records[0]["items"] == ["1", "2", "3", "4", "5"]
    run_info = json.loads((run_dir / "run.json").read_text())
    assert run_info["status"] == "finished" and run_info["settings"]["mode"] == "oneshot"
    assert json.loads((run_dir / "report.json").read_text())["users"] == 1

    # w/o Add: the run folder is named after the ablation, and Add is never chosen
    assert cli_main(["-q", "hsu", DATASET, *common, "--run", "noadd"]) == 0
    noadd = stage_records(tmp_path / DATASET / "hsu" / "noadd")
    assert [r["stage"] for r in noadd] == [1, 2, 3] and all(r["operation"] != "add" for r in noadd)
    # a rerun into the same folder with other settings is refused
    assert cli_main(["-q", "hsu", DATASET, *common, "--run", "noadd", "--operations", "add,retain"]) == 2

    capsys.readouterr()
    assert cli_main(["-q", "report", DATASET, "--data", str(tmp_path), "--run", "noadd"]) == 0
    printed = capsys.readouterr().out
    assert "operations: summary 1" in printed and "Stage interactions" in printed and "Matte red lipstick" in printed


def test_a_run_restored_from_its_stages_and_run_json_is_rebuilt_without_an_engine(tmp_path, capsys, caplog, engine,
                                                                                  write_dataset):
    """What a committed run keeps (stages.jsonl, run.json) is enough to write the trajectories and
    report an invocation wrote, on a machine without the model; settings that do not reproduce
    the stage keys are refused with one line."""
    write_dataset(tmp_path, {"u1": ["1", "2", "3", "4", "8", "9"], "u2": ["4", "5", "6", "8", "9"], "u3": ["7", "8", "9"]})
    run_dataset(tmp_path, DATASET, "r", engine, SETTINGS, progress=False)
    run_dir = tmp_path / DATASET / "hsu" / "r"
    written = read_jsonl(run_dir / "trajectories.jsonl")
    report = json.loads((run_dir / "report.json").read_text())
    (run_dir / "trajectories.jsonl").unlink()
    (run_dir / "report.json").unlink()

    assert cli_main(["-q", "hsu", DATASET, "--data", str(tmp_path), "--run", "r", "--rebuild"]) == 0
    assert read_jsonl(run_dir / "trajectories.jsonl") == written
    rebuilt = json.loads((run_dir / "report.json").read_text())
    assert rebuilt == {k: v for k, v in report.items() if k != "last_invocation"}
    assert "users: 3 (3 complete)" in capsys.readouterr().out

    run_info = json.loads((run_dir / "run.json").read_text())
    run_info["settings"]["model"] = "another-model"
    (run_dir / "run.json").write_text(json.dumps(run_info))
    caplog.clear()
    assert cli_main(["-q", "hsu", DATASET, "--data", str(tmp_path), "--run", "r", "--rebuild"]) == 2
    assert "its settings lead to none of the stored stages of 3 user(s)" in caplog.text
    assert read_jsonl(run_dir / "trajectories.jsonl") == written  # the outputs are left as they were
    del run_info["settings"]["mode"]
    (run_dir / "run.json").write_text(json.dumps(run_info))
    caplog.clear()
    assert cli_main(["-q", "hsu", DATASET, "--data", str(tmp_path), "--run", "r", "--rebuild"]) == 2
    assert "run.json: settings incomplete for a rebuild" in caplog.text
    assert cli_main(["-q", "hsu", DATASET, "--data", str(tmp_path), "--run", "missing", "--rebuild"]) == 2


def test_hsu_vector_quality_compares_the_complete_users_of_a_copy_of_the_run(tmp_path, engine, write_dataset):
    """benchmarks/hsu_vector_quality.sh (issue 27, item 4) on a run cut short as a slice's time limit
    leaves it (one user without its last stage, no trajectories): it compares the complete users
    (every user with COMPLETE_ONLY=0), copies the run's report, and leaves the run folder alone."""
    data = tmp_path / "data"
    write_dataset(data, {"u1": ["1", "2", "3", "4", "8", "9"], "u2": ["4", "5", "6", "8", "9"], "u3": ["7", "8", "9"]})
    run_dataset(data, DATASET, "r", engine, SETTINGS, progress=False)
    run_dir = data / DATASET / "hsu" / "r"
    records = read_jsonl(run_dir / STAGES_FILE)
    assert any(r["user"] == "u1" and r["stage"] == 2 for r in records)
    with (run_dir / STAGES_FILE).open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records if not (r["user"] == "u1" and r["stage"] == 2))
    (run_dir / "trajectories.jsonl").unlink()
    (run_dir / "report.json").unlink()
    stages_before = (run_dir / STAGES_FILE).read_bytes()
    for extractor, suffix in (("items", "itememb"), ("text", "useremb_text")):
        assert cli_main(["-q", "embed", DATASET, "--data", str(data), "--extractor", extractor,
                         "--suffix", suffix, "--no-progress"]) == 0

    results = tmp_path / "results"
    env = {**os.environ, "PYTHON": sys.executable, "DATASET": DATASET, "MODEL": "smollm2", "RUN": "r", "K": "1",
           "DATA_ROOT": str(data), "RESULTS": str(results), "TMPDIR": str(tmp_path)}
    # u1, the one head user (top 20% by training items), is the user cut short: a group without
    # compared users gets no row.
    for complete_only, users, head_users in (("1", 2, None), ("0", 3, 1)):
        completed = subprocess.run(["bash", str(REPO_ROOT / "benchmarks" / "hsu_vector_quality.sh")], capture_output=True,
                                   text=True, env={**env, "COMPLETE_ONLY": complete_only})
        assert completed.returncode == 0, completed.stderr[-2000:]
        report = json.loads((results / f"user-vectors-hsu-r-{DATASET}.json").read_text())
        assert report["users_compared"] == users
        assert report["group_sizes"].get("head_users") == head_users
        assert report["command"] == (f"DATASET={DATASET} MODEL=smollm2 RUN=r BASE=useremb_text K=1 "
                                     f"COMPLETE_ONLY={complete_only} bash benchmarks/hsu_vector_quality.sh")
    run_report = json.loads((results / "raw" / f"hsu-{DATASET}" / "r" / "report.json").read_text())
    assert (run_report["users"], run_report["users_complete"]) == (3, 2)
    assert sorted(p.name for p in run_dir.iterdir()) == ["run.json", STAGES_FILE]
    assert (run_dir / STAGES_FILE).read_bytes() == stages_before
    assert not list(tmp_path.glob("hsu-vector-quality.*"))  # the scratch copy is removed


def test_the_report_summarises_one_user_group_of_a_run(tmp_path, capsys, caplog, engine, write_dataset):
    """``report --users-from`` counts only the listed users (a sample's head users beside its
    long-tail ones); listed users the run never reached are reported, not an error."""
    write_dataset(tmp_path, {"u1": ["1", "2", "3", "4", "8", "9"], "u2": ["4", "5", "6", "8", "9"], "u3": ["7", "8", "9"]})
    run_dataset(tmp_path, DATASET, "r", engine, SETTINGS, progress=False)
    group = tmp_path / "group.txt"
    group.write_text("# a user group\nu2\n\nnobody\n", encoding="utf-8")
    capsys.readouterr()
    common = ["-q", "report", DATASET, "--data", str(tmp_path), "--run", "r"]
    assert cli_main([*common, "--users-from", str(group)]) == 0
    printed = capsys.readouterr().out
    assert f"users from {group}: 2 listed, 1 in this run" in printed
    assert "users: 1 (1 complete)" in printed
    assert cli_main(common) == 0
    assert "users: 3 (3 complete)" in capsys.readouterr().out
    # a user outside the group, and a missing list, are one line each (exit status 2)
    assert cli_main([*common, "--users-from", str(group), "--user", "u1"]) == 2
    assert f"user 'u1' is not in the users of {group}" in caplog.text
    assert cli_main([*common, "--users-from", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt: --users-from file not found" in caplog.text
