"""Sampled softmax (``softmax_negatives``): the loss itself, its samplers, and training with it
in both row modes on every backbone family."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from conftest import TINY_RUN, build_run
from recbole_hsuga.errors import InputError
from recbole_hsuga.position_loss import (check_softmax_sampler_support, masked_items_loss, prefix_rows_loss,
                                         sequence_rows_loss, softmax_sampler_support)
from recbole_hsuga.sampled_softmax import NegativeSampler, sampler_from_config, softmax_losses

DATASET = "toy-beauty"


def build(root: Path, tmp_path: Path, model: str, **overrides):
    return build_run(root, DATASET, model, {
        **TINY_RUN, "checkpoint_dir": str(tmp_path / "saved"), "train_batch_size": 64, "eval_batch_size": 256,
        "MAX_ITEM_LIST_LENGTH": 8, "hidden_size": 16, "inner_size": 32, "embedding_size": 16, "gaa_k_active": 3,
        "gaa_k_longtail": 5, "seed": 7, **overrides})


# ----------------------------------------------------------------------------- the loss
def test_sampled_loss_is_the_softmax_over_target_and_drawn_negatives():
    torch.manual_seed(0)
    outputs, table = torch.randn(5, 4), torch.randn(30, 4)
    positives = torch.tensor([3, 7, 7, 11, 29])
    sampler = NegativeSampler.uniform(6, 30)
    torch.manual_seed(1)
    losses = softmax_losses(outputs, positives, table, sampler)
    torch.manual_seed(1)
    negatives = sampler.draw(5)  # the same draws
    for p in range(5):
        logits = [outputs[p] @ table[positives[p]]] + [outputs[p] @ table[n] for n in negatives[p]
                                                         if n != positives[p]]
        expected = -torch.log_softmax(torch.stack(logits), 0)[0]
        torch.testing.assert_close(losses[p], expected)


def test_batch_negatives_are_shared_by_every_position():
    torch.manual_seed(0)
    outputs, table = torch.randn(4, 3), torch.randn(25, 3)
    positives = torch.tensor([2, 9, 9, 24])
    sampler = NegativeSampler.uniform(8, 25, per="batch")
    torch.manual_seed(1)
    losses = softmax_losses(outputs, positives, table, sampler)
    torch.manual_seed(1)
    shared = sampler.draw(1)[0]  # [N]
    for p in range(4):
        kept = shared[shared != positives[p]]
        logits = torch.cat([(outputs[p] @ table[positives[p]]).view(1), table[kept] @ outputs[p]])
        torch.testing.assert_close(losses[p], -torch.log_softmax(logits, 0)[0])


def test_a_negative_equal_to_the_target_is_masked():
    outputs, table = torch.ones(1, 2), torch.eye(2).repeat(2, 1)  # 4 items
    sampler = NegativeSampler.uniform(3, 2)  # n_items 2: every draw is item 1, the target
    loss = softmax_losses(outputs, torch.tensor([1]), table, sampler)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)  # only the target is left in the softmax


def test_no_sampler_is_full_cross_entropy_with_bias():
    torch.manual_seed(0)
    outputs, table, bias = torch.randn(6, 4), torch.randn(20, 4), torch.randn(20)
    positives = torch.randint(1, 20, (6,))
    torch.testing.assert_close(softmax_losses(outputs, positives, table, None, bias),
                               F.cross_entropy(outputs @ table.t() + bias, positives, reduction="none"))


def test_popularity_sampler_draws_by_popularity_and_never_padding_or_unseen():
    counts = np.array([50, 0, 1, 3, 6])  # id 0 is padding: its count is ignored
    sampler = NegativeSampler.popularity(1000, counts)
    torch.manual_seed(0)
    draws = sampler.draw(40).flatten()
    frequency = torch.bincount(draws, minlength=5).float() / draws.numel()
    assert frequency[0] == 0 and frequency[1] == 0
    torch.testing.assert_close(frequency[2:], torch.tensor([0.1, 0.3, 0.6]), atol=0.01, rtol=0)
    # log q: the draw probabilities; an undrawable item keeps a finite value
    torch.testing.assert_close(sampler.correction(torch.tensor([2, 3, 4])), torch.log(torch.tensor([0.1, 0.3, 0.6])))
    assert torch.isfinite(sampler.correction(torch.tensor([1]))).all()


def test_popularity_power_flattens_the_distribution():
    sampler = NegativeSampler.popularity(1, np.array([0, 1, 4]), power=0.5)
    torch.testing.assert_close(sampler.correction(torch.tensor([1, 2])).exp(), torch.tensor([1 / 3, 2 / 3]))


def test_logq_correction_makes_popularity_sampling_unbiased():
    """With many negatives, sum_k exp(s_k) / q_k estimates N * sum_j exp(s_j), so the corrected
    loss approaches the full softmax loss plus the constants log N + log q(target); uncorrected
    popularity sampling over-weights popular items and does not."""
    torch.manual_seed(0)
    n_items, n_negatives = 40, 100_000
    table, outputs = torch.randn(n_items, 3), torch.randn(1, 3)
    counts = np.r_[0, np.arange(1, n_items)] ** 2
    positive = torch.tensor([5])
    full = F.cross_entropy(outputs @ table[1:].t(), positive - 1).item()
    sampler = NegativeSampler.popularity(n_negatives, counts)
    constant = math.log(n_negatives) + sampler.correction(positive).item()
    corrected = softmax_losses(outputs, positive, table, sampler).item() - constant
    sampler.log_q = None  # without the correction
    plain = softmax_losses(outputs, positive, table, sampler).item() - math.log(n_negatives)
    assert abs(corrected - full) < 0.05
    assert abs(plain - full) > 5 * abs(corrected - full)


@pytest.mark.parametrize("settings,message", [
    ({"softmax_negatives": -1}, "softmax_negatives must be an int >= 0"),
    ({"softmax_negatives": 8, "loss_type": "BPR"}, "needs loss_type: CE"),
    ({"softmax_negatives": 8, "softmax_sampling": "inbatch"}, "softmax_sampling must be one of"),
    ({"softmax_negatives": 8, "softmax_negatives_per": "row"}, "softmax_negatives_per must be one of"),
])
def test_bad_settings_name_the_key(settings, message):
    config = {"softmax_negatives": 0, "loss_type": "CE", "softmax_sampling": "uniform", "softmax_negatives_per": None,
              "softmax_popularity_power": 1.0, **settings}
    with pytest.raises(InputError, match=message):
        sampler_from_config(config, np.ones(10), 10)


def test_zero_negatives_is_full_softmax():
    assert sampler_from_config({"softmax_negatives": 0, "loss_type": "CE"}, None, 10) is None


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("model,train_rows", [
    ("SASRec", "sequence"), ("SASRec", "prefix"), ("GRU4Rec", "sequence"), ("GRU4Rec", "prefix"),
    ("BERT4Rec", "prefix"), ("BERT4Rec", "sequence"), ("SASRecHSUGA", "sequence"), ("SASRecHSUGA", "prefix"),
    ("BERT4RecHSUGA", "prefix"), ("SASRecLLMESR", "sequence"),
])
def test_models_train_with_sampled_softmax(toy_with_vectors, tmp_path, model, train_rows):
    config, train_data, valid_data, test_data, net, trainer = build(
        toy_with_vectors, tmp_path, model, train_rows=train_rows, softmax_negatives=16,
        softmax_sampling="popularity" if model.startswith("GRU") else "uniform",
        softmax_negatives_per="batch" if model.startswith("BERT") else "position",
        **({"semantic_suffix": "useremb"} if model.endswith("LLMESR") else {}))
    rows = trainer.prepare_training(train_data, valid_data)
    sampler = net.softmax_sampler
    assert sampler is not None and sampler.n_negatives == 16
    batch = next(iter(rows))

    def rank_loss():
        if hasattr(net, "ranking_loss_and_students"):  # the GAA term needs a teacher table: rank loss only
            return net.ranking_loss_and_students(batch)[0]
        return (trainer.training_loss() or net.calculate_loss)(batch)

    drawn = []
    sampler.draw = lambda n, device="cpu": drawn.append(n) or NegativeSampler.draw(sampler, n, device)
    net.eval()  # no dropout: the two losses below see the same network
    sampled = rank_loss()
    assert drawn and drawn[0] > 0, "the training loss did not draw negatives"
    del sampler.draw
    net.softmax_sampler = None
    full = rank_loss()
    net.softmax_sampler = sampler
    assert 0 < sampled.item() < full.item()  # 16 negatives are easier to beat than every item
    net.train()
    trainer.fit(train_data, valid_data, saved=False, show_progress=False)
    assert np.isfinite(trainer.curve[-1]["train_loss"][0])
    result = trainer.evaluate(test_data, load_best_model=False)
    assert np.isfinite(result["ndcg@10"])


def test_plain_models_rebuild_recbole_loss_exactly_without_a_sampler(toy_with_vectors, tmp_path):
    """The loss paths used with a sampler equal RecBole's own CE when given no sampler."""
    for model, rows in (("SASRec", "prefix"), ("BERT4Rec", "prefix")):
        _, train_data, valid_data, _, net, trainer = build(toy_with_vectors, tmp_path, model, train_rows=rows)
        trainer.prepare_training(train_data, valid_data)
        batch = next(iter(train_data))
        net.eval()  # no dropout: both calls see the same network
        torch.manual_seed(3)
        ours = masked_items_loss(net, batch) if model == "BERT4Rec" else prefix_rows_loss(net, batch)
        torch.manual_seed(3)
        torch.testing.assert_close(ours, net.calculate_loss(batch))


def test_sequence_rows_use_the_sampler(toy_with_vectors, tmp_path):
    _, train_data, valid_data, _, net, trainer = build(toy_with_vectors, tmp_path, "SASRec", train_rows="sequence",
                                                       softmax_negatives=4)
    batch = next(iter(trainer.prepare_training(train_data, valid_data)))
    net.eval()
    sampled = sequence_rows_loss(net, batch).item()
    net.softmax_sampler = None
    full = sequence_rows_loss(net, batch).item()
    assert sampled < full  # 4 negatives are easier to beat than the whole catalogue


@pytest.mark.parametrize("model,support", [("SASRec", "forward"), ("BERT4Rec", "forward"), ("SASRecHSUGA", "own"),
                                           ("BERT4RecLLMESR", "own"), ("SASRecGRASP", "none"), ("CORE", "none")])
def test_sampled_softmax_support_per_model(model, support):
    """GRASP's gated scores and RecBole models with extra loss terms are refused with one line."""
    from recbole_hsuga.registry import get_model

    cls = get_model(model)
    bare = cls.__new__(cls)  # class attributes and isinstance are all the check reads
    assert softmax_sampler_support(bare) == support
    if support == "none":
        with pytest.raises(InputError, match=f"not supported by {model}"):
            check_softmax_sampler_support(bare)
    else:
        check_softmax_sampler_support(bare)
