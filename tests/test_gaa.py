"""GAA pieces on hand-built inputs with known answers: retrieval, Pearson filter, group
split, cache, self-distillation loss, and the semantic vectors' id remapping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recbole_hsuga.gaa import neighbours as neighbours_module
from recbole_hsuga.gaa.loss import NeighbourCSR, self_distillation_loss
from recbole_hsuga.gaa.neighbours import GAAParams, build_neighbour_sets
from recbole_hsuga.gaa.pearson import binary_interaction_matrix, pairwise_binary_pearson
from recbole_hsuga.data.dataset import remap_vectors


def unit(degrees: float) -> list[float]:
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]


def lists(sets) -> dict[int, list[int]]:
    return {u: sets.neighbours_of(u).tolist() for u in range(sets.n_users)}


def no_pairs():
    return np.zeros(0, np.int64), np.zeros(0, np.int64)


@pytest.fixture
def angle_users():
    """Users 1-5 on the unit circle at 0, 10, 30, 65, 110 degrees (no ties); user 6 lies at 5 degrees
    (closest to everyone) but has no vector; user 0 is RecBole's padding user."""
    vectors = np.array([[0, 0], unit(0), unit(10), unit(30), unit(65), unit(110), unit(5)], dtype=np.float32)
    # Scale some rows: cosine retrieval must not care about norms.
    vectors[3] *= 7.0
    has_vector = np.array([False, True, True, True, True, True, False])
    return vectors, has_vector


def test_uniform_cosine_top_k_excludes_self_and_users_without_vectors(angle_users):
    vectors, has_vector = angle_users
    counts = np.array([0, 5, 5, 5, 5, 5, 50])
    sets = build_neighbour_sets(vectors, has_vector, counts, *no_pairs(), n_items=3,
                                params=GAAParams(k_active=1, k_longtail=2, group_aware=False))
    assert lists(sets) == {0: [], 1: [2, 3], 2: [1, 3], 3: [2, 1], 4: [3, 5], 5: [4, 3], 6: []}
    assert not sets.eligible[0] and not sets.eligible[6]
    assert sets.stats["n_without_vector"] == 1


def test_group_aware_k_per_group(angle_users):
    vectors, has_vector = angle_users
    # User 6 has the most interactions but no vector: it must not take the single active slot.
    counts = np.array([0, 5, 6, 7, 9, 8, 50])
    sets = build_neighbour_sets(vectors, has_vector, counts, *no_pairs(), n_items=3,
                                params=GAAParams(k_active=1, k_longtail=3, active_ratio=0.2, active_filter=False))
    assert sets.is_active.tolist() == [False, False, False, False, True, False, False]
    assert lists(sets)[4] == [3]
    assert lists(sets)[1] == [2, 3, 4]
    assert lists(sets)[5] == [4, 3, 2]
    assert sets.stats["groups"]["active"]["users"] == 1
    assert sets.stats["groups"]["longtail"]["mean_neighbours"] == 3.0


def test_k_larger_than_population_returns_everyone_else(angle_users):
    vectors, has_vector = angle_users
    sets = build_neighbour_sets(vectors, has_vector, np.array([0, 1, 1, 1, 1, 1, 1]), *no_pairs(), n_items=3,
                                params=GAAParams(k_active=18, k_longtail=18, group_aware=False))
    assert sorted(lists(sets)[3]) == [1, 2, 4, 5]


def test_active_split_at_the_boundary_breaks_ties_by_smaller_id():
    rng = np.random.default_rng(0)
    n = 11  # padding + 10 users
    vectors = rng.normal(size=(n, 4)).astype(np.float32)
    has_vector = np.ones(n, bool)
    # Ranking by count: user 3 (9), then users 5 and 8 tie at 7 for the second (last) slot.
    counts = np.array([99, 1, 2, 9, 1, 7, 2, 1, 7, 3, 1])
    sets = build_neighbour_sets(vectors, has_vector, counts, *no_pairs(), n_items=3,
                                params=GAAParams(k_active=2, k_longtail=4, active_ratio=0.2, active_filter=False))
    assert np.flatnonzero(sets.is_active).tolist() == [3, 5]  # padding user 0 is never active
    assert all(len(sets.neighbours_of(u)) == (2 if u in (3, 5) else 4) for u in range(1, n))


@pytest.fixture
def pearson_case():
    """User 1 (active) sees, in decreasing cosine order, users 5, 4, 3, 2, whose Pearson
    similarity to user 1 (on training items) increases: 2 > 3 > 4 > 5."""
    vectors = np.array([[0, 0], unit(0), unit(50), unit(30), unit(15), unit(5)], dtype=np.float32)
    has_vector = np.ones(6, bool)
    has_vector[0] = False
    items = {1: [1, 2, 3, 4], 2: [1, 2, 3, 4], 3: [1, 2, 5, 6], 4: [1, 7, 8, 9], 5: [7, 8, 9, 10]}
    users = np.array([u for u, its in items.items() for _ in its])
    item_ids = np.array([i for its in items.values() for i in its])
    counts = np.array([0, 100, 4, 4, 4, 4])
    return vectors, has_vector, counts, users, item_ids, items


def test_pearson_matches_numpy_corrcoef(pearson_case):
    *_, users, item_ids, items = pearson_case
    matrix = binary_interaction_matrix(users, item_ids, n_users=6, n_items=11)
    dense = matrix.toarray()[:, 1:]  # column 0 is RecBole's padding item
    got = pairwise_binary_pearson(matrix, np.array([1, 1, 1, 1]), np.array([2, 3, 4, 5]))
    expected = [np.corrcoef(dense[1], dense[v])[0, 1] for v in (2, 3, 4, 5)]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert got[0] == pytest.approx(1.0) and list(got) == sorted(got, reverse=True)


def test_pearson_of_a_constant_vector_is_zero():
    matrix = binary_interaction_matrix(np.array([1, 1, 2]), np.array([1, 2, 1]), n_users=3, n_items=3)
    # user 1 has every item: no variance, no defined correlation.
    assert pairwise_binary_pearson(matrix, np.array([1]), np.array([2])).tolist() == [0.0]


@pytest.mark.parametrize("percentile, kept", [(0.0, [5, 4, 3, 2]), (50.0, [3, 2]), (60.0, [3, 2]),
                                              (200.0 / 3.0, [3, 2]), (75.0, [2]), (100.0, [2])])
def test_active_users_keep_candidates_at_or_above_their_percentile(pearson_case, percentile, kept):
    # Pearson of user 1 with 5, 4, 3, 2 = -2/3, -1/4, 1/6, 1 (n = 10 items). With numpy's
    # linear interpolation the 200/3-th percentile is exactly 1/6: that candidate is kept.
    vectors, has_vector, counts, users, item_ids, _ = pearson_case
    params = GAAParams(k_active=4, k_longtail=2, active_ratio=0.2, pearson_percentile=percentile)
    sets = build_neighbour_sets(vectors, has_vector, counts, users, item_ids, n_items=11, params=params)
    assert sets.is_active.tolist() == [False, True, False, False, False, False]
    assert lists(sets)[1] == kept  # still in cosine order
    assert lists(sets)[5] == [1, 4]  # long-tail users are never filtered
    assert sets.stats["groups"]["active"]["filtered_out"] == 4 - len(kept)


def test_filter_switches(pearson_case):
    vectors, has_vector, counts, users, item_ids, _ = pearson_case
    no_filter = build_neighbour_sets(vectors, has_vector, counts, users, item_ids, n_items=11, params=GAAParams(
        k_active=4, k_longtail=2, pearson_percentile=50.0, active_filter=False))
    assert lists(no_filter)[1] == [5, 4, 3, 2]
    uniform = build_neighbour_sets(vectors, has_vector, counts, users, item_ids, n_items=11, params=GAAParams(
        k_active=4, k_longtail=2, pearson_percentile=50.0, group_aware=False))
    assert lists(uniform)[1] == [5, 4]  # k_longtail for everyone and no filter


def test_neighbour_sets_are_cached_by_their_inputs(pearson_case, tmp_path, monkeypatch):
    vectors, has_vector, counts, users, item_ids, _ = pearson_case
    params = GAAParams(k_active=4, k_longtail=2, pearson_percentile=50.0)
    first = build_neighbour_sets(vectors, has_vector, counts, users, item_ids, 11, params, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(neighbours_module, "_compute_neighbour_sets", fail)
    # Same inputs, pairs in another order: served from the cache.
    order = np.arange(len(users))[::-1]
    again = build_neighbour_sets(vectors, has_vector, counts, users[order], item_ids[order], 11, params,
                                 cache_dir=tmp_path)
    assert lists(again) == lists(first) and again.stats == first.stats
    monkeypatch.undo()
    # A changed training pair or parameter is a new key.
    build_neighbour_sets(vectors, has_vector, counts, users, np.where(item_ids == 10, 9, item_ids), 11, params,
                         cache_dir=tmp_path)
    build_neighbour_sets(vectors, has_vector, counts, users, item_ids, 11,
                         GAAParams(k_active=4, k_longtail=2, pearson_percentile=25.0), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_invalid_parameters_are_named():
    with pytest.raises(ValueError, match="gaa_pearson_percentile"):
        GAAParams(pearson_percentile=150)
    with pytest.raises(ValueError, match="gaa_k_active"):
        GAAParams(k_active=0)


def csr(lists_by_user: dict[int, list[int]], n_users: int) -> NeighbourCSR:
    indptr = np.zeros(n_users + 1, np.int64)
    for u in range(n_users):
        indptr[u + 1] = indptr[u] + len(lists_by_user.get(u, []))
    indices = np.array([v for u in range(n_users) for v in lists_by_user.get(u, [])], np.int64)
    return NeighbourCSR.from_numpy(indptr, indices)


def test_self_distillation_loss_hand_computed():
    teacher = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [4.0, 4.0]], requires_grad=True)
    neighbours = csr({1: [2, 3], 2: [1]}, n_users=4)
    student = torch.tensor([[1.0, 1.0], [0.0, 0.0], [5.0, 5.0], [1.0, 0.0]], requires_grad=True)
    users = torch.tensor([1, 2, 3, 1])
    # row 0: mean(teacher 2, 3) = (2, 3); |(1,1)-(2,3)|^2 = 1 + 4 = 5
    # row 1: teacher 1 = (1, 0); |(0,0)-(1,0)|^2 = 1
    # row 2: user 3 has no neighbour -> not counted
    # row 3: (1,0)-(2,3) -> 1 + 9 = 10
    loss = self_distillation_loss(student, users, teacher, neighbours)
    assert loss.item() == pytest.approx((5 + 1 + 10) / 3)
    # "mean" divides each squared distance by d = 2 (nn.MSELoss's scale in the reference code).
    mean_loss = self_distillation_loss(student, users, teacher, neighbours, reduction="mean")
    assert mean_loss.item() == pytest.approx((5 + 1 + 10) / 3 / 2)
    with pytest.raises(ValueError, match="reduction"):
        self_distillation_loss(student, users, teacher, neighbours, reduction="max")
    loss.backward()
    assert teacher.grad is None  # stop-gradient into the teacher by default
    assert student.grad[2].abs().sum() == 0 and student.grad[0].abs().sum() > 0

    teacher.grad = None
    self_distillation_loss(student, users, teacher, neighbours, detach_teacher=False).backward()
    assert teacher.grad is not None and teacher.grad[3].abs().sum() > 0


def test_self_distillation_loss_without_neighbours_is_zero_and_backpropagates():
    student = torch.ones(2, 3, requires_grad=True)
    loss = self_distillation_loss(student, torch.tensor([1, 2]), torch.zeros(4, 3), csr({}, 4))
    loss.backward()
    assert loss.item() == 0.0 and student.grad is not None


def test_remap_survives_a_permutation_of_raw_ids():
    rng = np.random.default_rng(1)
    tokens = [f"user{i}" for i in range(6)]
    vectors = {t: rng.normal(size=3).astype(np.float32) for t in tokens}
    # Two RecBole id assignments (e.g. different row orders of the .inter file) and a file
    # in a third order, plus a row for a user RecBole filtered out.
    for seed in (0, 1):
        order = np.random.default_rng(seed).permutation(tokens[:5])  # user5 has no vector
        token_to_id = {"[PAD]": 0, **{t: i + 1 for i, t in enumerate(np.random.default_rng(seed + 7).permutation(
            tokens))}}
        file_tokens = [str(t) for t in order] + ["ghost"]
        matrix = np.stack([vectors[t] for t in order] + [np.ones(3, np.float32)])
        table, has_vector, counts = remap_vectors(file_tokens, matrix, token_to_id, n_rows=7)
        assert counts == {"matched": 5, "unknown": 1, "missing": 1}
        for token in tokens[:5]:
            np.testing.assert_array_equal(table[token_to_id[token]], vectors[token])
        assert not has_vector[0] and not has_vector[token_to_id["user5"]]
        assert has_vector.sum() == 5
