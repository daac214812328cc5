"""Build a model's dataset: its own ``dataset_class`` if it names one, else RecBole's choice.

RecBole's ``recbole.data.create_dataset`` picks the class by name
(``recbole.data.dataset.<Model>Dataset``, else by model type), so it cannot see a class
that lives in this package. A model here names its class explicitly
(``dataset_class = SemanticSequentialDataset``); :func:`create_dataset` builds that class
and keeps RecBole's caching contract (``save_dataset`` writes
``<checkpoint_dir>/<dataset>-<Class>.pth``; ``dataset_save_path`` or that file is reused when
RecBole's dataset arguments, ``seed`` and ``repeatable`` are unchanged). A reused
semantic dataset reloads its semantic tables from the files with the current config, so
a changed ``semantic_suffix`` or a rewritten vector file is never served from the cache.
"""

from __future__ import annotations

import os
import pickle
from logging import getLogger
from typing import Any

from recbole.data import create_dataset as recbole_create_dataset
from recbole.utils import set_color
from recbole.utils.argument_list import dataset_arguments

from recbole_hsuga.data.dataset import SemanticSequentialDataset


def dataset_class_of(config: Any) -> type | None:
    """The ``dataset_class`` attribute of the config's model class, if it has one."""
    return getattr(getattr(config, "model_class", None), "dataset_class", None)


def _cached_dataset(config: Any, dataset_class: type) -> Any | None:
    default_file = os.path.join(config["checkpoint_dir"], f"{config['dataset']}-{dataset_class.__name__}.pth")
    file = config["dataset_save_path"] or default_file
    if not os.path.exists(file):
        return None
    with open(file, "rb") as handle:
        dataset = pickle.load(handle)
    if not isinstance(dataset, dataset_class):
        return None
    for arg in dataset_arguments + ["seed", "repeatable"]:
        if config[arg] != dataset.config[arg]:
            return None
    getLogger().info(set_color("Load filtered dataset from", "pink") + f": [{file}]")
    return dataset


def create_dataset(config: Any) -> Any:
    """The dataset for ``config``'s model (see the module docstring)."""
    dataset_class = dataset_class_of(config)
    if dataset_class is None:
        return recbole_create_dataset(config)
    dataset = _cached_dataset(config, dataset_class)
    if dataset is not None:
        if isinstance(dataset, SemanticSequentialDataset):
            dataset.load_semantic_tables(config)
        return dataset
    dataset = dataset_class(config)
    if config["save_dataset"]:
        dataset.save()
    return dataset


def share_semantic_tables(dataset: Any, *split_datasets: Any) -> None:
    """Give the split datasets the full dataset's (freshly loaded) semantic tables.

    RecBole's ``build()`` copies them along already; dataloaders restored from
    ``save_dataloaders`` would otherwise carry the tables of the run that saved them.
    """
    tables = getattr(dataset, "semantic_tables", None)
    if tables is None:
        return
    for split in split_datasets:
        split.semantic_tables = tables
