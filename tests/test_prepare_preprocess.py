"""Preprocessing steps of ``prepare`` (k-core, duplicates, order, ids), the report and the
statistics check, on tiny fixtures; plus the shipped paper specs.

Two small reference implementations written here from the papers' descriptions (S3-Rec:
iterative 5-core, users in order of appearance, stable time sort, ids by first
appearance; LLM-ESR: one filtering pass on the raw counts, then users shorter than 3
dropped) are compared with ``prepare`` on random data.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
import yaml

from dataset_tools.__main__ import main as cli_main
from dataset_tools.prepare import RawDataError, prepare_dataset
from dataset_tools.prepare.stats_check import StatisticsMismatch
from dataset_tools.spec import SPEC_DIR, SpecError, load_dataset_spec

REPO_ROOT = Path(__file__).resolve().parents[1]
PAPER_SPECS = ["beauty-s3rec", "fashion-llmesr", "beauty-hsuga"]


def write_text(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def prepare(tmp_path: Path, spec_text: str, raw: Path, name: str = "ds", **kwargs):
    spec_path = tmp_path / f"{name}.yaml"
    spec_path.write_text(spec_text, encoding="utf-8")
    return prepare_dataset(load_dataset_spec(spec_path, dataset_name=name), raw, tmp_path / "out", **kwargs)


def inter_rows(tmp_path: Path, name: str = "ds") -> list[list[str]]:
    lines = (tmp_path / "out" / name / f"{name}.inter").read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines[1:]]


def atomic(raw: Path, rows: list[tuple[str, str, float]]) -> Path:
    write_text(raw / "data.inter", ["user_id:token\titem_id:token\ttimestamp:float"]
               + [f"{u}\t{i}\t{t}" for u, i, t in rows])
    return raw


def step(result, name: str) -> dict:
    return next(s for s in result.steps if s["step"] == name)


# --------------------------------------------------------------------------- k-core

# A chain: removing u5 starves item d, which starves u4, then item c, then u3.
CHAIN = ["u1 a", "u1 b", "u2 a", "u2 b", "u3 b", "u3 c", "u4 c", "u4 d", "u5 d"]


def chain_raw(tmp_path: Path) -> Path:
    rows = [(line.split()[0], line.split()[1], n) for n, line in enumerate(CHAIN, start=1)]
    return atomic(tmp_path / "raw", rows)


KCORE_SPEC = "prepare:\n  format: atomic\n  k_core_users: 2\n  k_core_items: 2\n  min_user_length: 2\n"


def test_k_core_is_iterative_and_reported_round_by_round(tmp_path: Path) -> None:
    result = prepare(tmp_path, KCORE_SPEC, chain_raw(tmp_path))
    k = step(result, "k_core")
    assert k["is_k_core"] is True and k["removed_interactions"] == 5
    assert [(r["round"], r["users_below_k"], r["items_below_k"], r["interactions_removed"]) for r in k["rounds"]] == [
        (1, 1, 0, 1), (2, 0, 1, 1), (3, 1, 0, 1), (4, 0, 1, 1), (5, 1, 0, 1)]
    last = k["rounds"][-1]
    assert (last["users_left"], last["items_left"], last["interactions_left"]) == (2, 2, 4)
    assert k["after"] == {"users": 2, "items": 2, "interactions": 4}
    assert inter_rows(tmp_path) == [["u1", "a", "1"], ["u1", "b", "2"], ["u2", "a", "3"], ["u2", "b", "4"]]
    side = json.loads((tmp_path / "out" / "ds" / "ds.prepare.json").read_text())
    assert side["steps"] == result.steps and side["spec"]["prepare"]["k_core_users"] == 2


def test_k_core_single_pass(tmp_path: Path) -> None:
    result = prepare(tmp_path, KCORE_SPEC + "  k_core_rounds: 1\n", chain_raw(tmp_path))
    k = step(result, "k_core")
    # one pass on the counts of the data as read: only u5 (1 interaction) is below 2
    assert len(k["rounds"]) == 1 and k["is_k_core"] is False and k["removed_interactions"] == 1
    assert result.warnings["k_core_incomplete"]["count"] == 1
    # no second pass: item d keeps its single interaction (u4's)
    assert k["after"] == {"users": 4, "items": 4, "interactions": 8}
    assert ["u4", "d", "8"] in inter_rows(tmp_path)


def test_k_core_matches_the_definition_on_random_data(tmp_path: Path) -> None:
    rng = random.Random(7)
    rows = [(f"u{rng.randrange(40)}", f"i{int(rng.paretovariate(1.2)) % 30}", rng.randrange(50)) for _ in range(400)]
    raw = atomic(tmp_path / "raw", rows)
    prepare(tmp_path, "prepare:\n  format: atomic\n  k_core_users: 4\n  k_core_items: 3\n  min_user_length: 1\n", raw)
    out = inter_rows(tmp_path)
    users = Counter(r[0] for r in out)
    items = Counter(r[1] for r in out)
    assert min(users.values()) >= 4 and min(items.values()) >= 3
    # maximal: no removed interaction could come back without breaking the minimums
    kept = {(u, i) for u, i, _ in out}
    for u, i, _ in rows:
        if (u, i) not in kept and u in users and i in items:
            pytest.fail(f"({u}, {i}) was removed although both ends are in the core")


# --------------------------------------------------------------------------- duplicates, order


DUP_ROWS = [("u", "a", 5), ("u", "b", 3), ("u", "a", 5), ("u", "a", 1), ("v", "a", 2)]


@pytest.mark.parametrize("policy, expected", [
    ("keep_all", [["u", "a", "1"], ["u", "b", "3"], ["u", "a", "5"], ["u", "a", "5"], ["v", "a", "2"]]),
    ("keep_first", [["u", "a", "1"], ["u", "b", "3"], ["v", "a", "2"]]),
])
def test_duplicates_policy(tmp_path: Path, policy: str, expected) -> None:
    raw = atomic(tmp_path / "raw", DUP_ROWS)
    result = prepare(tmp_path, f"prepare:\n  format: atomic\n  duplicates: {policy}\n  min_user_length: 1\n", raw)
    d = step(result, "duplicates")
    assert d["policy"] == policy and d["repeated_pairs_found"] == 2
    assert d["removed_interactions"] == (0 if policy == "keep_all" else 2)
    assert inter_rows(tmp_path) == expected


def test_keep_first_keeps_the_first_in_file_among_equal_times(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_text(raw / "data.inter", ["user_id:token\titem_id:token\ttimestamp:float\tnote:token",
                                    "u\ta\t5\tfirst", "u\ta\t5\tsecond", "u\tb\t5\tthird"])
    result = prepare(tmp_path, "prepare:\n  format: atomic\n  duplicates: keep_first\n  min_user_length: 1\n"
                     "  timestamps: row\n", raw)
    assert inter_rows(tmp_path) == [["u", "a", "1"], ["u", "b", "2"]]
    assert step(result, "order")["tied_rows"] == 1


def test_ties_keep_file_order_and_row_timestamps_are_unique(tmp_path: Path) -> None:
    raw = atomic(tmp_path / "raw", [("u", "c", 7), ("u", "b", 7), ("u", "a", 7), ("u", "z", 1)])
    prepare(tmp_path, "prepare:\n  format: atomic\n  min_user_length: 1\n  timestamps: row\n", raw)
    assert inter_rows(tmp_path) == [["u", "z", "1"], ["u", "c", "2"], ["u", "b", "3"], ["u", "a", "4"]]


def test_user_order_first_kept_or_first_seen(tmp_path: Path) -> None:
    # v's first line uses item x, which the 2-core removes; w comes between.
    rows = [("v", "x", 1), ("w", "a", 2), ("w", "b", 3), ("v", "a", 4), ("v", "b", 5)]
    raw = atomic(tmp_path / "raw", rows)
    base = "prepare:\n  format: atomic\n  k_core_items: 2\n  min_user_length: 1\n"
    prepare(tmp_path, base, raw)
    assert [r[0] for r in inter_rows(tmp_path)] == ["w", "w", "v", "v"]
    prepare(tmp_path, base + "  user_order: first_seen\n", raw)
    assert [r[0] for r in inter_rows(tmp_path)] == ["v", "v", "w", "w"]


def test_id_mapping_first_appearance_renumbers_items_file(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_text(raw / "data.inter", ["user_id:token\titem_id:token\ttimestamp:float",
                                    "B7\tzz\t2", "B7\tyy\t1", "A1\tzz\t3", "A1\txx\t4"])
    write_text(raw / "data.item", ["item_id:token\ttitle:token_seq", "xx\tThird", "yy\tFirst", "zz\tSecond"])
    spec = "prepare:\n  format: atomic\n  min_user_length: 1\n  id_mapping: first_appearance\n" \
           "  item_fields: {title: text}\n"
    prepare(tmp_path, spec, raw)
    assert inter_rows(tmp_path) == [["1", "1", "1"], ["1", "2", "2"], ["2", "2", "3"], ["2", "3", "4"]]
    lines = (tmp_path / "out" / "ds" / "ds.item").read_text().splitlines()
    assert lines[1:] == ["1\tFirst", "2\tSecond", "3\tThird"]
    texts = [json.loads(line) for line in (tmp_path / "out" / "ds" / "ds.item_text.jsonl").read_text().splitlines()]
    assert [(t["item_id"], t["title"]) for t in texts] == [("1", "First"), ("2", "Second"), ("3", "Third")]


def test_report_says_when_item_ids_follow_first_appearance(tmp_path: Path, caplog) -> None:
    """The leak of S3-Rec-numbered data (ids 1, 2, 3, ... as items first appear) is detected and
    reported; the same interactions under ids that do not follow first appearance are not flagged."""
    raw = tmp_path / "raw"
    write_text(raw / "data.inter", ["user_id:token\titem_id:token\ttimestamp:float",
                                    "u\t30\t1", "u\t10\t2", "v\t10\t3", "v\t20\t4"])
    base = "prepare:\n  format: atomic\n  min_user_length: 1\n"
    prepare(tmp_path, base, raw)
    sidecar = json.loads((tmp_path / "out" / "ds" / "ds.prepare.json").read_text())
    assert sidecar["item_id_numbering"] == {"numeric": True, "items": 3, "first_appearance": False,
                                            "out_of_order": 1, "spearman": -0.5}
    with caplog.at_level("WARNING"):
        prepare(tmp_path, base + "  id_mapping: first_appearance\n", raw)
    sidecar = json.loads((tmp_path / "out" / "ds" / "ds.prepare.json").read_text())
    assert sidecar["item_id_numbering"]["first_appearance"] is True
    assert sidecar["item_id_numbering"]["spearman"] == 1.0
    assert any("numbered in order of first appearance" in r.getMessage() for r in caplog.records)


def test_id_numbering_of_non_numeric_ids() -> None:
    from dataset_tools.prepare.numbering import id_numbering

    assert id_numbering(["b", "a", "b"]) == {"numeric": False, "items": 2, "first_appearance": False,
                                             "out_of_order": None, "spearman": None}


def test_min_user_length_and_rating_threshold_report(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_text(raw / "data.inter", ["user_id:token\titem_id:token\trating:float\ttimestamp:float",
                                    "u\ta\t5\t1", "u\tb\t2\t2", "u\tc\t4\t3", "v\ta\t5\t1", "v\tb\t1\t2"])
    result = prepare(tmp_path, "prepare:\n  format: atomic\n  rating_threshold: 4\n  min_user_length: 2\n", raw)
    names = [s["step"] for s in result.steps]
    assert names == ["read", "rating_threshold", "duplicates", "min_user_length", "order", "id_mapping"]
    assert step(result, "rating_threshold")["removed_interactions"] == 2
    m = step(result, "min_user_length")
    assert m["removed_users"] == 1 and m["after"] == {"users": 1, "items": 2, "interactions": 2}
    assert "data.inter:5: user v has 1" in result.warnings["short_users_dropped"]["examples"][0]


def test_rating_threshold_needs_ratings(tmp_path: Path) -> None:
    raw = write_text(tmp_path / "raw" / "interactions.txt", ["1 1", "1 2", "1 3"]).parent
    with pytest.raises(RawDataError, match="rating_threshold is set but the raw layout has no ratings"):
        prepare(tmp_path, "prepare:\n  items_file: null\n  rating_threshold: 3\n", raw)


# --------------------------------------------------------------------------- statistics check


STATS_SPEC = KCORE_SPEC + "  expected: {{users: {users}, items: 2, interactions: 4, on_mismatch: {policy}}}\n"


def test_expected_statistics_match(tmp_path: Path) -> None:
    result = prepare(tmp_path, STATS_SPEC.format(users=2, policy="fail"), chain_raw(tmp_path))
    assert result.check["ok"] is True and result.check["differences"] == {}
    assert "k_core" in result.check["steps_matching_expected"]


def test_expected_statistics_mismatch_warns_and_names_matching_steps(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = KCORE_SPEC + "  expected: {users: 5, items: 4, interactions: 9}\n"
    result = prepare(tmp_path, spec, chain_raw(tmp_path))
    assert result.check["ok"] is False
    assert result.check["differences"]["users"] == {"expected": 5, "actual": 2, "difference": -3}
    assert result.check["steps_matching_expected"] == ["read", "duplicates"]
    assert "statistics differ" in caplog.text and "after step(s) read, duplicates match" in caplog.text
    side = json.loads((tmp_path / "out" / "ds" / "ds.prepare.json").read_text())
    assert side["check"] == result.check


def test_expected_statistics_mismatch_fails_with_flag(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = chain_raw(tmp_path)
    with pytest.raises(StatisticsMismatch, match="users 2 instead of 3"):
        prepare(tmp_path, STATS_SPEC.format(users=3, policy="fail"), raw)
    assert not (tmp_path / "out").exists()
    spec = tmp_path / "cli.yaml"
    spec.write_text(STATS_SPEC.format(users=3, policy="warn"))
    args = ["prepare", "cli", "--raw", str(raw), "--out", str(tmp_path / "out"), "--spec", str(spec)]
    assert cli_main(args + ["--stats-check", "fail"]) == 2
    assert not (tmp_path / "out").exists()
    assert cli_main(args) == 0 and (tmp_path / "out" / "cli" / "cli.inter").is_file()


# --------------------------------------------------------------------------- spec validation


@pytest.mark.parametrize(
    "text, key",
    [
        ("prepare:\n  format: parquet\n", "prepare.format"),
        ("prepare:\n  duplicates: keep_last\n", "prepare.duplicates"),
        ("prepare:\n  k_core_users: -1\n", "prepare.k_core_users"),
        ("prepare:\n  k_core_rounds: 0\n", "prepare.k_core_rounds"),
        ("prepare:\n  min_user_length: 2\n  min_user_interactions: 2\n", "prepare.min_user_interactions"),
        ("prepare:\n  id_mapping: random\n", "prepare.id_mapping"),
        ("prepare:\n  user_order: alphabetical\n", "prepare.user_order"),
        ("prepare:\n  timestamps: unix\n", "prepare.timestamps"),
        ("prepare:\n  rating_threshold: high\n", "prepare.rating_threshold"),
        ("prepare:\n  expected: {users: many}\n", "prepare.expected.users"),
        ("prepare:\n  expected: {on_mismatch: warn}\n", "prepare.expected"),
        ("prepare:\n  expected: {users: 1, on_mismatch: stop}\n", "prepare.expected.on_mismatch"),
        ("prepare:\n  expected: {user: 1}\n", "prepare.expected.user"),
        ("prepare:\n  source_keys: {user: uid}\n", "prepare.source_keys"),
        ("prepare:\n  format: atomic\n  source_keys: {person: uid}\n", "prepare.source_keys.person"),
        ("prepare:\n  format: atomic\n  source_keys: {item: null}\n", "prepare.source_keys.item"),
        ("prepare:\n  format: atomic\n  source_keys: {time: t, order: o}\n", "prepare.source_keys.order"),
        ("prepare:\n  item_fields:\n    title: {kind: text, source: ''}\n", "prepare.item_fields.title.source"),
    ],
)
def test_new_spec_keys_are_validated(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_dataset_spec(path)
    assert str(info.value).startswith(f"{path}: {key}:"), str(info.value)


# --------------------------------------------------------------------------- papers' preprocessing


def s3rec_reference(reviews: list[tuple[str, str, int]], k: int) -> list[list[str]]:
    """S3-Rec's procedure as its paper and data_process.py describe it (written here, not copied)."""
    seqs: dict[str, list[tuple[str, int]]] = {}
    for user, item, t in reviews:  # dict order: first appearance of the user
        seqs.setdefault(user, []).append((item, t))
    seqs = {u: [i for i, _ in sorted(s, key=lambda x: x[1])] for u, s in seqs.items()}
    while True:
        users = {u: len(s) for u, s in seqs.items()}
        items = Counter(i for s in seqs.values() for i in s)
        if all(n >= k for n in users.values()) and all(n >= k for n in items.values()):
            break
        seqs = {u: [i for i in s if items[i] >= k] for u, s in seqs.items() if users[u] >= k}
        seqs = {u: s for u, s in seqs.items() if s}
    item_ids: dict[str, str] = {}
    out = []
    for n, s in enumerate(seqs.values(), start=1):
        out.append([str(n)] + [item_ids.setdefault(i, str(len(item_ids) + 1)) for i in s])
    return out


def llmesr_reference(reviews: list[tuple[str, str, int]], k: int, min_len: int) -> dict[str, list[str]]:
    """LLM-ESR's procedure: one pass on the raw counts, stable time sort, then short users dropped."""
    users = Counter(u for u, _, _ in reviews)
    items = Counter(i for _, i, _ in reviews)
    seqs: dict[str, list[tuple[str, int]]] = {}
    for user, item, t in reviews:
        if users[user] >= k and items[item] >= k:
            seqs.setdefault(user, []).append((item, t))
    return {u: [i for i, _ in sorted(s, key=lambda x: x[1])] for u, s in seqs.items() if len(s) >= min_len}


def random_reviews(seed: int, n: int = 1500) -> list[tuple[str, str, int]]:
    rng = random.Random(seed)
    return [(f"U{rng.randrange(120)}", f"B{int(rng.paretovariate(0.9)) % 80:03d}", rng.randrange(30)) for _ in range(n)]


def write_reviews14(raw: Path, reviews: list[tuple[str, str, int]]) -> Path:
    import gzip

    raw.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"reviewerID": u, "asin": i, "overall": 5.0, "unixReviewTime": t}) for u, i, t in reviews]
    (raw / "reviews_Beauty_5.json.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return raw


@pytest.mark.parametrize("seed", [1, 2])
def test_s3rec_procedure_reproduced(tmp_path: Path, seed: int) -> None:
    reviews = random_reviews(seed)
    raw = write_reviews14(tmp_path / "raw", reviews)
    spec = yaml.safe_load((SPEC_DIR / "beauty-s3rec.yaml").read_text())
    spec["prepare"]["items_file"] = None
    spec["prepare"]["item_fields"] = {}
    spec["prepare"].pop("expected")
    result = prepare(tmp_path, yaml.safe_dump(spec), raw)
    assert step(result, "k_core")["rounds"], "the fixture must exercise the k-core"
    sequences: dict[str, list[str]] = {}
    for user, item, _ in inter_rows(tmp_path):
        sequences.setdefault(user, []).append(item)
    assert [[u] + s for u, s in sequences.items()] == s3rec_reference(reviews, 5)


def test_llmesr_procedure_reproduced(tmp_path: Path) -> None:
    reviews = random_reviews(3, 900)
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = [json.dumps({"reviewerID": u, "asin": i, "overall": 5.0, "unixReviewTime": t}) for u, i, t in reviews]
    (raw / "AMAZON_FASHION.json").write_text("\n".join(lines) + "\n")
    spec = yaml.safe_load((SPEC_DIR / "fashion-llmesr.yaml").read_text())
    spec["prepare"].update(interactions_file="AMAZON_FASHION.json", items_file=None, item_fields={}, id_mapping="keep")
    spec["prepare"].pop("expected")
    prepare(tmp_path, yaml.safe_dump(spec), raw)
    sequences: dict[str, list[str]] = {}
    for user, item, _ in inter_rows(tmp_path):
        sequences.setdefault(user, []).append(item)
    assert sequences == llmesr_reference(reviews, 3, 3)
    assert list(sequences) == list(llmesr_reference(reviews, 3, 3))


@pytest.mark.parametrize("name", PAPER_SPECS)
def test_paper_specs_load_and_state_their_statistics(name: str) -> None:
    spec = load_dataset_spec(name)
    assert spec.path == SPEC_DIR / f"{name}.yaml"
    expected = spec.prepare.preprocess.expected
    assert expected is not None and expected.source
    assert (REPO_ROOT / "properties" / "dataset" / f"{name}.yaml").is_file()


def test_paper_statistics_values() -> None:
    counts = {name: dict(load_dataset_spec(name).prepare.preprocess.expected.counts) for name in PAPER_SPECS}
    assert counts["beauty-s3rec"] == {"users": 22_363, "items": 12_101, "interactions": 198_502}
    assert counts["fashion-llmesr"] == {"users": 9_049, "items": 4_722}
    assert counts["beauty-hsuga"] == {"users": 52_204, "items": 57_289}


# --------------------------------------------------------------------------- the real Beauty, end to end

SHARED_BEAUTY = REPO_ROOT.parent / "shared" / "data" / "amazon-beauty"


@pytest.mark.skipif(not (SHARED_BEAUTY / "interactions.txt").is_file(), reason="shared amazon-beauty data absent")
def test_beauty_s3rec_spec_rebuilds_amazon_beauty_from_a_review_dump(tmp_path: Path) -> None:
    """A reviews_Beauty_5-shaped dump made from S3-Rec's sequences: interleaved users, tied times.

    User u's j-th review gets time u + (j // 2) * 10**6 (pairs of reviews tie) and the file is
    sorted by time, so users first appear in id order and only the file order breaks ties;
    reviewer and product ids are strings unrelated to the numbering. The spec must give back
    amazon-beauty's sequences and numbering, and its statistics check must pass.
    """
    import gzip

    sequences: dict[int, list[int]] = {}
    for line in (SHARED_BEAUTY / "interactions.txt").read_text().splitlines():
        user, item = map(int, line.split())
        sequences.setdefault(user, []).append(item)
    reviews = sorted(((u + (j // 2) * 10**6, u, j, item) for u, items in sequences.items()
                      for j, item in enumerate(items)))
    raw = tmp_path / "raw"
    raw.mkdir()
    lines = (json.dumps({"reviewerID": f"R{u * 7919 % 100003:06d}", "asin": f"B{item * 104729 % 1000003:07d}",
                         "overall": 5.0, "unixReviewTime": t}) for t, u, _, item in reviews)
    (raw / "reviews_Beauty_5.json.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), 1))
    metas = []
    for line in (SHARED_BEAUTY / "items.jsonl").read_text().splitlines():
        item = json.loads(line)
        meta = {"asin": f"B{item['item_id'] * 104729 % 1000003:07d}", "categories": [item.get("categories") or []]}
        meta.update({k: item[k] for k in ("title", "brand", "price") if item.get(k) is not None})
        metas.append(repr(meta))  # Python literals, as in the 2014 metadata
    (raw / "meta_Beauty.json.gz").write_bytes(gzip.compress(("\n".join(metas) + "\n").encode(), 1))

    spec = load_dataset_spec("beauty-s3rec")
    result = prepare_dataset(spec, raw, tmp_path / "out", stats_check="fail")
    assert result.check["ok"] and result.check["actual"] == {"users": 22_363, "items": 12_101, "interactions": 198_502}
    assert step(result, "k_core")["rounds"] == []  # the 5-core file is a 5-core already
    assert step(result, "order")["tied_rows"] > 0
    written = (tmp_path / "out" / "beauty-s3rec" / "beauty-s3rec.inter").read_text().splitlines()[1:]
    expected = [f"{u}\t{i}\t{n}" for n, (u, i) in enumerate(
        (line.split() for line in (SHARED_BEAUTY / "interactions.txt").read_text().splitlines()), start=1)]
    assert written == expected
    assert result.counts["item_rows"] == 12_101 and result.counts["item_fields"]["title"]["present"] == 12_094
