"""GRASP: neighbour-mean tables (dataset_tools neighbours), the holistic sigmoid attention, the
factorised and chunked scoring, and one epoch of training with save / reload / predict for
SASRecGRASP, GRU4RecGRASP and BERT4RecGRASP on a tiny generated dataset."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from conftest import TINY_RUN, assert_reload_scores_the_same, build_run, score_terms_of, view_scores_module
from dataset_tools.__main__ import main as tools_main
from dataset_tools.formats.features import ITEM_FIELDS, read_feature_file, write_feature_file
from dataset_tools.formats.inter import write_sequences
from dataset_tools.neighbours.means import neighbour_means
from recbole_hsuga.compat import load_recbole_checkpoint
from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.model.grasp import HolisticItems, holistic_attention, level_weights

DATASET = "gr"
N_USERS = 30
N_ITEMS = 20
ITEM_DIM = 10
USER_DIM = 6
MODELS = ["SASRecGRASP", "GRU4RecGRASP", "BERT4RecGRASP"]


def brute_force_means(vectors: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """Mean of the k most cosine-similar other rows, by plain numpy."""
    tokens = list(vectors)
    x = np.stack([vectors[t] for t in tokens]).astype(np.float64)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    order = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    return {t: x[order[r]].mean(axis=0) for r, t in enumerate(tokens)}


def write_dataset(root, item_names=lambda i: f"i{i}", row_seed: int = 0, k: int = 4) -> dict[str, dict]:
    """``<root>/gr/``: interactions, user text vectors, item vectors (rows in a shuffled order),
    and both neighbour tables written by ``python -m dataset_tools neighbours``.

    Returns the raw vectors by token: ``{"user": {...}, "item": {...}}``."""
    rng = np.random.default_rng(0)
    folder = root / DATASET
    folder.mkdir(parents=True, exist_ok=True)
    sequences = {f"u{u}": [item_names(int(rng.integers(0, N_ITEMS))) for _ in range(int(rng.integers(5, 11)))]
                 for u in range(N_USERS)}
    write_sequences(folder / f"{DATASET}.inter", sequences)
    users = list(sequences)
    user_vectors = dict(zip(users, rng.normal(size=(len(users), USER_DIM)).astype(np.float32)))
    items = [item_names(i) for i in range(N_ITEMS)]
    item_vectors = dict(zip(items, rng.normal(size=(N_ITEMS, ITEM_DIM)).astype(np.float32)))
    order = np.random.default_rng(row_seed)
    shuffled_users = [users[i] for i in order.permutation(len(users))]
    shuffled_items = [items[i] for i in order.permutation(len(items))]
    write_feature_file(folder / f"{DATASET}.useremb_text", shuffled_users,
                       np.stack([user_vectors[t] for t in shuffled_users]), {"extractor": "text", "model": "test"})
    write_feature_file(folder / f"{DATASET}.itememb", shuffled_items,
                       np.stack([item_vectors[t] for t in shuffled_items]), {"extractor": "items", "model": "test"},
                       fields=ITEM_FIELDS)
    for source in ("useremb_text", "itememb"):
        status = tools_main(["-q", "neighbours", DATASET, "--data", str(root), "--source", source, "--k", str(k),
                             "--suffix", f"{source}_nbr10"])
        assert status == 0
    return {"user": user_vectors, "item": item_vectors}


@pytest.fixture(scope="module")
def gr(tmp_path_factory):
    root = tmp_path_factory.mktemp("gr")
    return root, write_dataset(root)


def build(root, model: str, **overrides):
    return build_run(root, DATASET, model, {**TINY_RUN, "checkpoint_dir": str(root / "saved"), **overrides})


# ---------------------------------------------------------------------------- attention
def test_sigmoid_attention_on_a_hand_computed_case():
    q = torch.tensor([1.0, 1.0])
    v = torch.tensor([2.0, 0.0])
    gate = 1.0 / (1.0 + math.exp(-2.0 / math.sqrt(2.0)))  # σ(q·v / √d) = σ(√2) = 0.80443
    torch.testing.assert_close(holistic_attention(q, v), torch.tensor([2.0 * gate, 0.0]))
    assert abs(gate - 0.8044297) < 1e-6  # by hand: e^-1.41421 = 0.243117, 1 / 1.243117
    # Not a softmax: two orthogonal values keep independent gates (σ(0) = 0.5 each), no competition.
    batch = holistic_attention(torch.tensor([[0.0, 3.0], [0.0, 3.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    torch.testing.assert_close(batch, torch.tensor([[0.5, 0.0], [0.0, 1.0 / (1.0 + math.exp(-3.0 / math.sqrt(2)))]]))
    logits = torch.tensor([[0.0, 1.0, -1.0]])
    torch.testing.assert_close(level_weights(logits, "softmax").sum(-1), torch.ones(1))
    torch.testing.assert_close(level_weights(logits, "none"), torch.ones(1, 3))


def _holistic(attention="sigmoid", similar=True, global_level=True, layers=1, width=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    tables = {"user": torch.randn(7, 5, generator=generator), "user_neighbours": torch.randn(7, 5, generator=generator),
              "item": torch.randn(9, 6, generator=generator), "item_neighbours": torch.randn(9, 6, generator=generator)}
    torch.manual_seed(seed)
    module = HolisticItems(tables, width, attention, similar, global_level, layers)
    for parameter in module.parameters():  # away from zero so every gate and layer matters
        torch.nn.init.normal_(parameter, std=0.5)
    return module


@pytest.mark.parametrize("attention, similar, global_level, layers", [
    ("sigmoid", True, True, 1), ("sigmoid", True, True, 3), ("softmax", True, True, 1), ("none", True, True, 2),
    ("sigmoid", False, True, 1), ("sigmoid", True, False, 2),
])
def test_factorised_item_vectors_equal_the_papers_form(attention, similar, global_level, layers):
    module = _holistic(attention, similar, global_level, layers)
    users = torch.tensor([1, 2, 3])
    items = torch.tensor([[1, 2, 8, 0], [3, 3, 4, 5], [6, 7, 1, 2]])
    torch.testing.assert_close(module.pair_vectors(users, items), module.pair_vectors_reference(users, items))
    # The paper's levels, spelled out for one pair: self = A(u, i), similar = A(ū, ī), global = A([u‖ū], [i‖ī]).
    if attention == "sigmoid" and similar and global_level:
        u, u_bar = module.user_side(users[:1])
        i, i_bar = module.item_side(items[0, :1])
        x = torch.cat([holistic_attention(u, i), holistic_attention(u_bar, i_bar),
                       holistic_attention(torch.cat([u, u_bar], -1), torch.cat([i, i_bar], -1))], -1)
        torch.testing.assert_close(module.mlp(x)[0], module.pair_vectors(users[:1], items[:1, :1])[0, 0])


@pytest.mark.parametrize("layers", [1, 2])
def test_chunked_full_ranking_equals_unchunked_and_pairwise(layers):
    module = _holistic(layers=layers)
    # Rows of sequence training repeat users (one row per position), in any order.
    users = torch.tensor([4, 1, 4, 6, 1])
    output = torch.randn(5, 4, generator=torch.Generator().manual_seed(3))
    whole = module.scores(output, users, chunk=1000)
    for chunk in (1, 2, 4):
        torch.testing.assert_close(module.scores(output, users, chunk=chunk), whole)
    every_item = torch.arange(9).expand(5, -1)
    by_pair = (module.pair_vectors(users, every_item) * output.unsqueeze(1)).sum(-1)
    torch.testing.assert_close(whole, by_pair)


# ---------------------------------------------------------------------------- neighbour tables
def test_neighbour_tool_runs_without_the_training_package():
    """``dataset_tools neighbours`` shares GAA's faiss search but not its package: the offline
    tools run where RecBole is not installed (e.g. beside the vLLM pipeline)."""
    code = ("import sys, numpy, dataset_tools.neighbours.cli\n"
            "from dataset_tools.neighbours.means import neighbour_means\n"
            "neighbour_means(numpy.random.default_rng(0).normal(size=(6, 3)), 2)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('recbole', 'recbole_hsuga')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"


def test_neighbour_means_exclude_self_and_match_brute_force():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 5)).astype(np.float32)
    x[7] = x[3] * 2.0  # a duplicate direction of another row is a neighbour; the row itself is not
    means, neighbours = neighbour_means(x, 3)
    for row in range(12):
        assert row not in neighbours[row]
    assert neighbours[3, 0] == 7 and neighbours[7, 0] == 3
    expected = brute_force_means({str(r): x[r] for r in range(12)}, 3)
    np.testing.assert_allclose(means, np.stack([expected[str(r)] for r in range(12)]), rtol=1e-5, atol=1e-6)
    # k larger than the other rows: every other row.
    means, neighbours = neighbour_means(x[:3], 10)
    assert neighbours.shape == (3, 2)
    np.testing.assert_allclose(means[0], x[1:3].mean(0), rtol=1e-6)


@pytest.mark.parametrize("rename, row_seed", [(False, 0), (True, 7)])
def test_neighbour_tables_follow_recbole_ids_under_a_permutation_of_raw_ids(tmp_path, rename, row_seed):
    permutation = np.random.default_rng(3).permutation(N_ITEMS)
    names = (lambda i: f"x{permutation[i]}") if rename else (lambda i: f"i{i}")
    raw = write_dataset(tmp_path, item_names=names, row_seed=row_seed)
    _, train_data, *_ = build(tmp_path, "SASRecGRASP")
    dataset = train_data._dataset
    tables = dataset.semantic_tables
    for kind, field in (("user", dataset.uid_field), ("item", dataset.iid_field)):
        expected_means = brute_force_means(raw[kind], 4)
        tokens = dataset.field2id_token[field]
        for internal in range(1, len(tokens)):
            token = str(tokens[internal])
            np.testing.assert_allclose(tables[kind].table[internal], raw[kind][token], rtol=1e-6)
            np.testing.assert_allclose(tables[f"{kind}_neighbours"].table[internal], expected_means[token],
                                       rtol=1e-4, atol=1e-6)
        assert not tables[kind].table[0].any()  # padding


def test_neighbours_sidecar_names_source_k_and_model(gr):
    root, _ = gr
    tokens, matrix, sidecar = read_feature_file(root / DATASET / f"{DATASET}.itememb_nbr10")
    assert len(tokens) == N_ITEMS and matrix.shape == (N_ITEMS, ITEM_DIM)
    assert sidecar["source_file"] == f"{DATASET}.itememb" and sidecar["k"] == 4 and sidecar["model"] == "test"
    assert sidecar["kind"] == "item" and json.loads(json.dumps(sidecar))


def test_missing_neighbour_file_is_an_input_error(gr, tmp_path):
    root, _ = gr
    from recbole_hsuga.errors import InputError

    with pytest.raises(InputError, match="itememb_nbr5"):
        build(root, "SASRecGRASP", grasp_item_neighbour_suffix="itememb_nbr5")


# ---------------------------------------------------------------------------- models
@pytest.mark.parametrize("model_name", MODELS)
def test_full_sort_and_sampled_scores_agree_with_predict(gr, model_name):
    root, _ = gr
    config, train_data, valid_data, test_data, net, trainer = build(root, model_name, grasp_score_chunk=3)
    net.eval()
    interaction = next(iter(test_data))[0]
    with torch.no_grad():
        scores = net.full_sort_predict(interaction)
        assert scores.shape == (len(interaction), N_ITEMS + 1)
        torch.testing.assert_close(net.predict(interaction),
                                   scores.gather(1, interaction["item_id"].unsqueeze(1)).squeeze(1))
        # The sampled protocol reads full-sort scores at fixed candidates: any candidate id matches predict.
        for candidate in (1, 7, N_ITEMS):
            rows = interaction.copy() if hasattr(interaction, "copy") else interaction
            rows["item_id"] = torch.full_like(interaction["item_id"], candidate)
            torch.testing.assert_close(net.predict(rows), scores[:, candidate])
        net.grasp_score_chunk = 10_000
        torch.testing.assert_close(net.full_sort_predict(interaction), scores)


@pytest.mark.parametrize("model_name, train_rows, extra", [
    ("SASRecGRASP", "prefix", {}), ("SASRecGRASP", "sequence", {}),
    ("GRU4RecGRASP", "prefix", {}), ("GRU4RecGRASP", "sequence", {"grasp_loss": "bce"}),
    ("BERT4RecGRASP", "prefix", {}), ("BERT4RecGRASP", "sequence", {}),
    ("SASRecGRASP", "prefix", {"loss_type": "BPR", "grasp_mlp_layers": 2, "grasp_id_embedding": "none"}),
    ("BERT4RecGRASP", "prefix", {"grasp_loss": "bce", "grasp_attention": "softmax"}),
])
def test_trains_saves_reloads_and_predicts(gr, tmp_path, model_name, train_rows, extra):
    root, _ = gr
    config, train_data, valid_data, test_data, net, trainer = build(
        root, model_name, train_rows=train_rows, checkpoint_dir=str(tmp_path / "saved"), **extra)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    (entry,) = trainer.curve
    assert all(np.isfinite(entry["train_loss"]))
    assert not torch.equal(before["holistic.mlp.0.weight"], net.state_dict()["holistic.mlp.0.weight"])
    assert not net.holistic.item.requires_grad
    checkpoint = load_recbole_checkpoint(trainer.saved_model_file)
    assert not any(key.split(".")[-1] in ("user", "user_neighbours", "item", "item_neighbours")
                   for key in checkpoint["state_dict"]), "the frozen tables are not saved"
    assert_reload_scores_the_same(config, train_data, test_data, net, checkpoint)
    result = trainer.evaluate(test_data, load_best_model=False)
    assert 0.0 <= result["ndcg@10"] <= 1.0


def test_sequence_rows_use_the_same_causal_outputs(gr):
    """Per-position outputs of sequence rows end with forward's last-position output."""
    from recbole_hsuga.position_loss import position_outputs

    root, _ = gr
    _, train_data, *_, net, _ = build(root, "SASRecGRASP")
    net.eval()
    interaction = next(iter(train_data))
    users, item_seq, item_seq_len = interaction["user_id"], interaction["item_id_list"], interaction["item_length"]
    with torch.no_grad(), net.rows_of(users):
        every = position_outputs(net, item_seq, item_seq_len)
        last = net.forward(item_seq, item_seq_len)
    torch.testing.assert_close(every[torch.arange(len(users)), item_seq_len - 1], last)
    with pytest.raises(RuntimeError, match="rows_of"):
        net.forward(item_seq, item_seq_len)


def test_defaults_and_ablation_yamls(gr):
    from pathlib import Path

    root, _ = gr
    config = HSUGAConfig(model="SASRecGRASP", dataset=DATASET, config_dict={"data_path": str(root)})
    assert config["loss_type"] == "CE" and config["grasp_attention"] == "sigmoid"
    assert config["grasp_user_suffix"] == "useremb_text" and config["grasp_item_neighbour_suffix"] == "itememb_nbr10"
    assert config["grasp_mlp_layers"] == 1 and config["grasp_id_embedding"] == "add"
    folder = Path(__file__).resolve().parent.parent / "properties" / "experiments"
    expected = {"grasp_no_similar": ("grasp_similar", False), "grasp_no_global": ("grasp_global", False),
                "grasp_softmax": ("grasp_attention", "softmax"), "grasp_no_attention": ("grasp_attention", "none"),
                "grasp_k5": ("grasp_item_neighbour_suffix", "itememb_nbr5"),
                "grasp_k20": ("grasp_user_neighbour_suffix", "useremb_text_nbr20")}
    for name, (key, value) in expected.items():
        config = HSUGAConfig(model="GRU4RecGRASP", dataset=DATASET, config_file_list=[str(folder / f"{name}.yaml")],
                             config_dict={"data_path": str(root)})
        assert config[key] == value, name


def test_id_and_semantic_terms_add_up_to_the_score(gr):
    """GRASP's score is ``o · e_id(j)`` plus the holistic term; the ID term is the ID table's."""
    root, _ = gr
    *_, test_data, net, _ = build(root, "SASRecGRASP", grasp_score_chunk=7)
    id_term, _ = score_terms_of(net, test_data)
    with torch.no_grad():
        output = net.sequence_output(next(iter(test_data))[0])
    torch.testing.assert_close(id_term, output @ net.item_embedding.weight.t())
    *_, literal, _ = build(root, "SASRecGRASP", grasp_id_embedding="none")
    assert not view_scores_module().split_score(literal)


# ---------------------------------------------------------------------------- gate diagnostics
@pytest.fixture
def grasp_gates(import_benchmark):
    """``benchmarks/grasp_gates.py`` and ``benchmarks/trained_model.py``, imported as the scripts import them."""
    return import_benchmark("grasp_gates"), import_benchmark("trained_model")


def test_gate_spread_matches_a_direct_computation(grasp_gates):
    gates, _ = grasp_gates
    module = _holistic()
    with torch.no_grad():
        u, u_bar = module.user_side(torch.arange(1, 7))  # [6, H]: users 1..6 (row 0 is padding)
        i, i_bar = module.item_side(torch.arange(1, 9))  # [8, H]
        logits = torch.stack([torch.stack([module.logits(u[a] @ i[b], u_bar[a] @ i_bar[b]) for b in range(8)])
                              for a in range(6)])  # [users, items, levels], pair by pair
    weights = torch.sigmoid(logits).double().numpy()
    spread = gates.gate_spread(module, user_chunk=4)  # chunks of 4 users: 1..4, 5..6
    assert list(spread) == ["self", "similar", "global"]
    for level, name in enumerate(spread):
        w = weights[..., level]
        assert spread[name]["mean"] == pytest.approx(w.mean())
        assert spread[name]["user_std"] == pytest.approx(w.std(axis=0).mean())
        assert spread[name]["item_std"] == pytest.approx(w.mean(axis=0).std())
        assert spread[name]["user_share"] == pytest.approx((w.var(axis=0)).mean() / w.var())


def test_population_mean_user_leaves_gates_per_item_only(grasp_gates):
    gates, _ = grasp_gates
    module = _holistic()
    users, items = torch.tensor([1, 4, 6]), torch.tensor([[2, 5, 8]] * 3)
    with torch.no_grad():
        before = module.pair_vectors(users, items)
        assert not torch.allclose(before[0], before[1])  # users see the same items differently
        with gates.population_mean_user(module):
            same = module.pair_vectors(users, items)
            torch.testing.assert_close(same[0], same[1])
            torch.testing.assert_close(same[0], same[2])
            mean_user = module.user[1:].mean(0)
            torch.testing.assert_close(module.user[3], mean_user)
        torch.testing.assert_close(module.pair_vectors(users, items), before)  # the tables are restored


def test_trained_run_reloads_with_the_runs_valid_and_test_metrics(gr, grasp_gates, tmp_path):
    """The diagnostics test a run's checkpoint as the run tested it: same data, same model, same numbers."""
    from recbole_hsuga.runner import run

    _, trained_model = grasp_gates
    root, _ = gr
    settings = {**TINY_RUN, "data_path": str(root), "checkpoint_dir": str(tmp_path / "saved"),
                "results_dir": str(tmp_path / "results"), "epochs": 2}
    result = run("SASRecGRASP", DATASET, config_dict=settings)
    [path] = (tmp_path / "results").glob("SASRecGRASP-*.json")
    assert not math.isnan(result["metrics"]["test"]["full"]["all"]["hit@10"])
    reloaded = trained_model.load_trained_run(path, data_path=root, scratch_dir=tmp_path / "reloaded")
    for split, loader in (("test", reloaded.test_data), ("valid", reloaded.valid_data)):
        with torch.no_grad():
            metrics = reloaded.trainer.evaluate(loader, load_best_model=False)
        for protocol in ("full", "sampled"):
            for group, values in result["metrics"][split][protocol].items():
                for metric in ("hit@10", "ndcg@10"):
                    assert metrics[f"{protocol}/{group}/{metric}"] == pytest.approx(
                        values[metric], abs=1e-4, nan_ok=True), (split, protocol, group, metric)
