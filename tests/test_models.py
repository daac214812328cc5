"""HSUGA models on a tiny generated dataset: one epoch of training (with and without GAA),
checkpoint reload, prediction shapes, fusion variants and the semantic id remapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from dataset_tools.formats.features import write_feature_file
from dataset_tools.formats.inter import write_sequences
from recbole_hsuga.compat import load_recbole_checkpoint
from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.dataset import SemanticSequentialDataset
from recbole_hsuga.errors import InputError
from recbole_hsuga.registry import get_model, get_trainer
from recbole_hsuga.runner import prepare_data
from recbole_hsuga.trainer import GAATrainer, gaa_params_from_config, last_items

DATASET = "tiny"
N_USERS = 40
N_ITEMS = 30
DIM = 8
USERS_WITHOUT_VECTOR = ("u3", "u17")


def write_tiny_dataset(root, n_users: int = N_USERS) -> dict[str, np.ndarray]:
    """``<root>/tiny/tiny.inter`` (5-14 interactions per user) and ``tiny.useremb``.

    Users are written in a shuffled order so RecBole's internal ids differ from the raw ids.
    Returns the raw vectors by token.
    """
    rng = np.random.default_rng(0)
    folder = root / DATASET
    folder.mkdir(parents=True)
    sequences = {f"u{u}": [f"i{int(rng.integers(0, N_ITEMS))}" for _ in range(int(rng.integers(5, 15)))]
                 for u in rng.permutation(n_users)}
    write_sequences(folder / f"{DATASET}.inter", sequences)
    tokens = [f"u{u}" for u in rng.permutation(n_users) if f"u{u}" not in USERS_WITHOUT_VECTOR]
    vectors = rng.normal(size=(len(tokens), DIM)).astype(np.float32)
    write_feature_file(folder / f"{DATASET}.useremb", tokens, vectors, {"extractor": "test"})
    return dict(zip(tokens, vectors))


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    vectors = write_tiny_dataset(root)
    return root, vectors


def make_config(root, model: str, **overrides) -> HSUGAConfig:
    settings = {
        "data_path": str(root),
        "checkpoint_dir": str(root / "saved"),
        "results_dir": str(root / "results"),
        "epochs": 1,
        "train_batch_size": 64,
        "eval_batch_size": 64,
        "MAX_ITEM_LIST_LENGTH": 8,
        "hidden_size": 16,
        "inner_size": 32,
        "embedding_size": 16,
        "n_layers": 1,
        "n_heads": 1,
        "gaa_k_active": 3,
        "gaa_k_longtail": 5,
        "show_progress": False,
        "device": "cpu",
        "use_gpu": False,
        "seed": 7,
        "eval_sampled_negatives": 5,
        # These tests cover the ID-only plug-in (fusion, students and SD on the backbone's own
        # representation); the dual-view default is tested in tests/test_llmesr.py.
        "hsuga_backbone": "id_only",
    }
    settings.update(overrides)
    return HSUGAConfig(model=model, dataset=DATASET, config_dict=settings)


def build(root, model: str, **overrides):
    torch.set_num_threads(1)
    config = make_config(root, model, **overrides)
    dataset, train_data, valid_data, test_data = prepare_data(config)
    model_obj = config.model_class(config, train_data._dataset)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"], config.model_class)(config, model_obj)
    if getattr(trainer, "gaa_enabled", False):
        trainer.set_semantic_tables(train_data._dataset)  # fit() does this; some tests call prepare_gaa directly
    return config, train_data, valid_data, test_data, model_obj, trainer


MODELS = ["SASRecHSUGA", "GRU4RecHSUGA", "BERT4RecHSUGA"]


@pytest.mark.parametrize("model_name", MODELS)
def test_train_one_epoch_save_reload_and_predict(tiny_root, model_name):
    root, _ = tiny_root
    config, train_data, valid_data, test_data, model, trainer = build(root, model_name)
    assert isinstance(trainer, GAATrainer) and trainer.gaa_enabled
    assert config["loss_type"] == "CE"  # the backbone's loss (RecBole's YAMLs), as for --model=SASRec
    assert not torch.is_anomaly_enabled()
    trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    assert trainer.neighbour_sets is not None and len(trainer.neighbour_sets.indices) > 0
    assert trainer._teacher_table is not None and trainer._teacher_table.abs().sum() > 0
    # The learning curve keeps both loss parts (ranking, alpha * SD) and the validation score.
    (entry,) = trainer.curve
    assert entry["epoch"] == 0 and len(entry["train_loss"]) == 2 and entry["train_loss"][1] > 0
    assert entry["valid_score"] == pytest.approx(trainer.best_valid_score)

    reloaded = config.model_class(config, train_data._dataset)
    checkpoint = load_recbole_checkpoint(trainer.saved_model_file)
    reloaded.load_state_dict(checkpoint["state_dict"])
    reloaded.eval()
    model.eval()
    # Checkpoints do not carry the (large, frozen) semantic table; the reload takes it from the dataset.
    assert not any("semantic_table" in key for key in checkpoint["state_dict"])
    interaction = next(iter(test_data))[0]
    with torch.no_grad():
        scores = reloaded.full_sort_predict(interaction)
        assert scores.shape == (len(interaction), train_data._dataset.item_num)
        torch.testing.assert_close(scores, model.full_sort_predict(interaction))
        point = reloaded.predict(interaction)
        assert point.shape == (len(interaction),)
        # predict is the full-sort score at the row's own item.
        torch.testing.assert_close(point, scores.gather(1, interaction["item_id"].unsqueeze(1)).squeeze(1),
                                   rtol=1e-4, atol=1e-4)
        representation = reloaded.sequence_representation(interaction)
        assert representation.shape[0] == len(interaction)

    result = trainer.evaluate(test_data, load_best_model=True)
    assert 0.0 <= result["ndcg@10"] <= 1.0


@pytest.mark.parametrize("model_name", ["SASRecHSUGA", "BERT4RecHSUGA"])
def test_ce_loss_and_gaa_off(tiny_root, model_name):
    root, _ = tiny_root
    config, train_data, valid_data, _, model, trainer = build(
        root, model_name, loss_type="CE", gaa=False, semantic_fusion="concat", semantic_missing="learned")
    assert config["train_neg_sample_args"] is None or config["train_neg_sample_args"]["distribution"] == "none"
    trainer.fit(train_data, valid_data, saved=False)
    assert trainer.neighbour_sets is None and not trainer.gaa_teacher_seconds
    assert len(trainer.curve) == 1 and len(trainer.curve[0]["train_loss"]) == 1  # no SD part
    batch = next(iter(train_data))
    assert torch.isfinite(model.calculate_loss(batch))


@pytest.mark.parametrize("fusion", ["none", "add", "gate", "concat"])
def test_fusion_variants_and_missing_users(tiny_root, fusion):
    root, _ = tiny_root
    config, train_data, *_ , model, _ = build(root, "SASRecHSUGA", semantic_fusion=fusion, gaa=(fusion == "none"))
    model.eval()  # no dropout: the two passes below must see the same network
    batch = next(iter(train_data))
    h = model.sequence_representation(batch)
    fused = model.user_representation(batch)
    assert fused.shape == h.shape
    if fusion == "none":
        torch.testing.assert_close(fused, h)
    module = model.semantic_fusion
    assert module.n_missing == len(USERS_WITHOUT_VECTOR)
    if fusion != "none":
        token_to_id = train_data._dataset.field2token_id["user_id"]
        missing = torch.tensor([token_to_id[t] for t in USERS_WITHOUT_VECTOR])
        assert torch.count_nonzero(module.semantic(missing)) == 0  # semantic_missing: zero
        assert torch.count_nonzero(module.semantic(torch.tensor([token_to_id["u0"]]))) > 0


def test_semantic_table_follows_recbole_ids(tiny_root):
    root, vectors = tiny_root
    _, train_data, *_ , model, _ = build(root, "GRU4RecHSUGA")
    dataset = train_data._dataset
    table = model.semantic_fusion.semantic_table.numpy()
    for token, vector in vectors.items():
        # The file keeps 7 significant digits.
        np.testing.assert_allclose(table[dataset.field2token_id["user_id"][token]], vector, rtol=1e-6, atol=1e-7)
    assert not model.semantic_fusion.has_vector[0]


def test_bad_fusion_and_missing_file_are_named(tiny_root):
    root, _ = tiny_root
    with pytest.raises(ValueError, match="semantic_fusion"):
        build(root, "SASRecHSUGA", semantic_fusion="multiply")
    with pytest.raises(FileNotFoundError, match="tiny.nosuch"):
        build(root, "SASRecHSUGA", semantic_suffix="nosuch")


def test_teacher_sequences_are_the_last_training_items(tiny_root):
    root, _ = tiny_root
    config, train_data, valid_data, _, _, trainer = build(root, "SASRecHSUGA")
    from recbole_hsuga.data.training_history import TrainingHistory

    history = TrainingHistory.from_dataloaders(train_data, valid_data)
    item_seq, item_seq_len = last_items(history, 8)
    for user in range(1, history.n_users):
        own = history.items_of(user)[-8:]
        assert item_seq_len[user] == len(own)
        assert item_seq[user, : len(own)].tolist() == own.tolist()
        assert not item_seq[user, len(own):].any()


def test_teacher_is_refreshed_without_gradient_and_sd_loss_is_added(tiny_root):
    root, _ = tiny_root
    config, train_data, valid_data, _, model, trainer = build(root, "SASRecHSUGA", gaa_alpha=1.0)
    from recbole_hsuga.data.training_history import TrainingHistory

    trainer.prepare_gaa(TrainingHistory.from_dataloaders(train_data, valid_data))
    table = trainer.refresh_teacher()
    assert not table.requires_grad and model.training  # refresh runs in eval mode, then restores
    model.eval()  # no dropout, so the joint pass can be compared with calculate_loss
    batch = next(iter(train_data))
    rank_loss, sd_loss = trainer._joint_loss(batch)
    assert sd_loss.item() > 0
    torch.testing.assert_close(rank_loss, model.calculate_loss(batch))
    sd_loss.backward()
    assert model.item_embedding.weight.grad is not None

    # Online teacher (gaa_teacher_detach: false): gradients also flow through the neighbours.
    trainer.gaa_teacher_detach = False
    model.zero_grad()
    _, online = trainer._joint_loss(batch)
    online.backward()
    assert model.item_embedding.weight.grad.abs().sum() > 0

    # gaa_sd_reduction: "mean" (the YAML default) is "sum" (Eq. 4 as printed) divided by d.
    assert config["gaa_sd_reduction"] == "mean" and trainer.gaa_sd_reduction == "mean"
    trainer.gaa_teacher_detach = True
    _, averaged = trainer._joint_loss(batch)
    trainer.gaa_sd_reduction = "sum"
    _, summed = trainer._joint_loss(batch)
    torch.testing.assert_close(summed, averaged * config["hidden_size"])
    with pytest.raises(ValueError, match="gaa_sd_reduction"):
        build(root, "SASRecHSUGA", gaa_sd_reduction="max")


def test_bert4rec_student_covers_a_share_of_the_batch(tiny_root):
    """BERT4Rec encodes student rows a second time; gaa_student_fraction bounds that cost."""
    root, _ = tiny_root
    config, train_data, valid_data, _, model, trainer = build(root, "BERT4RecHSUGA", gaa_student_fraction=0.25)
    from recbole_hsuga.data.training_history import TrainingHistory

    trainer.prepare_gaa(TrainingHistory.from_dataloaders(train_data, valid_data))
    trainer.refresh_teacher()
    model.eval()  # no dropout: the student rows must equal f(u) computed on their own
    batch = next(iter(train_data))
    rank_loss, student, _ = model.ranking_loss_and_students(batch)
    rows = -(-len(batch) // 4)
    assert student.shape == (rows, config["hidden_size"])
    own = model.encode_sequence(batch[model.ITEM_SEQ][:rows], batch[model.ITEM_SEQ_LEN][:rows])
    torch.testing.assert_close(student, own, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rank_loss, model.calculate_loss(batch))  # the ranking loss still sees all rows
    _, sd_loss = trainer._joint_loss(batch)
    assert torch.isfinite(sd_loss) and sd_loss.item() > 0

    with pytest.raises(ValueError, match="gaa_student_fraction"):
        build(root, "BERT4RecHSUGA", gaa_student_fraction=0.0)


def test_registry_exports_the_three_models():
    for name in MODELS:
        assert get_model(name).__name__ == name
        assert get_model(name).trainer_class is GAATrainer
        assert get_model(name).dataset_class is SemanticSequentialDataset


#: Every HSUGA key and its default value. loss_type is the RecBole backbone's (CE), so a
#: model and its backbone compare like with like; the dual-view backbone is the default.
HSUGA_DEFAULTS = {
    "loss_type": "CE", "hsuga_backbone": "dual_view", "semantic_suffix": "useremb", "semantic_fusion": "none", "semantic_missing": "zero",
    "gaa": True, "gaa_alpha": 0.1, "gaa_sd_reduction": "mean", "gaa_k_active": 6, "gaa_k_longtail": 10,
    "gaa_active_ratio": 0.2, "gaa_pearson_percentile": 50.0, "gaa_group_aware": True, "gaa_active_filter": True,
    "gaa_teacher_detach": True, "gaa_teacher_refresh_steps": 0,
}


@pytest.mark.parametrize("model_name", MODELS)
def test_model_yamls_give_every_hsuga_key_its_value(tiny_root, model_name):
    root, _ = tiny_root
    config = HSUGAConfig(model=model_name, dataset=DATASET, config_dict={"data_path": str(root)})
    for key, value in HSUGA_DEFAULTS.items():
        assert config[key] == value and type(config[key]) is type(value), key
    assert config["gaa_student_fraction"] == (0.25 if model_name == "BERT4RecHSUGA" else None)
    # The backbone's own YAML still sits underneath (RecBole's SASRec.yaml / BERT4Rec.yaml).
    if model_name != "GRU4RecHSUGA":
        assert config["n_layers"] == 2 and config["hidden_size"] == 64


def test_model_yaml_keys_are_written_once_with_typed_comments():
    import re
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "properties" / "model"
    seen: dict[str, str] = {}
    # LLM-ESR's models re-set two shared keys to LLM-ESR's values (uniform SD on user text
    # vectors); LLMInit reads the dual view's item table keys (it is not a dual-view model, so
    # it does not load DualViewMixin.yaml); ISRF reads the semantic tables and the text-id keys of
    # the others and sets the released recipe (batch, window, optimiser). A re-set key must keep
    # its declared type. Nothing else may appear twice.
    overrides = {"LLMESRMixin.yaml": {"semantic_suffix", "gaa_group_aware"},
                 "LLMInitMixin.yaml": {"item_semantic_suffix", "item_semantic_missing"},
                 "ISRF.yaml": {"semantic_suffix", "item_semantic_suffix", "text_ids", "text_ids_seed", "learning_rate",
                               "train_batch_size", "eval_batch_size", "MAX_ITEM_LIST_LENGTH", "learner"}}
    types: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        for line in path.read_text().splitlines():
            match = re.match(r"^(\w+):", line)
            if not match:
                continue
            tag = re.search(r"#\s*\((str|int|float|bool|list|dict)\) \S", line)
            assert tag, f"{path.name}: {line}"
            key = match.group(1)
            assert types.setdefault(key, tag.group(1)) == tag.group(1), f"{key}: two types"
            # Each model picks its loss and its training rows (BERT4Rec and BSARec: prefix).
            if key not in ("loss_type", "train_rows") and key not in overrides.get(path.name, ()):
                assert key not in seen, f"{key} in {seen.get(key)} and {path.name}"
                seen[key] = path.name
    assert set(HSUGA_DEFAULTS) - {"loss_type"} <= set(seen)


@pytest.mark.parametrize("experiment, expected", [
    # The paper's HSUGA: vectors retrieve neighbours only; fusion is "HSU alone" (no_gaa).
    ("full", {"gaa": True, "group_aware": True, "active_filter": True, "filter_active": True, "suffix": "useremb",
              "fusion": "none"}),
    ("no_gaa", {"gaa": False, "suffix": "useremb", "fusion": "add"}),
    ("no_hsu", {"gaa": True, "filter_active": True, "suffix": "useremb_text", "fusion": "none"}),
    ("no_group_aware", {"gaa": True, "group_aware": False, "filter_active": False, "suffix": "useremb", "fusion": "none"}),
    ("no_active_filter", {"gaa": True, "group_aware": True, "filter_active": False, "suffix": "useremb", "fusion": "none"}),
    ("fused", {"gaa": True, "group_aware": True, "filter_active": True, "suffix": "useremb", "fusion": "add"}),
])
def test_ablation_yamls_set_their_switches(tiny_root, experiment, expected):
    from pathlib import Path

    root, _ = tiny_root
    path = Path(__file__).resolve().parent.parent / "properties" / "experiments" / f"{experiment}.yaml"
    config = HSUGAConfig(model="SASRecHSUGA", dataset=DATASET, config_file_list=[str(path)],
                         config_dict={"data_path": str(root)})
    assert config["gaa"] is expected["gaa"]
    assert config["semantic_suffix"] == expected["suffix"]
    assert config["semantic_fusion"] == expected["fusion"]
    params = gaa_params_from_config(config)
    for key in ("group_aware", "active_filter", "filter_active"):
        if key in expected:
            assert getattr(params, key) is expected[key]


def test_teacher_refresh_steps_recompute_the_table_within_an_epoch(tiny_root, monkeypatch):
    root, _ = tiny_root
    config, train_data, valid_data, _, model, trainer = build(root, "SASRecHSUGA", gaa_teacher_refresh_steps=2)
    refreshes = []
    original = trainer.refresh_teacher
    monkeypatch.setattr(trainer, "refresh_teacher", lambda: refreshes.append(trainer._steps_since_refresh) or original())
    trainer.fit(train_data, valid_data, saved=False)
    n_batches = len(train_data)
    assert n_batches >= 3
    # once at the start of the epoch, then before steps 3, 5, ... (every 2 steps)
    assert len(refreshes) == 1 + (n_batches - 1) // 2
    assert trainer.gaa_teacher_seconds[0] > 0
    with pytest.raises(ValueError, match="gaa_teacher_refresh_steps"):
        build(root, "SASRecHSUGA", gaa_teacher_refresh_steps=-1)


# --------------------------------------------------------------------------- GAA on BSARec
def test_bsarec_hsuga_trains_with_gaa_and_scores_as_bsarec_with_its_weights(tiny_root):
    """ID-only GAA on BSARec: one epoch adds the SD loss over a teacher table; with fusion off
    its scores are BSARec's own on the same weights (GAA changes training, not the model)."""
    from recbole_hsuga.model.bsarec import BSARec

    root, _ = tiny_root
    config, train_data, valid_data, test_data, model, trainer = build(root, "BSARecHSUGA", train_rows="prefix")
    assert isinstance(model, BSARec) and isinstance(trainer, GAATrainer) and trainer.gaa_enabled
    assert type(model).dataset_class is SemanticSequentialDataset
    trainer.fit(train_data, valid_data, saved=False, show_progress=False)
    (entry,) = trainer.curve
    assert len(entry["train_loss"]) == 2 and entry["train_loss"][1] > 0
    assert trainer._teacher_table is not None and trainer._teacher_table.abs().sum() > 0

    plain = BSARec(config, train_data._dataset)
    outcome = plain.load_state_dict(model.state_dict(), strict=False)
    assert not outcome.missing_keys and all(k.startswith("semantic_fusion.") for k in outcome.unexpected_keys)
    model.eval()
    plain.eval()
    interaction = next(iter(test_data))[0]
    with torch.no_grad():
        torch.testing.assert_close(model.full_sort_predict(interaction), plain.full_sort_predict(interaction))


def test_bsarec_hsuga_refuses_the_dual_view(tiny_root):
    root, _ = tiny_root
    config = make_config(root, "BSARecHSUGA", train_rows="prefix", hsuga_backbone="dual_view")
    with pytest.raises(InputError, match="hsuga_backbone: BSARecHSUGA is ID-only"):
        config.model_class(config, None)
