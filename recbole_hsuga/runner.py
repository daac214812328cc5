"""One training run: config -> data -> model -> fit (select on validation) -> test -> results.

Built from ``recbole.config`` / ``recbole.data`` / ``recbole.trainer`` / ``recbole.utils``
rather than ``recbole.quick_start``, which imports ray at module level. What the run
writes is :mod:`recbole_hsuga.results`' job.
"""

from __future__ import annotations

import logging
import time
from typing import Sequence

import torch
from recbole.data import data_preparation
from recbole.utils import init_logger, init_seed

from recbole_hsuga import results
from recbole_hsuga.config import HSUGAConfig, require_dataset_folder
from recbole_hsuga.data.utils import create_dataset, share_semantic_tables
from recbole_hsuga.registry import get_trainer
from recbole_hsuga.trainer import tag_phase

logger = logging.getLogger(__name__)


def configure_threads(config) -> None:
    """Apply ``torch_num_threads`` (0 keeps torch's default)."""
    threads = int(config["torch_num_threads"] or 0)
    if threads > 0:
        torch.set_num_threads(threads)


def prepare_data(config):
    """Create the model's dataset and its three dataloaders, tagged by phase.

    The dataset class is the model's ``dataset_class`` when it names one (HSUGA models:
    :class:`~recbole_hsuga.data.dataset.SemanticSequentialDataset`, which loads the semantic
    tables), else RecBole's (:func:`recbole_hsuga.data.utils.create_dataset`). A missing
    dataset folder is an :class:`~recbole_hsuga.errors.InputError` naming it, where RecBole
    would try to download a dataset of that name.
    """
    require_dataset_folder(config)
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    share_semantic_tables(dataset, train_data._dataset, valid_data._dataset, test_data._dataset)
    tag_phase(valid_data, "valid")
    tag_phase(test_data, "test")
    return dataset, train_data, valid_data, test_data


def build_model_and_trainer(config, train_dataset):
    """The config's model on ``train_dataset`` (on ``config["device"]``) and its trainer (the
    model's ``trainer_class``, else RecBole's, with the head/tail evaluation)."""
    model = config.model_class(config, train_dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"], config.model_class)(config, model)
    return model, trainer


def run(
    model: str | type,
    dataset: str,
    config_file_list: Sequence[str] | None = None,
    config_dict: dict | None = None,
    cmd_args: Sequence[str] | None = None,
    saved: bool = True,
    write_results: bool = True,
    callback_fn=None,
) -> dict:
    """Train ``model`` on ``dataset``, select on validation, test, and report.

    Args:
        callback_fn: ``callback_fn(epoch_idx, valid_score)`` after every validation, passed to
            ``Trainer.fit`` (the tuner reports per-epoch scores and stops weak trials with it;
            an exception it raises ends the run).

    Returns:
        The result dict that is also written to ``<results_dir>/<model>-<dataset>-seed<s>-<time>.json``:
        ``metrics[split][protocol][group][metric]``, timings, the config and versions.
    """
    started = time.perf_counter()
    config = HSUGAConfig(model=model, dataset=dataset, config_file_list=config_file_list, config_dict=config_dict, cmd_args=cmd_args)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    configure_threads(config)
    log = logging.getLogger()
    log.info(config)

    data_start = time.perf_counter()
    _, train_data, valid_data, test_data = prepare_data(config)
    data_seconds = time.perf_counter() - data_start

    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model_obj, trainer = build_model_and_trainer(config, train_data._dataset)
    log.info(model_obj)

    train_start = time.perf_counter()
    best_valid_score, _ = trainer.fit(train_data, valid_data, saved=saved, show_progress=config["show_progress"],
                                       callback_fn=callback_fn)
    train_seconds = time.perf_counter() - train_start

    eval_start = time.perf_counter()
    valid_result = trainer.evaluate(valid_data, load_best_model=saved, show_progress=config["show_progress"])
    test_result = trainer.evaluate(test_data, load_best_model=saved, show_progress=config["show_progress"])
    eval_seconds = time.perf_counter() - eval_start

    timings = {
        "data_seconds": data_seconds,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "total_seconds": time.perf_counter() - started,
    }
    result = results.collect(config, trainer, best_valid_score, valid_result, test_result, timings,
                             n_train_rows=trainer.n_train_rows or len(train_data._dataset), saved=saved)
    log.info("\n" + results.format_table(result["metrics"]["test"], f"test results: {result['model']} on {result['dataset']}"))
    if write_results:
        results.write(result, config, test_data._dataset, trainer.last_evaluation)
        log.info(f"result written to {result['result_file']}")
    if getattr(trainer, "resume_training", False):
        trainer.forget_training_state()  # the run is complete: started again, it trains anew
    return result
