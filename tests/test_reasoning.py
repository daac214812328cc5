"""ISRF's reasoning texts: chained prompts (each step reads the earlier answers), training items
only for users, resume by key, the embed extractors, and the packaged SmolLM2 for real."""

from __future__ import annotations

import json

import pytest

from dataset_tools.__main__ import main as tools_main
from dataset_tools.embed.extractors import extract_items, extract_user_reasoning
from dataset_tools.generate.reasoning import reasoning_path, run_reasoning
from dataset_tools.hsu.engines.base import Engine, Generation

DATASET = "toy"


class EchoEngine(Engine):
    """Answers with the step it was asked and the last line of context it saw; counts batches."""

    name = "fake"

    def __init__(self, fail: str | None = None) -> None:
        super().__init__("fake-model", constrained=False)
        self.batches: list[int] = []
        self.prompts: list[str] = []
        self.fail = fail

    def generate(self, requests):
        self.batches.append(len(requests))
        out = []
        for request in requests:
            prompt = request.messages[-1]["content"]
            self.prompts.append(prompt)
            question = prompt.splitlines()[-1]
            text = "" if self.fail and self.fail in prompt and request.temperature == 0 else f"answer to: {question}"
            out.append(Generation(text=text, prompt_tokens=10, completion_tokens=5))
        return out


@pytest.fixture
def toy(tmp_path, write_inter):
    folder = tmp_path / DATASET
    write_inter(folder / f"{DATASET}.inter", {"u1": ["1", "2", "3", "4", "5"], "u2": ["2", "3", "4"],
                                             "u3": ["5", "1"]})
    records = {str(i): {"item_id": str(i), "title": f"Title {i}", "brand": "Acme"} for i in range(1, 6)}
    (folder / f"{DATASET}.item_text.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records.values()))
    return tmp_path, records


def test_user_reasoning_reads_training_items_only_and_chains_the_answers(toy):
    data, records = toy
    engine = EchoEngine()
    outcome = run_reasoning(data, DATASET, "users", engine, "run", records, batch_size=8, progress=False)
    # u3 has no training item (two interactions, both held out); u1's are 1-3, u2's is 2
    first = [p for p in engine.prompts if p.endswith("What does this user like?")]
    assert len(first) == 2
    assert "Title 3; Title 2; Title 1." in first[0] and "Title 4" not in first[0] and "Title 5" not in first[0]
    assert "most recent first: Title 2." in first[1]
    assert engine.batches == [2, 2, 2]
    last = [p for p in engine.prompts if p.endswith("summarise this user's preferences.")]
    assert "What the user likes: answer to: What does this user like?" in last[0]
    assert "What the user would dislike: answer to: What would this user dislike?" in last[0]
    rows = [json.loads(line) for line in reasoning_path(data / DATASET, DATASET, "users").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["u1", "u2"] and set(rows[0]) == {"id", "positive", "negative", "text"}
    assert outcome.report["complete"] == 2 and outcome.report["generated_now"] == 6
    extracted = extract_user_reasoning(data, DATASET)
    assert extracted.tokens == ["u1", "u2"] and extracted.skipped == {"users without a reasoning text": 1}
    assert extracted.held_out["items"]["u1"] == ["4", "5"]


def test_item_reasoning_resumes_and_an_empty_answer_stops_that_items_chain(toy):
    data, records = toy
    engine = EchoEngine(fail="Title 2")
    outcome = run_reasoning(data, DATASET, "items", engine, "run", records, batch_size=2, limit=3, progress=False)
    # step 1: items 1-2, item 2's empty greedy answer retried at once (temperature 0.7), then item 3
    assert outcome.report["empty"] == 0 and outcome.report["complete"] == 3
    assert engine.batches[:3] == [2, 1, 1]
    engine.batches.clear()
    outcome = run_reasoning(data, DATASET, "items", engine, "run", records, batch_size=2, progress=False)
    assert outcome.report["generated_now"] == 6  # items 4 and 5, three steps each; items 1-3 stored
    assert outcome.report["complete"] == 5
    texts = dict(zip(*(lambda e: (e.tokens, e.texts))(extract_items(data, DATASET, item_text="reasoning"))))
    assert texts["1"] == "answer to: From both views, describe the key features of this item."


def test_packaged_smollm2_reasons_about_toy_items(toy_data_path, tmp_path):
    pytest.importorskip("llama_cpp")
    import shutil

    shutil.copytree(toy_data_path / "toy-beauty", tmp_path / "toy-beauty")
    status = tools_main(["-q", "reason", "toy-beauty", "--kind", "items", "--data", str(tmp_path), "--limit", "2",
                         "--batch-size", "2", "--max-tokens", "24", "--no-progress", "--n-threads", "1"])
    assert status == 0
    rows = [json.loads(line) for line in reasoning_path(tmp_path / "toy-beauty", "toy-beauty", "items")
            .read_text().splitlines()]
    assert len(rows) == 2 and all(r["positive"] and r["negative"] and r["text"] for r in rows)
    report = json.loads((tmp_path / "toy-beauty" / "reason" / "items-llamacpp-smollm2" / "report.json").read_text())
    assert report["completion_tokens"] > 0 and report["generated_now"] == 6
