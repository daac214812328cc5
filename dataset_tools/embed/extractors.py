"""Where the texts to embed come from.

Each extractor returns an :class:`ExtractedTexts`: original ids, one text per id, and
counts of what was left out (and why) so the CLI and the sidecar can report them.

- ``hsu``: the final interest text of each user from an HSU run folder
  ``<data>/<ds>/hsu/<run>/`` (read by ``dataset_tools.hsu.store.load_final_interests``).
- ``text``: an LLM-ESR-style description of the user's *training* history, built from
  ``<ds>.inter`` and ``<ds>.item_text.jsonl``. The last two interactions of every user
  are the validation and test targets and are never used.
- ``items``: one text per item from ``<ds>.item_text.jsonl``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dataset_tools import DatasetToolsError
from dataset_tools.item_text import read_item_text

log = logging.getLogger(__name__)

#: Interactions held out per user by the leave-one-out protocol (validation + test).
HELD_OUT_PER_USER = 2


class MissingInputError(DatasetToolsError, FileNotFoundError):
    """An input file the extractor needs does not exist; the message says which and why."""


class BadInputError(DatasetToolsError, ValueError):
    """An input file is malformed or inconsistent; the message names the file and line."""


@dataclass
class ExtractedTexts:
    """Texts to embed.

    Attributes:
        kind: ``"user"`` or ``"item"`` (selects the file's fields).
        tokens: original ids, one per text, unique.
        texts: the text to embed for each id.
        skipped: reason -> number of ids of the dataset that got no text.
        details: extractor settings to record in the sidecar.
    """

    kind: str
    tokens: list[str]
    texts: list[str]
    skipped: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def dataset_dir(data: str | Path, dataset: str) -> Path:
    """Folder of one prepared dataset, ``<data>/<dataset>/``."""
    return Path(data) / dataset


def read_interactions(inter_path: Path) -> dict[str, list[str]]:
    """Items of every user in time order, from a RecBole ``.inter`` atomic file.

    Rows are sorted by the ``timestamp`` field (stable, so equal times keep file order);
    without a timestamp field the file order is the time order.

    Returns:
        user token -> item tokens, oldest first (users in order of first appearance).
    """
    if not inter_path.exists():
        raise MissingInputError(f"{inter_path} not found: run `python -m dataset_tools prepare` first")
    with open(inter_path, encoding="utf-8") as handle:
        header = [name.split(":")[0] for name in handle.readline().rstrip("\r\n").split("\t")]
        try:
            user_col, item_col = header.index("user_id"), header.index("item_id")
        except ValueError:
            raise MissingInputError(
                f"{inter_path}:1: header {header} lacks user_id and/or item_id"
            ) from None
        time_col = header.index("timestamp") if "timestamp" in header else None
        events: dict[str, list[tuple[float, int, str]]] = {}
        for line_no, line in enumerate(handle, start=2):
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) < len(header):
                if not line.strip():
                    continue
                raise BadInputError(f"{inter_path}:{line_no}: expected {len(header)} fields, got {len(parts)}")
            try:
                when = float(parts[time_col]) if time_col is not None else float(line_no)
            except ValueError:
                raise BadInputError(f"{inter_path}:{line_no}: timestamp {parts[time_col]!r} is not a number") from None
            events.setdefault(parts[user_col], []).append((when, line_no, parts[item_col]))
    return {user: [item for _, _, item in sorted(rows)] for user, rows in events.items()}


def read_item_texts(dataset_path: Path, dataset: str) -> dict[str, dict[str, Any]]:
    """Item records of ``<ds>.item_text.jsonl``: item token -> {field: value}.

    Raises:
        MissingInputError naming the file when the dataset has no item text (e.g.
        amazon-fashion, whose raw data has no item metadata).
    """
    path = dataset_path / f"{dataset}.item_text.jsonl"
    if not path.exists():
        raise MissingInputError(
            f"{path} not found: dataset {dataset!r} has no item text (its raw data has no "
            f"items.jsonl, or `prepare` was not run), so the text and items extractors cannot "
            f"run on it; use an HSU run (--extractor hsu) or an ID-only model instead"
        )
    return read_item_text(path)


def _as_text(value: Any) -> str:
    """A field value as one string: lists joined with ', ', empty/None -> ''."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v).strip() for v in value if str(v).strip())
    return str(value).strip()


def item_title(record: dict[str, Any]) -> str:
    """Short name of an item: its title, else brand + categories, else ''."""
    title = _as_text(record.get("title"))
    if title:
        return title
    fallback = " ".join(t for t in (_as_text(record.get("brand")), _as_text(record.get("categories"))) if t)
    return fallback


def item_description(record: dict[str, Any]) -> str:
    """Full text of an item: title first, then every other text field as 'name: value'."""
    parts = [item_title(record)] if _as_text(record.get("title")) else []
    for name, value in record.items():
        if name in ("item_id", "title"):
            continue
        text = _as_text(value)
        if text and text.lower() != "unknown":
            parts.append(f"{name}: {text}")
    return ". ".join(parts)


def extract_items(data: str | Path, dataset: str) -> ExtractedTexts:
    """One text per item of ``<ds>.item_text.jsonl`` (items with no text at all are skipped)."""
    records = read_item_texts(dataset_dir(data, dataset), dataset)
    tokens, texts = [], []
    empty = 0
    for token, record in records.items():
        text = item_description(record)
        if not text:
            empty += 1
            continue
        tokens.append(token)
        texts.append(text)
    skipped = {"items without any text": empty} if empty else {}
    return ExtractedTexts("item", tokens, texts, skipped, {"item_text": f"{dataset}.item_text.jsonl"})


def user_history_text(titles: list[str]) -> str:
    """LLM-ESR-style user text from item titles given most recent first."""
    return "The user recently bought, most recent first: " + "; ".join(titles) + "."


def extract_text(data: str | Path, dataset: str, max_items: int = 20) -> ExtractedTexts:
    """A text per user from the titles of their training items.

    The last ``HELD_OUT_PER_USER`` (=2) items of each user (validation and test targets)
    are dropped first; of the rest, the ``max_items`` most recent are listed, most
    recent first, so that an encoder's own token limit cuts the oldest ones.
    Items without any text are left out of the list; a user left with no items gets no
    row (counted in ``skipped``).
    """
    if max_items < 1:
        raise BadInputError(f"max_items must be >= 1, got {max_items}")
    folder = dataset_dir(data, dataset)
    records = read_item_texts(folder, dataset)  # first: fail fast when there is no item text
    histories = read_interactions(folder / f"{dataset}.inter")
    tokens, texts = [], []
    too_short = no_text = truncated = 0
    for user, items in histories.items():
        train = items[:-HELD_OUT_PER_USER] if len(items) > HELD_OUT_PER_USER else []
        if not train:
            too_short += 1
            continue
        if len(train) > max_items:
            truncated += 1
        titles = [item_title(records[i]) for i in reversed(train[-max_items:]) if i in records]
        titles = [t for t in titles if t]
        if not titles:
            no_text += 1
            continue
        tokens.append(user)
        texts.append(user_history_text(titles))
    skipped = {}
    if too_short:
        skipped[f"users with <= {HELD_OUT_PER_USER} interactions (no training items)"] = too_short
    if no_text:
        skipped["users whose training items have no text"] = no_text
    details = {
        "history": f"training items only (last {HELD_OUT_PER_USER} per user held out), "
        f"the {max_items} most recent, titles listed most recent first",
        "max_items": max_items,
        "users_truncated": truncated,
        "item_text": f"{dataset}.item_text.jsonl",
    }
    if truncated:
        log.info("%d users have more than %d training items: only the most recent %d are used",
                 truncated, max_items, max_items)
    return ExtractedTexts("user", tokens, texts, skipped, details)


def _default_interest_loader() -> Callable[[Path], dict[str, str]]:
    # Imported lazily: the HSU package pulls in LLM engine code that `embed` does not need.
    from dataset_tools.hsu.store import load_final_interests

    return load_final_interests


def list_runs(data: str | Path, dataset: str) -> list[str]:
    """Names of the HSU run folders of a dataset (sorted)."""
    root = dataset_dir(data, dataset) / "hsu"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def extract_hsu(
    data: str | Path,
    dataset: str,
    run: str | None = None,
    load_interests: Callable[[Path], dict[str, str]] | None = None,
) -> ExtractedTexts:
    """Final interest text of every user of an HSU run.

    Args:
        run: run folder name under ``<data>/<ds>/hsu/``; may be omitted when there is
            exactly one run.
        load_interests: ``run_dir -> {user token: final interest text}``; defaults to
            ``dataset_tools.hsu.store.load_final_interests``.
    Users of ``<ds>.inter`` absent from the run (or with an empty interest text) are
    counted in ``skipped`` and get no row.
    """
    folder = dataset_dir(data, dataset)
    runs = list_runs(data, dataset)
    if run is None:
        if len(runs) != 1:
            raise MissingInputError(
                f"{folder / 'hsu'}: give --run NAME; available runs: {runs or 'none'}"
            )
        run = runs[0]
    run_dir = folder / "hsu" / run
    if not run_dir.is_dir():
        raise MissingInputError(f"HSU run folder {run_dir} not found; available runs: {runs or 'none'}")
    interests = (load_interests or _default_interest_loader())(run_dir)

    inter_path = folder / f"{dataset}.inter"
    dataset_users = list(read_interactions(inter_path)) if inter_path.exists() else list(interests)
    known = set(dataset_users)
    unknown = [u for u in interests if u not in known]
    if unknown:
        raise BadInputError(
            f"{run_dir}: {len(unknown)} users are not in {inter_path.name} (e.g. {unknown[:3]}): "
            f"the run belongs to another dataset or preparation"
        )
    tokens, texts = [], []
    absent = empty = 0
    for user in dataset_users:
        text = (interests.get(user) or "").strip()
        if user not in interests:
            absent += 1
        elif not text:
            empty += 1
        else:
            tokens.append(user)
            texts.append(text)
    skipped = {}
    if absent:
        skipped["users absent from the run"] = absent
        log.warning("%d of %d users are absent from HSU run %s: they get no row", absent, len(dataset_users), run)
    if empty:
        skipped["users with an empty final interest text"] = empty
    return ExtractedTexts("user", tokens, texts, skipped, {"source_run": run, "run_dir": str(run_dir)})
