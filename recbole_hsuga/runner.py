"""One training run: config -> data -> model -> fit (select on validation) -> test -> files.

Built from ``recbole.config`` / ``recbole.data`` / ``recbole.trainer`` / ``recbole.utils``
rather than ``recbole.quick_start``, which imports ray at module level.
"""

from __future__ import annotations

import csv
import json
import logging
import platform
import resource
import time
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from recbole.data import create_dataset, data_preparation
from recbole.utils import init_logger, init_seed

from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.registry import get_trainer
from recbole_hsuga.trainer import GROUPS, PROTOCOLS, tag_phase

logger = logging.getLogger(__name__)


def configure_threads(config) -> None:
    """Apply ``torch_num_threads`` (0 keeps torch's default)."""
    threads = int(config["torch_num_threads"] or 0)
    if threads > 0:
        torch.set_num_threads(threads)


def prepare_data(config):
    """Create RecBole's dataset and its three dataloaders, tagged by phase."""
    dataset = create_dataset(config)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    tag_phase(valid_data, "valid")
    tag_phase(test_data, "test")
    return dataset, train_data, valid_data, test_data


def nest_metrics(flat: dict[str, float]) -> dict[str, dict[str, dict[str, float]]]:
    """``{"full/tail_items/ndcg@10": v}`` -> ``{"full": {"tail_items": {"ndcg@10": v}}}``."""
    nested: dict[str, dict[str, dict[str, float]]] = {}
    for key, value in flat.items():
        parts = key.split("/")
        if len(parts) == 3:
            protocol, group, metric = parts
            nested.setdefault(protocol, {}).setdefault(group, {})[metric] = value
    return nested


def format_table(nested: dict, title: str) -> str:
    """A fixed-width table: one row per protocol and group, one column per metric."""
    rows = []
    metrics: list[str] = []
    for protocol in PROTOCOLS:
        for group in GROUPS:
            entry = nested.get(protocol, {}).get(group)
            if entry is None:
                continue
            if not metrics:
                metrics = [m for m in entry if m != "n_users"]
            rows.append((protocol, group, int(entry.get("n_users", 0)), [entry[m] for m in metrics]))
    header = f"{'protocol':<9}{'group':<12}{'users':>7}" + "".join(f"{m:>10}" for m in metrics)
    lines = [title, header, "-" * len(header)]
    for protocol, group, n, values in rows:
        lines.append(f"{protocol:<9}{group:<12}{n:>7}" + "".join(f"{v:>10.4f}" for v in values))
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_result(result: dict, results_dir: str | Path) -> Path:
    """Write the run's JSON file and append its rows to ``summary.csv`` (for plotting)."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = result["created"].replace(":", "").replace("-", "")[:15]
    path = results_dir / f"{result['model']}-{result['dataset']}-seed{result['seed']}-{stamp}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, sort_keys=False))
    tmp.replace(path)
    summary = results_dir / "summary.csv"
    new_file = not summary.exists()
    with summary.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new_file:
            writer.writerow(["result_file", "model", "dataset", "seed", "split", "protocol", "group", "metric", "value"])
        for split, nested in result["metrics"].items():
            for protocol, groups in nested.items():
                for group, entry in groups.items():
                    for metric, value in entry.items():
                        writer.writerow([path.name, result["model"], result["dataset"], result["seed"], split, protocol, group, metric, value])
    return path


def run(
    model: str | type,
    dataset: str,
    config_file_list: Sequence[str] | None = None,
    config_dict: dict | None = None,
    cmd_args: Sequence[str] | None = None,
    saved: bool = True,
    write_results: bool = True,
) -> dict:
    """Train ``model`` on ``dataset``, select on validation, test, and report.

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
    model_class = config.model_class
    model_obj = model_class(config, train_data._dataset).to(config["device"])
    log.info(model_obj)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"], model_class)(config, model_obj)

    train_start = time.perf_counter()
    best_valid_score, _ = trainer.fit(train_data, valid_data, saved=saved, show_progress=config["show_progress"])
    train_seconds = time.perf_counter() - train_start

    eval_start = time.perf_counter()
    valid_result = trainer.evaluate(valid_data, load_best_model=saved, show_progress=config["show_progress"])
    test_result = trainer.evaluate(test_data, load_best_model=saved, show_progress=config["show_progress"])
    eval_seconds = time.perf_counter() - eval_start
    test_ranks = trainer.last_evaluation

    epoch_seconds = list(getattr(trainer, "epoch_seconds", []))
    n_train_rows = len(train_data._dataset)
    result = {
        "model": config["model"],
        "dataset": config["dataset"],
        "seed": config["seed"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "best_valid_score": float(best_valid_score),
        "valid_metric": config["valid_metric"],
        "eval_protocol": config["eval_protocol"],
        "metrics": {"valid": nest_metrics(valid_result), "test": nest_metrics(test_result)},
        "timings": {
            "data_seconds": round(data_seconds, 3),
            "train_seconds": round(train_seconds, 3),
            "eval_seconds": round(eval_seconds, 3),
            "total_seconds": round(time.perf_counter() - started, 3),
            "epochs": len(epoch_seconds),
            "seconds_per_epoch": round(float(np.mean(epoch_seconds)), 3) if epoch_seconds else None,
            "train_samples_per_second": round(n_train_rows / float(np.mean(epoch_seconds)), 1) if epoch_seconds else None,
            "epoch_seconds": [round(s, 3) for s in epoch_seconds],
        },
        "curve": list(getattr(trainer, "curve", [])),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "trainer_report": _jsonable(trainer.run_report() if hasattr(trainer, "run_report") else {}),
        "checkpoint": trainer.saved_model_file if saved else None,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "recbole": __import__("recbole").__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "config": _jsonable(dict(config.final_config_dict)),
    }
    log.info("\n" + format_table(result["metrics"]["test"], f"test results: {result['model']} on {result['dataset']}"))
    if write_results:
        path = write_result(result, config["results_dir"] or "results")
        result["result_file"] = str(path)
        if config["save_user_ranks"] and test_ranks is not None:
            # Per-user test ranks keyed by original user id: paired tests across models.
            tokens = test_data._dataset.field2id_token[test_data._dataset.uid_field][test_ranks["users"]]
            np.savez_compressed(path.with_suffix(".ranks.npz"), users=tokens.astype(str),
                                full=test_ranks["full"], sampled=test_ranks["sampled"])
        log.info(f"result written to {result['result_file']}")
    return result
