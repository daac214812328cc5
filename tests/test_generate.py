"""GRASP's generation step: item prompts, resumable batched generation through the HSU engines
(a counting fake engine, and the packaged SmolLM2 for real), and `embed --item-text generated`."""

from __future__ import annotations

import json

import pytest

from dataset_tools.__main__ import main as tools_main
from dataset_tools.embed.extractors import extract_items
from dataset_tools.generate.items import generate_item_texts, generated_path, item_prompt
from dataset_tools.hsu.engines.base import Engine, Generation

DATASET = "toy-beauty"


class CountingEngine(Engine):
    """Echoes the item's name; counts batches and requests; item ``fail`` returns nothing."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__("fake-model", constrained=False)
        self.batches: list[int] = []

    def generate(self, requests):
        self.batches.append(len(requests))
        out = []
        for request in requests:
            prompt = request.messages[-1]["content"]
            text = "" if "name is fail" in prompt else "A fine item: " + prompt.split("name is ")[1].split(";")[0]
            out.append(Generation(text=text, prompt_tokens=10, completion_tokens=5))
        return out


def _records(n: int) -> dict[str, dict]:
    records = {str(i): {"item_id": str(i), "title": f"Lipstick {i}", "brand": "Acme", "categories": ["Beauty", "Lips"],
                        "description": "Matte."} for i in range(1, n + 1)}
    records["3"]["title"] = "fail"
    return records


def test_item_prompt_follows_the_papers_template():
    prompt = item_prompt({"item_id": "1", "title": "Red Lipstick", "brand": "Acme", "price": "9.5",
                          "categories": ["Beauty", "Lips"], "description": "Long lasting", "unused": "unknown"},
                         "beauty")
    assert prompt.startswith("The beauty item has the following attributes: name is Red Lipstick; brand is Acme; "
                             "price is 9.5; categories is Beauty, Lips.") or "categories is Beauty" in prompt
    assert "The item has the following descriptions: description: Long lasting." in prompt
    assert "unknown" not in prompt


def test_generation_is_batched_resumable_and_feeds_the_items_extractor(tmp_path):
    folder = tmp_path / DATASET
    folder.mkdir()
    records = _records(7)
    (folder / f"{DATASET}.item_text.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records.values()))
    engine = CountingEngine()
    outcome = generate_item_texts(tmp_path, DATASET, engine, "run", records, batch_size=3, limit=5, progress=False)
    assert engine.batches == [3, 1, 2]  # batches of 3; the empty item is retried once at once
    assert outcome.report["generated_now"] == 5 and outcome.report["empty"] == 1
    engine.batches.clear()
    outcome = generate_item_texts(tmp_path, DATASET, engine, "run", records, batch_size=3, progress=False)
    # Stored items are skipped; the empty item 3 is asked again, with the new items 6 and 7.
    assert engine.batches == [3, 1] and outcome.report["resumed"] == 4
    rows = [json.loads(line) for line in generated_path(folder, DATASET).read_text().splitlines()]
    assert [r["item_id"] for r in rows] == ["1", "2", "4", "5", "6", "7"]  # item 3 got nothing
    records["2"]["title"] = "Gloss 2"  # a changed attribute regenerates that item only
    engine.batches.clear()
    generate_item_texts(tmp_path, DATASET, engine, "run", records, batch_size=3, progress=False)
    assert engine.batches == [2, 1]  # item 2 and the still-empty item 3
    generated = extract_items(tmp_path, DATASET, item_text="generated")
    by_item = dict(zip(generated.tokens, generated.texts))
    assert by_item["2"] == "A fine item: Gloss 2" and by_item["3"].startswith("fail")  # attribute fallback
    assert generated.details["attribute_text_fallbacks"] == 1
    raw = extract_items(tmp_path, DATASET)
    assert dict(zip(raw.tokens, raw.texts))["2"].startswith("Lipstick 2. brand: Acme")  # the file on disk


def test_packaged_smollm2_generates_descriptions_for_toy_items(toy_data_path, tmp_path):
    pytest.importorskip("llama_cpp")
    import shutil

    shutil.copytree(toy_data_path / DATASET, tmp_path / DATASET)
    status = tools_main(["-q", "generate", DATASET, "--data", str(tmp_path), "--limit-items", "3", "--batch-size", "2",
                         "--max-tokens", "32", "--no-progress", "--n-threads", "1"])
    assert status == 0
    rows = [json.loads(line) for line in generated_path(tmp_path / DATASET, DATASET).read_text().splitlines()]
    assert len(rows) == 3 and all(len(r["text"]) > 0 for r in rows)  # text content is not asserted (greedy, tiny model)
    report = json.loads((tmp_path / DATASET / "generate" / "llamacpp-smollm2" / "report.json").read_text())
    assert report["completion_tokens"] > 0 and report["model"]
