"""benchmarks/user_vector_quality.py: the model-free comparison of user-vector files
(HSU against history text) scores what it says, on hand-made vectors whose ranks and
neighbours are known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dataset_tools.formats.features import ITEM_FIELDS, write_feature_file


@pytest.fixture
def quality(import_benchmark):
    return import_benchmark("user_vector_quality")


def test_neighbour_share_and_chance_count_the_users_holding_the_target(quality):
    # nearest pairs by cosine: 0<->1 and 2<->3
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], dtype=np.float32)
    train_sets = [{1}, {5}, {7}, {8}]
    targets = np.array([5, 7, 7, 9])
    neighbours = quality.neighbour_lists(vectors, 1)
    assert [n.tolist() for n in neighbours] == [[1], [0], [3], [2]]
    assert quality.neighbour_shares(neighbours, train_sets, targets).tolist() == [1.0, 0.0, 0.0, 0.0]
    # user 2's own training items hold its target 7; they do not count as another user's
    assert quality.chance_shares(train_sets, targets).tolist() == pytest.approx([1 / 3, 1 / 3, 0.0, 0.0])


def test_shared_neighbours_is_the_overlap_with_the_base_files_neighbours(quality):
    base = [np.array([1, 2]), np.array([0, 2]), np.array([0, 1])]
    other = [np.array([2, 1]), np.array([2, 0]), np.array([3, 4])]
    assert quality.shared_neighbours(other, base) == pytest.approx(2 / 3)
    assert quality.shared_neighbours(base, base) == 1.0


def test_vector_structure_counts_duplicates_and_mean_cosines(quality):
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert quality.vector_structure(vectors, 1) == pytest.approx(
        {"distinct_share": 2 / 3, "mean_top1_cosine": 2 / 3, "mean_pair_cosine": 1 / 3})


def test_retrieval_ranks_mask_training_items_and_count_ties_against_the_target(quality):
    items = np.eye(4, dtype=np.float32)
    users = np.array([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    train_rows = [np.array([0]), np.array([0, 1])]
    # user 0 points at its target; user 1 points at a training item, so items 2 and 3 tie at 0
    assert quality.retrieval_ranks(users, items, train_rows, np.array([2, 3])).tolist() == [1, 2]
    popularity = np.array([5.0, 4.0, 3.0, 1.0])
    assert quality.retrieval_ranks(None, popularity, train_rows, np.array([2, 3])).tolist() == [2, 2]


def test_report_compares_files_on_the_users_they_share(quality, tmp_path, write_inter):
    folder = tmp_path / "toy"
    items = [str(i) for i in range(1, 9)]
    sequences = {f"u{u}": [items[(u + j) % 8] for j in range(5)] for u in range(12)}
    write_inter(folder / "toy.inter", sequences)
    item_vectors = np.eye(8, dtype=np.float32)
    write_feature_file(folder / "toy.itememb", items, item_vectors, {"kind": "item"}, fields=ITEM_FIELDS)
    users = list(sequences)
    # "oracle" is each user's validation item's own vector; "noise" covers two users fewer
    oracle = np.stack([item_vectors[items.index(sequences[u][-2])] for u in users])
    write_feature_file(folder / "toy.useremb_oracle", users, oracle, {"kind": "user"})
    noise = np.random.default_rng(0).normal(size=(10, 8)).astype(np.float32)
    write_feature_file(folder / "toy.useremb_noise", users[:10], noise, {"kind": "user"})
    out = tmp_path / "report.json"
    quality.main(["--data", str(tmp_path), "--dataset", "toy", "--vectors", "useremb_noise", "--vectors",
                  "useremb_oracle", "--k", "3", "--cutoff", "1", "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["users_compared"] == 10 and report["users_per_file"] == {"useremb_noise": 10, "useremb_oracle": 12}
    assert report["group_sizes"]["head_users"] + report["group_sizes"]["tail_users"] == 10
    assert report["files"]["useremb_oracle"]["all"]["hit@1"] == 1.0
    assert report["files"]["useremb_oracle"]["all"]["ndcg@1"] == 1.0
    assert report["files"]["useremb_oracle"]["all"]["p_ndcg"] is not None
    # the compared users' validation items are items 3, 4, 5, 6, 7, 0, 1, 2, 3, 4: 8 distinct of 10
    assert report["structure"]["useremb_oracle"]["distinct_share"] == pytest.approx(0.8)
    assert report["structure"]["useremb_noise"]["shared_neighbours@3"] == 1.0
    assert set(report["popularity"]["all"]) == {"hit@1", "ndcg@1"}
