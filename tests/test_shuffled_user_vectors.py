"""benchmarks/shuffled_user_vectors.py: the control file gives every user another user's vector,
keeps the set of vectors and the source's held-out record, and names its source."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dataset_tools.formats.features import read_feature_file, write_feature_file


@pytest.fixture
def shuffle(import_benchmark):
    return import_benchmark("shuffled_user_vectors")


@pytest.mark.parametrize("n", [2, 3, 17, 500])
def test_derangement_moves_every_user(shuffle, n):
    permutation = shuffle.derangement(n, seed=n)
    assert sorted(permutation.tolist()) == list(range(n))
    assert not np.any(permutation == np.arange(n))


def test_the_control_file_permutes_the_source_rows(shuffle, tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    tokens = [f"u{i}" for i in range(12)]
    vectors = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    held_out = {"per_user": 2, "items": {t: ["i1", "i2"] for t in tokens}}
    write_feature_file(folder / "toy.useremb_text", tokens, vectors, {"extractor": "text", "held_out": held_out})

    shuffle.main(["--data", str(tmp_path), "--dataset", "toy", "--vectors", "useremb_text", "--seed", "3"])

    out_tokens, out_vectors, sidecar = read_feature_file(folder / "toy.useremb_text_shuffled")
    assert out_tokens == tokens
    distances = np.linalg.norm(out_vectors[:, None, :] - vectors[None, :, :], axis=2)
    assert np.allclose(distances.min(axis=1), 0, atol=1e-5)  # every row is a source row
    moved_to = distances.argmin(axis=1).tolist()
    assert sorted(moved_to) == list(range(12)) and all(src != row for row, src in enumerate(moved_to))
    assert sidecar["held_out"] == held_out and sidecar["extractor"] == "text"
    assert sidecar["control"] == {"shuffled_from": "useremb_text", "seed": 3}
    assert json.loads((folder / "toy.useremb_text_shuffled.json").read_text())["rows"] == 12


def test_a_missing_source_is_one_clear_error(shuffle, tmp_path):
    from recbole_hsuga.errors import InputError

    with pytest.raises(InputError, match="toy.useremb: feature file not found"):
        shuffle.main(["--data", str(tmp_path), "--dataset", "toy", "--vectors", "useremb"])
