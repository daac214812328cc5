"""LLM-generated item descriptions (GRASP's "generation" before embedding), resumable and batched.

For every item of ``<ds>.item_text.jsonl`` a chat prompt in the paper's template (its
Appendix A.1: "The <domain> item has the following attributes: name is <TITLE>; brand is
<BRAND>; ... Please describe the item ...") is sent to one of the HSU engines
(``dataset_tools.hsu.engines``: llama.cpp in-process, vLLM, an OpenAI-compatible server).
Items go to the engine ``batch_size`` at a time, one ``generate`` call per batch (vLLM gets
real batches, llama.cpp loops), greedy.

Resume: results are appended per batch to ``<ds>/generate/<run>/stages.jsonl`` through the
HSU :class:`~dataset_tools.hsu.store.StageStore` (flushed and fsynced; a torn last line is
cut on reopen). Each record's key hashes the item, its prompt and the settings (engine,
model, prompt version, max tokens), so a rerun skips stored items and a changed attribute
or setting regenerates only what it changes. At the end ``<ds>.item_generated.jsonl``
(``{"item_id", "text"}`` per line, every item in the file order of ``item_text.jsonl``) is
written atomically from the store, and ``report.json`` next to the store records counts,
tokens and the rate.

An empty generation is retried once at a positive temperature; if it stays empty the item
gets no generated text (counted; the next run asks again) and ``embed --item-text
generated`` falls back to its attribute text.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset_tools.progress import progress_bar

from dataset_tools.formats.files import dataset_dir, write_json_atomic, write_jsonl_atomic
from dataset_tools.formats.item_text import as_text
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest
from dataset_tools.hsu.store import StageStore, settings_hash, stage_key

log = logging.getLogger(__name__)

PROMPT_VERSION = "grasp-item-v1"
GENERATED_SUFFIX = "item_generated.jsonl"
SYSTEM_PROMPT = ("You are an e-commerce expert. Given an item's attributes, write a short, factual description of "
                 "the item: what it is, what it is for and who would buy it. Do not invent attributes.")
#: attribute fields of the paper's template, in its order (anything else is listed after them).
TEMPLATE_FIELDS = (("title", "name"), ("brand", "brand"), ("price", "price"), ("categories", "categories"))


def generated_path(folder: Path, dataset: str) -> Path:
    """``<folder>/<dataset>.item_generated.jsonl``."""
    return Path(folder) / f"{dataset}.{GENERATED_SUFFIX}"


def item_prompt(record: dict[str, Any], domain: str) -> str:
    """The paper's item template filled with the record's attributes (missing ones left out)."""
    attributes = [f"{label} is {as_text(record[name])}" for name, label in TEMPLATE_FIELDS if as_text(record.get(name))]
    features, descriptions = [], []
    for name, value in record.items():
        text = as_text(value)
        if name == "item_id" or name in dict(TEMPLATE_FIELDS) or not text or text.lower() == "unknown":
            continue
        (descriptions if "desc" in name.lower() else features).append(f"{name}: {text}")
    parts = [f"The {domain} item has the following attributes: " + "; ".join(attributes) + "."]
    if features:
        parts.append("The item has the following features: " + "; ".join(features) + ".")
    if descriptions:
        parts.append("The item has the following descriptions: " + "; ".join(descriptions) + ".")
    parts.append("Please describe the item in 2 to 3 sentences.")
    return " ".join(parts)


def generate_answers(engine: Engine, system_prompt: str, prompts: list[str], max_tokens: int) -> list[Generation]:
    """One greedy engine call for ``prompts``; the empty answers are asked once more at
    temperature 0.7 (a greedy answer that is empty stays empty on a rerun)."""
    requests = [GenerationRequest(messages=[{"role": "system", "content": system_prompt},
                                            {"role": "user", "content": prompt}], max_tokens=max_tokens)
                for prompt in prompts]
    outputs = engine.generate(requests)
    retry = [i for i, out in enumerate(outputs) if not out.text.strip()]
    if retry:
        again = engine.generate([GenerationRequest(requests[i].messages, max_tokens, temperature=0.7, seed=1)
                                 for i in retry])
        for i, out in zip(retry, again):
            outputs[i] = out
    return outputs


@dataclass
class GenerationOutcome:
    path: Path
    report: dict[str, Any]


def generate_item_texts(data: str | Path, dataset: str, engine: Engine, run: str, records: dict[str, dict[str, Any]],
                        domain: str = "beauty", batch_size: int = 16, max_tokens: int = 128,
                        limit: int | None = None, progress: bool = True) -> GenerationOutcome:
    """Generate (or resume) descriptions for ``records`` (``item_text.jsonl``'s, by item id).

    ``limit`` takes the first N items only (a rate sample); the output file then lists only
    the items generated so far.
    """
    folder = dataset_dir(data, dataset)
    run_dir = folder / "generate" / run
    settings = {"prompt_version": PROMPT_VERSION, "engine": engine.name, "model": engine.model_id,
                "max_tokens": max_tokens, "domain": domain}
    digest = settings_hash(settings)
    items = list(records)[: limit if limit is not None else None]
    prompts = {item: item_prompt(records[item], domain) for item in items}
    keys = {item: stage_key(None, item, 1, [prompts[item]], digest) for item in items}
    started = time.perf_counter()
    generated = empty = prompt_tokens = completion_tokens = 0
    with StageStore(run_dir) as store:
        # An item whose stored text is empty is asked again on the next run.
        todo = [item for item in items if not (store.get(keys[item]) or {}).get("text")]
        log.info("%s: %d items, %d stored, %d to generate with %s/%s", dataset, len(items), len(items) - len(todo),
                 len(todo), engine.name, engine.model_id)
        bar = progress_bar(len(todo), "generate items", unit="item", enabled=progress and bool(todo))
        for start in range(0, len(todo), batch_size):
            batch = todo[start: start + batch_size]
            outputs = generate_answers(engine, SYSTEM_PROMPT, [prompts[item] for item in batch], max_tokens)
            rows = []
            for item, out in zip(batch, outputs):
                text = " ".join(out.text.split())
                empty += not text
                generated += 1
                prompt_tokens += out.prompt_tokens
                completion_tokens += out.completion_tokens
                rows.append({"key": keys[item], "item_id": item, "text": text, "prompt_tokens": out.prompt_tokens,
                             "completion_tokens": out.completion_tokens, "finish_reason": out.finish_reason})
            store.append(rows)
            bar.update(len(batch))
        bar.close()
        texts = {item: store.records[keys[item]]["text"] for item in items if keys[item] in store}
    seconds = time.perf_counter() - started
    output = generated_path(folder, dataset)
    write_jsonl_atomic(output, ({"item_id": item, "text": text} for item, text in texts.items() if text))
    report = {
        "dataset": dataset, "run": run, **settings, "items": len(items), "generated_now": generated,
        "resumed": len(items) - generated, "empty": empty, "written": sum(1 for t in texts.values() if t),
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "seconds": round(seconds, 3),
        "items_per_second": round(generated / seconds, 4) if generated and seconds > 0 else None,
        "engine_settings": engine.describe(),
    }
    write_json_atomic(run_dir / "report.json", report)
    return GenerationOutcome(output, report)


def read_generated_texts(folder: Path, dataset: str) -> dict[str, str]:
    """``<ds>.item_generated.jsonl`` as ``{item_id: text}``."""
    from dataset_tools.hsu.store import read_jsonl

    path = generated_path(folder, dataset)
    if not path.is_file():
        from dataset_tools.formats.files import MissingInputError

        raise MissingInputError(f"{path} not found: run `python -m dataset_tools generate {dataset}` first, "
                                "or embed the attribute text (--item-text raw)")
    return {str(row["item_id"]): str(row["text"]) for row in read_jsonl(path)}
