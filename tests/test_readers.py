"""Readers of the raw formats ``prepare`` accepts: tiny fixtures written by each test.

Every format gets a happy path (counts, written order, item fields) and a broken line
whose error names the file, the line and the field in one line (exit status 2 via the CLI).
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from dataset_tools.__main__ import main as cli_main
from dataset_tools.prepare import RawDataError, prepare_dataset
from dataset_tools.prepare.sources.lines import is_gzip
from dataset_tools.spec import SpecError, load_dataset_spec


# --------------------------------------------------------------------------- helpers


def write_lines(path: Path, lines: list[str], gz: bool = False, encoding: str = "utf-8") -> Path:
    """Write ``lines`` (each followed by a newline), gzipped when ``gz``; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(line + "\n" for line in lines).encode(encoding)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_spec(tmp_path: Path, text: str, name: str = "ds") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def prepare(tmp_path: Path, spec_text: str, raw: Path, name: str = "ds", **kwargs):
    spec = load_dataset_spec(write_spec(tmp_path, spec_text, name), dataset_name=name)
    return prepare_dataset(spec, raw, tmp_path / "out", **kwargs)


def inter_rows(tmp_path: Path, name: str = "ds") -> list[list[str]]:
    lines = (tmp_path / "out" / name / f"{name}.inter").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "user_id:token\titem_id:token\ttimestamp:float"
    return [line.split("\t") for line in lines[1:]]


def item_rows(tmp_path: Path, name: str = "ds") -> tuple[list[str], dict[str, list[str]]]:
    header, *rows = (tmp_path / "out" / name / f"{name}.item").read_text(encoding="utf-8").splitlines()
    return header.split("\t"), {row.split("\t")[0]: row.split("\t") for row in rows}


def item_texts(tmp_path: Path, name: str = "ds") -> dict[str, dict]:
    path = tmp_path / "out" / name / f"{name}.item_text.jsonl"
    return {rec["item_id"]: rec for rec in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def assert_line_error(info: pytest.ExceptionInfo, path: Path, line: int, field: str | None) -> None:
    """One line naming file, line and (when given) field."""
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: "), message
    if field is not None:
        assert f"field '{field}'" in message, message


def assert_nothing_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert not out.exists() or not any(out.rglob("*.*"))


# --------------------------------------------------------------------------- Amazon 2014


def review14(user: str, item: str, t: int, rating: float = 5.0) -> str:
    return json.dumps({"reviewerID": user, "asin": item, "reviewerName": "x", "helpful": [0, 0],
                       "reviewText": "ok", "overall": rating, "summary": "s", "unixReviewTime": t,
                       "reviewTime": "01 01, 2014"})


AMAZON14_SPEC = """
prepare:
  format: amazon2014
  min_user_length: 2
  item_fields:
    title: {kind: text, required: true}
    brand: token
    categories: list
    price: float
"""


def amazon14_raw(root: Path) -> Path:
    # U1 reviews B and A at the same second: file order (B first) is the tie-break.
    write_lines(root / "reviews_Beauty_5.json.gz", [
        review14("U2", "A", 300),
        review14("U1", "B", 200),
        review14("U1", "A", 200),
        review14("U1", "C", 100),
        review14("U2", "C", 100),
        review14("U3", "A", 50),   # a user with one review: dropped by min_user_length 2
    ], gz=True)
    write_lines(root / "meta_Beauty.json.gz", [
        # Python literals, as in the 2014 dump: single quotes, nested category paths
        "{'asin': 'A', 'title': 'Rose Cream', 'brand': 'Acme', 'price': 3.5, "
        "'categories': [['Beauty', 'Skin Care'], ['Beauty', 'Face']], 'salesRank': {'Beauty': 12}}",
        "{'asin': 'B', 'title': \"L'Oreal \\\"Lip\\\" Balm\", 'categories': [['Beauty']], 'related': {'also_bought': ['A']}}",
        '{"asin": "C", "title": "JSON line in a literal file", "brand": null}',
        "{'asin': 'Z', 'title': 'Never reviewed'}",
    ], gz=True)
    return root


def test_amazon2014_gzipped_reviews_and_literal_meta(tmp_path: Path) -> None:
    raw = amazon14_raw(tmp_path / "raw")
    assert is_gzip(raw / "reviews_Beauty_5.json.gz")
    result = prepare(tmp_path, AMAZON14_SPEC, raw)
    # users in order of first appearance in the file; within a user by time, ties in file order
    assert inter_rows(tmp_path) == [
        ["U2", "C", "100"], ["U2", "A", "300"],
        ["U1", "C", "100"], ["U1", "B", "200"], ["U1", "A", "200"],
    ]
    c = result.counts
    assert (c["users"], c["items"], c["interactions"]) == (2, 3, 5)
    assert c["raw_interactions"] == 6 and c["dropped_users"] == 1
    order = next(s for s in result.steps if s["step"] == "order")
    assert order["tied_rows"] == 1 and order["users_with_ties"] == 1
    header, rows = item_rows(tmp_path)
    assert header == ["item_id:token", "title:token_seq", "brand:token", "categories:token_seq", "price:float"]
    assert rows["A"] == ["A", "Rose Cream", "Acme", "Beauty Skin_Care Face", "3.5"]
    assert rows["B"][1] == "L'Oreal 'Lip' Balm"
    assert rows["C"] == ["C", "JSON line in a literal file", "", "", ""]
    assert item_texts(tmp_path)["B"]["title"] == "L'Oreal \"Lip\" Balm"
    assert result.warnings["items_not_interacted"]["count"] == 1
    side = json.loads((tmp_path / "out" / "ds" / "ds.prepare.json").read_text())
    assert side["sources"]["format"] == "amazon2014"
    assert side["sources"]["interactions"]["path"].endswith("reviews_Beauty_5.json.gz")


def test_amazon2014_meta_is_never_evaluated_as_code(tmp_path: Path) -> None:
    raw = amazon14_raw(tmp_path / "raw")
    marker = tmp_path / "pwned"
    write_lines(raw / "meta_Beauty.json.gz", [
        f"{{'asin': 'A', 'title': __import__('pathlib').Path({str(marker)!r}).touch()}}",
    ], gz=True)
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, AMAZON14_SPEC, raw)
    assert_line_error(info, raw / "meta_Beauty.json.gz", 1, None)
    assert "not a Python literal or JSON" in str(info.value)
    assert not marker.exists()
    assert_nothing_written(tmp_path)


def test_amazon2014_broken_review_line_names_file_line_field(tmp_path: Path) -> None:
    raw = amazon14_raw(tmp_path / "raw")
    write_lines(raw / "reviews_Beauty_5.json.gz", [
        review14("U1", "A", 1),
        review14("U1", "B", 2),
        json.dumps({"reviewerID": "U2", "asin": "A", "overall": 4.0}),  # no time
    ], gz=True)
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, AMAZON14_SPEC, raw)
    assert_line_error(info, raw / "reviews_Beauty_5.json.gz", 3, "unixReviewTime")
    assert "missing" in str(info.value)
    assert_nothing_written(tmp_path)


def test_amazon2014_file_pattern_must_match_one_file(tmp_path: Path) -> None:
    raw = amazon14_raw(tmp_path / "raw")
    write_lines(raw / "reviews_Beauty.json.gz", [review14("U1", "A", 1)], gz=True)
    with pytest.raises(RawDataError, match="2 files match prepare.interactions_file 'reviews_\\*.json\\*'"):
        prepare(tmp_path, AMAZON14_SPEC, raw)
    named = AMAZON14_SPEC.replace("format: amazon2014", "format: amazon2014\n  interactions_file: reviews_Beauty_5.json.gz")
    assert prepare(tmp_path, named, raw).counts["interactions"] == 5


def test_amazon2014_without_meta_file_is_interactions_only(tmp_path: Path) -> None:
    raw = amazon14_raw(tmp_path / "raw")
    (raw / "meta_Beauty.json.gz").unlink()
    result = prepare(tmp_path, "prepare:\n  format: amazon2014\n  min_user_length: 2\n", raw)
    assert not result.has_item_text and result.warnings["no_item_text"]["count"] == 1


# --------------------------------------------------------------------------- Amazon 2018


def review18(user: str, item: str, t: int, rating=5.0) -> str:
    return json.dumps({"overall": rating, "verified": True, "reviewTime": "10 20, 2014", "reviewerID": user,
                       "asin": item, "style": {"Size:": " M"}, "reviewerName": "n", "unixReviewTime": t})


AMAZON18_SPEC = """
prepare:
  format: amazon2018
  interactions_file: AMAZON_FASHION.json.gz
  items_file: meta_AMAZON_FASHION.json.gz
  min_user_length: 1
  rating_threshold: 4
  item_fields:
    title: {kind: text}
    category: list
    price: float
"""


def test_amazon2018_json_and_duplicate_meta_records(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "AMAZON_FASHION.json.gz", [
        review18("U1", "A", 10), review18("U1", "B", 20, rating=2.0), review18("U2", "B", 5),
    ], gz=True)
    write_lines(raw / "meta_AMAZON_FASHION.json.gz", [
        json.dumps({"asin": "A", "title": "Shirt", "category": ["Fashion", "Men"], "price": "$12.99"}),
        json.dumps({"asin": "B", "title": "Hat", "category": [], "price": ""}),
        json.dumps({"asin": "A", "title": "Shirt (repeated record)"}),
    ], gz=True)
    result = prepare(tmp_path, AMAZON18_SPEC, raw)
    assert inter_rows(tmp_path) == [["U1", "A", "10"], ["U2", "B", "5"]]  # rating 2 < 4 removed
    step = next(s for s in result.steps if s["step"] == "rating_threshold")
    assert step["removed_interactions"] == 1 and step["keep_rating_at_least"] == 4.0
    _, rows = item_rows(tmp_path)
    assert rows["A"] == ["A", "Shirt", "Fashion Men", "12.99"]
    assert result.warnings["duplicate_item_records"]["count"] == 1
    assert "meta_AMAZON_FASHION.json.gz:3: item A (first at line 1)" in \
        result.warnings["duplicate_item_records"]["examples"][0]


def test_amazon2018_bad_rating_names_field(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "AMAZON_FASHION.json.gz", [review18("U1", "A", 10), review18("U1", "B", 20, rating="five")],
                gz=True)
    write_lines(raw / "meta_AMAZON_FASHION.json.gz", [json.dumps({"asin": "A"})], gz=True)
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, AMAZON18_SPEC, raw)
    assert_line_error(info, raw / "AMAZON_FASHION.json.gz", 2, "overall")


def test_amazon2018_reviews_must_be_json(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "AMAZON_FASHION.json.gz", [review18("U1", "A", 10), "{'reviewerID': 'U1'"], gz=True)
    write_lines(raw / "meta_AMAZON_FASHION.json.gz", [json.dumps({"asin": "A"})], gz=True)
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, AMAZON18_SPEC, raw)
    assert_line_error(info, raw / "AMAZON_FASHION.json.gz", 2, None)
    assert "not valid JSON" in str(info.value)


def test_amazon2018_needs_a_named_reviews_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="prepare.interactions_file: format amazon2018 has no default"):
        load_dataset_spec(write_spec(tmp_path, "prepare:\n  format: amazon2018\n"))


# --------------------------------------------------------------------------- Amazon 2023


AMAZON23_SPEC = """
prepare:
  format: amazon2023
  interactions_file: All_Beauty.jsonl
  items_file: meta_All_Beauty.jsonl
  min_user_length: 1
  item_fields:
    title: text
    store: token
    categories: list
"""


def review23(user: str, parent: str, ms: int) -> str:
    return json.dumps({"rating": 5.0, "title": "t", "text": "x", "images": [], "asin": parent + "-v1",
                       "parent_asin": parent, "user_id": user, "timestamp": ms, "helpful_vote": 0,
                       "verified_purchase": True})


def test_amazon2023_parent_asin_and_milliseconds(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "All_Beauty.jsonl", [review23("U1", "P2", 1588687728923), review23("U1", "P1", 1588687728000)])
    write_lines(raw / "meta_All_Beauty.jsonl", [
        json.dumps({"parent_asin": "P1", "title": "Serum", "store": "Glow", "categories": ["Beauty", "Skin"],
                    "price": None, "details": {"Brand": "Glow"}}),
        json.dumps({"parent_asin": "P2", "title": "Comb", "store": None, "categories": []}),
    ])
    result = prepare(tmp_path, AMAZON23_SPEC, raw)
    assert inter_rows(tmp_path) == [["U1", "P1", "1588687728"], ["U1", "P2", "1588687728.923"]]
    assert result.counts["items"] == 2
    assert item_rows(tmp_path)[1]["P1"] == ["P1", "Serum", "Glow", "Beauty Skin"]
    side = json.loads((tmp_path / "out" / "ds" / "ds.prepare.json").read_text())
    assert "milliseconds / 1000" in side["sources"]["time_unit"]


def test_amazon2023_bad_timestamp_names_field(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    bad = json.loads(review23("U1", "P1", 1))
    bad["timestamp"] = "yesterday"
    write_lines(raw / "All_Beauty.jsonl", [review23("U1", "P2", 5), json.dumps(bad)])
    write_lines(raw / "meta_All_Beauty.jsonl", [json.dumps({"parent_asin": "P1"})])
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, AMAZON23_SPEC, raw)
    assert_line_error(info, raw / "All_Beauty.jsonl", 2, "timestamp")


# --------------------------------------------------------------------------- MovieLens


ML1M_SPEC = """
prepare:
  format: ml-1m
  min_user_length: 1
  item_fields:
    title: text
    genres: list
    year: {kind: token, item_text: false}
"""


def test_ml1m_dat_files_latin1_movies(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "ratings.dat", ["1::1193::5::978300760", "1::661::3::978302109", "2::1193::4::978298413"])
    write_lines(raw / "movies.dat", ["1193::One Flew Over the Cuckoo's Nest (1975)::Drama",
                                     "661::James and the Giant Peach (1996)::Animation|Children's|Musical",
                                     "3::Café au lait (1993)::Comedy"], encoding="latin-1")
    result = prepare(tmp_path, ML1M_SPEC, raw)
    assert inter_rows(tmp_path) == [["1", "1193", "978300760"], ["1", "661", "978302109"], ["2", "1193", "978298413"]]
    assert result.counts["items_not_interacted"] == 1
    texts = item_texts(tmp_path)
    assert texts["661"] == {"item_id": "661", "title": "James and the Giant Peach (1996)",
                            "genres": ["Animation", "Children's", "Musical"]}
    assert item_rows(tmp_path)[1]["1193"][-1] == "1975"


def test_ml1m_broken_lines(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "ratings.dat", ["1::1193::5::978300760", "1::661::five::978302109"])
    write_lines(raw / "movies.dat", ["1193::A (1975)::Drama"], encoding="latin-1")
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, ML1M_SPEC, raw)
    assert_line_error(info, raw / "ratings.dat", 2, "Rating")
    write_lines(raw / "ratings.dat", ["1::1193::5::978300760", "1::661::5"])
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, ML1M_SPEC, raw)
    assert_line_error(info, raw / "ratings.dat", 2, None)
    assert "expected 4 fields (UserID, MovieID, Rating, Timestamp), got 3" in str(info.value)


ML20M_SPEC = """
prepare:
  format: ml-20m
  min_user_length: 1
  rating_threshold: 3.5
  item_fields:
    title: text
    genres: {kind: list, missing_values: ["(no genres listed)"]}
"""


def test_ml20m_csv_with_quoted_titles(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "ratings.csv", ["userId,movieId,rating,timestamp", "1,2,3.5,1112486027",
                                      "1,29,3.0,1112484676", "7,29,4.5,1112484727"])
    write_lines(raw / "movies.csv", ["movieId,title,genres", '2,"American President, The (1995)",Comedy|Drama',
                                     "29,City of Lost Children (1995),(no genres listed)"])
    result = prepare(tmp_path, ML20M_SPEC, raw)
    assert inter_rows(tmp_path) == [["1", "2", "1112486027"], ["7", "29", "1112484727"]]
    assert result.counts["interactions"] == 2
    texts = item_texts(tmp_path)
    assert texts["2"]["title"] == "American President, The (1995)"
    assert texts["29"] == {"item_id": "29", "title": "City of Lost Children (1995)"}


def test_ml20m_broken_header_and_id(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "ratings.csv", ["user,movie,rating,timestamp", "1,2,3.5,1"])
    write_lines(raw / "movies.csv", ["movieId,title,genres"])
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, ML20M_SPEC, raw)
    assert_line_error(info, raw / "ratings.csv", 1, None)
    assert "expected the header userId,movieId,rating,timestamp" in str(info.value)
    write_lines(raw / "ratings.csv", ["userId,movieId,rating,timestamp", "1,2,3.5,1", "1,x2,3.5,1"])
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, ML20M_SPEC, raw)
    assert_line_error(info, raw / "ratings.csv", 3, "movieId")


# --------------------------------------------------------------------------- Yelp


YELP_SPEC = """
prepare:
  format: yelp
  min_user_length: 1
  item_fields:
    title: {kind: text, source: name}
    city: token
    categories: list
"""


def yelp_review(user: str, business: str, date: str, stars: float = 4.0) -> str:
    return json.dumps({"review_id": "r", "user_id": user, "business_id": business, "stars": stars,
                       "useful": 0, "funny": 0, "cool": 0, "text": "good", "date": date})


def test_yelp_reviews_and_businesses(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "yelp_academic_dataset_review.json", [
        yelp_review("u1", "b2", "2019-01-02 10:00:00"), yelp_review("u1", "b1", "2019-01-01 10:00:00")])
    write_lines(raw / "yelp_academic_dataset_business.json", [
        json.dumps({"business_id": "b1", "name": "Pizza Place", "city": "Las Vegas",
                    "categories": "Pizza, Restaurants", "attributes": {"WiFi": "u'free'"}, "hours": None}),
        json.dumps({"business_id": "b2", "name": "Gym", "city": "Phoenix", "categories": None}),
    ])
    prepare(tmp_path, YELP_SPEC, raw)
    assert inter_rows(tmp_path) == [["u1", "b1", "1546336800"], ["u1", "b2", "1546423200"]]
    assert item_texts(tmp_path)["b1"] == {"item_id": "b1", "title": "Pizza Place", "city": "Las Vegas",
                                          "categories": ["Pizza", "Restaurants"]}


def test_yelp_bad_date_names_field(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "yelp_academic_dataset_review.json", [yelp_review("u1", "b1", "01/02/2019")])
    write_lines(raw / "yelp_academic_dataset_business.json", [json.dumps({"business_id": "b1", "name": "x"})])
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, YELP_SPEC, raw)
    assert_line_error(info, raw / "yelp_academic_dataset_review.json", 1, "date")


# --------------------------------------------------------------------------- Steam


STEAM_SPEC = """
prepare:
  format: steam
  min_user_length: 1
  item_fields:
    title: {kind: text, source: app_name}
    genres: list
    specs: list
    price: {kind: float, item_text: false}
"""


def test_steam_python_literal_lines(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "steam_reviews.json.gz", [
        "{'username': 'Chaos Syren', 'hours': 0.1, 'products': 41, 'product_id': '725280', 'page_order': 0, "
        "'date': '2017-12-17', 'text': 'This would not be acceptable', 'early_access': False, 'page': 1}",
        "{'username': 'Chaos Syren', 'product_id': '328100', 'date': '2017-12-17', 'text': 'same day', "
        "'early_access': False}",
        "{'username': 'hello', 'user_id': '7656', 'product_id': '725280', 'date': '2017-12-01', 'compensation': "
        "'Product received for free'}",
    ], gz=True)
    write_lines(raw / "steam_games.json.gz", [
        "{'publisher': 'Kotoshiro', 'genres': ['Action', 'Casual'], 'app_name': 'Lost Summoner Kitty', "
        "'title': 'Lost Summoner Kitty', 'specs': ['Single-player'], 'price': 4.99, 'early_access': False, "
        "'id': '725280', 'developer': 'Kotoshiro'}",
        "{'app_name': 'No id here', 'genres': ['Indie']}",
        "{'app_name': 'Gunspell', 'genres': ['RPG'], 'price': 'Free To Play', 'id': '328100', 'specs': None}",
    ], gz=True)
    result = prepare(tmp_path, STEAM_SPEC, raw)
    # same day: file order
    assert inter_rows(tmp_path) == [["Chaos Syren", "725280", "1513468800"], ["Chaos Syren", "328100", "1513468800"],
                                    ["hello", "725280", "1512086400"]]
    assert result.warnings["item_records_without_id"]["count"] == 1
    assert result.warnings["bad_value.price"]["count"] == 1  # 'Free To Play' is not a number
    assert item_texts(tmp_path)["725280"] == {"item_id": "725280", "title": "Lost Summoner Kitty",
                                              "genres": ["Action", "Casual"], "specs": ["Single-player"]}


def test_steam_broken_literal_line(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "steam_reviews.json.gz", [
        "{'username': 'a', 'product_id': '1', 'date': '2017-12-17'}",
        "{'username': 'b', 'product_id': '1', 'date': '2017-12-17'",  # cut off
    ], gz=True)
    write_lines(raw / "steam_games.json.gz", ["{'id': '1', 'app_name': 'x'}"], gz=True)
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, STEAM_SPEC, raw)
    assert_line_error(info, raw / "steam_reviews.json.gz", 2, None)


# --------------------------------------------------------------------------- RecBole atomic files


ATOMIC_SPEC = """
prepare:
  format: atomic
  min_user_length: 1
  item_fields:
    title: {kind: text, required: true}
    categories: list
    price: float
"""


def write_atomic(raw: Path, inter: list[str], item: list[str] | None = None, stem: str = "Amazon_Beauty") -> Path:
    write_lines(raw / f"{stem}.inter", inter)
    if item is not None:
        write_lines(raw / f"{stem}.item", item)
    return raw


def test_atomic_files_with_rating_and_timestamp(tmp_path: Path) -> None:
    raw = write_atomic(tmp_path / "raw", [
        "user_id:token\titem_id:token\trating:float\ttimestamp:float",
        "A1\tI2\t5.0\t1300000000", "A1\tI1\t4.0\t1200000000", "A2\tI1\t1.0\t1250000000",
    ], [
        "item_id:token\ttitle:token_seq\tcategories:token_seq\tprice:float\tbrand:token",
        "I1\tRose Cream\tBeauty Skin_Care\t3.5\tAcme", "I2\tLip Balm\t\t\t",
    ])
    spec = ATOMIC_SPEC.replace("min_user_length: 1", "min_user_length: 1\n  rating_threshold: 3")
    result = prepare(tmp_path, spec, raw)
    assert inter_rows(tmp_path) == [["A1", "I1", "1200000000"], ["A1", "I2", "1300000000"]]
    assert result.counts["users"] == 1
    _, rows = item_rows(tmp_path)
    assert rows == {"I1": ["I1", "Rose Cream", "Beauty Skin_Care", "3.5"], "I2": ["I2", "Lip Balm", "", ""]}
    assert item_texts(tmp_path)["I1"]["categories"] == ["Beauty", "Skin_Care"]


def test_atomic_order_column_and_custom_names(tmp_path: Path) -> None:
    raw = write_atomic(tmp_path / "raw", [
        "uid:token\tiid:token\tpos:float", "u\tb\t2", "u\ta\t1", "v\ta\t1", "v\tc\t1",
    ], stem="mine")
    spec = ("prepare:\n  format: atomic\n  items_file: null\n  min_user_length: 1\n  timestamps: row\n"
            "  source_keys: {user: uid, item: iid, order: pos}\n")
    result = prepare(tmp_path, spec, raw)
    # ordered by the order column; v's tie keeps file order; row numbers as timestamps
    assert inter_rows(tmp_path) == [["u", "a", "1"], ["u", "b", "2"], ["v", "a", "3"], ["v", "c", "4"]]
    assert result.files["item"] is None


def test_atomic_without_time_column_uses_file_order(tmp_path: Path) -> None:
    raw = write_atomic(tmp_path / "raw", ["user_id:token\titem_id:token", "u\tb", "u\ta"])
    result = prepare(tmp_path, "prepare:\n  format: atomic\n  min_user_length: 1\n", raw)
    assert inter_rows(tmp_path) == [["u", "b", "2"], ["u", "a", "3"]]  # line numbers
    assert result.warnings["no_time_column"]["count"] == 1


@pytest.mark.parametrize(
    "inter, line, field, fragment",
    [
        (["user_id:token\titem_id:tok\ttimestamp:float"], 1, "item_id", "unknown type 'tok'"),
        (["user_id:token\titem_id:token\ttimestamp:float", "u\ti\t1", "u\ti"], 3, None, "expected 3 tab-separated"),
        (["user_id:token\titem_id:token\ttimestamp:float", "u\ti\tnoon"], 2, "timestamp", "expected a number"),
        (["user_id:token\titem_id:token\ttimestamp:float", "\ti\t1"], 2, "user_id", "expected an id"),
        (["uid:token\titem_id:token\ttimestamp:float", "u\ti\t1"], 1, "user_id", "not in the header"),
    ],
)
def test_atomic_broken_lines(tmp_path: Path, inter, line, field, fragment) -> None:
    raw = write_atomic(tmp_path / "raw", inter)
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, "prepare:\n  format: atomic\n  min_user_length: 1\n", raw)
    assert_line_error(info, raw / "Amazon_Beauty.inter", line, field)
    assert fragment in str(info.value)


def test_atomic_duplicate_item_row(tmp_path: Path) -> None:
    raw = write_atomic(tmp_path / "raw", ["user_id:token\titem_id:token\ttimestamp:float", "u\tI1\t1"],
                       ["item_id:token\ttitle:token_seq", "I1\tA", "I1\tB"])
    with pytest.raises(RawDataError) as info:
        prepare(tmp_path, ATOMIC_SPEC, raw)
    assert_line_error(info, raw / "Amazon_Beauty.item", 3, "item_id")


# --------------------------------------------------------------------------- raw layout, CLI


def test_raw_layout_reads_gzipped_interactions_by_magic_bytes(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "interactions.txt", ["1 1", "1 2", "1 3"], gz=True)  # no .gz suffix
    result = prepare(tmp_path, "prepare:\n  items_file: null\n", raw)
    assert result.counts["interactions"] == 3 and inter_rows(tmp_path)[2] == ["1", "3", "3"]


def test_cli_broken_line_is_one_line_and_status_2(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = tmp_path / "raw"
    write_lines(raw / "ratings.dat", ["1::1193::5::978300760", "1::x::5::978300760"])
    spec = write_spec(tmp_path, "prepare:\n  format: ml-1m\n  items_file: null\n  min_user_length: 1\n")
    with caplog.at_level(logging.ERROR):
        status = cli_main(["prepare", "ml", "--raw", str(raw), "--out", str(tmp_path / "out"), "--spec", str(spec)])
    assert status == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"{raw / 'ratings.dat'}:2: field 'MovieID': expected an integer id, got 'x'"]
    assert_nothing_written(tmp_path)
