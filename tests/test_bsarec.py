"""BSARec (recbole_hsuga/model/bsarec.py): the frequency filter, the padding layout, shapes,
and runs through the project's runner and trainer on a tiny generated dataset."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import TINY_DATASET, TINY_RUN, build_run

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.errors import InputError
from recbole_hsuga.model.bsarec import BSARec, BSARecBlock, FrequencyLayer, left_pad
from recbole_hsuga.registry import get_model

DATASET = TINY_DATASET
WINDOW = 8  # MAX_ITEM_LIST_LENGTH of these runs


def settings(root, tmp_path, **overrides) -> dict:
    return {**TINY_RUN, "MAX_ITEM_LIST_LENGTH": WINDOW, "checkpoint_dir": str(tmp_path / "saved"),
            "results_dir": str(tmp_path / "results"), **overrides}


# ------------------------------------------------------------------ frequency filter
def test_full_cutoff_keeps_every_frequency():
    """c >= L keeps all L // 2 + 1 rfft bins: the low-pass part is the input, for any input."""
    torch.manual_seed(0)
    for length in (7, 8):
        layer = FrequencyLayer(hidden_size=4, c=length, hidden_dropout_prob=0.0, layer_norm_eps=1e-12)
        x = torch.randn(3, length, 4)
        low, high = layer.split(x)
        torch.testing.assert_close(low, x, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(high, torch.zeros_like(x), rtol=0, atol=1e-5)
        torch.testing.assert_close(layer.filter(x), x, rtol=1e-5, atol=1e-5)
        layer.eval()
        torch.testing.assert_close(layer(x), layer.LayerNorm(2 * x))  # residual of an identity filter


def test_low_frequency_input_is_its_own_low_pass():
    """c = 3 keeps bins 0 and 1: a constant plus one slow cosine passes unchanged, whatever beta."""
    length, hidden = 10, 3
    layer = FrequencyLayer(hidden_size=hidden, c=3, hidden_dropout_prob=0.0, layer_norm_eps=1e-12)
    t = torch.arange(length, dtype=torch.float32)
    x = (torch.tensor([0.5, -1.0, 2.0]) + torch.outer(torch.cos(2 * math.pi * t / length), torch.tensor([1.0, 0.3, -2.0])))
    x = x.unsqueeze(0)  # [1, L, H]
    low, high = layer.split(x)
    torch.testing.assert_close(low, x, rtol=1e-5, atol=1e-5)
    assert high.abs().max() < 1e-5
    torch.testing.assert_close(layer.filter(x), x, rtol=1e-5, atol=1e-5)


def test_beta_zero_removes_high_frequencies():
    """sqrt_beta = 0: the filter output is the low-pass part, with nothing above bin c // 2."""
    torch.manual_seed(1)
    length, c = 12, 5
    layer = FrequencyLayer(hidden_size=4, c=c, hidden_dropout_prob=0.0, layer_norm_eps=1e-12)
    with torch.no_grad():
        layer.sqrt_beta.zero_()
    x = torch.randn(2, length, 4)
    spectrum = torch.fft.rfft(layer.filter(x), dim=1, norm="ortho")
    original = torch.fft.rfft(x, dim=1, norm="ortho")
    kept = c // 2 + 1
    assert spectrum[:, kept:].abs().max() < 1e-5
    torch.testing.assert_close(spectrum[:, :kept], original[:, :kept], rtol=1e-4, atol=1e-5)
    # beta = 1 (sqrt_beta = +-1) gives the input back: low + high.
    with torch.no_grad():
        layer.sqrt_beta.fill_(-1.0)
    torch.testing.assert_close(layer.filter(x), x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_alpha_selects_the_filter_or_the_attention(alpha):
    torch.manual_seed(2)
    block = BSARecBlock(hidden_size=8, n_heads=2, inner_size=16, hidden_dropout_prob=0.0, attn_dropout_prob=0.0,
                        hidden_act="gelu", layer_norm_eps=1e-12, alpha=alpha, c=3).eval()
    x = torch.randn(2, 6, 8)
    mask = torch.zeros(2, 1, 6, 6)
    expected = block.filter_layer(x) if alpha == 1.0 else block.attention_layer(x, mask)
    torch.testing.assert_close(block.mix(x, mask), expected)
    torch.testing.assert_close(block(x, mask), block.feed_forward(expected))


def test_last_slot_block_is_the_full_block_at_its_last_slot():
    """forward_last skips the slots the model never reads: same output and same gradients."""
    torch.manual_seed(3)
    block = BSARecBlock(hidden_size=8, n_heads=2, inner_size=16, hidden_dropout_prob=0.0, attn_dropout_prob=0.0,
                        hidden_act="gelu", layer_norm_eps=1e-12, alpha=0.7, c=3)
    x = torch.randn(3, 6, 8, requires_grad=True)
    # causal + key padding: the first row has two padding slots on the left, as left_pad lays them out
    keys = torch.ones(3, 6, dtype=torch.bool)
    keys[0, :2] = False
    allowed = keys[:, None, None, :] & torch.tril(torch.ones(6, 6, dtype=torch.bool))
    mask = torch.where(allowed, 0.0, -10000.0)
    full = block(x, mask)[:, -1:]
    (x_grad_full, *grads_full) = torch.autograd.grad(full.square().sum(), [x, *block.parameters()])
    last = block.forward_last(x, mask)
    (x_grad_last, *grads_last) = torch.autograd.grad(last.square().sum(), [x, *block.parameters()])
    assert last.shape == (3, 1, 8)
    torch.testing.assert_close(last, full)
    torch.testing.assert_close(x_grad_last, x_grad_full)
    for got, expected in zip(grads_last, grads_full):
        torch.testing.assert_close(got, expected)


# ------------------------------------------------------------------ padding layout
def test_left_pad_moves_items_to_the_right_end():
    item_seq = torch.tensor([[3, 4, 5, 0], [7, 0, 0, 0], [1, 2, 3, 4], [6, 9, 99, 99]])
    item_seq_len = torch.tensor([3, 1, 4, 2])  # the last row holds junk past its length
    expected = torch.tensor([[0, 3, 4, 5], [0, 0, 0, 7], [1, 2, 3, 4], [0, 0, 6, 9]])
    assert torch.equal(left_pad(item_seq, item_seq_len), expected)


@pytest.fixture(scope="module")
def built(tiny_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("built")
    config, train_data, valid_data, test_data, net, trainer = build_run(
        tiny_root, DATASET, "BSARec", settings(tiny_root, tmp))
    net.eval()
    return config, train_data, test_data, net


def test_yaml_defaults_and_registry(tiny_root):
    assert get_model("BSARec") is BSARec
    config = HSUGAConfig(model="BSARec", dataset=DATASET, config_dict={"data_path": str(tiny_root)})
    expected = {"hidden_size": 64, "n_layers": 2, "n_heads": 1, "inner_size": 256, "hidden_dropout_prob": 0.5,
                "attn_dropout_prob": 0.5, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "initializer_range": 0.02,
                "alpha": 0.7, "c": 5, "loss_type": "CE", "train_rows": "prefix", "MAX_ITEM_LIST_LENGTH": 50}
    for key, value in expected.items():
        assert config[key] == value and type(config[key]) is type(value), key
    assert config["train_neg_sample_args"]["distribution"] == "none"  # CE: no sampled negative per row


@pytest.mark.parametrize("overrides, key", [({"alpha": 1.5}, "alpha"), ({"c": -1}, "c")])
def test_bad_settings_are_input_errors(tiny_root, tmp_path, overrides, key):
    with pytest.raises(InputError, match=f"^{key}: "):
        build_run(tiny_root, DATASET, "BSARec", settings(tiny_root, tmp_path, **overrides))


def test_shapes_and_scores(built):
    config, train_data, _, net = built
    batch = next(iter(train_data))
    with torch.no_grad():
        output = net(batch["item_id_list"], batch["item_length"])
        assert output.shape == (len(batch), config["hidden_size"])
        scores = net.full_sort_predict(batch)
        assert scores.shape == (len(batch), train_data._dataset.item_num)
        torch.testing.assert_close(net.predict(batch), scores.gather(1, batch["item_id"].unsqueeze(1)).squeeze(1))
        assert torch.isfinite(net.calculate_loss(batch))


def test_forward_runs_the_encoder_on_the_official_layout(built):
    """forward = the encoder's last slot on left-padded rows (the official model's input)."""
    _, train_data, _, net = built
    batch = next(iter(train_data))
    item_seq, item_seq_len = batch["item_id_list"], batch["item_length"]
    assert bool((item_seq_len < WINDOW).any())  # some rows are padded
    rows = []
    for items, n in zip(item_seq.tolist(), item_seq_len.tolist()):
        rows.append([0] * (WINDOW - n) + items[:n])
    with torch.no_grad():
        torch.testing.assert_close(net(item_seq, item_seq_len), net.encode(torch.tensor(rows))[:, -1])


def test_padding_slots_and_batch_neighbours_do_not_change_a_representation(built):
    """Guaranteed by the design: ids past item_seq_len are ignored, and rows are independent
    (the filter and the attention mix slots of one row only)."""
    _, train_data, _, net = built
    batch = next(iter(train_data))
    item_seq, item_seq_len = batch["item_id_list"], batch["item_length"]
    slots = torch.arange(WINDOW).unsqueeze(0)
    junk = torch.where(slots >= item_seq_len.unsqueeze(1), torch.randint(1, net.n_items, item_seq.shape), item_seq)
    assert not torch.equal(junk, item_seq)
    with torch.no_grad():
        together = net(item_seq, item_seq_len)
        torch.testing.assert_close(net(junk, item_seq_len), together)
        for row in (0, len(batch) - 1):
            alone = net(item_seq[row:row + 1], item_seq_len[row:row + 1])
            torch.testing.assert_close(alone[0], together[row], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ runs
def test_runner_trains_evaluates_and_reports_finite_metrics(tiny_root, tmp_path):
    from recbole_hsuga.runner import run

    result = run("BSARec", DATASET, config_dict={**settings(tiny_root, tmp_path), "data_path": str(tiny_root),
                                                 "epochs": 2})
    for split in ("valid", "test"):
        for metric, value in result["metrics"][split]["full"]["all"].items():
            assert math.isfinite(value), (split, metric)
    assert 0.0 <= result["metrics"]["test"]["full"]["all"]["ndcg@10"] <= 1.0
    assert list((tmp_path / "results").glob("BSARec-*.json"))


def test_sequence_rows_are_refused(tiny_root, tmp_path):
    _, train_data, valid_data, _, _, trainer = build_run(
        tiny_root, DATASET, "BSARec", {**settings(tiny_root, tmp_path), "train_rows": "sequence"})
    with pytest.raises(InputError, match="train_rows: sequence supports .*; BSARec trains with train_rows: prefix"):
        trainer.fit(train_data, valid_data, saved=False)


@pytest.mark.parametrize("overrides", [{"softmax_negatives": 8}, {"loss_type": "BPR"}], ids=["sampled-softmax", "bpr"])
def test_other_losses_train(tiny_root, tmp_path, overrides):
    _, train_data, valid_data, _, net, trainer = build_run(
        tiny_root, DATASET, "BSARec", {**settings(tiny_root, tmp_path), **overrides})
    before = net.item_embedding.weight.detach().clone()
    trainer.fit(train_data, valid_data, saved=False)
    if "softmax_negatives" in overrides:
        assert net.softmax_sampler is not None and net.softmax_sampler.n_negatives == 8
        assert trainer.training_loss() is not None  # the trainer's loss on forward, not calculate_loss
    (entry,) = trainer.curve
    assert math.isfinite(entry["train_loss"][0]) and entry["train_loss"][0] > 0
    assert not torch.equal(before, net.item_embedding.weight)
