"""``prepare_dataset``: raw data -> RecBole files, as read / filter / convert / write steps.

All inputs are read and checked before anything is written, so an error in the raw data
leaves an earlier preparation untouched.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dataset_tools.prepare.convert import ConvertedItems, convert_items
from dataset_tools.prepare.filter import ItemCoverage, KeptInteractions, check_item_coverage, drop_short_users
from dataset_tools.prepare.problems import RawDataError, WarningLog
from dataset_tools.prepare.read import Interactions, ItemRecords, items_path, read_raw_interactions, read_raw_items
from dataset_tools.prepare.write import FORMAT_VERSION, output_paths, write_dataset_files, write_sidecar
from dataset_tools.spec import DatasetSpec

logger = logging.getLogger(__name__)


@dataclass
class PrepareResult:
    """What ``prepare_dataset`` wrote and counted (also stored in ``<name>.prepare.json``)."""

    out_dir: Path
    files: dict[str, str | None]
    counts: dict[str, Any]
    warnings: dict[str, dict[str, Any]]
    has_item_text: bool
    elapsed_s: float


def prepare_dataset(spec: DatasetSpec, raw_dir: Path, out_root: Path) -> PrepareResult:
    """Convert ``raw_dir`` into ``out_root/<spec.name>/`` following ``spec.prepare``.

    Raises:
        RawDataError: missing inputs or unusable raw data (nothing is written then).
    """
    started = time.perf_counter()
    name = spec.name
    pspec = spec.prepare
    warnings = WarningLog()

    # ---- read and filter
    if not raw_dir.is_dir():
        raise RawDataError(f"{raw_dir}: raw data folder not found")
    inter_path = raw_dir / pspec.interactions_file
    if not inter_path.is_file():
        raise RawDataError(f"{inter_path}: interactions file not found")
    item_file = items_path(spec, raw_dir)
    inter = read_raw_interactions(inter_path, warnings)
    kept = drop_short_users(inter, pspec.min_user_interactions, warnings, spec.source)
    items: ItemRecords | None = None
    coverage = ItemCoverage([], 0, [])
    if item_file is not None:
        items = read_raw_items(item_file, pspec.item_id_key, pspec.item_fields, warnings)
        coverage = check_item_coverage(inter, kept, items, warnings)
    else:
        _warn_no_item_text(name, raw_dir, pspec.items_file, warnings)

    # ---- convert
    fields = pspec.item_fields
    text_fields = [f for f in fields if f.item_text]
    converted = convert_items(items, set(kept.items), fields, warnings) if items is not None else None
    write_item_text = items is not None and bool(text_fields)
    if items is not None and not text_fields:
        logger.warning("%s: no item field has item_text: true in %s; %s.item_text.jsonl not written",
                       name, spec.source, name)

    # ---- write
    out_dir = out_root / name
    paths = output_paths(out_dir, name)
    write_dataset_files(name, paths, inter, kept.rows, fields, converted, write_item_text)
    counts = _counts(inter, kept, items, converted, coverage, spec)
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
            "interactions": {"path": str(inter_path.resolve()), "sha256": inter.sha256},
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
    return PrepareResult(out_dir, files, counts, warnings.to_dict(), write_item_text, elapsed)


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
    kept: KeptInteractions,
    items: ItemRecords | None,
    converted: ConvertedItems | None,
    coverage: ItemCoverage,
    spec: DatasetSpec,
) -> dict[str, Any]:
    """The ``counts`` of the sidecar."""
    lengths = {u: n for u, n in kept.raw_user_lengths.items() if u not in kept.dropped_users}
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
