"""The dual-view models (LLM-ESR, and HSUGA on it) on a tiny generated dataset: item semantic
tables, PCA initialisation, cross-attention masking, the shared encoder, self-distillation,
students, and one epoch of training with save / reload / predict for every model."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from conftest import TINY_RUN, assert_reload_scores_the_same, build_run, score_terms_of
from dataset_tools.formats.features import ITEM_FIELDS, write_feature_file
from dataset_tools.formats.inter import write_sequences
from recbole_hsuga.compat import load_recbole_checkpoint
from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.sequence_loader import LAST_WINDOW
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.gaa.loss import neighbour_mean
from recbole_hsuga.model.dual_view import ViewCrossAttention, pca_initialisation
from recbole_hsuga.position_loss import position_outputs
from recbole_hsuga.registry import get_model
from recbole_hsuga.trainer import GAATrainer

DATASET = "duo"
N_USERS = 36
N_ITEMS = 24
ITEM_DIM = 12
USER_DIM = 6
ITEMS_WITHOUT_VECTOR = ("i5", "i11")
LLMESR = ["SASRecLLMESR", "GRU4RecLLMESR", "BERT4RecLLMESR"]
HSUGA = ["SASRecHSUGA", "GRU4RecHSUGA", "BERT4RecHSUGA"]


def write_dataset(root, item_order_seed: int = 0, item_semantic_suffix: str = "itememb") -> dict[str, np.ndarray]:
    """``<root>/duo/duo.inter`` plus item vectors (two items without one, rows in a shuffled
    order), HSU user vectors (``useremb``) and user text vectors (``useremb_text``).

    Returns the raw item vectors by token.
    """
    rng = np.random.default_rng(0)
    folder = root / DATASET
    folder.mkdir(parents=True, exist_ok=True)
    sequences = {f"u{u}": [f"i{int(rng.integers(0, N_ITEMS))}" for _ in range(int(rng.integers(5, 13)))]
                 for u in rng.permutation(N_USERS)}
    write_sequences(folder / f"{DATASET}.inter", sequences)
    users = list(sequences)
    for suffix in ("useremb", "useremb_text"):
        write_feature_file(folder / f"{DATASET}.{suffix}", users,
                           rng.normal(size=(len(users), USER_DIM)).astype(np.float32), {"extractor": "test"})
    tokens = [f"i{i}" for i in range(N_ITEMS) if f"i{i}" not in ITEMS_WITHOUT_VECTOR]
    vectors = dict(zip(tokens, rng.normal(size=(len(tokens), ITEM_DIM)).astype(np.float32)))
    order = np.random.default_rng(item_order_seed).permutation(len(tokens))
    shuffled = [tokens[i] for i in order]
    write_feature_file(folder / f"{DATASET}.{item_semantic_suffix}", shuffled,
                       np.stack([vectors[t] for t in shuffled]), {"extractor": "items"}, fields=ITEM_FIELDS)
    return vectors


@pytest.fixture(scope="module")
def duo(tmp_path_factory):
    root = tmp_path_factory.mktemp("duo")
    return root, write_dataset(root)


def build(root, model: str, **overrides):
    return build_run(root, DATASET, model, {**TINY_RUN, "checkpoint_dir": str(root / "saved"), "gaa_k_active": 3,
                                            "gaa_k_longtail": 4, **overrides})


# ---------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("model_name", LLMESR + HSUGA)
def test_defaults_compare_like_with_like(duo, model_name):
    root, _ = duo
    config = HSUGAConfig(model=model_name, dataset=DATASET, config_dict={"data_path": str(root)})
    backbone = model_name.replace("LLMESR", "").replace("HSUGA", "")
    plain = HSUGAConfig(model=backbone, dataset=DATASET, config_dict={"data_path": str(root)})
    assert config["loss_type"] == plain["loss_type"] == "CE"  # RecBole's backbone YAMLs
    assert config["hsuga_backbone"] == "dual_view" and config["item_semantic_suffix"] == "itememb"
    assert config["item_semantic_missing"] == "mean" and config["gaa"] is True
    assert config["gaa_alpha"] == 0.1 and config["gaa_sd_reduction"] == "mean" and config["gaa_k_longtail"] == 10
    if model_name in LLMESR:  # LLM-ESR's uniform SD on user text vectors
        assert config["semantic_suffix"] == "useremb_text" and config["gaa_group_aware"] is False
    else:  # the paper's HSUGA: group-aware, HSU vectors
        assert config["semantic_suffix"] == "useremb" and config["gaa_group_aware"] is True
    assert get_model(model_name).trainer_class is GAATrainer


def test_llmesr_refuses_id_only_and_id_only_hsuga_keeps_the_backbone_layout(duo):
    root, _ = duo
    with pytest.raises(ValueError, match="dual-view LLM-ESR model"):
        build(root, "SASRecLLMESR", hsuga_backbone="id_only")
    _, train_data, *_, net, _ = build(root, "SASRecHSUGA", hsuga_backbone="id_only")
    _, _, *_, plain, _ = build(root, "SASRec")
    assert set(net.state_dict()) == set(plain.state_dict())  # old ID-only checkpoints still load
    assert train_data._dataset.semantic_table("item") is None  # no item file needed


# ---------------------------------------------------------------------------- item table
def test_permuting_raw_item_ids_leaves_every_item_with_its_own_row(tmp_path):
    for seed in (1, 2):
        root = tmp_path / f"order{seed}"
        vectors = write_dataset(root, item_order_seed=seed)
        _, train_data, *_, net, _ = build(root, "SASRecLLMESR")
        dataset = train_data._dataset
        token_to_id = dataset.field2token_id["item_id"]
        table = net.item_semantic.numpy()
        for token, vector in vectors.items():
            np.testing.assert_allclose(table[token_to_id[token]], vector, rtol=1e-6, atol=1e-6)
        assert not table[0].any()  # padding row


@pytest.mark.parametrize("policy", ["mean", "zero"])
def test_items_without_a_vector_follow_the_policy(duo, policy, caplog):
    root, vectors = duo
    with caplog.at_level(logging.WARNING):
        _, train_data, *_, net, _ = build(root, "SASRecHSUGA", item_semantic_missing=policy)
    dataset = train_data._dataset
    table = dataset.semantic_table("item")
    assert table.n_missing == len(ITEMS_WITHOUT_VECTOR) and table.counts["missing_policy"] == policy
    assert "2 of" in caplog.text and "no semantic vector" in caplog.text
    missing = [dataset.field2token_id["item_id"][t] for t in ITEMS_WITHOUT_VECTOR]
    expected = np.mean(list(vectors.values()), axis=0) if policy == "mean" else np.zeros(ITEM_DIM)
    for row in missing:
        np.testing.assert_allclose(net.item_semantic[row].numpy(), expected, rtol=1e-5, atol=1e-6)
    if policy == "zero":  # the adapter's output is its bias
        torch.testing.assert_close(net.semantic_item_vectors(torch.tensor(missing[:1]))[0], net.adapter[1].bias
                                   + net.adapter[1].weight @ net.adapter[0].bias)
    with pytest.raises(Exception, match="item_semantic_missing must be one of"):
        build(root, "SASRecHSUGA", item_semantic_missing="guess")


def test_pca_initialisation_and_adapter_shapes(duo):
    root, _ = duo
    _, train_data, *_, net, _ = build(root, "SASRecLLMESR", hidden_size=8)
    table = train_data._dataset.semantic_table("item")
    assert [tuple(layer.weight.shape) for layer in net.adapter] == [(ITEM_DIM // 2, ITEM_DIM), (8, ITEM_DIM // 2)]
    assert not any(isinstance(m, (torch.nn.ReLU, torch.nn.GELU, torch.nn.Tanh)) for m in net.adapter)
    assert not net.item_semantic.requires_grad and "item_semantic" not in net.state_dict()
    assert net.item_embedding.weight.requires_grad
    ids = net.item_embedding.weight.detach().numpy()
    # Independent check: the principal axes from the covariance's eigenvectors, scores unscaled.
    known = table.has_vector.copy()
    centred = table.table[known] - table.table[known].mean(0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    top = eigenvectors[:, ::-1][:, :8]
    expected = (table.table - table.table[known].mean(0)) @ top
    expected[0] = 0.0
    for column in range(8):  # equal up to the sign of each axis
        sign = np.sign(expected[1:, column] @ ids[1:, column])
        np.testing.assert_allclose(ids[:, column], sign * expected[:, column], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(ids[~table.has_vector][1:], 0.0, atol=1e-5)  # mean-filled items sit at the centre
    assert not ids[0].any()
    # A table narrower than H: the extra components keep the backbone's initialisation.
    narrow = pca_initialisation(table.table, table.has_vector, 64)
    assert narrow.shape == (table.table.shape[0], ITEM_DIM)


# ---------------------------------------------------------------------------- cross-attention
def test_cross_attention_masks_padding_and_causal_keys():
    torch.manual_seed(0)
    attention = ViewCrossAttention(8, n_heads=2)
    assert attention.linear_q.bias is None and attention.linear_k.bias is None and attention.linear_v.bias is None
    assert attention.linear_output.bias is not None
    item_seq = torch.tensor([[3, 4, 5, 0, 0], [7, 0, 0, 0, 0]])
    query, key_value = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    other = key_value.clone()
    other[item_seq == 0] = torch.randn(int((item_seq == 0).sum()), 8) * 100
    real = item_seq > 0
    torch.testing.assert_close(attention(query, key_value, item_seq)[real], attention(query, other, item_seq)[real])
    causal = ViewCrossAttention(8, n_heads=2, causal=True)
    later = key_value.clone()
    later[0, 2] = torch.randn(8) * 100  # a real item after positions 0 and 1
    torch.testing.assert_close(causal(query, key_value, item_seq)[0, :2], causal(query, later, item_seq)[0, :2])


@pytest.mark.parametrize("causal", [True, False])
def test_attention_weights_are_the_ones_the_output_mixes_with(causal):
    torch.manual_seed(0)
    module = ViewCrossAttention(8, n_heads=2, causal=causal)
    query, key_value = torch.randn(2, 5, 8), torch.randn(2, 5, 8)
    item_seq = torch.tensor([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    weights = module.attention_weights(query, key_value, item_seq)  # [B, heads, L, L]
    values = module.linear_v(key_value).view(2, 5, 2, 4).transpose(1, 2)
    rebuilt = module.linear_output(torch.matmul(weights, values).transpose(1, 2).reshape(2, 5, 8))
    torch.testing.assert_close(rebuilt, module(query, key_value, item_seq))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 5))
    assert float(weights[0, :, :, 3:].max()) < 1e-6  # padding keys get nothing
    if causal:
        assert float(weights[1, :, 0, 1:].max()) < 1e-6  # the first position sees only itself


@pytest.mark.parametrize("model_name", LLMESR)
def test_padding_content_never_reaches_the_outputs(duo, model_name):
    """Changing what the padding id looks up (both views) leaves every user's representation unchanged."""
    root, _ = duo
    _, _, _, test_data, net, _ = build(root, model_name)
    net.eval()
    interaction = next(iter(test_data))[0]
    item_seq, item_seq_len = interaction["item_id_list"], interaction["item_length"]
    assert (item_seq == 0).any()
    with torch.no_grad():
        before = net.encode_sequence(item_seq, item_seq_len)
        net.item_embedding.weight[0] = torch.randn(net.item_embedding.weight.size(1)) * 10
        net.item_semantic[0] = torch.randn(ITEM_DIM) * 10
        after = net.encode_sequence(item_seq, item_seq_len)
    torch.testing.assert_close(before, after, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("model_name", ["SASRecLLMESR", "GRU4RecLLMESR"])
def test_causal_backbones_stay_causal(duo, model_name):
    root, _ = duo
    *_, net, _ = build(root, model_name)
    net.eval()
    item_seq = torch.tensor([[3, 4, 5, 6, 7, 8]])
    length = torch.tensor([6])
    changed = item_seq.clone()
    changed[0, 3:] = torch.tensor([9, 10, 11])
    with torch.no_grad():
        first, second = position_outputs(net, item_seq, length), position_outputs(net, changed, length)
    torch.testing.assert_close(first[0, :3], second[0, :3], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(first[0, 3:], second[0, 3:])


@pytest.mark.parametrize("model_name", ["SASRecLLMESR", "BERT4RecLLMESR"])
def test_residual_adds_each_view_back_to_its_cross_attention(duo, model_name):
    root, _ = duo
    *_, released, _ = build(root, model_name)
    *_, residual, _ = build(root, model_name, dual_view_residual=True)
    assert not released.dual_view_residual and residual.dual_view_residual
    residual.load_state_dict(released.state_dict())  # same parameters: only the wiring differs
    item_seq = torch.tensor([[3, 4, 5, 0, 0, 0], [6, 7, 8, 9, 10, 11]])
    id_view, semantic_view = torch.randn(2, 6, 8), torch.randn(2, 6, 8)
    with torch.no_grad():
        plain = released.cross_views(id_view, semantic_view, item_seq)
        added = residual.cross_views(id_view, semantic_view, item_seq)
        outputs = residual.encode_sequence(item_seq, torch.tensor([3, 6])), released.encode_sequence(
            item_seq, torch.tensor([3, 6]))
    torch.testing.assert_close(added, plain + torch.cat([id_view, semantic_view], dim=0))
    assert not torch.allclose(*outputs)


@pytest.mark.parametrize("model_name, encoder", [("SASRecLLMESR", "trm_encoder"), ("GRU4RecLLMESR", "gru_layers"),
                                                 ("BERT4RecLLMESR", "trm_encoder")])
def test_one_shared_encoder_runs_over_both_views(duo, model_name, encoder):
    root, _ = duo
    *_, net, _ = build(root, model_name)
    backbone = model_name.replace("LLMESR", "")
    *_, plain, _ = build(root, backbone)
    module = getattr(net, encoder)
    assert sum(1 for m in net.modules() if type(m) is type(module)) == 1
    # Parameters: the backbone's (its encoder once) + adapter + two cross-attentions (+ BERT4Rec's mask vector).
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    extra = count(net.adapter) + count(net.semantic_to_id) + count(net.id_to_semantic)
    extra += ITEM_DIM if backbone == "BERT4Rec" else 0
    assert count(net) == count(plain) + extra
    calls = []
    module.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    item_seq = torch.tensor([[3, 4, 5, 0, 0, 0], [6, 7, 0, 0, 0, 0]])
    representation = net.encode_sequence(item_seq, torch.tensor([3, 2]))
    assert calls == [4]  # one call, both branches of both users
    assert representation.shape == (2, 2 * 8)
    assert net.item_representations().shape == (net.n_items, 2 * 8)


# ---------------------------------------------------------------------------- self-distillation
def test_llmesr_self_distillation_is_uniform_mse_to_a_detached_neighbour_mean(duo):
    root, _ = duo
    config, train_data, valid_data, _, net, trainer = build(root, "SASRecLLMESR", gaa_k_longtail=4)
    trainer.set_semantic_tables(train_data._dataset)
    assert trainer.user_semantic.suffix == "useremb_text"
    sets = trainer.prepare_gaa(TrainingHistory.from_dataloaders(train_data, valid_data))
    degrees = np.diff(sets.indptr)[1:]
    assert (degrees == 4).all()  # gaa_group_aware: false: every user K = gaa_k_longtail, no Pearson filter
    table = trainer.refresh_teacher()
    assert not table.requires_grad and table.shape[1] == 2 * 8
    net.eval()
    batch = next(iter(train_data))
    rank_loss, student, users = net.ranking_loss_and_students(batch)
    _, sd = trainer._joint_loss(batch)
    teacher, has = neighbour_mean(table, users, trainer._neighbours)
    expected = ((student - teacher)[has] ** 2).mean(dim=1)
    weights = trainer._row_weights[users][has] if trainer._row_weights is not None else None
    expected = expected.mean() if weights is None else (expected * weights).sum() / weights.sum()
    torch.testing.assert_close(sd, 0.1 * expected)
    net.zero_grad()
    sd.backward()
    assert net.adapter[0].weight.grad is not None and not table.requires_grad and table.grad is None


@pytest.mark.parametrize("model_name", ["SASRecHSUGA", "GRU4RecLLMESR", "BERT4RecHSUGA"])
def test_one_student_per_user_in_sequence_rows(duo, model_name):
    root, _ = duo
    _, train_data, valid_data, _, net, trainer = build(root, model_name, train_rows="sequence",
                                                       MAX_ITEM_LIST_LENGTH=5, gaa_student_fraction=1.0)
    trainer.fit(train_data, valid_data, saved=False, show_progress=False)
    rows = trainer.training_rows(train_data)
    assert (np.bincount(rows.rows.users) > 1).any(), "some users need several windows at this length"
    net.eval()
    students = []
    for batch in rows:
        _, student, users = net.ranking_loss_and_students(batch)
        last = batch[LAST_WINDOW]
        assert student.shape == (int(last.sum()), 2 * 8)
        expected = net.encode_sequence(batch["item_id_list"][last], batch["item_length"][last])
        torch.testing.assert_close(student, expected, rtol=1e-5, atol=1e-5)
        students.extend(users.tolist())
    assert sorted(students) == sorted(set(rows.rows.users.tolist()))


# ---------------------------------------------------------------------------- training
CASES = [(m, "prefix") for m in LLMESR + HSUGA] + [(m, "sequence") for m in LLMESR + HSUGA if "BERT" not in m]


@pytest.mark.parametrize("model_name, train_rows", CASES)
def test_trains_saves_reloads_and_predicts(duo, tmp_path, model_name, train_rows):
    root, _ = duo
    config, train_data, valid_data, test_data, net, trainer = build(
        root, model_name, train_rows=train_rows, checkpoint_dir=str(tmp_path / "saved"))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    (entry,) = trainer.curve
    assert len(entry["train_loss"]) == 2 and all(np.isfinite(entry["train_loss"])) and entry["train_loss"][1] > 0
    assert any(not torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not net.item_semantic.requires_grad
    checkpoint = load_recbole_checkpoint(trainer.saved_model_file)
    assert not any("item_semantic" in key for key in checkpoint["state_dict"]), "the frozen table is not saved"
    reloaded, interaction, scores = assert_reload_scores_the_same(config, train_data, test_data, net, checkpoint,
                                                                  rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        # The score is the sum of both views' dot products.
        user = reloaded.user_representation(interaction)
        items = reloaded.item_representations()
        size = user.size(1) // 2
        by_view = user[:, :size] @ items[:, :size].T + user[:, size:] @ items[:, size:].T
        if "BERT" in model_name:
            by_view = by_view + reloaded.output_bias
        torch.testing.assert_close(scores, by_view, rtol=1e-4, atol=1e-4)
    result = trainer.evaluate(test_data, load_best_model=True)
    assert 0.0 <= result["ndcg@10"] <= 1.0


def test_fusion_still_works_on_the_dual_view(duo):
    root, _ = duo
    config, train_data, valid_data, _, net, trainer = build(root, "SASRecHSUGA", semantic_fusion="gate", gaa=False)
    trainer.fit(train_data, valid_data, saved=False, show_progress=False)
    batch = next(iter(train_data))
    assert net.user_representation(batch).shape == (len(batch), 2 * 8)
    assert torch.isfinite(net.calculate_loss(batch))


def test_view_terms_add_up_to_the_score(duo):
    root, _ = duo
    *_, test_data, net, _ = build(root, "SASRecLLMESR")
    id_term, semantic_term = score_terms_of(net, test_data)
    assert not torch.allclose(id_term, semantic_term)
