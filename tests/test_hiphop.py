"""HIPHOP (recbole_hsuga/model/hiphop.py): session graphs against RecBole's SR-GNN, the
training-session memory, the intent-guided attention, hard negatives, batch independence,
and runs through the project's runner and trainer on a tiny generated dataset."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import TINY_DATASET, TINY_RUN, TOY_DATASET, assert_reload_scores_the_same, build_run
from recbole.model.sequential_recommender.srgnn import GNN, SRGNN

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.errors import InputError
from recbole_hsuga.model.hiphop import (HIPHOP, IntentGuidedAttention, SessionMemory, gnn_on_packed, hard_negatives,
                                        item_sets, last_items, packed_graphs, shared_query_attention,
                                        top_k_per_row)
from recbole_hsuga.registry import get_model

EXPERIMENTS = Path(__file__).resolve().parents[1] / "properties" / "experiments"


def random_sequences(rows: int = 12, length: int = 9, n_items: int = 7, seed: int = 0) -> torch.Tensor:
    """Left-aligned sequences with repeats (a graph has fewer nodes than positions) and padding."""
    rng = np.random.default_rng(seed)
    seq = np.zeros((rows, length), dtype=np.int64)
    for row in range(rows):
        size = int(rng.integers(1, length + 1))
        seq[row, :size] = rng.integers(1, n_items, size=size)
    return torch.from_numpy(seq)


# ------------------------------------------------------------------ session graphs
def test_packed_gnn_equals_recbole_gnn_on_srgnn_graphs():
    """Same node states as RecBole's GNN on the dense matrices of RecBole's SRGNN._get_slice."""
    torch.manual_seed(0)
    item_seq = random_sequences()
    table = torch.randn(7, 6)
    gnn = GNN(6, step=2)
    for weight in gnn.parameters():
        torch.nn.init.uniform_(weight, -0.5, 0.5)
    alias, adjacency, nodes, mask = SRGNN._get_slice(SimpleNamespace(device="cpu"), item_seq)
    dense = gnn(adjacency.float(), table[nodes])
    expected = dense.gather(1, alias.unsqueeze(-1).expand(-1, -1, 6))  # [B, L, d] per position
    graphs = packed_graphs(item_seq)
    assert torch.equal(graphs.nodes[graphs.alias][mask], item_seq[mask])  # each position reads its own item
    assert len(graphs.nodes) == sum(len(set(row[row > 0].tolist())) for row in item_seq)  # no padding slots
    packed = gnn_on_packed(gnn, graphs, table[graphs.nodes])[graphs.alias]
    torch.testing.assert_close(packed[mask], expected[mask], rtol=1e-5, atol=1e-6)


def test_last_items_are_the_end_of_the_sequence_in_time_order():
    item_seq = torch.tensor([[5, 3, 9, 2, 0, 0], [7, 0, 0, 0, 0, 0]])
    assert last_items(item_seq, torch.tensor([4, 1]), 3).tolist() == [[3, 9, 2], [0, 0, 7]]


# ------------------------------------------------------------------ training-session memory
def memory_of(sessions: list[list[int]], n_items: int, last_k: int = 2) -> SessionMemory:
    lengths = [len(s) for s in sessions]
    history = TrainingHistory(indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                              items=np.array([i for s in sessions for i in s], dtype=np.int64), n_items=n_items)
    return SessionMemory(history, last_k)


def test_memory_neighbours_by_jaccard_never_the_user_itself():
    # users 0..3 (0: padding id, no items); user 1 = {1,2,3}, 2 = {1,2}, 3 = {4,5}
    memory = memory_of([[], [1, 2, 3], [2, 1], [4, 5]], n_items=6)
    ids, valid = memory.neighbours(torch.tensor([[1, 2, 3, 0]]), torch.tensor([1]), k=2, scope="global")
    assert ids[0, 0].item() == 2 and valid.tolist() == [[True, False]]  # J = 2/3 with user 2; user 1 excluded
    ids, valid = memory.neighbours(torch.tensor([[1, 2, 3, 0]]), torch.tensor([3]), k=1, scope="global")
    assert ids.tolist() == [[1]] and valid.tolist() == [[True]]  # J = 1 with user 1 (the query is not user 1)
    # local: the last 2 items in time order: user 2's are {2, 1}, user 1's {2, 3}
    ids, valid = memory.neighbours(torch.tensor([[3, 0]]), torch.tensor([2]), k=1, scope="local")
    assert ids.tolist() == [[1]] and valid.tolist() == [[True]]


def test_memory_neighbours_equal_a_dense_jaccard_ranking_with_ties_to_the_lower_id():
    # Random sessions over few items, so Jaccard values tie often; the reference computes every
    # user's Jaccard densely and ranks by (value descending, id ascending).
    rng = np.random.default_rng(0)
    n_items, n_users = 9, 60
    sessions = [[]] + [list(rng.choice(np.arange(1, n_items), size=rng.integers(1, 5), replace=False))
                       for _ in range(n_users - 1)]
    memory = memory_of(sessions, n_items)
    queries = torch.tensor([list(s) + [0] * (4 - len(s)) for s in sessions[1:]])
    owners = torch.arange(1, n_users)
    k = 7
    ids, valid = memory.neighbours(queries, owners, k, "global")
    for row, owner in enumerate(owners.tolist()):
        mine = set(sessions[owner])
        scored = sorted(((-len(mine & set(other)) / len(mine | set(other)), user)
                         for user, other in enumerate(sessions) if user != owner and mine & set(other)))
        expected = [user for _, user in scored[:k]]
        assert ids[row, :len(expected)].tolist() == expected
        assert valid[row].tolist() == [True] * len(expected) + [False] * (k - len(expected))
        assert ids[row, len(expected):].eq(0).all()


def test_top_k_per_row_pads_short_rows_and_breaks_ties_by_column():
    rows = torch.tensor([0, 0, 0, 2, 2])
    columns = torch.tensor([1, 4, 7, 3, 5])
    values = torch.tensor([0.5, 0.9, 0.5, 0.2, 0.2])
    top_values, top_columns = top_k_per_row(rows, columns, values, n_rows=3, k=2)
    assert top_columns.tolist() == [[4, 1], [0, 0], [3, 5]]
    torch.testing.assert_close(top_values, torch.tensor([[0.9, 0.5], [0.0, 0.0], [0.2, 0.2]]))


def test_memory_mean_vectors_are_differentiable_means():
    memory = memory_of([[], [1, 2, 3], [2, 1], [4, 5]], n_items=6)
    table = torch.randn(6, 4, requires_grad=True)
    means = memory.mean_vectors(torch.tensor([[1, 3], [0, 2]]), table, "global")
    torch.testing.assert_close(means[0, 0], table[[1, 2, 3]].mean(0))
    torch.testing.assert_close(means[0, 1], table[[4, 5]].mean(0))
    torch.testing.assert_close(means[1, 0], torch.zeros(4))  # a user without a session
    means.sum().backward()
    assert table.grad[1:].abs().sum() > 0 and table.grad[0].abs().sum() == 0


# ------------------------------------------------------------------ attention, negatives
def test_intent_guided_attention_depends_on_the_intent_and_ignores_excluded_candidates():
    torch.manual_seed(0)
    attention = IntentGuidedAttention(6)
    candidates = torch.randn(1, 4, 6)
    valid = torch.tensor([[True, True, True, False]])
    first = attention(candidates, valid, torch.randn(1, 6))
    second = attention(candidates, valid, torch.randn(1, 6) * 5)
    assert not torch.allclose(first, second)  # the released attention's output did not depend on it
    changed = candidates.clone()
    changed[0, 3] = 100.0
    torch.testing.assert_close(attention(changed, valid, torch.ones(1, 6)), attention(candidates, valid, torch.ones(1, 6)))
    torch.testing.assert_close(first.norm(dim=-1), torch.ones(1))


def test_shared_query_attention_equals_multihead_attention_on_padded_rows():
    torch.manual_seed(0)
    attention = torch.nn.MultiheadAttention(8, 4, batch_first=True)
    queries = torch.randn(4, 8, requires_grad=True)
    sequence = torch.randn(3, 5, 8, requires_grad=True)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False], [True, False, False, False, False]])
    packed = shared_query_attention(attention, queries, sequence, mask)
    reference, _ = attention(queries.unsqueeze(0).expand(3, -1, -1), sequence, sequence, key_padding_mask=~mask,
                             need_weights=False)
    torch.testing.assert_close(packed, reference)
    weights = torch.randn_like(reference)
    grads = torch.autograd.grad((packed * weights).sum(), [queries, sequence, attention.in_proj_weight])
    reference_grads = torch.autograd.grad((reference * weights).sum(), [queries, sequence, attention.in_proj_weight])
    for grad, reference_grad in zip(grads, reference_grads):
        torch.testing.assert_close(grad, reference_grad)


def test_hard_negatives_share_no_item_with_the_anchor():
    item_seq = torch.tensor([[1, 2, 0], [2, 3, 0], [4, 5, 0], [6, 0, 0], [1, 6, 0]])
    anchors = torch.nn.functional.normalize(torch.randn(5, 3), dim=-1)
    values, index = hard_negatives(anchors, item_seq, n_items=7, k=5)
    sets = item_sets(item_seq, 7).to_dense().bool()
    for row in range(5):
        chosen = index[row][torch.isfinite(values[row])]
        assert len(chosen) and all(not (sets[row] & sets[j]).any() for j in chosen.tolist())
    assert torch.isfinite(values[0]).sum() == 2  # session 0 shares items with 1 and 4 (and itself)


def test_item_sets_are_the_distinct_items_of_each_row():
    item_seq = torch.tensor([[3, 1, 3, 0], [0, 0, 0, 0], [2, 2, 5, 1]])
    dense = item_sets(item_seq, 6).to_dense()
    assert dense.tolist() == [[0, 1, 0, 1, 0, 0], [0] * 6, [0, 1, 1, 0, 0, 1]]


# ------------------------------------------------------------------ model
def settings(tmp_path, **overrides) -> dict:
    return {**TINY_RUN, "embedding_size": 8, "hiphop_graph_neighbours": 3, "hiphop_contrastive_negatives": 8,
            "checkpoint_dir": str(tmp_path / "saved"), "results_dir": str(tmp_path / "results"), **overrides}


@pytest.fixture(scope="module")
def built(toy_with_vectors, tmp_path_factory):
    return build_run(toy_with_vectors, TOY_DATASET, "HIPHOP", settings(tmp_path_factory.mktemp("hiphop")))


def test_yaml_defaults_and_registry(tiny_root):
    from recbole_hsuga.config import HSUGAConfig

    assert get_model("HIPHOP") is HIPHOP
    config = HSUGAConfig(model="HIPHOP", dataset=TINY_DATASET, config_dict={"data_path": str(tiny_root)})
    assert config["embedding_size"] == 100 and config["hiphop_intents"] == 4 and config["hiphop_last_k"] == 3
    assert config["hiphop_contrastive_weight"] == 0.3 and config["train_rows"] == "prefix"


def test_memory_holds_training_items_only(built):
    config, train_data, valid_data, test_data, net, _ = built
    history = TrainingHistory.from_dataloaders(train_data, valid_data)
    for split in (valid_data, test_data):
        targets = split._dataset.inter_feat
        users, items = targets["user_id"].numpy(), targets["item_id"].numpy()
        for user, item in zip(users[:50], items[:50]):
            remembered = net.memory.global_items[net.memory.global_indptr[user]: net.memory.global_indptr[user + 1]]
            assert set(remembered.tolist()) <= set(history.items_of(user).tolist())
            if item not in history.items_of(user):
                assert item not in remembered.tolist()


def test_scores_do_not_depend_on_the_other_users_in_the_batch(built):
    _, _, _, test_data, net, _ = built
    net.eval()
    interaction = next(iter(test_data))[0]
    with torch.no_grad():
        together = net.full_sort_predict(interaction)
        order = torch.randperm(len(interaction), generator=torch.Generator().manual_seed(0))
        shuffled = net.full_sort_predict(interaction[order])
        alone = torch.cat([net.full_sort_predict(interaction[i: i + 1]) for i in range(4)])
    torch.testing.assert_close(shuffled, together[order])
    torch.testing.assert_close(alone, together[:4])
    assert together.shape == (len(interaction), net.n_items)


def test_runner_trains_refreshes_the_bank_and_reloads(toy_with_vectors, tmp_path):
    config, train_data, valid_data, test_data, net, trainer = build_run(toy_with_vectors, TOY_DATASET, "HIPHOP",
                                                                        settings(tmp_path, epochs=2))
    assert not bool(net.bank_ready)
    trainer.fit(train_data, valid_data, saved=True)
    assert bool(net.bank_ready) and net.session_bank.abs().sum() > 0
    assert net.temperature == pytest.approx(0.5 * 0.99)  # the second epoch's
    losses = trainer.curve[-1]["train_loss"]
    assert len(losses) == 2 and all(np.isfinite(losses))  # prediction + contrastive parts
    result = trainer.evaluate(test_data, load_best_model=True)
    assert 0.0 <= result["full/all/ndcg@10"] <= 1.0
    checkpoint = torch.load(trainer.saved_model_file, weights_only=False)
    assert "session_bank" in checkpoint["state_dict"]  # a reloaded model scores with the validated bank
    assert_reload_scores_the_same(config, train_data, test_data, net, checkpoint, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("experiment", ["hiphop_no_semantics", "hiphop_no_multi_intent", "hiphop_no_inter_session",
                                        "hiphop_no_contrastive"])
def test_ablations_train(toy_with_vectors, tmp_path, experiment):
    import yaml

    overrides = yaml.safe_load((EXPERIMENTS / f"{experiment}.yaml").read_text())
    _, train_data, valid_data, test_data, net, trainer = build_run(toy_with_vectors, TOY_DATASET, "HIPHOP",
                                                                   settings(tmp_path, **overrides))
    trainer.fit(train_data, valid_data, saved=False)
    assert np.isfinite(trainer.curve[-1]["train_loss"]).all()
    if experiment == "hiphop_no_semantics":
        assert not hasattr(net, "projector")
    if experiment == "hiphop_no_inter_session":
        assert not hasattr(net, "memory") and len(trainer.curve[-1]["train_loss"]) == 1
    if experiment == "hiphop_no_contrastive":
        assert len(trainer.curve[-1]["train_loss"]) == 1


def test_focal_loss_trains(toy_with_vectors, tmp_path):
    _, train_data, valid_data, _, _, trainer = build_run(toy_with_vectors, TOY_DATASET, "HIPHOP",
                                                         settings(tmp_path, hiphop_loss="focal"))
    trainer.fit(train_data, valid_data, saved=False)
    assert np.isfinite(trainer.curve[-1]["train_loss"]).all()


@pytest.mark.parametrize("overrides,key", [({"hiphop_intents": 3}, "hiphop_intents"),
                                           ({"hiphop_semantic": "concat"}, "hiphop_semantic"),
                                           ({"hiphop_loss": "bpr"}, "hiphop_loss"),
                                           ({"hiphop_graph_neighbours": 0}, "hiphop_graph_neighbours")])
def test_bad_settings_are_input_errors(toy_with_vectors, tmp_path, overrides, key):
    with pytest.raises(InputError, match=key):
        build_run(toy_with_vectors, TOY_DATASET, "HIPHOP", settings(tmp_path, **overrides))


def test_sequence_rows_and_sampled_softmax_are_refused(tiny_root, tmp_path):
    for overrides, key in (({"train_rows": "sequence"}, "train_rows"), ({"softmax_negatives": 4}, "softmax")):
        with pytest.raises(InputError, match=key):
            _, train_data, valid_data, _, _, trainer = build_run(
                tiny_root, TINY_DATASET, "HIPHOP", settings(tmp_path, hiphop_semantic="none", **overrides))
            trainer.fit(train_data, valid_data, saved=False)
