"""Config precedence and the registry that falls back to RecBole."""

from __future__ import annotations

import pytest
from recbole.model.sequential_recommender import SASRec
from recbole.utils import ModelType

from recbole_hsuga.config import HSUGAConfig, parse_cmd_args
from recbole_hsuga.registry import get_model, get_trainer
from recbole_hsuga.trainer import HeadTailEvaluationMixin, HeadTailTrainer


def test_registry_resolves_own_models_first_and_falls_back_to_recbole():
    assert get_model("SASRec") is SASRec
    own = get_model("SASRecHSUGA")
    assert issubclass(own, SASRec) and own.__module__.startswith("recbole_hsuga")
    assert get_model("GRU4Rec").__module__.startswith("recbole.model")


def test_registry_names_both_sources_for_unknown_models():
    with pytest.raises(ValueError, match="neither one of recbole-hsuga's models"):
        get_model("NoSuchModel")


def test_trainers_always_carry_the_head_tail_evaluation():
    assert get_trainer(ModelType.SEQUENTIAL, "SASRec") is HeadTailTrainer
    # RecBole's model-specific trainers get the evaluation mixed in front of them.
    from recbole.trainer import NCLTrainer

    ncl = get_trainer(ModelType.GENERAL, "NCL")
    assert issubclass(ncl, NCLTrainer) and issubclass(ncl, HeadTailEvaluationMixin)
    assert issubclass(get_trainer(ModelType.SEQUENTIAL, "SASRecHSUGA"), HeadTailEvaluationMixin)


def _config(toy_data_path, tmp_path, **kwargs):
    return HSUGAConfig(model=kwargs.pop("model", "SASRecHSUGA"), dataset="toy-beauty",
                       config_dict={"data_path": str(toy_data_path), **kwargs.pop("config_dict", {})}, **kwargs)


def test_layers_follow_recbole_precedence(toy_data_path, tmp_path):
    config = _config(toy_data_path, tmp_path)
    # RecBole's SASRec.yaml reaches the subclass (RecBole alone would give None).
    assert config["n_layers"] == 2 and config["inner_size"] == 256
    # This package's overall.yaml beats RecBole's overall.yaml.
    assert config["train_batch_size"] == 1024 and config["valid_metric"] == "NDCG@10"

    user_yaml = tmp_path / "user.yaml"
    user_yaml.write_text("train_batch_size: 512\nlearning_rate: 0.01\nepochs: 7\n")
    config = _config(toy_data_path, tmp_path, config_file_list=[str(user_yaml)],
                     config_dict={"learning_rate": 0.02, "epochs": 8}, cmd_args=["--epochs=9"])
    assert config["train_batch_size"] == 512  # file beats package defaults
    assert config["learning_rate"] == 0.02  # config_dict beats file
    assert config["epochs"] == 9  # command line beats everything


def test_partial_eval_args_are_merged_not_replaced(toy_data_path, tmp_path):
    config = _config(toy_data_path, tmp_path, config_dict={"eval_args": {"mode": "full"}})
    assert config["eval_args"]["split"] == {"LS": "valid_and_test"}
    assert config["eval_args"]["order"] == "TO"


def test_negative_sampling_follows_loss_type(toy_data_path, tmp_path):
    assert _config(toy_data_path, tmp_path, model="SASRec", config_dict={"loss_type": "CE"})["train_neg_sample_args"]["distribution"] == "none"
    bpr = _config(toy_data_path, tmp_path, model="SASRec", config_dict={"loss_type": "BPR"})
    assert bpr["train_neg_sample_args"]["distribution"] == "uniform" and bpr["train_neg_sample_args"]["sample_num"] == 1


def test_bad_settings_are_named(toy_data_path, tmp_path):
    with pytest.raises(ValueError, match="--key=value"):
        parse_cmd_args(["epochs=3"])
    with pytest.raises(ValueError, match="given twice"):
        parse_cmd_args(["--epochs=3", "--epochs=4"])
    with pytest.raises(FileNotFoundError, match="config file not found: .*nope.yaml"):
        _config(toy_data_path, tmp_path, config_file_list=[str(tmp_path / "nope.yaml")])


def test_recbole_models_that_need_an_optional_package_say_which():
    import importlib.util

    from recbole_hsuga.errors import InputError

    for name, package in (("LightGBM", "lightgbm"), ("XGBoost", "xgboost")):
        if importlib.util.find_spec(package) is not None:
            continue
        with pytest.raises(InputError, match=f"model '{name}' is RecBole's .* needs the optional package.*'{package}'.*pip install"):
            get_model(name)
    # Every other family is still found, and a truly unknown name does not blame lightgbm.
    for name in ("BPR", "NCL", "DeepFM", "KGAT", "BERT4Rec", "FPMC"):
        assert get_model(name).__name__ == name
    with pytest.raises(InputError, match="unknown model 'NoSuchModel'.*searched recbole.model.general_recommender") as info:
        get_model("NoSuchModel")
    assert "lightgbm" not in str(info.value)


def test_settings_are_checked_against_the_typed_yaml_comments(toy_data_path, tmp_path):
    from recbole_hsuga.errors import InputError

    with pytest.raises(InputError, match=r"gaa_alpha: expected float, got 'abc' \(from --gaa_alpha=abc; "
                                         r"declared in properties/model/\w+\.yaml\)"):
        _config(toy_data_path, tmp_path, cmd_args=["--gaa_alpha=abc"])
    with pytest.raises(InputError, match=r"gaa_k_active: expected int, got 2\.5 \(from config_dict;"):
        _config(toy_data_path, tmp_path, config_dict={"gaa_k_active": 2.5})
    user_yaml = tmp_path / "user.yaml"
    user_yaml.write_text("epochs: ten\n")
    with pytest.raises(InputError, match=rf"epochs: expected int, got 'ten' \(from {user_yaml}; declared in properties/overall\.yaml\)"):
        _config(toy_data_path, tmp_path, model="SASRec", config_file_list=[str(user_yaml)])
    with pytest.raises(InputError, match="gaa: expected bool, got 1"):
        _config(toy_data_path, tmp_path, cmd_args=["--gaa=1"])
    # An int is a float; a str key keeps what was typed (RecBole would make it an int).
    config = _config(toy_data_path, tmp_path, cmd_args=["--gaa_alpha=1", "--semantic_suffix=2024"])
    assert config["gaa_alpha"] == 1 and config["semantic_suffix"] == "2024"


def test_every_packaged_default_matches_its_declared_type(toy_data_path, tmp_path):
    for model in ("SASRec", "GRU4Rec", "BERT4Rec", "SASRecHSUGA", "GRU4RecHSUGA", "BERT4RecHSUGA"):
        _config(toy_data_path, tmp_path, model=model)  # raises on a default of the wrong type


def test_declarations_are_read_from_the_files_given(tmp_path):
    from recbole_hsuga.config_schema import parse_types, read_declarations

    low, high = tmp_path / "low.yaml", tmp_path / "high.yaml"
    low.write_text("a: 1      # (int) first\nnested:   # (dict) a dict\n  inner: 2  # (str) not top level\n")
    high.write_text("a: 2.0    # (float) a later file does not re-declare\nb: x  # (int or None) two types\n")
    declarations = read_declarations([low, high, tmp_path / "missing.yaml"])
    assert sorted(declarations) == ["a", "b", "nested"]
    assert declarations["a"].types == ("int",) and declarations["a"].file == low
    assert declarations["b"].allows(None) and declarations["b"].allows(3) and not declarations["b"].allows("x")
    assert parse_types("int|None") == ("int", "none")


def test_properties_come_from_the_source_tree_then_the_installed_copy(monkeypatch, tmp_path):
    import recbole_hsuga.config as config_module
    from recbole_hsuga.config import properties_dir
    from recbole_hsuga.errors import InputError

    assert properties_dir() == config_module.Path(config_module.__file__).resolve().parent.parent / "properties"
    installed = tmp_path / "site-packages" / "recbole_hsuga"
    (installed / "properties").mkdir(parents=True)
    (installed / "properties" / "overall.yaml").write_text("seed: 1  # (int) seed\n")
    monkeypatch.setattr(config_module, "__file__", str(installed / "config.py"))
    assert properties_dir() == installed / "properties"
    monkeypatch.setenv("RECBOLE_HSUGA_PROPERTIES", str(tmp_path))
    assert properties_dir() == tmp_path
    monkeypatch.setenv("RECBOLE_HSUGA_PROPERTIES", str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="RECBOLE_HSUGA_PROPERTIES=.*nowhere: no such folder"):
        properties_dir()
    monkeypatch.delenv("RECBOLE_HSUGA_PROPERTIES")
    (installed / "properties" / "overall.yaml").unlink()
    with pytest.raises(FileNotFoundError, match="properties folder not found"):
        properties_dir()
