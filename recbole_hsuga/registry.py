"""Model and trainer look-up: this package first, then RecBole (RecBole-GNN's pattern).

``--model=SASRecHSUGA`` and ``--model=SASRec`` (or any other RecBole model) go through
the same CLI, config and evaluation, which is what makes comparisons fair.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from recbole.utils import ModelType
from recbole.utils import get_model as recbole_get_model

from recbole_hsuga import compat
from recbole_hsuga.trainer import HeadTailTrainer, with_head_tail_evaluation


def _own_models() -> ModuleType | None:
    try:
        return importlib.import_module("recbole_hsuga.model")
    except ModuleNotFoundError as error:
        if error.name == "recbole_hsuga.model":
            return None
        raise


def get_model(name: str) -> type:
    """Return the model class called ``name`` from this package, else from RecBole."""
    own = _own_models()
    if own is not None and hasattr(own, name):
        model_class = getattr(own, name)
    else:
        try:
            model_class = recbole_get_model(name)
        except (ValueError, ModuleNotFoundError) as error:
            # RecBole's search ends in exlib_recommender, whose import needs the optional
            # lightgbm / xgboost: for a name found nowhere earlier that is "not found" too.
            ours = sorted(n for n in own.__all__) if own is not None and hasattr(own, "__all__") else []
            detail = f" (RecBole's search stopped at: {error})" if isinstance(error, ModuleNotFoundError) else ""
            raise ValueError(
                f"unknown model {name!r}: it is neither one of recbole-hsuga's models {ours} nor a RecBole model{detail}"
            ) from None
    # Importing RecBole's sequential models switches anomaly detection on (sine.py).
    compat.disable_anomaly_detection()
    return model_class


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
