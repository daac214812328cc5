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

Every final value is checked against the ``# (type)`` comment its key carries in the
layered YAML files (:mod:`recbole_hsuga.config_schema`); a mismatch, a malformed
``--key=value``, an unreadable YAML file or an unknown model is an
:class:`~recbole_hsuga.errors.InputError` that names the key, value and file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import yaml
from recbole.config import Config

from recbole_hsuga import compat
from recbole_hsuga.config_schema import read_declarations
from recbole_hsuga.errors import InputError

compat.apply()

RECBOLE_PROPERTIES = Path(os.path.dirname(os.path.realpath(__import__("recbole").__file__))) / "properties"


def properties_dir() -> Path:
    """Folder of this package's YAML property files.

    ``RECBOLE_HSUGA_PROPERTIES`` overrides; otherwise the source tree's top-level
    ``properties/`` (a checkout or an editable install), then the copy a wheel ships inside
    the package (``recbole_hsuga/properties``, put there by ``setup.py``'s ``build_py``).
    """
    override = os.environ.get("RECBOLE_HSUGA_PROPERTIES")
    if override:
        path = Path(override)
        if not path.is_dir():
            raise InputError(f"RECBOLE_HSUGA_PROPERTIES={override}: no such folder")
        return path
    package = Path(__file__).resolve().parent
    candidates = [package.parent / "properties", package / "properties"]
    for path in candidates:
        if (path / "overall.yaml").is_file():
            return path
    raise FileNotFoundError(
        f"properties folder not found at {' or '.join(map(str, candidates))}; reinstall recbole-hsuga "
        "(pip install .) or set RECBOLE_HSUGA_PROPERTIES"
    )


def parse_cmd_args(args: Iterable[str]) -> dict[str, str]:
    """Parse ``--key=value`` arguments into a dict of strings; anything else is an error."""
    parsed: dict[str, str] = {}
    for arg in args:
        if not arg.startswith("--") or "=" not in arg:
            raise InputError(f"command-line setting {arg!r} is not of the form --key=value")
        key, value = arg[2:].split("=", 1)
        if key in parsed and parsed[key] != value:
            raise InputError(f"command-line setting --{key} given twice with different values")
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
        self._cmd_raw: dict[str, str] = {}
        self._user_files = [Path(f) for f in config_file_list or []]
        self._package_layers: list[Path] = []
        super().__init__(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict)

    def _load_cmd_line(self) -> dict:
        self._cmd_raw = parse_cmd_args(self._cmd_args)
        return self._convert_config_dict(dict(self._cmd_raw))

    def _load_config_files(self, file_list):
        for file in file_list or []:
            if not Path(file).is_file():
                raise FileNotFoundError(f"config file not found: {file}")
        try:
            return super()._load_config_files(file_list)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"{mark.name}:{mark.line + 1}" if mark is not None else " ".join(map(str, file_list))
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise InputError(f"{where}: not valid YAML: {problem}") from error

    def _get_model_and_dataset(self, model, dataset):
        if isinstance(model, str) or (model is None and isinstance(self.external_config_dict.get("model"), str)):
            from recbole_hsuga.registry import get_model

            model = get_model(model or self.external_config_dict["model"])
        return super()._get_model_and_dataset(model, dataset)

    def _load_yaml_layer(self, path: Path) -> None:
        if path.is_file():
            self._update_internal_config_dict(str(path))
            self._package_layers.append(path)

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
            self._package_layers.append(dataset_file)
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


    def _set_default_parameters(self):
        try:
            super()._set_default_parameters()
        except (ValueError, TypeError) as error:
            # RecBole's own checks (topk, metrics, eval_args ...): name our typed key first
            # if one is wrong, as that is the likelier cause.
            self._check_types(scalars_as_lists=True)
            if isinstance(error, InputError):
                raise
            raise InputError(f"invalid settings: {error}") from error
        self._check_types()

    def _check_types(self, scalars_as_lists: bool = False) -> None:
        """Check final values against the ``# (type)`` comments of the layered YAML files.

        A ``str`` key given on the command line keeps the text as typed (RecBole would
        turn ``--semantic_suffix=2024`` into an int). ``None`` passes for ``str``, ``list``
        and ``dict`` keys (RecBole's "unset"), not for numbers and flags.
        """
        declarations = read_declarations([*self._package_layers, *self._user_files])
        final = self.final_config_dict
        for key, declaration in declarations.items():
            if key not in final:
                continue
            value = final[key]
            if declaration.allows(value):
                continue
            if value is None and any(t in ("str", "list", "dict") for t in declaration.types):
                continue
            if scalars_as_lists and "list" in declaration.types and isinstance(value, (str, int, float)):
                continue
            if "str" in declaration.types and key in self._cmd_raw:
                final[key] = self._cmd_raw[key]
                continue
            raise InputError(
                f"{key}: expected {declaration.type_text}, got {value!r} "
                f"(from {self._source_of(key)}; declared in {display_path(declaration.file)})"
            )

    def _source_of(self, key: str) -> str:
        """Where the final value of ``key`` came from, for error messages."""
        if key in self._cmd_raw:
            return f"--{key}={self._cmd_raw[key]}"
        if key in (self.variable_config_dict or {}):
            return "config_dict"
        for file in reversed(self._user_files):
            if key in _yaml_keys(file, self.yaml_loader):
                return str(file)
        for file in reversed(self._package_layers):
            if key in _yaml_keys(file, self.yaml_loader):
                return display_path(file)
        return "RecBole's defaults"


def _yaml_keys(path: Path, loader) -> set[str]:
    with open(path, encoding="utf-8") as handle:
        data = yaml.load(handle.read(), Loader=loader)
    return set(data) if isinstance(data, dict) else set()


def display_path(path: Path) -> str:
    """``properties/<...>`` for this package's property files, the path itself otherwise."""
    try:
        return str(Path("properties") / Path(path).resolve().relative_to(properties_dir().resolve()))
    except (ValueError, FileNotFoundError, InputError):
        return str(path)


def require_dataset_folder(config: Config) -> Path:
    """The dataset's folder (``<data_path>/<dataset>``); an :class:`InputError` if it is missing.

    RecBole would otherwise try to download a dataset of that name from the internet.
    """
    path = Path(config["data_path"])
    if not path.is_dir():
        dataset = config["dataset"]
        raise InputError(
            f"dataset {dataset!r} not found: no folder {path} (--data_path names the folder that holds "
            f"{dataset}/; python -m dataset_tools prepare {dataset} --raw DIR --out DATA_PATH makes it)"
        )
    return path
