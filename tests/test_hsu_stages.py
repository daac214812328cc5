"""HSU inputs and prompts without an LLM: stage cutting, held-out items, item lines,
prompt layout (shared static prefix), the ``hsu:`` spec section and clear input errors."""

from __future__ import annotations

import json

import pytest

from dataset_tools import DatasetToolsError
from dataset_tools.hsu import prompts
from dataset_tools.hsu.hsu_spec import parse_hsu_section
from dataset_tools.hsu.items import ItemLineTemplate, load_item_text
from dataset_tools.formats.inter import read_user_sequences, training_part
from dataset_tools.hsu.stages import cut_stages, user_stages
from dataset_tools.spec import load_dataset_spec


@pytest.mark.parametrize(
    "sequence_length, expected_stage_sizes",
    [(0, []), (1, []), (2, []), (3, [1]), (15, [13]), (29, [13, 13, 1])],
)
def test_stages_cover_exactly_the_training_history(sequence_length, expected_stage_sizes):
    # training history = sequence minus validation and test items: 0, 1, 13 and 27 items
    sequence = [f"i{n}" for n in range(sequence_length)]
    stages = user_stages(sequence, stage_length=13)
    assert [len(s) for s in stages] == expected_stage_sizes
    flat = [item for stage in stages for item in stage]
    assert flat == sequence[: max(0, sequence_length - 2)]
    assert not set(sequence[-2:]) & set(flat) or sequence_length < 3


def test_history_of_exactly_13_items_is_one_full_stage_and_27_is_three():
    assert [len(s) for s in cut_stages([str(n) for n in range(13)], 13)] == [13]
    assert [len(s) for s in cut_stages([str(n) for n in range(27)], 13)] == [13, 13, 1]
    assert cut_stages([], 13) == []
    assert cut_stages(["a"], 13) == [["a"]]
    with pytest.raises(DatasetToolsError, match="stage_length"):
        cut_stages(["a"], 0)


def test_oneshot_mode_is_one_stage_with_the_whole_training_history():
    sequence = [str(n) for n in range(30)]
    assert user_stages(sequence, 13, mode="oneshot") == [sequence[:28]]
    assert user_stages(["a", "b"], 13, mode="oneshot") == []


def test_sequences_are_sorted_by_timestamp_not_file_order(tmp_path, write_inter):
    inter = write_inter(tmp_path / "d.inter", rows=[("u1", "b", 2.0), ("u2", "x", 5.0), ("u1", "a", 1.0), ("u1", "c", 3.0)])
    sequences = read_user_sequences(inter)
    assert sequences == {"u1": ["a", "b", "c"], "u2": ["x"]}
    assert training_part(sequences["u1"]) == ["a"]


def test_malformed_inter_lines_name_file_and_line(tmp_path):
    inter = tmp_path / "d.inter"
    inter.write_text("user_id:token\titem_id:token\ttimestamp:float\nu1\ta\tnot-a-number\n", encoding="utf-8")
    with pytest.raises(DatasetToolsError, match=r"d\.inter: line 2: timestamp"):
        read_user_sequences(inter)
    inter.write_text("user_id:token\titem_id:token\nu1\ta\n", encoding="utf-8")
    with pytest.raises(DatasetToolsError, match=r"line 1: header lacks column\(s\) timestamp:float"):
        read_user_sequences(inter)
    with pytest.raises(DatasetToolsError, match="run `python -m dataset_tools prepare`"):
        read_user_sequences(tmp_path / "missing.inter")


def test_item_lines_drop_parts_whose_field_is_missing():
    template = ItemLineTemplate(("No.{order}", "title: {title}", "categories: {categories}", "brand: {brand}"))
    items = {
        "1": {"item_id": "1", "title": "OPI Nail Lacquer", "brand": "OPI", "categories": ["Beauty", "Nails"]},
        "2": {"item_id": "2", "title": "BB Cream", "categories": ["Beauty", "Face"]},
    }
    text = template.render_stage(["1", "2", "99"], items)
    assert text.splitlines() == [
        "No.1 title: OPI Nail Lacquer categories: Beauty, Nails brand: OPI",
        "No.2 title: BB Cream categories: Beauty, Face",
        "No.3 title: (item 99, no title)",
    ]
    assert template.fields == {"title", "categories", "brand"}


def test_dataset_without_titles_fails_clearly(tmp_path):
    with pytest.raises(DatasetToolsError, match="HSU needs item titles"):
        load_item_text(tmp_path / "d.item_text.jsonl")
    path = tmp_path / "d.item_text.jsonl"
    path.write_text(json.dumps({"item_id": "1", "brand": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetToolsError, match="no item has a non-empty 'title'"):
        load_item_text(path)
    path.write_text('{"item_id": "1", "title": "a"}\n{broken\n', encoding="utf-8")
    with pytest.raises(DatasetToolsError, match="line 2: not valid JSON"):
        load_item_text(path)


def test_prompts_put_static_instructions_first_and_user_content_last():
    record_a = "No.1 title: Lipstick red"
    record_b = "No.1 title: Hair dryer\nNo.2 title: Shampoo"
    a = prompts.selection_messages(record_a, ["lip makeup"], prompts.ALL_OPERATIONS)
    b = prompts.selection_messages(record_b, ["hair care", "shampoo"], prompts.ALL_OPERATIONS)
    assert a[0] == b[0] and a[0]["role"] == "system"
    # the user message of two different users shares everything up to the user-specific part
    shared = 0
    while a[1]["content"][shared] == b[1]["content"][shared]:
        shared += 1
    assert "The user's previous interests:\nInterest 1: " in a[1]["content"][: shared + 1]
    assert a[1]["content"].endswith(record_a) and "Interest 1: lip makeup" in a[1]["content"]
    for op in ("add", "delete", "update"):
        messages = prompts.execution_messages(op, record_a, ["lip makeup"], "new kinds of items")
        assert messages[1]["content"].startswith(prompts.EXECUTION_INSTRUCTIONS[op])
        assert messages[1]["content"].endswith(record_a)
    summary = prompts.summary_messages(record_a)[1]["content"]
    assert summary.startswith("Please follow the steps") and summary.endswith(record_a)
    assert "complete interaction history" in prompts.summary_messages(record_a, oneshot=True)[1]["content"]
    with pytest.raises(ValueError):
        prompts.execution_messages("retain", record_a, [], "")


def test_ablation_offers_only_the_remaining_operations():
    ops = prompts.validate_operations(["delete", "update", "retain"])  # w/o Add
    content = prompts.selection_messages("No.1 title: x", ["a"], ops)[1]["content"]
    assert "3 = addition" not in content and "1 = deletion" in content and "4 = no change" in content
    constraint = prompts.selection_constraint(ops)
    assert "[124]" in constraint.gbnf and constraint.regex.endswith("[124]")
    with pytest.raises(DatasetToolsError, match="unknown operation"):
        prompts.validate_operations(["add", "merge"])


def test_spec_hsu_sections_of_the_shipped_datasets_are_valid(tmp_path):
    beauty = parse_hsu_section(load_dataset_spec("amazon-beauty"))
    assert beauty.stage_length == 3 and beauty.item_line.fields == {"title", "categories", "brand"}
    games = parse_hsu_section(load_dataset_spec("example-games"))
    assert {"title", "genres", "specs"} <= games.item_line.fields
    bad = tmp_path / "bad.yaml"
    bad.write_text("hsu:\n  stage_length: 0\n", encoding="utf-8")
    with pytest.raises(DatasetToolsError, match=r"bad\.yaml: hsu\.stage_length"):
        parse_hsu_section(load_dataset_spec(bad))
    bad.write_text("hsu:\n  operations: [add, jump]\n", encoding="utf-8")
    with pytest.raises(DatasetToolsError, match=r"hsu\.operations"):
        parse_hsu_section(load_dataset_spec(bad))
    bad.write_text("hsu:\n  max_items: 0\n", encoding="utf-8")
    with pytest.raises(DatasetToolsError, match=r"bad\.yaml: hsu\.max_items"):
        parse_hsu_section(load_dataset_spec(bad))
    movies = parse_hsu_section(load_dataset_spec("movielens-100k"))
    assert movies.max_items == 60 and movies.stage_length == 20 and {"title", "year", "genres"} <= movies.item_line.fields
    assert beauty.max_items is None


def test_max_items_keeps_the_most_recent_training_items():
    sequence = [f"i{n}" for n in range(10)]  # training part i0..i7
    assert user_stages(sequence, 2, max_items=3) == [["i5", "i6"], ["i7"]]
    assert user_stages(sequence, 2, mode="oneshot", max_items=3) == [["i5", "i6", "i7"]]
    assert user_stages(sequence, 4, max_items=100) == user_stages(sequence, 4)
    with pytest.raises(DatasetToolsError, match="max_items must be >= 1"):
        user_stages(sequence, 2, max_items=0)


def test_cli_refuses_a_dataset_without_item_text_before_loading_a_model(tmp_path, caplog, write_inter):
    from dataset_tools.__main__ import main as cli_main

    write_inter(tmp_path / "ids-only" / "ids-only.inter", {"u1": ["a", "b", "c"]})
    assert cli_main(["hsu", "ids-only", "--data", str(tmp_path), "--model", str(tmp_path / "never-loaded.gguf")]) == 2
    assert "HSU needs item titles" in caplog.text and "never-loaded" not in caplog.text


def test_batch_size_is_sized_for_the_engine():
    from dataset_tools.hsu.lockstep import CPU_BATCH_USERS, GPU_BATCH_USERS, default_batch_size

    assert default_batch_size("llamacpp") == default_batch_size("openai", "llamacpp") == CPU_BATCH_USERS == 16
    assert default_batch_size("vllm") == default_batch_size("openai", "vllm") == GPU_BATCH_USERS
    assert default_batch_size("openai", "vllm-legacy") == GPU_BATCH_USERS > 1000


def test_a_vllm_step_receives_every_pending_user_not_the_cpu_batch(tmp_path):
    """The lockstep loop hands a GPU-batching engine all 40 users' stage-1 requests in one call.
    The engine here records what it is handed (vLLM does not run on this CPU); the batching is ours."""
    from dataset_tools.hsu.engines.base import Engine, Generation
    from dataset_tools.hsu.lockstep import HsuPipeline, HsuSettings, default_batch_size
    from dataset_tools.hsu.store import StageStore

    class RecordingEngine(Engine):
        name = "vllm"

        def __init__(self) -> None:
            super().__init__("recording", constrained=False)
            self.call_sizes: list[int] = []

        def generate(self, requests):
            self.call_sizes.append(len(requests))
            return [Generation("not parseable") for _ in requests]

    engine = RecordingEngine()
    settings = HsuSettings(stage_length=2, max_retries=0, batch_size=default_batch_size("vllm"))
    sequences = {f"u{n}": ["1", "2", "3", "4", "5", "6"] for n in range(40)}
    item_text = {str(i): {"title": f"item {i}"} for i in range(1, 7)}
    pipeline = HsuPipeline(engine, StageStore(tmp_path / "run"), settings, item_text, progress=False)
    pipeline.run(sequences, list(sequences))
    assert engine.call_sizes[0] == 40  # the CPU default would have cut it into 16 + 16 + 8
    assert max(engine.call_sizes) == 40
