"""SemanticSequentialDataset: semantic tables loaded and remapped by the dataset, the
held-out guard against RecBole's real split, input errors, and the dataset cache."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from dataset_tools.formats.features import ITEM_FIELDS, write_feature_file
from dataset_tools.formats.inter import write_sequences
from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.dataset import (
    HeldOutMismatchError,
    SemanticSequentialDataset,
    SemanticTable,
    load_semantic_table,
)
from recbole_hsuga.errors import InputError
from recbole_hsuga.registry import get_trainer
from recbole_hsuga.runner import prepare_data

DATASET = "dup"
DIM = 4
#: u0's last interaction repeats an earlier item: ``rm_dup_inter: first`` drops it, so
#: RecBole's last two items of u0 are (i4, i5) while the raw file's are (i5, i2).
SEQUENCES = {"u0": ["i1", "i2", "i3", "i4", "i5", "i2"],
             **{f"u{u}": [f"i{(u * 3 + k) % 20 + 1}" for k in range(6)] for u in range(1, 16)}}


def held_out(sequences: dict[str, list[str]]) -> dict:
    """The sidecar record `dataset_tools embed` writes: each user's last two raw items."""
    return {"per_user": 2, "items": {user: items[-2:] for user, items in sequences.items()}}


def write_vectors(folder, suffix: str, sidecar: dict, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tokens = list(SEQUENCES)
    vectors = rng.normal(size=(len(tokens), DIM)).astype(np.float32)
    write_feature_file(folder / f"{DATASET}.{suffix}", tokens, vectors, sidecar)
    return dict(zip(tokens, vectors))


@pytest.fixture(scope="module")
def dup_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dup")
    folder = root / DATASET
    folder.mkdir()
    write_sequences(folder / f"{DATASET}.inter", SEQUENCES)
    write_vectors(folder, "useremb", {"extractor": "test", "held_out": held_out(SEQUENCES)})
    write_vectors(folder, "useremb_nohold", {"extractor": "test"})
    other = {user: (items[:-2] + ["i19", "i20"]) if user == "u3" else items for user, items in SEQUENCES.items()}
    write_vectors(folder, "useremb_other", {"extractor": "test", "held_out": held_out(other)})
    write_vectors(folder, "useremb_v2", {"extractor": "test", "held_out": held_out(SEQUENCES)}, seed=1)
    write_feature_file(folder / f"{DATASET}.strangers", ["x1", "x2"], np.ones((2, DIM), np.float32), {})
    item_tokens = [f"i{i}" for i in range(1, 21)]
    write_feature_file(folder / f"{DATASET}.itememb", item_tokens,
                       np.arange(20 * DIM, dtype=np.float32).reshape(20, DIM), {"extractor": "items"},
                       fields=ITEM_FIELDS)
    return root


def make_config(root, **overrides) -> HSUGAConfig:
    settings = {
        "data_path": str(root), "checkpoint_dir": str(root / "saved"), "epochs": 1,
        "train_batch_size": 64, "eval_batch_size": 64, "MAX_ITEM_LIST_LENGTH": 8, "hidden_size": 8,
        "inner_size": 16, "n_layers": 1, "n_heads": 1, "device": "cpu", "use_gpu": False, "seed": 3,
        "eval_sampled_negatives": 3, "show_progress": False, "gaa_k_active": 2, "gaa_k_longtail": 3,
    }
    settings.update(overrides)
    return HSUGAConfig(model="SASRecHSUGA", dataset=DATASET, config_dict=settings)


def test_a_missing_dataset_folder_is_one_clear_error(tmp_path):
    """``prepare_data`` names the missing folder; RecBole would try to download a dataset of
    that name. Every script that builds data goes through it."""
    with pytest.raises(InputError, match="dataset 'dup' not found: no folder"):
        prepare_data(make_config(tmp_path))


def test_guard_passes_when_the_sidecar_holds_out_recboles_targets(dup_root, caplog):
    config = make_config(dup_root)
    with caplog.at_level(logging.INFO):
        dataset, train_data, valid_data, test_data = prepare_data(config)
    assert isinstance(dataset, SemanticSequentialDataset)
    assert "held-out guard passed (16 users checked" in caplog.text
    # The guard's notion of RecBole's targets is what RecBole's split really evaluates.
    items = dataset.field2id_token["item_id"]
    users = dataset.field2id_token["user_id"]
    for loader, position in ((valid_data, -2), (test_data, -1)):
        inter = loader._dataset.inter_feat
        for user, item in zip(inter["user_id"].numpy(), inter["item_id"].numpy()):
            assert SEQUENCES[users[user]][position] == items[item]
    # Every split shares the dataset's tables; the model gets tensors, the trainer the table.
    table = dataset.semantic_table("user")
    assert isinstance(table, SemanticTable) and table.counts == {"matched": 16, "unknown": 0, "missing": 0}
    for loader in (train_data, valid_data, test_data):
        assert loader._dataset.semantic_table("user") is table
    model = config.model_class(config, train_data._dataset)
    torch.testing.assert_close(model.semantic_fusion.semantic_table, torch.from_numpy(table.table))
    trainer = get_trainer(config["MODEL_TYPE"], config["model"], config.model_class)(config, model)
    trainer.fit(train_data, valid_data, saved=False)
    assert trainer.user_semantic is table and trainer.neighbour_sets is not None


def test_guard_fires_when_recbole_drops_a_duplicate_the_tool_held_out(dup_root):
    config = make_config(dup_root, rm_dup_inter="first")
    with pytest.raises(HeldOutMismatchError) as caught:
        prepare_data(config)
    message = str(caught.value)
    assert isinstance(caught.value, InputError)
    assert f"{DATASET}.useremb" in message and "for 1 of 16 users" in message
    assert "user 'u0'" in message and "['i5', 'i2']" in message and "['i4', 'i5']" in message


def test_guard_fires_when_the_sidecar_records_other_items(dup_root):
    with pytest.raises(HeldOutMismatchError, match=r"for 1 of 16 users.*user 'u3'.*\['i19', 'i20'\]"):
        prepare_data(make_config(dup_root, semantic_suffix="useremb_other"))


def test_guard_warns_and_continues_without_a_held_out_record(dup_root, caplog):
    with caplog.at_level(logging.WARNING):
        dataset, *_ = prepare_data(make_config(dup_root, semantic_suffix="useremb_nohold", rm_dup_inter="first"))
    assert dataset.semantic_table("user") is not None
    assert "records no held_out items" in caplog.text and "dup.useremb_nohold" in caplog.text


def test_no_table_is_loaded_for_a_plain_backbone_configuration(dup_root):
    # ID-only HSUGA with neither fusion nor GAA: the plain backbone (the dual view would need the item table).
    plain = {"semantic_suffix": "nosuch", "gaa": False, "hsuga_backbone": "id_only"}
    dataset, train_data, *_ = prepare_data(make_config(dup_root, **plain))
    assert dataset.semantic_tables == {}
    config = make_config(dup_root, **plain)
    model = config.model_class(config, train_data._dataset)
    assert model.semantic_fusion.semantic_table.shape == (dataset.user_num, 0)


@pytest.mark.parametrize("overrides, match", [
    ({"semantic_suffix": "nosuch"}, r"dup\.nosuch does not exist"),
    ({"semantic_suffix": "strangers"}, r"dup\.strangers: none of its 2 ids is a user"),
    ({"semantic_fusion": "multiply"}, "semantic_fusion must be one of"),
    ({"semantic_missing": "guess"}, "semantic_missing must be one of"),
    ({"semantic_suffix": ""}, "semantic_suffix is empty"),
])
def test_input_errors_name_the_key_or_file(dup_root, overrides, match):
    with pytest.raises(InputError, match=match):
        prepare_data(make_config(dup_root, **overrides))


def test_item_tables_load_through_the_same_loader(dup_root):
    dataset, *_ = prepare_data(make_config(dup_root))
    table = load_semantic_table(dataset, "item", "itememb", dataset.config["data_path"], key="item_semantic_suffix")
    assert table.kind == "item" and table.table.shape == (dataset.item_num, DIM)
    ids = dataset.field2token_id["item_id"]
    np.testing.assert_array_equal(table.table[ids["i7"]], np.arange(6 * DIM, 7 * DIM, dtype=np.float32))
    assert not table.has_vector[0] and table.n_missing == 0


def test_a_cached_dataset_reloads_its_tables_from_the_files(dup_root, tmp_path):
    settings = {"checkpoint_dir": str(tmp_path / "saved"), "save_dataset": True}
    first, *_ = prepare_data(make_config(dup_root, **settings))
    cached = list((tmp_path / "saved").glob(f"{DATASET}-SemanticSequentialDataset.pth"))
    assert len(cached) == 1
    second, *_ = prepare_data(make_config(dup_root, semantic_suffix="useremb_v2", **settings))
    assert second.semantic_table("user").suffix == "useremb_v2"
    assert not np.array_equal(second.semantic_table("user").table, first.semantic_table("user").table)
    # A cached dataset still runs the guard with the current config.
    with pytest.raises(HeldOutMismatchError):
        prepare_data(make_config(dup_root, semantic_suffix="useremb_other", **settings))
