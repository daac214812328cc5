"""The append-only stage store: key chains, torn-tail repair, durable appends, merge of
shard runs, and ``load_final_interests`` (the embed step's entry point)."""

from __future__ import annotations

import gzip
import json

import pytest

from dataset_tools import DatasetToolsError
from dataset_tools.hsu.store import (
    STAGES_FILE,
    TRAJECTORIES_FILE,
    StageStore,
    chain_keys,
    load_final_interests,
    merge_runs,
    read_jsonl,
    settings_hash,
    write_json_atomic,
    write_jsonl_atomic,
)


def record(key: str, user: str, stage: int, interests: list[str]) -> dict:
    return {"key": key, "user": user, "stage": stage, "interests": interests}


def test_keys_chain_so_a_changed_stage_changes_itself_and_later_stages_only():
    digest = settings_hash({"model": "m", "prompt_version": "v"})
    before = chain_keys("u1", [["a", "b"], ["c", "d"], ["e"]], digest)
    grown = chain_keys("u1", [["a", "b"], ["c", "d"], ["e", "f"], ["g"]], digest)
    assert grown[:2] == before[:2] and grown[2] != before[2]
    assert chain_keys("u2", [["a", "b"]], digest)[0] != before[0]
    other_model = settings_hash({"model": "m2", "prompt_version": "v"})
    assert chain_keys("u1", [["a", "b"]], other_model)[0] != before[0]


def test_store_appends_durably_and_repairs_a_torn_last_line(tmp_path, caplog):
    with StageStore(tmp_path / "run") as store:
        store.append([record("k1", "u1", 1, ["a"]), record("k2", "u1", 2, ["b"])])
    path = tmp_path / "run" / STAGES_FILE
    with path.open("a", encoding="utf-8") as handle:  # a crash in the middle of the next append
        handle.write('{"key": "k3", "user": "u1", "sta')
    with StageStore(tmp_path / "run") as store:
        assert set(store.records) == {"k1", "k2"} and "k3" not in store
        store.append([record("k3", "u1", 3, ["c"])])
    assert "torn last line" in caplog.text
    assert [r["key"] for r in read_jsonl(path)] == ["k1", "k2", "k3"]


def test_a_committed_gzip_copy_reads_as_its_stage_file(tmp_path):
    """Committed runs keep stages.jsonl.gz; it reads as the file it was made from, never repaired in place."""
    with StageStore(tmp_path / "run") as store:
        store.append([record("k1", "u1", 1, ["a"]), record("k2", "u1", 2, ["b"])])
    path = tmp_path / "run" / STAGES_FILE
    copy = tmp_path / "stages.jsonl.gz"
    copy.write_bytes(gzip.compress(path.read_bytes()))
    assert read_jsonl(copy) == read_jsonl(path)
    copy.write_bytes(gzip.compress(path.read_bytes() + b'{"key": "k3", "us'))
    with pytest.raises(DatasetToolsError, match=r"stages\.jsonl\.gz: unfinished last line"):
        read_jsonl(copy)
    with pytest.raises(ValueError, match="a compressed copy is not repaired in place"):
        read_jsonl(copy, repair_tail=True)


def test_a_corrupt_line_in_the_middle_is_an_error_naming_the_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / STAGES_FILE).write_text('{"key": "k1"}\nnot json\n{"key": "k2"}\n', encoding="utf-8")
    with pytest.raises(DatasetToolsError, match=r"stages\.jsonl: line 2: not valid JSON"):
        StageStore(run)


def test_load_final_interests_reads_finished_runs_only(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(DatasetToolsError, match="has not finished"):
        load_final_interests(run)
    run.mkdir()
    write_jsonl_atomic(
        run / TRAJECTORIES_FILE,
        [{"user": "7", "final_interests": ["Lip care", "Eye makeup"]}, {"user": "8", "final_interests": []}],
    )
    assert load_final_interests(run) == {"7": "Lip care; Eye makeup"}


def test_merge_of_shards_concatenates_and_dedupes(tmp_path):
    settings = {"settings": {"model": "m"}}
    for name, keys, users in (("s0", ["k1", "k2"], ["u1"]), ("s1", ["k2", "k3"], ["u2"])):
        run = tmp_path / name
        with StageStore(run) as store:
            store.append([record(k, users[0], 1, ["x"]) for k in keys])
        write_jsonl_atomic(run / TRAJECTORIES_FILE, [{"user": u, "stages": [{}], "final_interests": [u]} for u in users])
        write_json_atomic(run / "run.json", settings)
    counts = merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "merged")
    assert counts == {"stage_records": 3, "users": 2}
    assert load_final_interests(tmp_path / "merged") == {"u1": "u1", "u2": "u2"}
    write_json_atomic(tmp_path / "s1" / "run.json", {"settings": {"model": "other"}})
    with pytest.raises(DatasetToolsError, match="different settings"):
        merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "merged2")
    assert json.loads((tmp_path / "merged" / "run.json").read_text())["merged_from"][0].endswith("s0")


def test_shards_partition_the_users_stably_and_the_other_selections():
    from dataset_tools.hsu.lockstep import select_users

    users = [str(n) for n in range(200)]
    shards = [select_users(users, shard=(i, 3)) for i in range(3)]
    assert sorted(u for shard in shards for u in shard) == sorted(users)
    assert not set(shards[0]) & set(shards[1])
    assert select_users(list(reversed(users)), shard=(1, 3)) == list(reversed(shards[1]))  # by hash, not position
    assert select_users(users, users_from=["5", "3", "5"], limit=1) == ["5"]
    with pytest.raises(DatasetToolsError, match="not in the dataset"):
        select_users(users, users_from=["x"])
