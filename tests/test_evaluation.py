"""The leave-one-out evaluator: groups, ranks, per-group metrics, fixed negatives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.evaluation.groups import top_fraction_mask
from recbole_hsuga.evaluation.negatives import sample_fixed_negatives
from recbole_hsuga.evaluation.ranking import full_ranks, group_means, per_user_metrics, sampled_ranks
from recbole_hsuga.registry import get_model, get_trainer
from recbole_hsuga.runner import prepare_data

NEG_INF = float("-inf")


def test_top_fraction_is_rank_based_with_index_tie_break():
    counts = np.array([0, 5, 3, 3, 1, 9])
    valid = np.array([False, True, True, True, True, True])
    assert top_fraction_mask(counts, 0.4, valid).tolist() == [False, True, False, False, False, True]
    ties = np.array([0, 3, 3, 3, 1, 1])
    # ceil(0.4 * 5) = 2 head entries; among the tied 3s the smaller ids win.
    assert top_fraction_mask(ties, 0.4, valid).tolist() == [False, True, True, False, False, False]
    assert top_fraction_mask(np.array([4, 2, 7]), 0.2).tolist() == [False, False, True]  # ceil(0.6) = 1
    with pytest.raises(ValueError, match="fraction"):
        top_fraction_mask(counts, 1.0)


def test_ranks_break_ties_against_the_target():
    scores = torch.tensor([[NEG_INF, 0.5, 0.9, 0.5, 0.1], [NEG_INF, 0.2, 0.2, 0.2, 0.2]])
    targets = torch.tensor([1, 3])
    assert full_ranks(scores, targets).tolist() == [2, 3]
    negatives = torch.tensor([[2, 4], [1, 2]])
    assert sampled_ranks(scores, targets, negatives).tolist() == [1, 2]


def test_full_ranks_count_the_items_above_and_the_others_tied_with_the_target():
    generator = torch.Generator().manual_seed(3)
    scores = torch.randint(0, 4, (64, 30), generator=generator).float()  # many ties
    scores[:, 0] = NEG_INF
    scores[5, 7] = torch.nan  # an item with no score is never above the target
    targets = torch.randint(1, 30, (64,), generator=generator)
    target_scores = scores.gather(1, targets.view(-1, 1))
    defined = (scores > target_scores).sum(dim=1) + (scores == target_scores).sum(dim=1) - 1
    ranks = full_ranks(scores, targets)
    assert ranks.dtype == torch.int64
    assert torch.equal(ranks, defined)


def test_per_user_metrics_match_the_definitions():
    values = per_user_metrics(np.array([0, 1, 4, 25]), ["Hit", "NDCG", "MRR"], [5, 20])
    np.testing.assert_allclose(values["hit@5"], [1, 1, 1, 0])
    np.testing.assert_allclose(values["ndcg@5"], [1, 1 / math.log2(3), 1 / math.log2(6), 0])
    np.testing.assert_allclose(values["mrr@20"], [1, 1 / 2, 1 / 5, 0])
    table = group_means(values, {"all": np.ones(4, bool), "head": np.array([True, False, True, False]), "none": np.zeros(4, bool)})
    assert table["head"]["hit@5"] == 1.0
    assert table["head"]["ndcg@5"] == pytest.approx((1 + 1 / math.log2(6)) / 2)
    assert table["all"]["hit@20"] == 0.75 and table["head"]["n_users"] == 2
    assert math.isnan(table["none"]["hit@5"])
    with pytest.raises(ValueError, match="not supported"):
        per_user_metrics(np.array([0]), ["AUC"], [5])


def test_fixed_negatives_are_deterministic_distinct_and_exclude_the_users_items():
    item_tokens = np.array(["[PAD]"] + [f"i{k}" for k in range(1, 301)])
    excluded = [np.array([1, 2, 3]), np.array([10, 20])]
    first = sample_fixed_negatives(["u1", "u2"], excluded, item_tokens, 100, seed=42, phase="test")
    again = sample_fixed_negatives(["u1", "u2"], excluded, item_tokens, 100, seed=42, phase="test")
    np.testing.assert_array_equal(first, again)
    for row, banned in zip(first, excluded):
        assert len(set(row)) == 100 and not set(row) & set(banned) and row.min() >= 1
    assert not np.array_equal(first, sample_fixed_negatives(["u1", "u2"], excluded, item_tokens, 100, seed=43, phase="test"))
    assert not np.array_equal(first, sample_fixed_negatives(["u1", "u2"], excluded, item_tokens, 100, seed=42, phase="valid"))


def test_fixed_negatives_do_not_depend_on_recboles_id_mapping():
    tokens = [f"i{k}" for k in range(1, 201)]
    mapping_a = np.array(["[PAD]"] + tokens)
    permutation = np.random.default_rng(0).permutation(200)
    mapping_b = np.array(["[PAD]"] + [tokens[p] for p in permutation])
    ids_b = {token: index for index, token in enumerate(mapping_b)}
    banned_tokens = ["i5", "i77"]
    neg_a = sample_fixed_negatives(["u"], [np.array([tokens.index(t) + 1 for t in banned_tokens])], mapping_a, 50, 1, "valid")
    neg_b = sample_fixed_negatives(["u"], [np.array([ids_b[t] for t in banned_tokens])], mapping_b, 50, 1, "valid")
    assert [mapping_a[i] for i in neg_a[0]] == [mapping_b[i] for i in neg_b[0]]


def test_too_few_items_for_the_negatives_is_an_error():
    with pytest.raises(ValueError, match="fewer than 100 items"):
        sample_fixed_negatives(["u"], [np.array([1])], np.array(["[PAD]"] + ["a"] * 50), 100, 0, "test")


@pytest.fixture
def toy_run(toy_data_path, fast_settings):
    config = HSUGAConfig(model="SASRec", dataset="toy-beauty", config_dict=fast_settings)
    _, train, valid, test = prepare_data(config)
    return config, train, valid, test


def _trainer(config, train, model_name="SASRec"):
    model_class = get_model(model_name)
    model_config = HSUGAConfig(model=model_name, dataset=config["dataset"], config_dict={
        k: config[k] for k in ("data_path", "checkpoint_dir", "MAX_ITEM_LIST_LENGTH", "state")})
    model = model_class(model_config, train._dataset)
    return get_trainer(model_config["MODEL_TYPE"], model_name, model_class)(model_config, model)


def test_training_history_recovers_every_training_item(toy_run, toy_data_path):
    config, train, valid, _ = toy_run
    history = TrainingHistory.from_dataloaders(train, valid)
    dataset = train._dataset
    raw = {}
    for line in (toy_data_path / "toy-beauty" / "toy-beauty.inter").read_text().splitlines()[1:]:
        user, item, _ = line.split("\t")
        raw.setdefault(user, []).append(item)
    for user_token, items in raw.items():
        uid = dataset.token2id("user_id", user_token)
        recovered = [dataset.id2token("item_id", i) for i in history.items_of(uid)]
        assert recovered == items[:-2]  # untruncated, in time order, valid/test left out
    assert history.user_counts().sum() == sum(len(v) - 2 for v in raw.values())


def test_negatives_are_identical_across_evaluations_and_models(toy_run):
    config, train, valid, test = toy_run
    sasrec = _trainer(config, train, "SASRec")
    gru = _trainer(config, train, "GRU4Rec")
    for trainer in (sasrec, gru):
        trainer.set_training_history(TrainingHistory.from_dataloaders(train, valid))
    first = sasrec.evaluate(test, load_best_model=False)
    negatives = sasrec._phase_context(test).negatives.copy()
    second = sasrec.evaluate(test, load_best_model=False)
    assert first == second  # same model, same candidates, same numbers
    # Each ranked user keeps its group labels, so paired tests can be run within a group.
    labels = sasrec.last_evaluation
    assert labels["head_users"].dtype == bool and len(labels["head_users"]) == len(labels["users"])
    assert int(labels["head_users"].sum()) == first["full/head_users/n_users"]
    assert int(labels["head_items"].sum()) == first["full/head_items/n_users"]
    np.testing.assert_array_equal(negatives, gru._phase_context(test).negatives)
    assert not np.array_equal(negatives, sasrec._phase_context(valid).negatives)
    # Every evaluated user's negatives avoid all of that user's items.
    dataset = test._dataset
    users = dataset.inter_feat["user_id"].numpy()
    lists = dataset.inter_feat["item_id_list"].numpy()
    targets = dataset.inter_feat["item_id"].numpy()
    for row, user in enumerate(users[:50]):
        own = set(lists[row]) | {targets[row]} | set(sasrec.training_history.items_of(user))
        assert not own & set(negatives[user])


def test_unseen_protocol_masks_exactly_the_users_earlier_items(toy_run):
    config, train, valid, test = toy_run
    trainer = _trainer(config, train)
    trainer.set_training_history(TrainingHistory.from_dataloaders(train, valid))
    result = trainer.evaluate(test, load_best_model=False)
    evaluation = trainer.last_evaluation
    users, targets = evaluation["users"], evaluation["targets"]
    # The masked items are the user's training items and input list, never the target.
    dataset = test._dataset
    row_of = {int(u): r for r, u in enumerate(dataset.inter_feat["user_id"].numpy())}
    lists = dataset.inter_feat["item_id_list"].numpy()
    context = trainer._phase_context(test)
    for position, user in enumerate(users[:40]):
        earlier = set(lists[row_of[int(user)]]) | set(trainer.training_history.items_of(user))
        earlier -= {0, int(targets[position])}
        start, end = context.seen_start[user], context.seen_start[user + 1]
        assert set(context.seen_items[start:end]) == earlier  # validation item included at test time
    # The unseen rank is the full rank minus the earlier items that outscore (or tie) the target.
    with torch.no_grad():
        interaction, scores, _, positive_i = trainer._full_sort_batch_eval(next(iter(test)))
    rank_of = {int(u): r for r, u in enumerate(users)}
    for row, user in enumerate(interaction["user_id"].numpy()[:40]):
        target_score = scores[row, positive_i[row]]
        seen = context.seen_items[context.seen_start[user]:context.seen_start[user + 1]]
        above = int((scores[row, torch.from_numpy(seen)] >= target_score).sum())
        assert evaluation["unseen"][rank_of[int(user)]] == evaluation["full"][rank_of[int(user)]] - above
    # Masking only removes competitors: never a worse rank, and better for some user.
    assert (evaluation["unseen"] <= evaluation["full"]).all()
    assert (evaluation["unseen"] < evaluation["full"]).any()
    assert result["unseen/all/ndcg@10"] >= result["full/all/ndcg@10"]
    # Rows and items to mask come out of the CSR in the users' order.
    rows, items = context.seen_mask_indices(np.asarray(users[:3]))
    for row in range(3):
        user = users[row]
        assert sorted(items[rows == row]) == sorted(context.seen_items[context.seen_start[user]:
                                                                       context.seen_start[user + 1]])


def test_trainer_reports_known_per_group_values(toy_run):
    config, train, _, _ = toy_run
    trainer = _trainer(config, train)
    # 5 users (ids 1..5) and 5 items; user 5 and item 1 are the top 20%.
    trainer.set_training_history(TrainingHistory(
        indptr=np.array([0, 0, 1, 2, 3, 4, 9]), items=np.array([2, 3, 4, 5, 1, 1, 1, 1, 2]), n_items=6))
    users = np.array([1, 2, 3, 4, 5])
    targets = np.array([1, 1, 2, 3, 1])  # users 1, 2, 5 target the head item 1
    ranks = {"full": np.array([0, 30, 2, 9, 0]), "sampled": np.array([0, 1, 0, 0, 0])}
    result = trainer._summarise(ranks, trainer._groups(users, targets))
    assert result["full/head_users/hit@5"] == 1.0 and result["full/head_users/n_users"] == 1
    assert result["full/tail_users/hit@5"] == 0.5  # ranks 0, 30, 2, 9
    assert result["full/head_items/hit@10"] == round(2 / 3, 4)  # ranks 0, 30, 0; values are rounded
    assert result["full/tail_items/ndcg@10"] == pytest.approx(round((1 / math.log2(4) + 1 / math.log2(11)) / 2, 4))
    assert result["sampled/all/hit@5"] == 1.0 and result["ndcg@5"] == result["full/all/ndcg@5"]


def test_results_nest_write_and_rank_files(tmp_path):
    import csv
    import json
    from types import SimpleNamespace

    from recbole_hsuga import results

    flat = {"ndcg@10": 0.5, "full/all/ndcg@10": 0.5, "full/all/n_users": 3, "sampled/tail_items/ndcg@10": 0.25,
            "sampled/tail_items/n_users": 2}
    nested = results.nest_metrics(flat)
    assert nested == {"full": {"all": {"ndcg@10": 0.5, "n_users": 3}},
                      "sampled": {"tail_items": {"ndcg@10": 0.25, "n_users": 2}}}
    lines = results.format_table(nested, "title").splitlines()
    assert lines[0] == "title" and lines[1].split() == ["protocol", "group", "users", "ndcg@10"]
    assert lines[3].split() == ["full", "all", "3", "0.5000"] and lines[4].split() == ["sampled", "tail_items", "2", "0.2500"]

    result = {"model": "M", "dataset": "D", "seed": 1, "created": "2026-01-02T03:04:05+00:00",
              "metrics": {"test": nested}}
    config = {"results_dir": str(tmp_path), "save_user_ranks": True}
    dataset = SimpleNamespace(uid_field="user_id", field2id_token={"user_id": np.array(["[PAD]", "a", "b"])})
    ranks = {"users": np.array([2, 1]), "full": np.array([3, 1]), "sampled": np.array([1, 1]),
             "unseen": np.array([2, 0]), "head_users": np.array([True, False]), "head_items": np.array([False, False])}
    path = results.write(result, config, dataset, ranks)
    assert result["result_file"] == str(path) and path.name == "M-D-seed1-20260102T030405.json"
    assert json.loads(path.read_text())["metrics"] == {"test": nested}
    with (tmp_path / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {r["metric"] for r in rows} == {"ndcg@10", "n_users"}
    saved = np.load(path.with_suffix(".ranks.npz"))
    assert saved["users"].tolist() == ["b", "a"] and saved["full"].tolist() == [3, 1]
    assert saved["unseen"].tolist() == [2, 0]  # every protocol's ranks, for paired tests under each
    assert saved["head_users"].tolist() == [True, False] and saved["head_items"].tolist() == [False, False]
