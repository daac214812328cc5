"""One trial: train a parameter set with :func:`recbole_hsuga.runner.run` and record it."""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recbole_hsuga.tuning.table import SCORE_COLUMN, TuningTable, _plain, params_key

logger = logging.getLogger(__name__)


@dataclass
class TuningObjective:
    """Train one parameter set with :func:`runner.run` and record it; picklable for Ray workers.

    Args:
        model, dataset: as for :func:`runner.run`.
        config_files: user YAML files (absolute paths).
        fixed_settings: ``--key=value`` settings that hold for every trial (not searched).
        paths: absolute ``data_path`` (the root holding ``<dataset>/``), ``checkpoint_dir``
            and ``results_dir`` (each trial gets its own sub-folder of the latter two).
        table: where finished trials go.
        reuse: finished rows of an earlier table by :func:`params_key` (resume).
        keep_checkpoints: keep each trial's model file (otherwise deleted after testing).
    """

    model: str
    dataset: str
    config_files: list[str]
    fixed_settings: list[str]
    paths: dict[str, str]
    table: TuningTable
    bigger: bool = True
    reuse: dict[str, dict[str, str]] = field(default_factory=dict)
    keep_checkpoints: bool = False
    #: trials named so far by :meth:`__call__` (hyperopt; Ray names its own trials).
    trials_started: int = 0

    def evaluate(self, params: dict, trial_name: str) -> dict[str, Any]:
        """Run (or reuse) one trial; returns its table row (``valid_score`` is a float)."""
        params = {k: _plain(v) for k, v in params.items()}
        previous = self.reuse.get(params_key(params))
        if previous is not None:
            logger.info("trial %s: parameters %s finished earlier (trial %s), reusing its row", trial_name, params, previous["trial"])
            row = dict(previous)
            row[SCORE_COLUMN] = float(row[SCORE_COLUMN])
            return row
        from recbole_hsuga.runner import run  # torch; after the space is known to be valid

        started = time.perf_counter()
        trial_dir = self.table.csv_path.stem + "/" + trial_name
        config_dict = dict(params)
        config_dict["data_path"] = self.paths["data_path"]
        config_dict["checkpoint_dir"] = str(Path(self.paths["checkpoint_dir"]) / trial_dir)
        config_dict["results_dir"] = str(Path(self.paths["results_dir"]) / trial_dir)
        logger.info("trial %s: %s", trial_name, params)
        result = run(
            self.model,
            self.dataset,
            config_file_list=self.config_files or None,
            config_dict=config_dict,
            cmd_args=self.fixed_settings,
            saved=True,
            write_results=True,
        )
        seconds = time.perf_counter() - started
        if not self.keep_checkpoints and result.get("checkpoint"):
            shutil.rmtree(config_dict["checkpoint_dir"], ignore_errors=True)
        row: dict[str, Any] = {"trial": trial_name}
        row.update({name: json.dumps(params[name]) for name in self.table.parameter_names})
        row[SCORE_COLUMN] = float(result["best_valid_score"])
        row["valid_metric"] = result["valid_metric"]
        for split in ("valid", "test"):
            for protocol, groups in result["metrics"][split].items():
                for metric, value in groups.get("all", {}).items():
                    if metric != "n_users":
                        row[f"{split}/{protocol}/{metric}"] = value
        row["seconds"] = round(seconds, 2)
        row["result_file"] = result.get("result_file", "")
        self.table.append(row)
        logger.info("trial %s: valid %s = %.4f (%.1f s)", trial_name, result["valid_metric"], row[SCORE_COLUMN], seconds)
        return row

    def __call__(self, params: dict, fixed_config_file_list: Any = None) -> dict:
        """RecBole's ``objective_function`` interface, with the *valid* result as the score."""
        self.trials_started += 1
        row = self.evaluate(params, trial_name=f"trial{self.trials_started:04d}")
        valid = {k.split("/", 1)[1]: v for k, v in row.items() if k.startswith("valid/")}
        test = {k.split("/", 1)[1]: v for k, v in row.items() if k.startswith("test/")}
        return {
            "model": self.model,
            "best_valid_score": row[SCORE_COLUMN],
            "valid_score_bigger": self.bigger,
            "best_valid_result": valid,
            "test_result": test,  # for information only; never compared
        }

