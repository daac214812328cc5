"""Write step: the files of ``<out>/<name>/`` and the ``<name>.prepare.json`` sidecar.

Every file is written to a temporary name and renamed. The sidecar marks a complete,
consistent set: the old one is removed before any other file is touched and the new one
is written last. Files an earlier run wrote that this run does not (``.item``,
``.item_text.jsonl`` when the items file went away) are removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dataset_tools.formats.files import write_json_atomic, write_jsonl_atomic
from dataset_tools.formats.inter import write_inter_rows
from dataset_tools.formats.item import write_item_file
from dataset_tools.prepare.convert import ConvertedItems
from dataset_tools.spec import ItemFieldSpec

logger = logging.getLogger(__name__)

#: Version of the set of files ``prepare`` writes, recorded in the sidecar.
FORMAT_VERSION = 1


def output_paths(out_dir: Path, name: str) -> dict[str, Path]:
    """The files of one prepared dataset, by role (``inter``, ``item``, ``item_text``, ``sidecar``)."""
    return {
        "inter": out_dir / f"{name}.inter",
        "item": out_dir / f"{name}.item",
        "item_text": out_dir / f"{name}.item_text.jsonl",
        "sidecar": out_dir / f"{name}.prepare.json",
    }


def write_dataset_files(
    name: str,
    paths: dict[str, Path],
    rows: Iterable[tuple[str, str, int | float]],
    fields: tuple[ItemFieldSpec, ...],
    converted: ConvertedItems | None,
    write_item_text: bool,
) -> None:
    """Write ``.inter`` and, when there are items, ``.item`` and ``.item_text.jsonl``.

    ``rows`` are the ``(user, item, timestamp)`` rows in written order (the preprocessing
    step's order and timestamps). Drops the old sidecar first and stale files of an
    earlier run last.
    """
    paths["inter"].parent.mkdir(parents=True, exist_ok=True)
    paths["sidecar"].unlink(missing_ok=True)
    write_inter_rows(paths["inter"], rows)
    if converted is not None:
        write_item_file(
            paths["item"],
            [(f.name, f.kind) for f in fields],
            ((item_id, [v.atomic if v is not None else None for v in values]) for item_id, values in converted.rows),
        )
    if write_item_text and converted is not None:
        text_index = [k for k, f in enumerate(fields) if f.item_text]
        records = []
        for item_id, values in converted.rows:
            record: dict[str, Any] = {"item_id": item_id}
            for k in text_index:
                if values[k] is not None:
                    record[fields[k].name] = values[k].text
            records.append(record)
        write_jsonl_atomic(paths["item_text"], records)
    for key, written in (("item", converted is not None), ("item_text", write_item_text)):
        if not written and paths[key].exists():
            logger.warning("%s: removing stale %s from an earlier run", name, paths[key])
            paths[key].unlink()


def write_sidecar(path: Path, sidecar: dict[str, Any]) -> None:
    """Write ``<name>.prepare.json``: the last file, marking the set complete."""
    write_json_atomic(path, sidecar)
