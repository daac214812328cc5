"""HSU on Ray for real: a local two-worker Ray instance, the packaged SmolLM2 in each worker.

The distributed run gives the same stage records as the one-process run on the same users (LLM
text may differ across processes; keys, counts and order of stages may not), and a run killed
mid-way loses no finished stage: the rerun keeps every stored record and computes only the rest.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("ray")

from dataset_tools.__main__ import main as cli_main  # noqa: E402
from dataset_tools.hsu.lockstep import select_users  # noqa: E402
from dataset_tools.hsu.store import STAGES_FILE, read_jsonl  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASET = "toy"
ITEMS = {"1": "Matte red lipstick", "2": "Lip balm with SPF", "3": "Volumizing mascara", "4": "Argan oil shampoo",
         "5": "Ionic hair dryer", "6": "Nail polish, coral", "8": "Sunscreen SPF 50", "9": "Hair mask, keratin"}
# u1, u3 fall in shard 1 of 2 and u2, u4 in shard 0: both workers get users. Each user has 3 training
# items (2 held out), so 2 stages of stage length 2.
SEQUENCES = {"u1": ["1", "2", "3", "8", "9"], "u2": ["4", "5", "6", "8", "9"], "u3": ["2", "6", "1", "8", "9"],
             "u4": ["5", "3", "4", "8", "9"]}
# Small caps keep the CPU time low (an output cut short is a parse failure and falls back).
SMALL = ["--stage-length", "2", "--max-tokens-interests", "48", "--max-tokens-selection", "24", "--max-retries", "0",
         "--no-progress"]


@pytest.fixture
def data(tmp_path, write_inter) -> Path:
    assert {u for i in range(2) for u in select_users(list(SEQUENCES), shard=(i, 2))} == set(SEQUENCES)
    assert all(select_users(list(SEQUENCES), shard=(i, 2)) for i in range(2))
    folder = tmp_path / "data" / DATASET
    write_inter(folder / f"{DATASET}.inter", SEQUENCES)
    with (folder / f"{DATASET}.item_text.jsonl").open("w", encoding="utf-8") as handle:
        for item_id, title in ITEMS.items():
            handle.write(json.dumps({"item_id": item_id, "title": title}) + "\n")
    return tmp_path / "data"


def stages_by_user(run_dir: Path) -> dict[str, list[tuple[int, str]]]:
    """``{user: [(stage index, key), ...]}`` in file order."""
    out: dict[str, list[tuple[int, str]]] = {}
    for record in read_jsonl(run_dir / STAGES_FILE):
        out.setdefault(str(record["user"]), []).append((record["stage"], record["key"]))
    return out


def test_ray_run_equals_the_one_process_run_and_a_killed_run_loses_no_stage(data):
    hsu = ["hsu", DATASET, "--data", str(data), *SMALL]
    assert cli_main([*hsu, "--run", "single"]) == 0
    single = stages_by_user(data / DATASET / "hsu" / "single")
    assert set(single) == set(SEQUENCES) and all(len(v) == 2 for v in single.values())

    # The distributed run, killed (driver, Ray and its workers) once a shard has stored a stage.
    command = [sys.executable, "-m", "dataset_tools", *hsu, "--run", "dist", "--ray", "--ray-workers", "2"]
    shard_files = [data / DATASET / "hsu" / f"dist-shard{i}of2" / STAGES_FILE for i in range(2)]
    proc = subprocess.Popen(command, cwd=REPO_ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "RAY_DEDUP_LOGS": "0"})
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not any(f.is_file() and read_jsonl(f) for f in shard_files):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = {r["key"]: r for f in shard_files if f.is_file() for r in read_jsonl(f)}
    assert 0 < len(kept) < 2 * len(SEQUENCES), "the kill must come after some stages and before the last"

    assert cli_main([*hsu, "--run", "dist", "--ray", "--ray-workers", "2"]) == 0
    # The in-process run shut down the Ray instance it started: a later ray.init here (the
    # tuner's, with its numpy shim for the workers) would otherwise silently reuse it.
    import ray

    assert not ray.is_initialized()
    merged_dir = data / DATASET / "hsu" / "dist"
    merged = stages_by_user(merged_dir)
    assert merged == single  # same users, keys, counts and order of stages as the one-process run
    records = {r["key"]: r for r in read_jsonl(merged_dir / STAGES_FILE)}
    for key, record in kept.items():  # every stage finished before the kill survived unchanged
        assert records[key] == record
    reused = sum(json.loads((f.parent / "run.json").read_text())["last_invocation"]["stages_reused"]
                 for f in shard_files)
    assert reused == len(kept)  # the rerun computed only what the killed run had not stored
    report = json.loads((merged_dir / "report.json").read_text())
    assert report["users"] == report["users_complete"] == len(SEQUENCES) and report["stages"] == 2 * len(SEQUENCES)

