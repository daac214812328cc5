"""One HSU run over a prepared dataset folder: inputs, run folder, outputs.

``<data>/<ds>/hsu/<run>/`` holds ``stages.jsonl`` (append-only), ``trajectories.jsonl``
(one line per user, rewritten atomically at the end of every invocation), ``run.json``
and ``report.json`` (docs/data-formats.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset_tools import DatasetToolsError
from dataset_tools.formats.files import require_dataset_dir
from dataset_tools.formats.inter import inter_path, read_user_sequences
from dataset_tools.formats.item_text import item_text_path
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest
from dataset_tools.hsu.items import ItemLineTemplate, load_item_text
from dataset_tools.hsu.lockstep import HsuPipeline, HsuSettings, RunStats, select_users
from dataset_tools.report.summary import build_report
from dataset_tools.hsu.store import (
    REPORT_FILE,
    RUN_FILE,
    STAGES_FILE,
    TRAJECTORIES_FILE,
    StageStore,
    read_jsonl,
    settings_hash,
    write_json_atomic,
    write_jsonl_atomic,
)

logger = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """Where a run wrote its files and what it did."""

    run_dir: Path
    stats: RunStats
    report: dict[str, Any]


def check_inputs(data_root: Path, dataset: str) -> None:
    """Fail fast (before a model is loaded) when the dataset folder or its item text is missing."""
    folder = require_dataset_dir(data_root, dataset)
    load_item_text(item_text_path(folder, dataset))
    if not inter_path(folder, dataset).is_file():
        raise DatasetToolsError(f"{inter_path(folder, dataset)}: not found; run `python -m dataset_tools prepare {dataset}`")


def run_dataset(
    data_root: Path,
    dataset: str,
    run_name: str,
    engine: Engine,
    settings: HsuSettings,
    users_from: Sequence[str] | None = None,
    shard: tuple[int, int] | None = None,
    limit_users: int | None = None,
    progress: bool = True,
) -> RunOutcome:
    """Process (or resume, or incrementally update) ``run_name`` for the selected users.

    Raises:
        DatasetToolsError: missing inputs, or a run folder made with other settings.
    """
    folder = require_dataset_dir(data_root, dataset)
    item_text = load_item_text(item_text_path(folder, dataset))
    missing = sorted(settings.item_line.fields - {k for item in item_text.values() for k in item})
    if missing:
        raise DatasetToolsError(
            f"hsu.item_line uses field(s) {missing} that no item in {item_text_path(folder, dataset)} has"
        )
    sequences = read_user_sequences(inter_path(folder, dataset))
    run_dir = folder / "hsu" / run_name
    run_file = run_dir / RUN_FILE

    pipeline_settings: dict[str, Any] = {}
    with StageStore(run_dir) as store:
        pipeline = HsuPipeline(engine, store, settings, item_text, progress=progress)
        pipeline_settings = pipeline.key_settings
        if run_file.is_file():
            previous = json.loads(run_file.read_text(encoding="utf-8"))
            if settings_hash(previous.get("settings", {})) != pipeline.settings_digest:
                raise DatasetToolsError(
                    f"{run_dir} was made with other settings ({previous.get('settings')}) than now "
                    f"({pipeline_settings}); choose another --run name"
                )
            created = previous.get("created")
        else:
            created = time.time()
        selected = select_users(list(sequences), users_from, shard, limit_users)
        # Keep users of earlier invocations in the trajectories (another sample, a grown dataset).
        earlier = [str(r["user"]) for r in read_jsonl(run_dir / TRAJECTORIES_FILE)]
        dropped = [u for u in earlier if u not in sequences]
        if dropped:
            logger.warning("%d user(s) of earlier invocations are no longer in the dataset, e.g. %s", len(dropped), dropped[:3])
        chosen = set(selected) | {u for u in earlier if u in sequences}
        all_users = [u for u in sequences if u in chosen]
        run_info = {
            "dataset": dataset,
            "data_dir": str(folder),
            "settings": pipeline_settings,
            "stage_length": settings.stage_length,
            "max_items": settings.max_items,
            "runtime": {"batch_size": settings.batch_size, "max_retries": settings.max_retries,
                        "retry_temperature": settings.retry_temperature, **engine.describe()},
            "created": created,
            "updated": time.time(),
            "selection": {"users_from": len(users_from) if users_from is not None else None,
                          "shard": list(shard) if shard else None, "limit_users": limit_users},
            "status": "running",
        }
        write_json_atomic(run_file, run_info)
        # Only the selected users are processed; earlier users just get their trajectories rebuilt.
        trajectories_selected = pipeline.run(sequences, selected)
        selected_set = set(selected)
        others = pipeline.plan(sequences, [u for u in all_users if u not in selected_set])
        by_user = {t["user"]: t for t in trajectories_selected}
        by_user.update({w.user: pipeline.trajectory(w) for w in others})
        trajectories = [by_user[u] for u in all_users]
        write_jsonl_atomic(run_dir / TRAJECTORIES_FILE, trajectories)
        report = build_report(trajectories, pipeline.stats.as_dict())
        write_json_atomic(run_dir / REPORT_FILE, report)
        run_info.update(status="finished", updated=time.time(), last_invocation=pipeline.stats.as_dict())
        write_json_atomic(run_file, run_info)
    return RunOutcome(run_dir, pipeline.stats, report)


class _StoredRunEngine(Engine):
    """Stands for the engine that wrote a run, by the identity its ``run.json`` records.

    Rebuilding a run's outputs reads stored stages only, so the stage keys need the engine's
    name, model and constraint flag but never a model; asking it to generate is a bug.
    """

    def __init__(self, name: str, model_id: str, constrained: bool) -> None:
        super().__init__(model_id, constrained)
        self.name = name

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        raise RuntimeError("a rebuild reads stored stages only and never generates")


def rebuild_run(data_root: Path, dataset: str, run_name: str) -> RunOutcome:
    """Rewrite ``trajectories.jsonl`` and ``report.json`` of a run from its stages and ``run.json``.

    For a run folder restored from a copy of those two files (a committed run on a fresh
    machine): every user with a stored stage gets the trajectory an invocation of the run
    would write, along the key chain of the settings ``run.json`` records, and no engine or
    model is loaded.

    Raises:
        DatasetToolsError: no such run, no ``run.json`` or stages, or settings that do not
            reproduce the run's stage keys.
    """
    folder = require_dataset_dir(data_root, dataset)
    run_dir = folder / "hsu" / run_name
    run_file = run_dir / RUN_FILE
    if not run_file.is_file() or not (run_dir / STAGES_FILE).is_file():
        raise DatasetToolsError(f"{run_dir}: a rebuild needs {RUN_FILE} and {STAGES_FILE} (restore both first)")
    info = json.loads(run_file.read_text(encoding="utf-8"))
    recorded = info.get("settings") or {}
    try:
        engine = _StoredRunEngine(recorded["engine"], recorded["model"], bool(recorded["constrained"]))
        settings = HsuSettings(
            stage_length=int(info["stage_length"]),
            max_items=info.get("max_items"),
            operations=tuple(recorded["operations"]),
            mode=recorded["mode"],
            item_line=ItemLineTemplate(tuple(recorded["item_line"])),
            max_tokens_interests=int(recorded["max_tokens"][0]),
            max_tokens_selection=int(recorded["max_tokens"][1]),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise DatasetToolsError(f"{run_file}: settings incomplete for a rebuild ({type(exc).__name__}: {exc})") from None
    sequences = read_user_sequences(inter_path(folder, dataset))
    item_text = load_item_text(item_text_path(folder, dataset))
    with StageStore(run_dir) as store:
        pipeline = HsuPipeline(engine, store, settings, item_text, progress=False)
        if pipeline.settings_digest != settings_hash(recorded):
            raise DatasetToolsError(f"{run_file}: its settings {recorded} do not reproduce the run's stage keys "
                                    f"(this version writes {pipeline.key_settings})")
        stored_users = {str(record["user"]) for record in read_jsonl(run_dir / STAGES_FILE)}
        unknown = sorted(stored_users - set(sequences))
        if unknown:
            logger.warning("%d user(s) with stored stages are not in %s, e.g. %s", len(unknown), dataset, unknown[:3])
        works = pipeline.plan(sequences, [u for u in sequences if u in stored_users])
        # Keys chain from the recorded settings: a run.json from another run finds no first stage.
        unmatched = [work.user for work in works if work.next_index == 0]
        if unmatched:
            raise DatasetToolsError(f"{run_file}: its settings lead to none of the stored stages of {len(unmatched)} "
                                    f"user(s), e.g. {unmatched[:3]}; run.json and {STAGES_FILE} must come from one run")
        trajectories = [pipeline.trajectory(work) for work in works]
    write_jsonl_atomic(run_dir / TRAJECTORIES_FILE, trajectories)
    report = build_report(trajectories)
    write_json_atomic(run_dir / REPORT_FILE, report)
    logger.info("rebuilt %s: %d users (%d complete) from stored stages", run_dir, len(trajectories),
                sum(t["complete"] for t in trajectories))
    return RunOutcome(run_dir, pipeline.stats, report)
