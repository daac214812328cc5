"""The batched llama.cpp engine (llamacpp-batch) for real, with the packaged SmolLM2: prompts
formatted and tokenised as the sequential engine does, more requests than slots (continuous
batching), results in request order, grammars enforced, and a whole HSU run through the CLI."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("llama_cpp")

from dataset_tools.__main__ import main as cli_main  # noqa: E402
from dataset_tools.hsu import prompts  # noqa: E402
from dataset_tools.hsu.engines import make_engine  # noqa: E402
from dataset_tools.hsu.engines.base import GenerationRequest  # noqa: E402
from dataset_tools.hsu.parsing import parse_selection  # noqa: E402
from dataset_tools.hsu.store import STAGES_FILE, read_jsonl  # noqa: E402

TITLES = ["Matte red lipstick", "Argan oil shampoo", "Sunscreen SPF 50", "Nail polish, coral", "Hair mask, keratin"]


def summary_requests(max_tokens: int, constrained: bool = False) -> list[GenerationRequest]:
    constraint = prompts.interests_constraint() if constrained else None
    return [GenerationRequest(prompts.summary_messages(f"No.1 title: {title}"), max_tokens, constraint)
            for title in TITLES]


def test_more_requests_than_slots_come_back_in_order_with_the_sequential_prompts():
    requests = summary_requests(max_tokens=8)
    with make_engine("llamacpp-batch", "smollm2", parallel=2, n_ctx=1024) as batched:
        generations = batched.generate(requests)
        assert batched.stats.per_call_sizes == [len(requests)]
    with make_engine("llamacpp", "smollm2", n_ctx=2048) as sequential:
        reference = sequential.generate(requests)
    assert len(generations) == len(requests)
    # same chat template and tokenisation, request by request (the order is kept)
    assert [g.prompt_tokens for g in generations] == [g.prompt_tokens for g in reference]
    assert len({g.prompt_tokens for g in generations}) > 1  # the titles differ in length: order is tested
    assert all(g.completion_tokens == 8 and g.finish_reason == "length" and g.text for g in generations)


def test_grammar_constrains_every_slot():
    operations = ("add", "delete", "update", "retain")
    constraint = prompts.selection_constraint(operations)
    requests = [GenerationRequest(prompts.selection_messages(f"No.1 title: {t}", ["likes makeup"], operations), 60,
                                  constraint) for t in TITLES[:3]]
    with make_engine("llamacpp-batch", "smollm2", parallel=3, n_ctx=1024) as batched:
        generations = batched.generate(requests)
    for generation in generations:  # the grammar's language, or a prefix of it where the token cap cut it
        if generation.finish_reason == "stop":
            assert re.fullmatch(constraint.regex, generation.text), generation.text
            parse_selection(generation.text, operations)
        else:
            assert generation.text.startswith("Explanation: ") and "\n" not in generation.text[:-15], generation.text


def test_hsu_run_through_the_cli(tmp_path, write_inter):
    folder = tmp_path / "toy"
    write_inter(folder / "toy.inter", {"u1": ["1", "2", "3", "8", "9"], "u2": ["2", "3", "8", "9"]})
    with (folder / "toy.item_text.jsonl").open("w", encoding="utf-8") as handle:
        for item, title in zip(["1", "2", "3", "8", "9"], TITLES):
            handle.write(json.dumps({"item_id": item, "title": title}) + "\n")
    status = cli_main(["hsu", "toy", "--data", str(tmp_path), "--engine", "llamacpp-batch", "--parallel", "2",
                       "--n-ctx", "1024", "--stage-length", "2", "--max-tokens-interests", "48",
                       "--max-tokens-selection", "24", "--max-retries", "0", "--no-progress", "--run", "batched"])
    assert status == 0
    records = read_jsonl(tmp_path / "toy" / "hsu" / "batched" / STAGES_FILE)
    assert sorted((r["user"], r["stage"]) for r in records) == [("u1", 1), ("u1", 2), ("u2", 1)]
    run = json.loads((tmp_path / "toy" / "hsu" / "batched" / "run.json").read_text())
    assert run["runtime"]["engine"] == "llamacpp-batch" and run["runtime"]["parallel"] == 2


def test_engine_replay_benchmark_runs_both_engines_on_the_same_requests(tmp_path, write_inter, import_benchmark):
    hsu_engine_replay = import_benchmark("hsu_engine_replay")

    folder = tmp_path / "toy"
    write_inter(folder / "toy.inter", {"u1": ["1", "2", "3", "8", "9"], "u2": ["2", "3", "8", "9"]})
    with (folder / "toy.item_text.jsonl").open("w", encoding="utf-8") as handle:
        for item, title in zip(["1", "2", "3", "8", "9"], TITLES):
            handle.write(json.dumps({"item_id": item, "title": title}) + "\n")
    out, raw = tmp_path / "replay.md", tmp_path / "replay.json"
    status = hsu_engine_replay.main(["--data", str(tmp_path), "--dataset", "toy", "--users", "2", "--stage-length", "2",
                                     "--max-tokens", "16", "--n-threads", "1", "--setting", "llamacpp:n_ctx=1024",
                                     "--setting", "llamacpp-batch:parallel=2,n_ctx=1024", "--out", str(out),
                                     "--json", str(raw)])
    assert status == 0
    results = json.loads(raw.read_text())
    # both users' stage-1 summaries come first, in one batch; what follows (retries of cut-off
    # outputs, u1's stage 2) depends on the text the model writes
    assert results["batch_sizes"][0] == 2 and results["requests"] == sum(results["batch_sizes"]) > 2
    sequential, batched = results["rows"]
    assert sequential["setting"] == "llamacpp:n_ctx=1024" and batched["setting"].startswith("llamacpp-batch")
    assert sequential["requests"] == batched["requests"] == results["requests"]
    assert sequential["prompt_tokens"] == batched["prompt_tokens"] > 0  # identical requests, same tokenisation
    assert "| `llamacpp-batch:parallel=2,n_ctx=1024` |" in out.read_text()
