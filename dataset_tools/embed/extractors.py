"""Where the texts to embed come from.

Each extractor returns an :class:`ExtractedTexts`: original ids, one text per id, and
counts of what was left out (and why) so the CLI and the sidecar can report them.

- ``hsu``: the final interest text of each user from an HSU run folder
  ``<data>/<ds>/hsu/<run>/`` (read by ``dataset_tools.hsu.store.load_final_interests``).
- ``text``: an LLM-ESR-style description of the user's *training* history, built from
  ``<ds>.inter`` and ``<ds>.item_text.jsonl``. The held-out items of every user (the
  validation and test targets, ``dataset_tools.formats.inter``) are never used.

User extractors also return the held-out items of every user of ``<ds>.inter``, which
the sidecar records (``held_out``) so that a model can check them against RecBole's
own split.
- ``items``: one text per item from ``<ds>.item_text.jsonl``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dataset_tools import DatasetToolsError
from dataset_tools.formats.files import MissingInputError, dataset_dir
from dataset_tools.formats.inter import (
    HELD_OUT_ITEMS,
    held_out_record,
    inter_path,
    read_user_sequences,
    training_part,
)
from dataset_tools.formats.item_text import as_text, item_text_path, read_item_text

log = logging.getLogger(__name__)

__all__ = ["BadInputError", "ExtractedTexts", "MissingInputError", "extract_hsu", "extract_items", "extract_text"]


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
        held_out: for users, the sidecar's ``held_out`` entry
            (``dataset_tools.formats.inter.held_out_record``); None for items.
    """

    kind: str
    tokens: list[str]
    texts: list[str]
    skipped: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    held_out: dict[str, Any] | None = None


def read_item_texts(folder: Path, dataset: str) -> dict[str, dict[str, Any]]:
    """Item records of ``<ds>.item_text.jsonl``: item token -> {field: value}.

    Raises:
        MissingInputError naming the file when the dataset has no item text (e.g.
        amazon-fashion, whose raw data has no item metadata).
    """
    return read_item_text(
        item_text_path(folder, dataset),
        consequence=f"the text and items extractors cannot run on {dataset!r}; "
        "use an HSU run (--extractor hsu) or an ID-only model instead",
    )


def item_title(record: dict[str, Any]) -> str:
    """Short name of an item: its title (with its year where the data has one: MovieLens has
    remakes under one title), else brand + categories, else ''."""
    title = as_text(record.get("title"))
    year = as_text(record.get("year"))
    if title:
        return f"{title} ({year})" if year else title
    fallback = " ".join(t for t in (as_text(record.get("brand")), as_text(record.get("categories"))) if t)
    return fallback


def item_description(record: dict[str, Any]) -> str:
    """Full text of an item: title first, then every other text field as 'name: value'."""
    parts = [item_title(record)] if as_text(record.get("title")) else []
    for name, value in record.items():
        if name in ("item_id", "title") or (name == "year" and parts):
            continue  # the year is part of the title
        text = as_text(value)
        if text and text.lower() != "unknown":
            parts.append(f"{name}: {text}")
    return ". ".join(parts)


#: ``extract_items(item_text=...)``: the attribute text, or the LLM descriptions of ``dataset_tools generate``.
ITEM_TEXT_SOURCES = ("raw", "generated", "reasoning")


def extract_items(data: str | Path, dataset: str, item_text: str = "raw") -> ExtractedTexts:
    """One text per item of ``<ds>.item_text.jsonl`` (items with no text at all are skipped).

    ``item_text``: ``raw`` embeds the attribute text (:func:`item_description`);
    ``generated`` embeds ``<ds>.item_generated.jsonl`` (GRASP's generation step) and
    ``reasoning`` the feature texts of ``<ds>.item_reasoning.jsonl`` (ISRF's reasoning); an
    item without such a text falls back to its attribute text (counted in the details).
    """
    if item_text not in ITEM_TEXT_SOURCES:
        raise BadInputError(f"item_text must be one of {ITEM_TEXT_SOURCES}, got {item_text!r}")
    folder = dataset_dir(data, dataset)
    records = read_item_texts(folder, dataset)
    generated: dict[str, str] = {}
    if item_text == "generated":
        from dataset_tools.generate.items import read_generated_texts

        generated = read_generated_texts(folder, dataset)
    elif item_text == "reasoning":
        from dataset_tools.generate.reasoning import read_reasoning_texts

        generated = read_reasoning_texts(folder, dataset, "items")
    tokens, texts = [], []
    empty = fallback = 0
    for token, record in records.items():
        text = generated.get(token, "").strip() if item_text != "raw" else ""
        if item_text != "raw" and not text:
            fallback += 1
        text = text or item_description(record)
        if not text:
            empty += 1
            continue
        tokens.append(token)
        texts.append(text)
    skipped = {"items without any text": empty} if empty else {}
    details: dict[str, Any] = {"item_text": f"{dataset}.item_text.jsonl", "text_source": item_text}
    if item_text != "raw":
        source = "item_generated.jsonl" if item_text == "generated" else "item_reasoning.jsonl"
        details.update(generated_file=f"{dataset}.{source}", attribute_text_fallbacks=fallback)
        if fallback:
            log.warning("%d of %d items have no generated text: their attribute text is embedded", fallback,
                        len(records))
    return ExtractedTexts("item", tokens, texts, skipped, details)


def user_history_text(titles: list[str]) -> str:
    """LLM-ESR-style user text from item titles given most recent first."""
    return "The user recently bought, most recent first: " + "; ".join(titles) + "."


def extract_text(data: str | Path, dataset: str, max_items: int = 20) -> ExtractedTexts:
    """A text per user from the titles of their training items.

    The held-out items of each user (validation and test targets)
    are dropped first; of the rest, the ``max_items`` most recent are listed, most
    recent first, so that an encoder's own token limit cuts the oldest ones.
    Items without any text are left out of the list; a user left with no items gets no
    row (counted in ``skipped``).
    """
    if max_items < 1:
        raise BadInputError(f"max_items must be >= 1, got {max_items}")
    folder = dataset_dir(data, dataset)
    records = read_item_texts(folder, dataset)  # first: fail fast when there is no item text
    histories = read_user_sequences(inter_path(folder, dataset))
    tokens, texts = [], []
    too_short = no_text = truncated = 0
    for user, items in histories.items():
        train = training_part(items)
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
        skipped[f"users with <= {HELD_OUT_ITEMS} interactions (no training items)"] = too_short
    if no_text:
        skipped["users whose training items have no text"] = no_text
    details = {
        "history": f"training items only (last {HELD_OUT_ITEMS} per user held out), "
        f"the {max_items} most recent, titles listed most recent first",
        "max_items": max_items,
        "users_truncated": truncated,
        "item_text": f"{dataset}.item_text.jsonl",
    }
    if truncated:
        log.info("%d users have more than %d training items: only the most recent %d are used",
                 truncated, max_items, max_items)
    return ExtractedTexts("user", tokens, texts, skipped, details, held_out_record(histories))


def extract_user_reasoning(data: str | Path, dataset: str) -> ExtractedTexts:
    """ISRF's final preference text per user (``<ds>.user_reasoning.jsonl``, made from training
    items only); users without one get no row (counted in ``skipped``)."""
    from dataset_tools.generate.reasoning import read_reasoning_texts

    folder = dataset_dir(data, dataset)
    texts_by_user = read_reasoning_texts(folder, dataset, "users")
    sequences = read_user_sequences(inter_path(folder, dataset))
    unknown = [u for u in texts_by_user if u not in sequences]
    if unknown:
        raise BadInputError(f"{folder / (dataset + '.user_reasoning.jsonl')}: {len(unknown)} users are not in "
                            f"{dataset}.inter (e.g. {unknown[:3]}): the texts belong to another dataset or preparation")
    tokens = [u for u in sequences if texts_by_user.get(u, "").strip()]
    skipped = {"users without a reasoning text": len(sequences) - len(tokens)} if len(tokens) < len(sequences) else {}
    details = {"source": f"{dataset}.user_reasoning.jsonl", "history": "training items only (dataset_tools reason)"}
    return ExtractedTexts("user", tokens, [texts_by_user[u] for u in tokens], skipped, details,
                          held_out_record(sequences))


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
    # Imported here: the HSU package pulls in LLM engine code that the other extractors do not need.
    from dataset_tools.hsu.store import find_run, load_final_interests

    folder = dataset_dir(data, dataset)
    run_dir = find_run(folder / "hsu", run)
    run = run_dir.name
    interests = (load_interests or load_final_interests)(run_dir)

    inter = inter_path(folder, dataset)
    sequences = read_user_sequences(inter)
    dataset_users = list(sequences)
    known = set(dataset_users)
    unknown = [u for u in interests if u not in known]
    if unknown:
        raise BadInputError(
            f"{run_dir}: {len(unknown)} users are not in {inter.name} (e.g. {unknown[:3]}): "
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
    details = {"source_run": run, "run_dir": str(run_dir)}
    return ExtractedTexts("user", tokens, texts, skipped, details, held_out_record(sequences))
