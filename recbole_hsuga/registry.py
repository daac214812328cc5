"""Model and trainer look-up: this package first, then RecBole (RecBole-GNN's pattern).

``--model=SASRecHSUGA`` and ``--model=SASRec`` (or any other RecBole model) go through
the same CLI, config and evaluation, which is what makes comparisons fair.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from recbole.utils import ModelType

from recbole_hsuga import compat
from recbole_hsuga.errors import InputError
from recbole_hsuga.trainer import HeadTailTrainer, with_head_tail_evaluation


def _own_models() -> ModuleType | None:
    try:
        return importlib.import_module("recbole_hsuga.model")
    except ModuleNotFoundError as error:
        if error.name == "recbole_hsuga.model":
            return None
        raise


#: RecBole's model sub-packages, in the order ``recbole.utils.get_model`` searches them.
RECBOLE_MODEL_PACKAGES = (
    "general_recommender",
    "context_aware_recommender",
    "sequential_recommender",
    "knowledge_aware_recommender",
    "exlib_recommender",
)
#: The sub-package whose ``__init__`` imports optional packages (lightgbm, xgboost).
_OPTIONAL_PACKAGE = "exlib_recommender"


def get_model(name: str) -> type:
    """Return the model class called ``name`` from this package, else from RecBole.

    Raises:
        InputError: no model of that name, or a RecBole model whose optional package
            (``lightgbm``, ``xgboost``) is not installed; the message says which.
    """
    own = _own_models()
    if own is not None and hasattr(own, name):
        model_class = getattr(own, name)
    else:
        model_class = _recbole_model(name, own)
    # Importing RecBole's sequential models switches anomaly detection on (sine.py).
    compat.disable_anomaly_detection()
    return model_class


def _recbole_model(name: str, own: ModuleType | None) -> type:
    """RecBole's model ``name``, searched like ``recbole.utils.get_model``.

    RecBole's own search asks ``importlib.util.find_spec`` for
    ``recbole.model.exlib_recommender.<name>``, which imports that package's ``__init__``
    and with it lightgbm and xgboost: without them every name not found earlier ended in
    ``No module named 'lightgbm'``. Here that package is looked at on disk first and only
    imported for the model that lives in it.
    """
    import recbole.model

    module_name = name.lower()
    roots = [Path(p) for p in recbole.model.__path__]
    for package in RECBOLE_MODEL_PACKAGES:
        if not any((root / package / f"{module_name}.py").is_file() for root in roots):
            continue
        module_path = f"recbole.model.{package}.{module_name}"
        try:
            module = importlib.import_module(module_path)
        except ModuleNotFoundError as error:
            if package != _OPTIONAL_PACKAGE or not error.name or error.name.startswith("recbole"):
                raise
            # The package __init__ imports every exlib model, so the first missing package
            # may be another model's: name this model's own needs too.
            source = next(root / package / f"{module_name}.py" for root in roots if (root / package / f"{module_name}.py").is_file())
            missing = [m for m in _imported_packages(source) if importlib.util.find_spec(m) is None]
            first = error.name.split(".")[0]
            missing += [first] if first not in missing else []
            raise InputError(
                f"model {name!r} is RecBole's ({module_path}) and needs the optional "
                f"package{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}, "
                f"not installed: pip install {' '.join(missing)}"
            ) from None
        if hasattr(module, name):
            return getattr(module, name)
    ours = sorted(own.__all__) if own is not None and hasattr(own, "__all__") else []
    searched = ", ".join(f"recbole.model.{p}" for p in RECBOLE_MODEL_PACKAGES)
    raise InputError(
        f"unknown model {name!r}: it is neither one of recbole-hsuga's models {ours} "
        f"nor a RecBole model (searched {searched}; names are case-sensitive)"
    )


def _imported_packages(source: Path) -> list[str]:
    """Top-level packages a module file imports, other than RecBole and the standard library."""
    import ast
    import sys

    names: list[str] = []
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    skip = {"recbole", "__future__", *sys.stdlib_module_names}
    return [n for n in dict.fromkeys(names) if n not in skip]


def get_trainer(model_type: ModelType, model_name: str, model_class: type | None = None) -> type:
    """Return the trainer class for a model, always with the head/tail evaluation.

    Order: the model class's own ``trainer_class`` attribute (HSUGA models name their GAA
    trainer this way), then RecBole's ``<Model>Trainer`` or type-specific trainer, then
    :class:`~recbole_hsuga.trainer.HeadTailTrainer`.
    """
    model_class = model_class or get_model(model_name)
    own_trainer = getattr(model_class, "trainer_class", None)
    if own_trainer is not None:
        return with_head_tail_evaluation(own_trainer)
    recbole_trainers = importlib.import_module("recbole.trainer")
    specific = getattr(recbole_trainers, f"{model_name}Trainer", None)
    if specific is None and model_type == ModelType.KNOWLEDGE:
        specific = recbole_trainers.KGTrainer
    elif specific is None and model_type == ModelType.TRADITIONAL:
        specific = recbole_trainers.TraditionalTrainer
    return with_head_tail_evaluation(specific) if specific is not None else HeadTailTrainer
