"""Format name -> reader, and what every reader gets and returns.

A reader is a function ``read(context) -> SourceData``: it reads the interactions file
(and the items file when there is one) of the raw folder, checks every line, and returns
the interactions in file order with their time values and the items' spec fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dataset_tools.prepare.problems import RawDataError, WarningLog
from dataset_tools.prepare.read import Interactions, ItemRecords
from dataset_tools.spec import DatasetSpec, ItemFieldSpec
from dataset_tools.spec_source import FORMATS, SourceSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceContext:
    """What a reader needs.

    Attributes:
        interactions_path: the resolved interactions file.
        items_path: the resolved items file, or None (interactions only).
        source: the spec's source settings (keys of the records, item id key).
        item_fields: the item fields the spec keeps (each read from ``field.source_key``).
        need_ratings: a step uses ratings (``rating_threshold``), so each interaction must
            carry a valid one.
        warnings: where counted (non-fatal) problems go.
    """

    interactions_path: Path
    items_path: Path | None
    source: SourceSpec
    item_fields: tuple[ItemFieldSpec, ...]
    need_ratings: bool
    warnings: WarningLog


@dataclass
class SourceData:
    """A reader's result: interactions in file order and the items' spec fields (or None)."""

    interactions: Interactions
    items: ItemRecords | None


Reader = Callable[[SourceContext], SourceData]


def _readers() -> dict[str, Reader]:
    # Imported here: each reader module imports this one for SourceContext/SourceData.
    from dataset_tools.prepare.sources import (
        amazon2014,
        amazon2018,
        amazon2023,
        atomic,
        movielens,
        raw_layout,
        steam,
        yelp,
    )

    return {
        "raw": raw_layout.read,
        "atomic": atomic.read,
        "amazon2014": amazon2014.read,
        "amazon2018": amazon2018.read,
        "amazon2023": amazon2023.read,
        "ml-1m": movielens.read_ml1m,
        "ml-20m": movielens.read_ml20m,
        "yelp": yelp.read,
        "steam": steam.read,
    }


def reader_for(fmt: str) -> Reader:
    """The reader of a format named in :data:`dataset_tools.spec_source.FORMATS`."""
    readers = _readers()
    assert set(readers) == set(FORMATS), "every format needs a reader"
    return readers[fmt]


def resolve_file(raw_dir: Path, name: str, role: str, spec: DatasetSpec, required: bool) -> Path | None:
    """The file ``name`` (or the one file matching the glob ``name``) in ``raw_dir``.

    Returns:
        The path, or None when the file is absent and not ``required``.

    Raises:
        RawDataError: a required file is absent, or a pattern matches several files.
    """
    key = "prepare.interactions_file" if role == "interactions" else "prepare.items_file"
    if any(c in name for c in "*?["):
        matches = sorted(p for p in raw_dir.glob(name) if p.is_file())
        if len(matches) > 1:
            raise RawDataError(
                f"{raw_dir}: {len(matches)} files match {key} {name!r} "
                f"({', '.join(p.name for p in matches)}); name one in {spec.source}"
            )
        if matches:
            return matches[0]
        path = raw_dir / name
    else:
        path = raw_dir / name
        if path.is_file():
            return path
    if not required:
        return None
    if role == "interactions":
        raise RawDataError(f"{path}: interactions file not found")
    raise RawDataError(
        f"{path}: items file not found (named by {key} in {spec.source}; "
        "set it to null for an interactions-only dataset)"
    )


def read_source(spec: DatasetSpec, raw_dir: Path, warnings: WarningLog) -> SourceData:
    """Resolve the spec's files in ``raw_dir`` and run the format's reader.

    Raises:
        RawDataError: missing files or unusable raw data (file, line and field named).
    """
    src = spec.prepare.source
    inter_path = resolve_file(raw_dir, src.interactions_file, "interactions", spec, required=True)
    assert inter_path is not None
    items_path = None
    if src.items_file is not None:
        items_path = resolve_file(raw_dir, src.items_file, "items", spec, required=src.items_required)
    context = SourceContext(
        interactions_path=inter_path,
        items_path=items_path,
        source=src,
        item_fields=spec.prepare.item_fields,
        need_ratings=spec.prepare.preprocess.rating_threshold is not None,
        warnings=warnings,
    )
    logger.info("%s: reading %s format: %s%s", spec.name, src.format, inter_path,
                f" + {items_path}" if items_path is not None else "")
    data = reader_for(src.format)(context)
    if not data.interactions.users:
        raise RawDataError(f"{inter_path}: no interactions (the file is empty)")
    return data
