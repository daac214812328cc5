"""The run's result: one dict, one JSON file per run, rows in ``summary.csv``, per-user ranks.

``runner.run`` trains and evaluates; this module turns what it measured into

- the result dict (:func:`collect`): ``metrics[split][protocol][group][metric]``, timings,
  the learning curve, the trainer's report, peak memory, versions and the full config;
- ``<results_dir>/<model>-<dataset>-seed<seed>-<time>.json`` and one row per number appended
  to ``<results_dir>/summary.csv`` (:func:`write_result`), ready for ``pandas.read_csv``;
- with ``save_user_ranks``, ``<result>.ranks.npz``: each test user's target rank under every
  protocol, keyed by original user id, for paired tests across models (:func:`write_user_ranks`);
- the fixed-width table the run logs (:func:`format_table`).
"""

from __future__ import annotations

import csv
import json
import platform
import resource
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recbole_hsuga.trainer import GROUPS, PROTOCOLS


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


def write_user_ranks(result_path: str | Path, test_dataset: Any, test_ranks: dict) -> Path:
    """Write ``<result>.ranks.npz``: per-user test ranks keyed by original user id, and (when the
    trainer knew the training history) boolean ``head_users`` / ``head_items`` labels per user."""
    path = Path(result_path).with_suffix(".ranks.npz")
    tokens = test_dataset.field2id_token[test_dataset.uid_field][test_ranks["users"]]
    labels = {key: test_ranks[key] for key in ("head_users", "head_items") if key in test_ranks}
    ranks = {protocol: test_ranks[protocol] for protocol in PROTOCOLS if protocol in test_ranks}
    np.savez_compressed(path, users=tokens.astype(str), **ranks, **labels)
    return path


def collect(config: Any, trainer: Any, best_valid_score: float, valid_result: dict, test_result: dict,
            timings: dict[str, float], n_train_rows: int, saved: bool) -> dict:
    """The run's result dict (written by :func:`write`).

    Args:
        timings: ``data_seconds``, ``train_seconds``, ``eval_seconds``, ``total_seconds``.
        n_train_rows: rows of the training dataset (for samples per second).
    """
    epoch_seconds = list(getattr(trainer, "epoch_seconds", []))
    mean_epoch = float(np.mean(epoch_seconds)) if epoch_seconds else None
    return {
        "model": config["model"],
        "dataset": config["dataset"],
        "seed": config["seed"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "best_valid_score": float(best_valid_score),
        "valid_metric": config["valid_metric"],
        "eval_protocol": config["eval_protocol"],
        "metrics": {"valid": nest_metrics(valid_result), "test": nest_metrics(test_result)},
        "timings": {
            **{key: round(value, 3) for key, value in timings.items()},
            "epochs": len(epoch_seconds),
            "seconds_per_epoch": round(mean_epoch, 3) if epoch_seconds else None,
            "train_samples_per_second": round(n_train_rows / mean_epoch, 1) if epoch_seconds else None,
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


def write(result: dict, config: Any, test_dataset: Any = None, test_ranks: dict | None = None) -> Path:
    """Write the result file and summary rows (and the ranks file if ``save_user_ranks``);
    sets ``result["result_file"]`` and returns its path."""
    path = write_result(result, config["results_dir"] or "results")
    result["result_file"] = str(path)
    if config["save_user_ranks"] and test_ranks is not None and test_dataset is not None:
        write_user_ranks(path, test_dataset, test_ranks)
    return path
