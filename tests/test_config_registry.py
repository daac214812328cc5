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
