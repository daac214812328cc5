"""Tests for ``python -m dataset_tools prepare`` and the dataset specs it reads.

Every test writes its own tiny raw dataset in ``tmp_path``; the last one prepares the real
amazon-beauty data from the shared data folder next to the repository when it is present.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from dataset_tools.__main__ import main as cli_main
from dataset_tools.formats.files import atomic_write
from dataset_tools.formats.inter import INTER_HEADER, read_user_sequences, write_sequences
from dataset_tools.prepare import RawDataError, prepare_dataset
from dataset_tools.spec import SPEC_DIR, SpecError, load_dataset_spec

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_BEAUTY = REPO_ROOT.parent / "shared" / "data" / "amazon-beauty"


# --------------------------------------------------------------------------- helpers


def write_raw(root: Path, interactions: list[str], items: list[dict | str] | None = None) -> Path:
    """Write ``interactions.txt`` (and ``items.jsonl`` unless None) into ``root``; return it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "interactions.txt").write_text("".join(line + "\n" for line in interactions), encoding="utf-8")
    if items is not None:
        lines = [it if isinstance(it, str) else json.dumps(it) for it in items]
        (root / "items.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return root


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "file must end with a newline"
    header, *rows = lines[:-1]
    return header.split("\t"), [row.split("\t") for row in rows]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_prepare(name: str, raw: Path, out: Path, spec: str | Path | None = None):
    return prepare_dataset(load_dataset_spec(spec if spec is not None else name, dataset_name=name), raw, out)


BEAUTY_ITEMS = [
    {"item_id": 1, "asin": "A1", "title": "OPI Nail Lacquer\tRed\nShine", "brand": "OPI",
     "categories": ["Beauty", "Makeup", "Nails", "Nail Polish"], "price": "12.0", "sales_rank": "3"},
    {"item_id": 2, "asin": "A2", "title": "Rose Cream", "brand": "Unknown",
     "categories": ["Beauty", "Skin Care"], "price": ""},
    {"item_id": 3, "asin": "A3", "title": "\"Lip\" Balm 2\"", "brand": "Burt's Bees",
     "categories": ["Beauty"], "price": "3.5"},
    {"item_id": 4, "asin": "A4", "title": "Never Bought", "brand": "X", "categories": [], "price": "1"},
]
# users 10 and 20 contiguous, in chronological order; timestamps are the line numbers
BEAUTY_INTER = ["10 1", "10 2", "10 3", "20 3", "20 1", "20 2", "20 1"]


# --------------------------------------------------------------------------- happy paths


def test_happy_path_beauty_spec(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / "raw", BEAUTY_INTER, BEAUTY_ITEMS)
    result = run_prepare("amazon-beauty", raw, tmp_path / "out")
    out = tmp_path / "out" / "amazon-beauty"
    assert result.out_dir == out

    header, rows = read_tsv(out / "amazon-beauty.inter")
    assert "\t".join(header) == INTER_HEADER == "user_id:token\titem_id:token\ttimestamp:float"
    assert rows == [[u, i, str(n)] for n, (u, i) in enumerate((l.split() for l in BEAUTY_INTER), start=1)]

    header, rows = read_tsv(out / "amazon-beauty.item")
    assert header == ["item_id:token", "title:token_seq", "brand:token", "categories:token_seq", "price:float"]
    by_id = {row[0]: row for row in rows}
    assert set(by_id) == {"1", "2", "3"}  # item 4 was never interacted with
    assert by_id["1"] == ["1", "OPI Nail Lacquer Red Shine", "OPI", "Beauty Makeup Nails Nail_Polish", "12.0"]
    assert by_id["2"] == ["2", "Rose Cream", "", "Beauty Skin_Care", ""]  # "Unknown" brand, empty price
    # double quotes would start a quoted CSV cell for RecBole's pandas reader
    assert by_id["3"] == ["3", "'Lip' Balm 2'", "Burt's Bees", "Beauty", "3.5"]

    texts = {rec["item_id"]: rec for rec in read_jsonl(out / "amazon-beauty.item_text.jsonl")}
    assert texts["1"] == {"item_id": "1", "title": "OPI Nail Lacquer Red Shine", "brand": "OPI",
                          "categories": ["Beauty", "Makeup", "Nails", "Nail Polish"]}
    assert texts["2"] == {"item_id": "2", "title": "Rose Cream", "categories": ["Beauty", "Skin Care"]}
    assert texts["3"]["title"] == '"Lip" Balm 2"'  # the LLM text keeps the original quotes
    assert all("price" not in rec and "asin" not in rec for rec in texts.values())

    side = json.loads((out / "amazon-beauty.prepare.json").read_text())
    counts = side["counts"]
    assert (counts["users"], counts["items"], counts["interactions"]) == (2, 3, 7)
    assert counts["item_rows"] == 3 and counts["items_not_interacted"] == 1
    assert counts["sequence_length"] == {"min": 3, "max": 4, "mean": 3.5}
    assert counts["item_fields"]["brand"] == {"present": 2, "missing": 1}
    assert side["has_item_text"] is True
    assert side["files"] == {"inter": "amazon-beauty.inter", "item": "amazon-beauty.item",
                             "item_text": "amazon-beauty.item_text.jsonl"}
    inter_sha = hashlib.sha256((raw / "interactions.txt").read_bytes()).hexdigest()
    assert side["sources"]["interactions"]["sha256"] == inter_sha
    assert side["spec"]["path"] == str(SPEC_DIR / "amazon-beauty.yaml")
    assert side["spec"]["prepare"]["item_fields"]["brand"]["missing_values"] == ["Unknown"]
    assert side["warnings"]["sanitised.title"]["count"] == 1
    assert side["warnings"]["items_not_interacted"]["count"] == 1
    assert "items.jsonl:4" in side["warnings"]["items_not_interacted"]["examples"][0]
    # no temporary files left behind
    assert sorted(p.name for p in out.iterdir()) == [
        "amazon-beauty.inter", "amazon-beauty.item", "amazon-beauty.item_text.jsonl", "amazon-beauty.prepare.json"]


def test_games_spec_keeps_list_fields(tmp_path: Path) -> None:
    items = [
        {"item_id": 7, "title": "Portal 2", "genres": ["Action", "Adventure"], "tags": ["Puzzle", "Co-op", "Puzzle"],
         "specs": ["Single-player", "Steam Achievements"], "price": 9.99, "developer": "Valve"},
        {"item_id": 8, "title": "Dota 2", "genres": "Free to Play", "tags": [], "specs": None},
    ]
    raw = write_raw(tmp_path / "raw", ["1 7", "1 8", "1 7"], items)
    run_prepare("example-games", raw, tmp_path / "out")
    out = tmp_path / "out" / "example-games"
    header, rows = read_tsv(out / "example-games.item")
    assert header == ["item_id:token", "title:token_seq", "genres:token_seq", "tags:token_seq", "specs:token_seq"]
    assert rows == [
        ["7", "Portal 2", "Action Adventure", "Puzzle Co-op", "Single-player Steam_Achievements"],
        ["8", "Dota 2", "Free_to_Play", "", ""],
    ]
    texts = read_jsonl(out / "example-games.item_text.jsonl")
    assert texts[0] == {"item_id": "7", "title": "Portal 2", "genres": ["Action", "Adventure"],
                        "tags": ["Puzzle", "Co-op"], "specs": ["Single-player", "Steam Achievements"]}
    assert texts[1] == {"item_id": "8", "title": "Dota 2", "genres": ["Free to Play"]}


def test_interactions_only_dataset(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = write_raw(tmp_path / "raw", ["1 5", "1 6", "1 5", "2 6", "2 5", "2 7"])
    out = tmp_path / "out" / "amazon-fashion"
    out.mkdir(parents=True)
    (out / "amazon-fashion.item").write_text("stale\n")  # from an earlier, different run
    with caplog.at_level(logging.INFO):
        result = run_prepare("amazon-fashion", raw, tmp_path / "out")
    assert not result.has_item_text
    assert sorted(p.name for p in out.iterdir()) == ["amazon-fashion.inter", "amazon-fashion.prepare.json"]
    header, rows = read_tsv(out / "amazon-fashion.inter")
    assert len(rows) == 6 and rows[3] == ["2", "6", "4"]
    side = json.loads((out / "amazon-fashion.prepare.json").read_text())
    assert side["has_item_text"] is False
    assert side["files"] == {"inter": "amazon-fashion.inter", "item": None, "item_text": None}
    assert side["sources"]["items"] is None
    assert side["warnings"]["no_item_text"]["count"] == 1
    assert "NO ITEM TEXT" in caplog.text


def test_default_spec_keeps_only_title(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = write_raw(tmp_path / "raw", ["1 1", "1 2", "1 1"],
                    [{"item_id": 1, "title": "A b", "brand": "Z"}, {"item_id": 2, "title": "C"}])
    with caplog.at_level(logging.INFO):
        run_prepare("no-such-spec", raw, tmp_path / "out")
    assert "no spec" in caplog.text and "using the default" in caplog.text
    header, rows = read_tsv(tmp_path / "out" / "no-such-spec" / "no-such-spec.item")
    assert header == ["item_id:token", "title:token_seq"]
    assert rows == [["1", "A b"], ["2", "C"]]
    side = json.loads((tmp_path / "out" / "no-such-spec" / "no-such-spec.prepare.json").read_text())
    assert side["spec"]["default"] is True and side["spec"]["path"] is None


def test_default_spec_without_items_file_is_interactions_only(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / "raw", ["1 1", "1 2", "1 1"])
    result = run_prepare("bare", raw, tmp_path / "out")
    assert not result.has_item_text and result.files["item"] is None


def test_cli_runs_prepare_and_returns_status(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = write_raw(tmp_path / "raw", BEAUTY_INTER, BEAUTY_ITEMS)
    spec = tmp_path / "my.yaml"
    spec.write_text("prepare:\n  item_fields:\n    title: text\nhsu:\n  stage_len: 3\n")
    status = cli_main(["prepare", "tiny", "--raw", str(raw), "--out", str(tmp_path / "out"), "--spec", str(spec)])
    assert status == 0
    header, _ = read_tsv(tmp_path / "out" / "tiny" / "tiny.item")
    assert header == ["item_id:token", "title:token_seq"]
    assert cli_main(["prepare", "tiny", "--raw", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert f"{tmp_path / 'nope'}: raw data folder not found" in caplog.text


def test_atomic_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "x.inter"
    target.write_text("old complete content\n")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write("half of the new")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old complete content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.inter"]


def test_write_sequences_round_trips_through_the_stage_reader(tmp_path: Path) -> None:
    sequences = {"u2": ["7", "3", "7"], "u1": ["1"], "u10": ["2", "5"]}
    path = tmp_path / "small.inter"
    write_sequences(path, sequences)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == INTER_HEADER
    assert lines[1:4] == ["u2\t7\t1", "u2\t3\t2", "u2\t7\t3"]  # timestamps are global row numbers
    assert read_user_sequences(path) == sequences


def test_help_lists_subcommands() -> None:
    proc = subprocess.run([sys.executable, "-m", "dataset_tools", "--help"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=True)
    assert "prepare" in proc.stdout


# --------------------------------------------------------------------------- counted warnings


def test_counted_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    items = [
        {"item_id": 1, "title": "One", "brand": "B"},
        {"item_id": 2, "title": "   ", "brand": "B"},  # empty title
        {"item_id": 3, "title": "Three"},
        {"item_id": 4, "title": "Only for the short user"},
        {"item_id": 5, "title": "Nobody"},
        {"item_id": 6, "title": "Bad price", "price": "n/a"},
    ]
    interactions = [
        "1 1", "1 2", "1 99", "1 6",  # 99 is not in items.jsonl
        "2 4", "2 1",                 # user 2 has 2 < 3 interactions: dropped
        "3 3", "3 99", "3 1",
    ]
    raw = write_raw(tmp_path / "raw", interactions, items)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "prepare:\n  item_fields:\n    title: {kind: text, required: true}\n    price: {kind: float}\n"
    )
    with caplog.at_level(logging.INFO):
        result = run_prepare("warn", raw, tmp_path / "out", spec=spec)
    w = result.warnings
    assert w["unknown_items"]["count"] == 1
    assert w["unknown_items"]["examples"] == [f"{raw / 'interactions.txt'}:3: item 99"]
    assert w["missing.title"]["count"] == 1
    assert w["missing.title"]["examples"] == [f"{raw / 'items.jsonl'}:2: item 2"]
    assert w["short_users_dropped"]["count"] == 1
    assert "interactions.txt:5: user 2 has 2" in w["short_users_dropped"]["examples"][0]
    assert w["items_not_interacted"]["count"] == 2  # item 5, and item 4 (only the dropped user had it)
    assert w["bad_value.price"]["count"] == 1 and "'n/a' is not a number" in w["bad_value.price"]["examples"][0]
    c = result.counts
    assert (c["users"], c["interactions"], c["dropped_users"], c["dropped_interactions"]) == (2, 7, 1, 2)
    assert c["unknown_item_interactions"] == 2 and c["items"] == 5 and c["item_rows"] == 4
    # the interaction with the unknown item is kept with its original line number
    _, rows = read_tsv(tmp_path / "out" / "warn" / "warn.inter")
    assert ["1", "99", "3"] in rows and ["3", "3", "7"] in rows and all(r[0] != "2" for r in rows)
    _, item_rows = read_tsv(tmp_path / "out" / "warn" / "warn.item")
    assert ["2", "", ""] in item_rows  # kept without title
    side = json.loads((tmp_path / "out" / "warn" / "warn.prepare.json").read_text())
    assert side["warnings"] == w
    for code in ("unknown_items", "missing.title", "short_users_dropped", "items_not_interacted"):
        assert code in caplog.text  # summary in the log


def test_min_user_interactions_from_spec(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / "raw", ["1 1", "2 1", "2 2"], [{"item_id": 1, "title": "a"}, {"item_id": 2, "title": "b"}])
    spec = tmp_path / "s.yaml"
    spec.write_text("prepare:\n  min_user_interactions: 1\n  item_fields: {title: text}\n")
    assert run_prepare("m", raw, tmp_path / "out", spec=spec).counts["users"] == 2


# --------------------------------------------------------------------------- errors


def assert_nothing_written(out_root: Path) -> None:
    assert not out_root.exists() or not any(out_root.rglob("*.*"))


@pytest.mark.parametrize(
    "lines, bad_line, fragment",
    [
        (["1 1", "1 2 3", "1 3"], 2, "'1 2 3'"),
        (["1 1", "1 x"], 2, "'1 x'"),
        (["1 1", "1 2", "-1 2"], 3, "'-1 2'"),
        (["1 1", "7"], 2, "'7'"),
    ],
)
def test_error_interaction_line_not_two_integers(tmp_path: Path, lines, bad_line, fragment) -> None:
    raw = write_raw(tmp_path / "raw", lines)
    with pytest.raises(RawDataError) as info:
        run_prepare("amazon-fashion", raw, tmp_path / "out")
    message = str(info.value)
    assert f"{raw / 'interactions.txt'}:{bad_line}:" in message and fragment in message
    assert_nothing_written(tmp_path / "out")


def test_error_user_not_contiguous(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / "raw", ["1 1", "1 2", "1 3", "2 1", "2 2", "2 3", "1 4"])
    with pytest.raises(RawDataError) as info:
        run_prepare("amazon-fashion", raw, tmp_path / "out")
    message = str(info.value)
    assert f"{raw / 'interactions.txt'}:7: user 1 appears again after its lines 1-3" in message
    assert "contiguous" in message
    assert_nothing_written(tmp_path / "out")


def test_error_missing_raw_folder_and_interactions(tmp_path: Path) -> None:
    with pytest.raises(RawDataError, match="raw data folder not found"):
        run_prepare("amazon-beauty", tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RawDataError) as info:
        run_prepare("amazon-beauty", tmp_path / "empty", tmp_path / "out")
    assert f"{tmp_path / 'empty' / 'interactions.txt'}: interactions file not found" in str(info.value)


def test_error_spec_names_items_file_that_is_absent(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / "raw", ["1 1", "1 2", "1 3"])
    with pytest.raises(RawDataError) as info:
        run_prepare("amazon-beauty", raw, tmp_path / "out")
    message = str(info.value)
    assert "items.jsonl: items file not found" in message and "amazon-beauty.yaml" in message


@pytest.mark.parametrize(
    "items, fragment",
    [
        (['{"item_id": 1, "title": "a"}', '{"item_id": 2, "title": "b"'], "items.jsonl:2: not valid JSON"),
        (['{"item_id": 1, "title": "a"}', '{"title": "b"}'], "items.jsonl:2: missing field 'item_id'"),
        (['{"item_id": 1}', '{"item_id": null}'], "items.jsonl:2: field 'item_id' must be an integer"),
        (['[1, 2]'], "items.jsonl:1: expected a JSON object"),
        (['{"item_id": 1}', '{"item_id": 2}', '{"item_id": 1, "title": "again"}'],
         "items.jsonl:3: duplicate item_id 1, first defined at line 1"),
    ],
)
def test_error_bad_items_file(tmp_path: Path, items, fragment) -> None:
    raw = write_raw(tmp_path / "raw", ["1 1", "1 2", "1 1"], items)
    with pytest.raises(RawDataError) as info:
        run_prepare("amazon-beauty", raw, tmp_path / "out")
    assert fragment in str(info.value) and str(raw) in str(info.value)
    assert_nothing_written(tmp_path / "out")


# --------------------------------------------------------------------------- spec validation


def test_spec_keeps_unknown_sections(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("prepare:\n  item_fields: {title: text}\nhsu:\n  stage_len: 3\n  template: 'T {title}'\n")
    spec = load_dataset_spec(path)
    assert spec.name == "x" and spec.path == path
    assert spec.section("hsu") == {"stage_len": 3, "template": "T {title}"}
    assert spec.raw["prepare"] == {"item_fields": {"title": "text"}}
    assert [f.name for f in spec.prepare.item_fields] == ["title"]
    err = spec.error("hsu.stage_len", "must be >= 1")
    assert isinstance(err, SpecError) and str(err) == f"{path}: hsu.stage_len: must be >= 1"


@pytest.mark.parametrize(
    "text, key",
    [
        ("prepare:\n  item_fields:\n    title: {kind: txt}\n", "prepare.item_fields.title.kind"),
        ("prepare:\n  item_feilds: {}\n", "prepare.item_feilds"),
        ("prepare:\n  min_user_interactions: 0\n", "prepare.min_user_interactions"),
        ("prepare:\n  item_fields:\n    title: {kind: text, requird: true}\n", "prepare.item_fields.title.requird"),
        ("prepare:\n  item_fields:\n    bad name: text\n", "prepare.item_fields.bad name"),
        ("prepare:\n  items_file: null\n  item_fields: {title: text}\n", "prepare.item_fields"),
        ("prepare: [1]\n", "prepare"),
    ],
)
def test_spec_errors_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_dataset_spec(path)
    assert str(info.value).startswith(f"{path}: {key}:")


def test_spec_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="spec file not found"):
        load_dataset_spec(tmp_path / "none.yaml")
    path = tmp_path / "broken.yaml"
    path.write_text("prepare: [\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_dataset_spec(path)


@pytest.mark.parametrize("name", ["amazon-beauty", "amazon-fashion", "example-games"])
def test_shipped_specs_load(name: str) -> None:
    spec = load_dataset_spec(name)
    assert spec.path == SPEC_DIR / f"{name}.yaml" and not spec.is_default


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(not (SHARED_BEAUTY / "interactions.txt").is_file(), reason="shared amazon-beauty data absent")
def test_real_amazon_beauty(tmp_path: Path) -> None:
    result = run_prepare("amazon-beauty", SHARED_BEAUTY, tmp_path)
    c = result.counts
    assert (c["users"], c["items"], c["interactions"]) == (22_363, 12_101, 198_502)
    assert c["sequence_length"]["min"] == 5 and c["sequence_length"]["max"] == 204
    assert c["item_fields"]["title"]["present"] == 12_094
    assert result.warnings["missing.title"]["count"] == 7
    _, rows = read_tsv(tmp_path / "amazon-beauty" / "amazon-beauty.inter")
    assert len(rows) == 198_502 and rows[0] == ["1", "1", "1"] and rows[-1][2] == "198502"


def test_movielens_100k_from_recbole_s_own_package(tmp_path: Path) -> None:
    """The second dataset with item text on every machine: RecBole's packaged ML-100K, prepared under a
    name RecBole does not swap for its own copy, every rating an interaction, titles with their year."""
    status = cli_main(["prepare", "movielens-100k", "--raw", "recbole:ml-100k", "--out", str(tmp_path)])
    assert status == 0
    folder = tmp_path / "movielens-100k"
    sidecar = json.loads((folder / "movielens-100k.prepare.json").read_text())
    assert {k: sidecar["counts"][k] for k in ("users", "items", "interactions")} == \
        {"users": 943, "items": 1682, "interactions": 100000}
    assert sidecar["item_id_numbering"]["first_appearance"] is False  # MovieLens's own ids
    order = next(step for step in sidecar["steps"] if step["step"] == "order")
    assert order["within_user"] == "time, ties in file order" and order["tied_rows"] > 0
    first = json.loads((folder / "movielens-100k.item_text.jsonl").read_text().splitlines()[0])
    assert first == {"item_id": "1", "title": "Toy Story", "year": "1995", "genres": ["Animation", "Children's", "Comedy"]}

    from dataset_tools.embed.extractors import extract_items

    texts = dict(zip(*[getattr(extract_items(tmp_path, "movielens-100k"), key) for key in ("tokens", "texts")]))
    assert texts["1"] == "Toy Story (1995). genres: Animation, Children's, Comedy"


def test_unknown_recbole_example_is_one_clear_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert cli_main(["prepare", "movielens-100k", "--raw", "recbole:ml-1m", "--out", str(tmp_path)]) == 2
    assert "--raw recbole:ml-1m: RecBole ships no example dataset of that name (it ships: ml-100k)" in caplog.text
