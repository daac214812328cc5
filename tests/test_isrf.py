"""ISRF: ids written as tokens, prompts packed as tensors, the item trie, the graphs (training
pairs only), constrained beam search, and the model through RecBole's real pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_RUN, TOY_DATASET, assert_reload_scores_the_same, build_run

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.errors import InputError
from recbole_hsuga.model.isrf import ISRF, UNREACHED, pca
from recbole_hsuga.model.isrf_graphs import light_gcn, normalised_adjacency, transposed, user_similarity_graph
from recbole_hsuga.model.isrf_text import (WORD_ITEM, WORD_NONE, WORD_USER, DigitVocabulary, IdTokens, ItemTrie,
                                           assemble_prompts)
from recbole_hsuga.registry import get_model

NUMBERS = np.array([-np.inf, 3, 12, 1, 120])  # items 1..4 are written item_3, item_12, item_1, item_120


@pytest.fixture(scope="module")
def vocabulary():
    return DigitVocabulary()


@pytest.fixture(scope="module")
def id_tokens(vocabulary):
    return IdTokens.build(vocabulary.encode, vocabulary.pad_token_id, vocabulary.eos_token_id, NUMBERS, n_users=4)


def words(vocabulary, ids):
    return [vocabulary.tokens[i] for i in ids]


def test_digit_vocabulary_splits_ids_into_digits(vocabulary):
    assert words(vocabulary, vocabulary.encode("user_12 has purchased item_305 , predict the next item")) == [
        "user_", "1", "2", "has", "purchased", "item_", "3", "0", "5", ",", "predict", "the", "next", "item"]


def test_prompts_are_packed_per_row_and_whole_words_mark_only_the_ids(vocabulary, id_tokens):
    users = torch.tensor([1, 3])
    item_seq = torch.tensor([[1, 2, 3, 0], [4, 1, 0, 0]])
    ids, mask, kind, word = assemble_prompts(id_tokens, users, item_seq, torch.tensor([3, 2]), max_tokens=100)
    assert words(vocabulary, ids[0][mask[0]]) == ["user_", "1", "has", "purchased", "item_", "3", "item_", "1", "2",
                                                  "item_", "1", "predict", "the", "next", "item", "</s>"]
    assert kind[0][mask[0]].tolist() == [WORD_USER] * 2 + [WORD_NONE] * 2 + [WORD_ITEM] * 7 + [WORD_NONE] * 5
    assert (word[0][mask[0]] * (kind[0][mask[0]] > 0)).tolist() == [1, 1, 0, 0, 1, 1, 2, 2, 2, 3, 3, 0, 0, 0, 0, 0]
    assert int(mask[1].sum()) == 15 and not mask[1, 15:].any() and ids[1, 15:].eq(vocabulary.pad_token_id).all()
    # a tight budget drops the oldest items first
    ids, mask, _, _ = assemble_prompts(id_tokens, users, item_seq, torch.tensor([3, 2]), max_tokens=14)
    assert words(vocabulary, ids[0][mask[0]]) == ["user_", "1", "has", "purchased", "item_", "1", "2", "item_", "1",
                                                  "predict", "the", "next", "item", "</s>"]


def test_trie_holds_every_item_once_and_ids_that_prefix_others_end_with_the_end_token(vocabulary, id_tokens):
    trie = ItemTrie.build(id_tokens.item_target, id_tokens.item_target_len)
    reached = {}
    for item in range(1, 5):
        node = 0
        for token in id_tokens.item_target[item, : int(id_tokens.item_target_len[item])].tolist():
            slot = trie.child_token[node].tolist().index(token)
            node = int(trie.child_node[node, slot])
        reached[item] = int(trie.item_of[node])
    assert reached == {1: 1, 2: 2, 3: 3, 4: 4}
    assert trie.depth == 4  # 1 2 0 </s>: the decoder writes the bare number
    assert int((trie.item_of > 0).sum()) == 4


def test_normalised_adjacency_and_light_gcn_average_the_layers():
    adjacency = normalised_adjacency(np.array([0, 0]), np.array([1, 1]), 3)  # one edge, given twice
    dense = adjacency.to_dense()
    assert dense.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    start = torch.tensor([[1.0], [3.0], [5.0]])
    assert light_gcn(adjacency, start, 1, adjacency).squeeze(1).tolist() == [2.0, 2.0, 2.5]


def test_light_gcn_on_a_directed_graph_has_the_gradient_of_the_dense_product():
    vectors = np.random.default_rng(3).normal(size=(12, 4)).astype(np.float32)
    has_vector = np.ones(12, dtype=bool)
    has_vector[0] = False
    graph, _ = user_similarity_graph(vectors, has_vector, k=3)
    assert not torch.equal(graph.to_dense(), graph.to_dense().T)  # directed: the backward needs the transpose
    start = torch.randn(12, 5, dtype=torch.float32, requires_grad=True)
    weights = torch.randn(12, 5)
    (light_gcn(graph, start, 3, transposed(graph)) * weights).sum().backward()
    sparse_grad, start.grad = start.grad, None
    dense, total, current = graph.to_dense(), start, start
    for _ in range(3):
        current = dense @ current
        total = total + current
    (total / 4 * weights).sum().backward()
    assert torch.allclose(sparse_grad, start.grad, atol=1e-6)


def test_group_graph_links_users_with_vectors_only():
    vectors = np.array([[0, 0], [1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    has_vector = np.array([False, True, True, True, False])
    graph, edges = user_similarity_graph(vectors, has_vector, k=1)
    dense = graph.to_dense()
    assert edges == 3 and dense[0].abs().sum() == 0 and dense[4].abs().sum() == 0
    # directed, with self-loops, each row summing to K + 1 = 2 before normalisation: 3's nearest with a vector is 2
    assert dense[1].tolist() == [0, 0.5, 0.5, 0, 0] and dense[3].tolist() == [0, 0, 0.5, 0.5, 0]
    assert dense[2, 3] == 0


def test_pca_keeps_the_directions_of_most_variance():
    rng = np.random.default_rng(0)
    table = np.outer(rng.normal(size=50), [3.0, 0.0, 0.0]) + 0.01 * rng.normal(size=(50, 3))
    reduced = pca(table, 2)
    assert reduced.shape == (50, 2) and reduced[:, 0].var() > 100 * reduced[:, 1].var()
    assert pca(table, 10).shape == (50, 3)


# ------------------------------------------------------------------ the model
def settings(tmp_path, **overrides) -> dict:
    return {**TINY_RUN, "isrf_d_model": 16, "isrf_heads": 2, "isrf_d_ff": 32, "isrf_layers": 1, "isrf_group_k": 3,
            "isrf_pca_dim": 8, "isrf_beams": 12, "semantic_suffix": "useremb", "train_batch_size": 64,
            "checkpoint_dir": str(tmp_path / "saved"), "results_dir": str(tmp_path / "results"), **overrides}


@pytest.fixture(scope="module")
def built(toy_with_vectors, tmp_path_factory):
    return build_run(toy_with_vectors, TOY_DATASET, "ISRF", settings(tmp_path_factory.mktemp("isrf")))


def test_yaml_defaults_and_registry(toy_with_vectors):
    from recbole_hsuga.config import HSUGAConfig

    assert get_model("ISRF") is ISRF
    config = HSUGAConfig(model="ISRF", dataset=TOY_DATASET, config_dict={"data_path": str(toy_with_vectors)})
    assert config["isrf_beams"] == 30 and config["isrf_gcn_layers"] == 4 and config["isrf_group_k"] == 100
    assert config["text_ids"] == "permuted" and config["train_rows"] == "segment" and config["learner"] == "adamw"


def test_individual_graph_holds_training_pairs_only(built):
    _, train_data, valid_data, test_data, net, _ = built
    history = TrainingHistory.from_dataloaders(train_data, valid_data)
    graph = net.individual_graph.to_dense()
    n_users = net.user_embedding.num_embeddings
    for split in (valid_data, test_data):
        targets = split._dataset.inter_feat
        for user, item in zip(targets["user_id"].numpy()[:50], targets["item_id"].numpy()[:50]):
            linked = graph[user, n_users + item] > 0
            assert bool(linked) == (item in history.items_of(user))


def test_beam_search_returns_valid_unseen_items_in_score_order(built):
    _, _, _, test_data, net, _ = built
    net.eval()
    interaction = next(iter(test_data))[0]
    users, item_seq, item_seq_len = interaction["user_id"], interaction["item_id_list"], interaction["item_length"]
    with torch.no_grad():
        user_vectors, item_vectors = net.individual()
        hidden, mask = net.encode(users, item_seq, item_seq_len, user_vectors, item_vectors)
        items, scores = net.beam_search(hidden, mask, item_seq)
        # each beam's score is its item's teacher-forced log-likelihood
        row = torch.arange(len(users)).unsqueeze(1).expand_as(items)
        direct = net._target_log_likelihood(hidden[row.flatten()], mask[row.flatten()], items.flatten().clamp(min=1))
    found = items > 0
    assert found.all(), "the toy catalogue has more unseen items than beams"
    torch.testing.assert_close(scores[found], direct.view_as(items)[found], rtol=1e-4, atol=1e-4)
    assert (scores[:, :-1] >= scores[:, 1:] - 1e-5).all()
    for r in range(len(users)):
        assert len(set(items[r].tolist())) == items.size(1)
        assert not set(items[r].tolist()) & set(item_seq[r][item_seq[r] > 0].tolist())


def test_beam_search_finds_the_exact_top_items_when_the_beam_covers_the_catalogue(toy_with_vectors, tmp_path):
    _, _, _, test_data, net, _ = build_run(toy_with_vectors, TOY_DATASET, "ISRF",
                                           settings(tmp_path, isrf_beams=1000))
    net.eval()
    interaction = next(iter(test_data))[0][:4]
    with torch.no_grad():
        full = net.full_sort_predict(interaction)
        every = torch.arange(1, net.n_items)
        for r in range(4):
            rows = interaction[[r] * len(every)]
            rows.update(type(rows)({"item_id": every}))
            exact = net.predict(rows)
            seen = set(interaction["item_id_list"][r].tolist())
            unseen = torch.tensor([i not in seen for i in every.tolist()])
            torch.testing.assert_close(full[r, 1:][unseen], exact[unseen], rtol=1e-4, atol=1e-4)
            assert (full[r, 1:][~unseen] == UNREACHED).all()


def test_scores_do_not_depend_on_the_other_rows_of_the_batch(built):
    _, _, _, test_data, net, _ = built
    net.eval()
    interaction = next(iter(test_data))[0]
    with torch.no_grad():
        together = net.full_sort_predict(interaction)
        alone = torch.cat([net.full_sort_predict(interaction[i: i + 1]) for i in range(3)])
    torch.testing.assert_close(alone, together[:3], rtol=1e-4, atol=1e-4)


def test_runner_trains_evaluates_and_reloads(toy_with_vectors, tmp_path):
    config, train_data, valid_data, test_data, net, trainer = build_run(toy_with_vectors, TOY_DATASET, "ISRF",
                                                                        settings(tmp_path, epochs=2))
    before = [p.detach().clone() for p in net.parameters()]
    trainer.fit(train_data, valid_data, saved=True)
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, net.parameters()))
    assert np.isfinite(trainer.curve[-1]["train_loss"]).all()
    result = trainer.evaluate(test_data, load_best_model=True)
    for protocol in ("full", "sampled"):
        assert 0.0 <= result[f"{protocol}/all/ndcg@10"] <= 1.0
    checkpoint = torch.load(trainer.saved_model_file, weights_only=False)
    # the beam's scores are the targets' log-likelihoods wherever the beam reached the target
    assert_reload_scores_the_same(config, train_data, test_data, net, checkpoint,
                                  agree_where=lambda at_target: at_target > UNREACHED, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("overrides", [{"isrf_semantic": "none"}, {"isrf_group": False}])
def test_ablations_train(toy_with_vectors, tmp_path, overrides):
    _, train_data, valid_data, _, net, trainer = build_run(toy_with_vectors, TOY_DATASET, "ISRF",
                                                           settings(tmp_path, **overrides))
    trainer.fit(train_data, valid_data, saved=False)
    assert np.isfinite(trainer.curve[-1]["train_loss"]).all()
    assert hasattr(net, "adapter") == (overrides.get("isrf_semantic", "adapter") == "adapter")
    assert hasattr(net, "group_graph") == overrides.get("isrf_group", True)


@pytest.mark.parametrize("overrides,key", [({"isrf_semantic": "concat"}, "isrf_semantic"),
                                           ({"isrf_heads": 3}, "isrf_heads"),
                                           ({"text_ids": "sorted"}, "text_ids")])
def test_bad_settings_are_input_errors(toy_with_vectors, tmp_path, overrides, key):
    with pytest.raises(InputError, match=key):
        build_run(toy_with_vectors, TOY_DATASET, "ISRF", settings(tmp_path, **overrides))


def test_a_local_checkpoint_and_its_tokenizer_load(toy_with_vectors, tmp_path, vocabulary):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    folder = tmp_path / "t5"
    words_model = models.WordLevel({t: i for i, t in enumerate(vocabulary.tokens)}, unk_token="<unk>")
    raw = Tokenizer(words_model)
    raw.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    tokenizer.save_pretrained(folder)
    T5ForConditionalGeneration(T5Config(vocab_size=len(vocabulary), d_model=16, d_kv=8, d_ff=32, num_layers=1,
                                        num_heads=2, pad_token_id=0, eos_token_id=1,
                                        decoder_start_token_id=0)).save_pretrained(folder)
    _, train_data, valid_data, test_data, net, trainer = build_run(toy_with_vectors, TOY_DATASET, "ISRF",
                                                                   settings(tmp_path, isrf_t5_path=str(folder)))
    assert net.t5.config.d_model == 16 and net.trie.depth >= 3
    trainer.fit(train_data, valid_data, saved=False)
    assert np.isfinite(trainer.curve[-1]["train_loss"]).all()


def test_sampled_protocol_ranks_the_candidates_by_their_exact_log_likelihood(built):
    _, _, _, test_data, net, trainer = built
    net.eval()
    result = trainer.evaluate(test_data, load_best_model=False)
    context = trainer._phase_context(test_data)
    hits = []
    with torch.no_grad():
        for batch in test_data:
            interaction = batch[0]
            users, targets = interaction["user_id"], interaction["item_id"]
            negatives = torch.from_numpy(context.negatives)[users]
            scores = net.candidate_scores(interaction, torch.cat([targets.view(-1, 1), negatives], dim=1))
            rows = interaction[[0] * 3]
            rows.update(type(rows)({"item_id": torch.cat([targets[:1], negatives[0, :2]])}))
            torch.testing.assert_close(scores[0, :3], net.predict(rows), rtol=1e-4, atol=1e-4)
            hits.append(((scores[:, 1:] >= scores[:, :1]).sum(dim=1) < 10).float())
    assert result["sampled/all/hit@10"] == pytest.approx(torch.cat(hits).mean().item(), abs=1e-4)
