"""RecBole ``Config`` that layers this package's property files under the user's settings.

Precedence, lowest first (RecBole's order, extended):

1. RecBole's internal files: ``overall.yaml``, the model's YAML, the quick-start YAML of
   its model type;
2. RecBole's ``properties/model/<Base>.yaml`` of every RecBole model the class derives
   from (``SASRecHSUGA`` inherits SASRec's hyper-parameters; RecBole itself only looks
   up the exact class name, so subclasses would get ``None``);
3. this package's ``properties/overall.yaml``;
4. this package's ``properties/model/<Class>.yaml`` for every class in the MRO, base
   first;
5. this package's ``properties/dataset/<dataset>.yaml``;
6. the user's YAML files, then ``config_dict``, then command-line ``--key=value``.

Two RecBole behaviours are made safe here. ``eval_args`` given by a user replaced the
whole default dict (silently switching to random split and order); it is now merged key
by key. ``train_neg_sample_args`` follows ``loss_type`` unless set explicitly (CE needs
``None``, BPR one uniform negative).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from recbole.config import Config

from recbole_hsuga import compat

compat.apply()

RECBOLE_PROPERTIES = Path(os.path.dirname(os.path.realpath(__import__("recbole").__file__))) / "properties"


def properties_dir() -> Path:
    """Folder of this package's YAML property files (``RECBOLE_HSUGA_PROPERTIES`` overrides)."""
    override = os.environ.get("RECBOLE_HSUGA_PROPERTIES")
    path = Path(override) if override else Path(__file__).resolve().parent.parent / "properties"
    if not path.is_dir():
        raise FileNotFoundError(
            f"properties folder not found at {path}; install recbole-hsuga from its source tree "
            "(pip install -e .) or set RECBOLE_HSUGA_PROPERTIES"
        )
    return path


def parse_cmd_args(args: Iterable[str]) -> dict[str, str]:
    """Parse ``--key=value`` arguments into a dict of strings; anything else is an error."""
    parsed: dict[str, str] = {}
    for arg in args:
        if not arg.startswith("--") or "=" not in arg:
            raise ValueError(f"command-line setting {arg!r} is not of the form --key=value")
        key, value = arg[2:].split("=", 1)
        if key in parsed and parsed[key] != value:
            raise ValueError(f"command-line setting --{key} given twice with different values")
        parsed[key] = value
    return parsed


class HSUGAConfig(Config):
    """RecBole ``Config`` with this package's property files and safer merging.

    Args:
        model: model name (resolved by :func:`recbole_hsuga.registry.get_model`) or class.
        dataset: dataset name (a folder under ``data_path``).
        config_file_list: user YAML files, later files win.
        config_dict: settings that override the files.
        cmd_args: ``["--key=value", ...]`` that override everything. Unlike RecBole's
            Config, ``sys.argv`` is never read implicitly.
    """

    def __init__(self, model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=None):
        self._cmd_args = list(cmd_args or [])
        super().__init__(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict)

    def _load_cmd_line(self) -> dict:
        return self._convert_config_dict(parse_cmd_args(self._cmd_args))

    def _load_config_files(self, file_list):
        for file in file_list or []:
            if not Path(file).is_file():
                raise FileNotFoundError(f"config file not found: {file}")
        return super()._load_config_files(file_list)

    def _get_model_and_dataset(self, model, dataset):
        if isinstance(model, str) or (model is None and isinstance(self.external_config_dict.get("model"), str)):
            from recbole_hsuga.registry import get_model

            model = get_model(model or self.external_config_dict["model"])
        return super()._get_model_and_dataset(model, dataset)

    def _load_yaml_layer(self, path: Path) -> None:
        if path.is_file():
            self._update_internal_config_dict(str(path))

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        lineage = [cls.__name__ for cls in reversed(model_class.__mro__) if cls.__name__ != "object"]
        for name in lineage:
            if name != model:  # RecBole already loaded the exact name
                self._load_yaml_layer(RECBOLE_PROPERTIES / "model" / f"{name}.yaml")
        ours = properties_dir()
        self._load_yaml_layer(ours / "overall.yaml")
        for name in lineage:
            self._load_yaml_layer(ours / "model" / f"{name}.yaml")
        dataset_file = ours / "dataset" / f"{dataset}.yaml"
        if dataset_file.is_file():
            layer = self._update_internal_config_dict(str(dataset_file)) or {}
            self.parameters["Dataset"] += [key for key in layer if key not in self.parameters["Dataset"]]

    def _get_final_config_dict(self):
        final = super()._get_final_config_dict()
        external = self.external_config_dict
        if isinstance(external.get("eval_args"), dict) and isinstance(self.internal_config_dict.get("eval_args"), dict):
            final["eval_args"] = {**self.internal_config_dict["eval_args"], **external["eval_args"]}
        if "train_neg_sample_args" not in external:
            if final.get("loss_type") == "CE":
                final["train_neg_sample_args"] = None
            elif final.get("loss_type") == "BPR" and not final.get("train_neg_sample_args"):
                final["train_neg_sample_args"] = {"distribution": "uniform", "sample_num": 1}
        return final

