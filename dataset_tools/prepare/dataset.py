"""``prepare_dataset``: raw data -> RecBole files, as read / filter / convert / write steps.

All inputs are read and checked before anything is written, so an error in the raw data
leaves an earlier preparation untouched.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dataset_tools.prepare.convert import ConvertedItems, convert_items
from dataset_tools.prepare.filter import ItemCoverage, KeptInteractions, check_item_coverage
from dataset_tools.prepare.numbering import id_numbering, numbering_warning
from dataset_tools.prepare.preprocess import Preprocessed, preprocess
from dataset_tools.prepare.problems import RawDataError, WarningLog
from dataset_tools.prepare.read import Interactions, ItemRecords
from dataset_tools.prepare.sources.registry import read_source
from dataset_tools.prepare.stats_check import check_statistics
from dataset_tools.prepare.write import FORMAT_VERSION, output_paths, write_dataset_files, write_sidecar
from dataset_tools.spec import DatasetSpec

logger = logging.getLogger(__name__)


@dataclass
class PrepareResult:
    """What ``prepare_dataset`` wrote and counted (also stored in ``<name>.prepare.json``).

    ``steps`` is the preprocessing report (what each step removed, k-core round by
    round); ``check`` the comparison with the spec's expected statistics (or None).
    """

    out_dir: Path
    files: dict[str, str | None]
    counts: dict[str, Any]
    warnings: dict[str, dict[str, Any]]
    has_item_text: bool
    elapsed_s: float
    steps: list[dict[str, Any]] = field(default_factory=list)
    check: dict[str, Any] | None = None


def prepare_dataset(
    spec: DatasetSpec, raw_dir: Path, out_root: Path, stats_check: str | None = None
) -> PrepareResult:
    """Convert ``raw_dir`` into ``out_root/<spec.name>/`` following ``spec.prepare``.

    Args:
        stats_check: ``warn`` or ``fail`` overrides ``prepare.expected.on_mismatch``.

    Raises:
        RawDataError: missing inputs or unusable raw data (nothing is written then).
        StatisticsMismatch: the counts differ from ``prepare.expected`` under ``fail``
            (nothing is written then).
    """
    started = time.perf_counter()
    name = spec.name
    pspec = spec.prepare
    warnings = WarningLog()

    # ---- read, preprocess, check
    if not raw_dir.is_dir():
        raise RawDataError(f"{raw_dir}: raw data folder not found")
    source = read_source(spec, raw_dir, warnings)
    inter, items = source.interactions, source.items
    prep = preprocess(inter, pspec.preprocess, warnings, spec.source)
    kept = prep.kept
    final = {"users": len(set(prep.users)), "items": len(kept.items), "interactions": len(kept.rows)}
    check = check_statistics(pspec.preprocess.expected, final, prep.steps, name, spec.source, stats_check)
    coverage = ItemCoverage([], 0, [])
    if items is not None:
        coverage = check_item_coverage(inter, kept, items, warnings)
    else:
        _warn_no_item_text(name, raw_dir, pspec.items_file, warnings)

    # ---- convert
    fields = pspec.item_fields
    text_fields = [f for f in fields if f.item_text]
    converted = convert_items(items, set(kept.items), fields, warnings) if items is not None else None
    if converted is not None and pspec.preprocess.id_mapping != "keep":
        converted = _renumbered(converted, prep.item_ids)
    write_item_text = items is not None and bool(text_fields)
    if items is not None and not text_fields:
        logger.warning("%s: no item field has item_text: true in %s; %s.item_text.jsonl not written",
                       name, spec.source, name)

    # ---- write
    out_dir = out_root / name
    paths = output_paths(out_dir, name)
    write_dataset_files(name, paths, zip(prep.users, prep.items, prep.timestamps), fields, converted,
                        write_item_text)
    counts = _counts(inter, prep, items, converted, coverage, spec)
    numbering = id_numbering(prep.items)
    leak = numbering_warning(name, numbering)
    if leak:
        logger.warning("%s", leak)
    files = {
        "inter": paths["inter"].name,
        "item": paths["item"].name if items is not None else None,
        "item_text": paths["item_text"].name if write_item_text else None,
    }
    elapsed = time.perf_counter() - started
    sidecar = {
        "format_version": FORMAT_VERSION,
        "dataset": name,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sources": {
            "raw_dir": str(raw_dir.resolve()),
            "format": pspec.source.format,
            "time_unit": pspec.source.time_unit,
            "interactions": {"path": str(inter.path.resolve()), "sha256": inter.sha256},
            "items": {"path": str(items.path.resolve()), "sha256": items.sha256} if items is not None else None,
        },
        "spec": {
            "path": str(spec.path.resolve()) if spec.path is not None else None,
            "default": spec.is_default,
            "prepare": pspec.to_dict(),
        },
        "has_item_text": write_item_text,
        "files": files,
        "counts": counts,
        "item_id_numbering": numbering,
        "steps": prep.steps,
        "check": check,
        "warnings": warnings.to_dict(),
        "elapsed_s": round(elapsed, 3),
    }
    write_sidecar(paths["sidecar"], sidecar)

    warnings.log_summary(logger, name)
    logger.info(
        "%s: wrote %s: %d users, %d items, %d interactions, %d item rows%s (%.2f s)",
        name,
        out_dir,
        counts["users"],
        counts["items"],
        counts["interactions"],
        counts["item_rows"],
        "" if write_item_text else ", NO item text",
        elapsed,
    )
    return PrepareResult(out_dir, files, counts, warnings.to_dict(), write_item_text, elapsed, prep.steps, check)


def _renumbered(converted: ConvertedItems, item_ids: dict[str, str]) -> ConvertedItems:
    """Item rows under their written ids, in id order (``id_mapping: first_appearance``)."""
    rows = sorted(((item_ids[i], values) for i, values in converted.rows), key=lambda row: int(row[0]))
    return ConvertedItems(rows, converted.present, converted.missing)


def _warn_no_item_text(name: str, raw_dir: Path, items_file: str | None, warnings: WarningLog) -> None:
    reason = "prepare.items_file is null" if items_file is None else f"{items_file} absent"
    warnings.add(
        "no_item_text",
        "the dataset has no items file: only the .inter is written; tools that need item text "
        "(hsu, text embeddings) cannot run on it",
        f"{raw_dir}: {reason}",
    )
    logger.warning(
        "%s: NO ITEM TEXT: %s has no items file (%s); writing only %s.inter. "
        "Tools that need item text (hsu, text embeddings) cannot run on this dataset.",
        name, raw_dir, reason, name,
    )


def _counts(
    inter: Interactions,
    prep: Preprocessed,
    items: ItemRecords | None,
    converted: ConvertedItems | None,
    coverage: ItemCoverage,
    spec: DatasetSpec,
) -> dict[str, Any]:
    """The ``counts`` of the sidecar."""
    kept: KeptInteractions = prep.kept
    lengths = Counter(prep.users)
    n_kept = len(kept.rows)
    fields = spec.prepare.item_fields
    return {
        "raw_lines": inter.n_lines,
        "raw_interactions": len(inter.users),
        "raw_users": len(kept.raw_user_lengths),
        "raw_items": len(set(inter.items)),
        "users": len(lengths),
        "items": len(kept.items),
        "interactions": n_kept,
        "dropped_users": len(kept.dropped_users),
        "dropped_interactions": len(inter.users) - n_kept,
        "sequence_length": {
            "min": min(lengths.values()),
            "max": max(lengths.values()),
            "mean": round(n_kept / len(lengths), 4),
        },
        "items_in_items_file": len(items.records) if items is not None else 0,
        "item_rows": len(converted.rows) if converted is not None else 0,
        "items_not_interacted": len(coverage.never_interacted),
        "unknown_items": len(coverage.unknown_items),
        "unknown_item_interactions": coverage.unknown_interactions,
        "item_fields": {
            f.name: {
                "present": converted.present[f.name] if converted is not None else 0,
                "missing": converted.missing[f.name] if converted is not None else 0,
            }
            for f in fields
        },
    }
