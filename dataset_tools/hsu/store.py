"""The append-only stage store of one HSU run, and the files derived from it.

``<run>/stages.jsonl`` gets one JSON line per finished user-stage, flushed and fsynced
after every lockstep step, and is never rewritten. Every record carries a *key*::

    key = sha256(previous stage's key, user, stage index, stage items, settings hash)

where the settings hash covers the prompt version, engine, model, operation set, mode,
item line template and whether decoding was constrained. Keys are computed from inputs
only, so before calling the LLM the pipeline knows the key every stage *should* have and
skips stages whose key is stored (resume). Because each key chains the previous one, a
changed stage (the partial last stage that grew) invalidates exactly itself and the
stages after it (incremental update). Stale records stay in the file; trajectories only
follow the current chain.

A crash can only tear the last line; it is cut off (with a warning) when the store is
reopened. Any other malformed line is an error naming the line.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dataset_tools import DatasetToolsError
from dataset_tools.formats.files import MissingInputError, write_json_atomic, write_jsonl_atomic

logger = logging.getLogger(__name__)

STAGES_FILE = "stages.jsonl"
TRAJECTORIES_FILE = "trajectories.jsonl"
RUN_FILE = "run.json"
REPORT_FILE = "report.json"


def _digest(value: Any, length: int) -> str:
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:length]


def settings_hash(settings: Mapping[str, Any]) -> str:
    """Hash of the settings that change what the LLM is asked (see module doc)."""
    return _digest(dict(settings), 16)


def stage_key(prev_key: str | None, user: str, index: int, items: Sequence[str], settings_digest: str) -> str:
    """The key of stage ``index`` (1-based) of ``user`` given the previous stage's key."""
    return _digest([prev_key or "", user, index, list(items), settings_digest], 32)


def chain_keys(user: str, stages: Sequence[Sequence[str]], settings_digest: str) -> list[str]:
    """Keys of all stages of a user, in order."""
    keys: list[str] = []
    for index, items in enumerate(stages, start=1):
        keys.append(stage_key(keys[-1] if keys else None, user, index, items, settings_digest))
    return keys


def read_jsonl(path: Path, repair_tail: bool = False) -> list[dict[str, Any]]:
    """Read a JSON-lines file, or its gzip-compressed copy (``.gz``, as committed run records are).

    Args:
        repair_tail: cut off a torn last line (bytes after the last newline), which is
            what a crash in the middle of an append leaves, instead of raising; not for a
            compressed copy, which is never appended to.

    Raises:
        DatasetToolsError: a malformed complete line, naming the file and line.
    """
    if not path.is_file():
        return []
    data = path.read_bytes()
    if path.suffix == ".gz":
        if repair_tail:
            raise ValueError(f"{path}: a compressed copy is not repaired in place")
        data = gzip.decompress(data)
    complete, _, tail = data.rpartition(b"\n")
    rows: list[dict[str, Any]] = []
    for line_no, raw in enumerate(complete.split(b"\n") if complete else [], start=1):
        if not raw.strip():
            continue
        try:
            rows.append(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise DatasetToolsError(f"{path}: line {line_no}: not valid JSON ({exc})") from None
    if tail:
        if not repair_tail:
            raise DatasetToolsError(f"{path}: unfinished last line (an interrupted write)")
        logger.warning("%s: cutting off a torn last line left by an interrupted run (%d bytes)", path, len(tail))
        with path.open("r+b") as handle:
            handle.truncate(len(data) - len(tail))
            handle.flush()
            os.fsync(handle.fileno())
    return rows


class StageStore:
    """Stage records of one run folder, keyed by stage key.

    Only one process may write a run folder at a time; shards use separate folders and
    are merged with ``merge_runs``.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / STAGES_FILE
        run_dir.mkdir(parents=True, exist_ok=True)
        self.records: dict[str, dict[str, Any]] = {}
        for row in read_jsonl(self.path, repair_tail=True):
            self.records.setdefault(row["key"], row)
        self._handle = self.path.open("a", encoding="utf-8")

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append finished stage records and make them durable (flush + fsync)."""
        if not records:
            return
        for record in records:
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        for record in records:
            self.records.setdefault(record["key"], dict(record))

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()

    def __enter__(self) -> "StageStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def final_interest_text(interests: Sequence[str]) -> str:
    """The text that represents a user's final interests (what embeddings encode)."""
    return "; ".join(interests)


def run_names(hsu_root: str | Path) -> list[str]:
    """Names of the run folders under ``<data>/<ds>/hsu/`` (sorted; none when it does not exist)."""
    root = Path(hsu_root)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def find_run(hsu_root: str | Path, run: str | None) -> Path:
    """The folder of run ``run`` under ``hsu_root``; ``None`` means the only run there is.

    Raises:
        MissingInputError: the run does not exist, or ``run`` is None and there is not
            exactly one run; the message lists the runs there are.
    """
    root = Path(hsu_root)
    runs = run_names(root)
    if run is None:
        if len(runs) != 1:
            raise MissingInputError(f"{root}: give --run NAME; available runs: {runs or 'none'}")
        run = runs[0]
    run_dir = root / run
    if not run_dir.is_dir():
        raise MissingInputError(f"HSU run folder {run_dir} not found; available runs: {runs or 'none'}")
    return run_dir


def load_trajectories(run_dir: Path) -> list[dict[str, Any]]:
    """The per-user trajectories of a finished run."""
    path = Path(run_dir) / TRAJECTORIES_FILE
    if not path.is_file():
        raise DatasetToolsError(
            f"{path}: not found; the HSU run in {run_dir} has not finished (rerun the same `hsu` command to resume it)"
        )
    return read_jsonl(path)


def load_final_interests(run_dir: str | Path) -> dict[str, str]:
    """Final interest text per user: ``{user token: text}``.

    Users whose training history was empty (no stage) are absent.

    Raises:
        DatasetToolsError: the run has no ``trajectories.jsonl`` (not finished).
    """
    result: dict[str, str] = {}
    for row in load_trajectories(Path(run_dir)):
        if row.get("final_interests"):
            result[str(row["user"])] = final_interest_text(row["final_interests"])
    return result


def merge_runs(sources: Sequence[Path], target: Path) -> dict[str, int]:
    """Merge shard run folders into ``target``: concatenate and dedupe by key / user.

    ``stages.jsonl`` records are deduplicated by key; trajectories by user (a user found
    in several shards keeps the trajectory with the most stages). ``run.json`` lists the
    sources. The report is rebuilt by the caller from the merged trajectories.

    Returns:
        counts of merged stage records and users.
    """
    target.mkdir(parents=True, exist_ok=True)
    records: dict[str, dict[str, Any]] = {}
    trajectories: dict[str, dict[str, Any]] = {}
    settings: list[dict[str, Any]] = []
    for source in sources:
        if not (source / STAGES_FILE).is_file():
            raise DatasetToolsError(f"{source}: not an HSU run folder (no {STAGES_FILE})")
        for row in read_jsonl(source / STAGES_FILE, repair_tail=False):
            records.setdefault(row["key"], row)
        for row in load_trajectories(source):
            user = str(row["user"])
            if user not in trajectories or len(row["stages"]) > len(trajectories[user]["stages"]):
                trajectories[user] = row
        run_file = source / RUN_FILE
        if run_file.is_file():
            settings.append(json.loads(run_file.read_text(encoding="utf-8")).get("settings", {}))
    distinct = {settings_hash(s) for s in settings}
    if len(distinct) > 1:
        raise DatasetToolsError(f"cannot merge runs with different settings: {[str(s) for s in sources]}")
    write_jsonl_atomic(target / STAGES_FILE, records.values())
    write_jsonl_atomic(target / TRAJECTORIES_FILE, (trajectories[u] for u in sorted(trajectories)))
    write_json_atomic(
        target / RUN_FILE,
        {"settings": settings[0] if settings else {}, "merged_from": [str(s) for s in sources]},
    )
    return {"stage_records": len(records), "users": len(trajectories)}
