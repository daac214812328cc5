"""ISRF's semantic reasoning texts: three chained LLM answers per item and per user, resumable.

Items (from their attributes): who would like the item (positive) -> given that, who would
dislike it (negative) -> from both, the item's key features (the text that is embedded).
Users (from the titles of their most recent *training* items, never a validation or test
item): what the user likes -> what the user would dislike -> the user's preferences. The
released ISRF prompts read a user's last 20 items with the held-out ones among them; here the
held-out items are dropped first, as for every user text of this project.

Every step is one batched pass over the entities still missing it, through the HSU engines
(llama.cpp in-process or batched, vLLM, an OpenAI-compatible server), greedy; an empty answer
is retried once at temperature 0.7. Answers are appended per batch to
``<ds>/reason/<kind>-<run>/stages.jsonl`` (the HSU stage store: fsynced, a torn last line cut
on reopen). A record's key chains the previous step's key, the entity, the step and the
settings (engine, model, prompt version, max tokens, items per user), so a rerun skips what is
stored and a changed setting recomputes only what depends on it. The end result,
``<ds>.<kind>_reasoning.jsonl`` (``{"id", "positive", "negative", "text"}`` for every entity
with three answers), is written atomically; ``report.json`` records counts, tokens and the rate.

    python -m dataset_tools reason amazon-beauty --kind items --limit 20     # CPU rate sample
    python -m dataset_tools embed amazon-beauty --extractor items --item-text reasoning --suffix itememb_isrf
    python -m dataset_tools reason amazon-beauty --kind users
    python -m dataset_tools embed amazon-beauty --extractor reasoning --suffix useremb_isrf
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset_tools.formats.files import MissingInputError, dataset_dir, write_json_atomic, write_jsonl_atomic
from dataset_tools.formats.inter import inter_path, read_user_sequences, training_part
from dataset_tools.generate.items import generate_answers
from dataset_tools.hsu.engines.base import Engine
from dataset_tools.hsu.store import StageStore, settings_hash, stage_key
from dataset_tools.progress import progress_bar

log = logging.getLogger(__name__)

PROMPT_VERSION = "isrf-reasoning-v1"
KINDS = ("items", "users")
STEP_NAMES = ("positive", "negative", "text")
SYSTEM_PROMPT = ("You are a recommendation expert. Answer in 2 to 3 plain sentences, with the answer only: "
                 "no preamble, no lists.")
ITEM_QUESTIONS = (
    "{context}\nWhat kinds of users would like this item, and why?",
    "{context}\nUsers who would like it: {positive}\nWhat kinds of users would dislike this item, and why?",
    "{context}\nUsers who would like it: {positive}\nUsers who would dislike it: {negative}\n"
    "From both views, describe the key features of this item.",
)
USER_QUESTIONS = (
    "{context}\nWhat does this user like?",
    "{context}\nWhat the user likes: {positive}\nWhat would this user dislike?",
    "{context}\nWhat the user likes: {positive}\nWhat the user would dislike: {negative}\n"
    "From both views, summarise this user's preferences.",
)


def reasoning_path(folder: Path, dataset: str, kind: str) -> Path:
    """``<folder>/<dataset>.item_reasoning.jsonl`` or ``.user_reasoning.jsonl``."""
    return Path(folder) / f"{dataset}.{kind[:-1]}_reasoning.jsonl"


def item_contexts(records: dict[str, dict[str, Any]], domain: str) -> dict[str, str]:
    """Each item's attributes in GRASP's template (the generation step's), without its request."""
    from dataset_tools.generate.items import item_prompt

    suffix = " Please describe the item in 2 to 3 sentences."
    return {item: item_prompt(record, domain).removesuffix(suffix) for item, record in records.items()}


def user_contexts(folder: Path, dataset: str, records: dict[str, dict[str, Any]], max_items: int) -> dict[str, str]:
    """Each user's ``max_items`` most recent training items, titles most recent first.

    Users without a training item with text get no context (no reasoning text, no vector).
    """
    from dataset_tools.embed.extractors import item_title

    contexts = {}
    for user, items in read_user_sequences(inter_path(folder, dataset)).items():
        titles = [item_title(records[i]) for i in reversed(training_part(items)[-max_items:]) if i in records]
        titles = [t for t in titles if t]
        if titles:
            contexts[user] = "A user bought these items, most recent first: " + "; ".join(titles) + "."
    return contexts


@dataclass
class ReasoningOutcome:
    path: Path
    report: dict[str, Any]


def run_reasoning(data: str | Path, dataset: str, kind: str, engine: Engine, run: str,
                  records: dict[str, dict[str, Any]], domain: str = "beauty", max_items: int = 20,
                  batch_size: int = 16, max_tokens: int = 128, limit: int | None = None,
                  progress: bool = True) -> ReasoningOutcome:
    """Run (or resume) the three reasoning steps for every item or user (``kind``)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    folder = dataset_dir(data, dataset)
    contexts = item_contexts(records, domain) if kind == "items" else user_contexts(folder, dataset, records, max_items)
    entities = list(contexts)[: limit if limit is not None else None]
    questions = ITEM_QUESTIONS if kind == "items" else USER_QUESTIONS
    settings = {"prompt_version": PROMPT_VERSION, "kind": kind, "engine": engine.name, "model": engine.model_id,
                "max_tokens": max_tokens, **({"domain": domain} if kind == "items" else {"max_items": max_items})}
    digest = settings_hash(settings)
    run_dir = folder / "reason" / f"{kind}-{run}"
    started = time.perf_counter()
    counts = {"generated_now": 0, "empty": 0, "prompt_tokens": 0, "completion_tokens": 0}
    with StageStore(run_dir) as store:
        answers: dict[str, list[str]] = {entity: [] for entity in entities}
        keys: dict[str, str | None] = {entity: None for entity in entities}
        for step, question in enumerate(questions, start=1):
            prompts = {}
            for entity in entities:
                if len(answers[entity]) != step - 1:
                    continue  # an earlier step has no answer yet
                values = dict(zip(STEP_NAMES, answers[entity]))
                prompts[entity] = question.format(context=contexts[entity], **values)
                keys[entity] = stage_key(keys[entity], entity, step, [prompts[entity]], digest)
                stored = (store.get(keys[entity]) or {}).get("text")
                if stored:
                    answers[entity].append(stored)
            todo = [e for e in prompts if len(answers[e]) == step - 1]
            log.info("%s %s step %d (%s): %d stored, %d to generate", dataset, kind, step, STEP_NAMES[step - 1],
                     len(prompts) - len(todo), len(todo))
            generate_step(engine, store, todo, prompts, keys, step, batch_size, max_tokens, counts, answers,
                          progress_bar(len(todo), f"reason {kind} {STEP_NAMES[step - 1]}", unit=kind[:-1],
                                       enabled=progress and bool(todo)))
    seconds = time.perf_counter() - started
    complete = {e: a for e, a in answers.items() if len(a) == len(questions)}
    output = reasoning_path(folder, dataset, kind)
    write_jsonl_atomic(output, ({"id": e, **dict(zip(STEP_NAMES, a))} for e, a in complete.items()))
    report = {"dataset": dataset, "run": run, **settings, "entities": len(entities), "complete": len(complete),
              **counts, "seconds": round(seconds, 3),
              "calls_per_second": round(counts["generated_now"] / seconds, 4) if counts["generated_now"] else None,
              "engine_settings": engine.describe()}
    write_json_atomic(run_dir / "report.json", report)
    return ReasoningOutcome(output, report)


def generate_step(engine: Engine, store: StageStore, todo: list[str], prompts: dict[str, str],
                  keys: dict[str, str | None], step: int, batch_size: int, max_tokens: int, counts: dict[str, int],
                  answers: dict[str, list[str]], bar: Any) -> None:
    """One step for the entities in ``todo``, ``batch_size`` per engine call, stored per batch."""
    for start in range(0, len(todo), batch_size):
        batch = todo[start: start + batch_size]
        outputs = generate_answers(engine, SYSTEM_PROMPT, [prompts[e] for e in batch], max_tokens)
        rows = []
        for entity, out in zip(batch, outputs):
            text = " ".join(out.text.split())
            counts["generated_now"] += 1
            counts["empty"] += not text
            counts["prompt_tokens"] += out.prompt_tokens
            counts["completion_tokens"] += out.completion_tokens
            if text:
                answers[entity].append(text)
            rows.append({"key": keys[entity], "id": entity, "step": step, "name": STEP_NAMES[step - 1], "text": text,
                         "prompt_tokens": out.prompt_tokens, "completion_tokens": out.completion_tokens,
                         "finish_reason": out.finish_reason})
        store.append(rows)
        bar.update(len(batch))
    bar.close()


def read_reasoning_texts(folder: Path, dataset: str, kind: str) -> dict[str, str]:
    """``<ds>.<kind>_reasoning.jsonl`` as ``{id: final text}``."""
    from dataset_tools.hsu.store import read_jsonl

    path = reasoning_path(folder, dataset, kind)
    if not path.is_file():
        raise MissingInputError(f"{path} not found: run `python -m dataset_tools reason {dataset} --kind {kind}` first")
    return {str(row["id"]): str(row["text"]) for row in read_jsonl(path)}

