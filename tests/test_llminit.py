"""LLMInit (SASRecLLMInit / GRU4RecLLMInit / BERT4RecLLMInit) on a tiny generated dataset: the
initial item table is the PCA of the item semantic table in RecBole's id order, everything else
is the plain backbone, runs train and evaluate end to end, and a missing table is one error line."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from recbole.utils import init_seed

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from conftest import REPO_ROOT, TINY_RUN, build_run
from dataset_tools.formats.features import ITEM_FIELDS, write_feature_file
from dataset_tools.formats.inter import write_sequences
from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.dataset import SemanticFileNotFoundError, SemanticSettings
from recbole_hsuga.errors import InputError
from recbole_hsuga.model.llminit import LLMInitSequentialDataset
from recbole_hsuga.position_loss import check_sequence_rows_support, softmax_sampler_support
from recbole_hsuga.registry import get_model, get_trainer
from recbole_hsuga.runner import prepare_data, run

DATASET = "init"
N_USERS = 30
N_ITEMS = 20
ITEM_DIM = 12
ITEMS_WITHOUT_VECTOR = ("i4", "i13")
MODELS = ["SASRecLLMInit", "GRU4RecLLMInit", "BERT4RecLLMInit"]


def backbone_of(model_name: str) -> str:
    return model_name.replace("LLMInit", "")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """``<root>/init/init.inter`` + ``init.itememb`` (two items without a vector, rows shuffled).

    Returns ``(root, {item token: raw vector})``.
    """
    root = tmp_path_factory.mktemp("llminit")
    rng = np.random.default_rng(3)
    folder = root / DATASET
    folder.mkdir()
    sequences = {f"u{u}": [f"i{int(rng.integers(0, N_ITEMS))}" for _ in range(int(rng.integers(5, 11)))]
                 for u in rng.permutation(N_USERS)}
    write_sequences(folder / f"{DATASET}.inter", sequences)
    tokens = [f"i{i}" for i in rng.permutation(N_ITEMS) if f"i{i}" not in ITEMS_WITHOUT_VECTOR]
    # A few strong directions, so the principal axes are well separated (a stable comparison).
    matrix = rng.normal(size=(len(tokens), ITEM_DIM)) * np.linspace(3.0, 0.2, ITEM_DIM) + 1.5
    write_feature_file(folder / f"{DATASET}.itememb", tokens, matrix.astype(np.float32), {"extractor": "items"},
                       fields=ITEM_FIELDS)
    return root, dict(zip(tokens, matrix.astype(np.float32)))


def build(root, model: str, **overrides):
    return build_run(root, DATASET, model, {**TINY_RUN, "checkpoint_dir": str(root / "saved"), **overrides})


def expected_pca(dataset, vectors: dict[str, np.ndarray], k: int) -> np.ndarray:
    """Independent reference: RecBole's internal id order from ``field2id_token``, items without a
    vector at the mean, axes from the covariance's eigenvectors, unscaled scores, padding row 0."""
    tokens = dataset.field2id_token["item_id"]
    mean = np.mean(np.stack(list(vectors.values())), axis=0)
    raw = np.stack([np.zeros(ITEM_DIM)] + [vectors.get(t, mean) for t in tokens[1:]]).astype(np.float64)
    known = np.array([False] + [t in vectors for t in tokens[1:]])
    centred = raw[known] - raw[known].mean(0)
    _, eigenvectors = np.linalg.eigh(centred.T @ centred)
    scores = (raw - raw[known].mean(0)) @ eigenvectors[:, ::-1][:, :k]
    scores[0] = 0.0
    return scores


def assert_equal_up_to_sign(actual: np.ndarray, expected: np.ndarray) -> None:
    for column in range(expected.shape[1]):
        sign = np.sign(expected[:, column] @ actual[:, column])
        np.testing.assert_allclose(actual[:, column], sign * expected[:, column], rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("hidden", [8, 16])
def test_initial_item_table_is_the_pca_of_the_semantic_table(data, model_name, hidden):
    """Rows 0..n_items-1 = PCA scores in RecBole's id order (padding zero); every other weight,
    BERT4Rec's mask row and the columns beyond the table's rank (hidden 16 > 12) included, is
    exactly what the plain backbone draws with the same seed."""
    root, vectors = data
    _, train_data, *_, net, _ = build(root, model_name, hidden_size=hidden, embedding_size=hidden)
    *_, plain, _ = build(root, backbone_of(model_name), hidden_size=hidden, embedding_size=hidden)
    dataset = train_data._dataset
    assert isinstance(dataset, LLMInitSequentialDataset) and dataset.semantic_table("user") is None
    assert dataset.semantic_table("item").n_missing == len(ITEMS_WITHOUT_VECTOR)
    k = min(hidden, ITEM_DIM)
    ids = net.item_embedding.weight.detach().numpy()
    assert_equal_up_to_sign(ids[: net.n_items, :k], expected_pca(dataset, vectors, k))
    assert not ids[0].any()
    missing = [dataset.field2token_id["item_id"][t] for t in ITEMS_WITHOUT_VECTOR]
    np.testing.assert_allclose(ids[missing, :k], 0.0, atol=1e-5)  # mean-filled: the centre of the PCA space
    plain_state = plain.state_dict()
    assert set(net.state_dict()) == set(plain_state)  # same layout: checkpoints load both ways
    for key, value in net.state_dict().items():
        if key != "item_embedding.weight":
            torch.testing.assert_close(value, plain_state[key], msg=key)
    plain_ids = plain_state["item_embedding.weight"].numpy()
    np.testing.assert_array_equal(ids[1:, k:], plain_ids[1:, k:])  # (RecBole's init also draws the padding row)
    np.testing.assert_array_equal(ids[net.n_items:], plain_ids[net.n_items:])  # BERT4Rec's mask row
    if model_name.startswith("BERT4Rec"):
        assert ids.shape[0] == net.n_items + 1 and ids[net.n_items].any()


@pytest.mark.parametrize("model_name", MODELS)
def test_everything_but_the_init_is_the_backbone(data, model_name):
    """Same settings, trainer, loss and scores as the RecBole backbone given the same weights."""
    root, _ = data
    backbone = backbone_of(model_name)
    config = HSUGAConfig(model=model_name, dataset=DATASET, config_dict={"data_path": str(root)})
    plain_config = HSUGAConfig(model=backbone, dataset=DATASET, config_dict={"data_path": str(root)})
    for key in ("loss_type", "train_rows", "hidden_size", "embedding_size", "n_layers", "n_heads", "dropout_prob",
                "hidden_dropout_prob", "attn_dropout_prob", "mask_ratio", "train_neg_sample_args", "softmax_negatives"):
        assert config[key] == plain_config[key], key
    assert SemanticSettings.from_config(config).item_suffix == "itememb"  # the dual-view models' file
    assert get_trainer(config["MODEL_TYPE"], model_name, get_model(model_name)) is \
        get_trainer(plain_config["MODEL_TYPE"], backbone, get_model(backbone))
    _, train_data, *_, test_data, net, _ = build(root, model_name)
    *_, plain, _ = build(root, backbone)
    assert softmax_sampler_support(net) == softmax_sampler_support(plain) != "none"
    check_sequence_rows_support(net)
    assert all(p.requires_grad for p in net.parameters())
    plain.load_state_dict(net.state_dict())
    net.eval(), plain.eval()
    batch, interaction = next(iter(train_data)), next(iter(test_data))[0]
    with torch.no_grad():
        torch.testing.assert_close(net.full_sort_predict(interaction), plain.full_sort_predict(interaction))
        random.seed(1), torch.manual_seed(1)  # BERT4Rec masks at random
        loss = net.calculate_loss(batch)
        random.seed(1), torch.manual_seed(1)
        torch.testing.assert_close(loss, plain.calculate_loss(batch))


# ---------------------------------------------------------------------------- training
@pytest.mark.parametrize("model_name", MODELS)
def test_training_moves_every_part_away_from_the_init(data, model_name):
    root, _ = data
    # One batch per epoch: RecBole's BERT4Rec divides its loss by the number of masked items, so a
    # small batch that happens to mask none (Python's random) has a NaN loss, plain BERT4Rec too.
    config, train_data, valid_data, _, net, trainer = build(root, model_name, epochs=2, learning_rate=0.01,
                                                            train_batch_size=512)
    init_seed(config["seed"], True)  # as the runner does
    before = {k: v.clone() for k, v in net.state_dict().items()}
    trainer.fit(train_data, valid_data, saved=False, show_progress=False)
    after = net.state_dict()
    ids_before, ids_after = before["item_embedding.weight"], after["item_embedding.weight"]
    trained = torch.unique(train_data._dataset.inter_feat["item_id"])
    assert (ids_after[trained] - ids_before[trained]).abs().sum(dim=1).gt(0).all()
    # All trainable: every other weight moved too.
    assert [k for k in before if torch.equal(before[k], after[k])] == []


RUNS = [("SASRecLLMInit", {}), ("GRU4RecLLMInit", {}), ("BERT4RecLLMInit", {}),
        ("SASRecLLMInit", {"train_rows": "prefix", "softmax_negatives": 4})]


@pytest.mark.parametrize("model_name, extra", RUNS)
def test_runner_trains_and_evaluates_with_finite_metrics(data, tmp_path, model_name, extra):
    root, _ = data
    settings = {**TINY_RUN, "data_path": str(root), "checkpoint_dir": str(tmp_path / "saved"),
                "results_dir": str(tmp_path / "results"), "train_batch_size": 512, **extra}  # (see above)
    result = run(model_name, DATASET, config_dict=settings, saved=True, write_results=False)
    assert result["model"] == model_name and result["config"]["train_rows"] == (
        extra.get("train_rows") or ("prefix" if "BERT4Rec" in model_name else "sequence"))
    test = result["metrics"]["test"]  # {protocol: {group: {metric: value, "n_users": count}}}
    values = [float(v) for groups in test.values() for entry in groups.values() for m, v in entry.items()
              if m != "n_users"]
    assert {"full", "sampled"} <= set(test) and values
    assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values)
    assert test["full"]["all"]["n_users"] == N_USERS and test["sampled"]["all"]["hit@20"] > 0


# ---------------------------------------------------------------------------- errors
def test_missing_item_table_is_an_input_error_naming_the_file(data, tmp_path):
    root, _ = data
    config = HSUGAConfig(model="SASRecLLMInit", dataset=DATASET,
                         config_dict={"data_path": str(root), "item_semantic_suffix": "nothere",
                                      "checkpoint_dir": str(tmp_path)})
    with pytest.raises(SemanticFileNotFoundError, match=r"init\.nothere does not exist") as caught:
        prepare_data(config)
    assert isinstance(caught.value, InputError)
    # Through the command line: one error line, status 2 (the project's InputError handling).
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "run_recbole_hsuga.py"), "--model=GRU4RecLLMInit", f"--dataset={DATASET}",
         f"--data_path={root}", "--item_semantic_suffix=nothere", f"--checkpoint_dir={tmp_path / 'saved'}",
         f"--results_dir={tmp_path / 'results'}", "--epochs=1", "--state=WARNING", "--show_progress=False"],
        capture_output=True, text=True, timeout=600, cwd=REPO_ROOT, env=dict(os.environ))
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr and lines[-1].startswith("run_recbole_hsuga.py: error: "), proc.stderr[-3000:]
    assert sum(line.startswith("run_recbole_hsuga.py: error: ") for line in lines) == 1
    assert str(root / DATASET / f"{DATASET}.nothere") in lines[-1]


def test_a_dataset_without_the_item_table_is_refused(data):
    root, _ = data
    config, train_data, *_ = build(root, "SASRecLLMInit")
    dataset = train_data._dataset
    tables = dataset.semantic_tables
    try:
        dataset.semantic_tables = {}
        with pytest.raises(TypeError, match="needs the item semantic table"):
            config.model_class(config, dataset)
    finally:
        dataset.semantic_tables = tables
