"""The search driver: check the inputs once, pick a back-end, return the best by validation."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

from recbole_hsuga.config import HSUGAConfig, parse_cmd_args, require_dataset_folder
from recbole_hsuga.errors import InputError
from recbole_hsuga.tuning.hyperopt_search import ValidationHyperTuning
from recbole_hsuga.tuning.objective import TuningObjective
from recbole_hsuga.tuning.ray_search import run_ray
from recbole_hsuga.tuning.space import read_hyper_file, space_size
from recbole_hsuga.tuning.table import TuningTable

logger = logging.getLogger(__name__)

TOOLS = ("hyperopt", "ray")
#: algo names accepted on the command line -> RecBole's HyperTuning names.
ALGOS = {"exhaustive": "exhaustive", "grid": "exhaustive", "random": "random", "bayes": "bayes", "tpe": "bayes"}
#: settings the tuner places per trial itself (absolute paths, one folder per trial).
PATH_SETTINGS = ("data_path", "checkpoint_dir", "results_dir")


@dataclass
class TuningOutcome:
    """What a search produced: the best parameters by validation and the table files."""

    best_params: dict | None
    best_row: dict | None
    csv_path: Path
    markdown_path: Path


def _settings_paths(model: str, dataset: str, config_files: list[str], settings: dict[str, str]) -> tuple[dict[str, str], str, str, bool]:
    """Resolve the absolute path settings, valid metric, its protocol and direction once.

    Building the Config here also checks the fixed settings and the dataset folder before
    any trial starts.
    """
    config = HSUGAConfig(model=model, dataset=dataset, config_file_list=config_files or None, cmd_args=[f"--{k}={v}" for k, v in settings.items()])
    require_dataset_folder(config)
    # RecBole's Config joins <data_path>/<dataset>; trials need the root.
    data_root = Path(config["data_path"]).resolve().parent
    paths = {
        "data_path": str(data_root),
        "checkpoint_dir": str(Path(config["checkpoint_dir"]).resolve()),
        "results_dir": str(Path(config["results_dir"] or "results").resolve()),
    }
    bigger = bool(config["valid_metric_bigger"]) if config["valid_metric_bigger"] is not None else True
    return paths, str(config["valid_metric"]), str(config["eval_protocol"] or "full"), bigger


def tune_model(
    model: str,
    dataset: str,
    params_file: str | os.PathLike,
    tool: str = "hyperopt",
    algo: str = "exhaustive",
    max_evals: int | None = None,
    config_files: Sequence[str] = (),
    settings: Sequence[str] = (),
    early_stop: int = 10,
    num_cpus: int = 2,
    seed: int = 2020,
    resume_table: str | os.PathLike | None = None,
    keep_checkpoints: bool = False,
) -> TuningOutcome:
    """Search ``params_file`` for ``model`` on ``dataset``, selecting on validation.

    Args:
        tool: ``hyperopt`` (RecBole's HyperTuning, trials in this process) or ``ray``.
        algo: exhaustive (grid) | random | bayes (alias tpe).
        max_evals: trials to run (random/bayes; caps an exhaustive hyperopt grid).
        settings: ``--key=value`` strings fixed for every trial; may not name a searched key.
        early_stop: hyperopt stops after this many trials without improvement (0: never).
        resume_table: CSV of an earlier search of the same file to continue (its finished
            parameter sets are not trained again; new rows go to the same file).
    Returns:
        a :class:`TuningOutcome`; the CSV and markdown tables are already written.
    """
    if tool not in TOOLS:
        raise InputError(f"unknown tool {tool!r}; use one of {', '.join(TOOLS)}")
    if algo not in ALGOS:
        raise InputError(f"unknown algo {algo!r}; use one of {', '.join(ALGOS)}")
    algo = ALGOS[algo]
    parameters = read_hyper_file(params_file)
    names = [p.name for p in parameters]
    if algo == "exhaustive" and space_size(parameters) is None:
        continuous = [p.name for p in parameters if p.kind != "choice"]
        raise InputError(f"{params_file}: exhaustive search needs choice parameters only; {continuous} are continuous (use --algo=random or bayes)")
    fixed = parse_cmd_args(settings)
    clash = sorted(set(fixed) & set(names))
    if clash:
        raise InputError(f"setting(s) {clash} are both fixed on the command line and searched in {params_file}")
    config_files = [str(Path(f).resolve()) for f in config_files]
    for path in config_files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"config file not found: {path}")
    paths, valid_metric, protocol, bigger = _settings_paths(model, dataset, config_files, fixed)
    # Trials place these per trial in config_dict, which --key=value would override.
    trial_settings = [f"--{k}={v}" for k, v in fixed.items() if k not in PATH_SETTINGS]

    if resume_table:
        csv_path = Path(resume_table).resolve()
        if not csv_path.is_file():
            raise FileNotFoundError(f"table to resume not found: {csv_path}")
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        csv_path = Path(paths["results_dir"]) / f"tuning-{model}-{dataset}-{tool}-{stamp}.csv"
    table = TuningTable(csv_path, names, valid_metric, protocol, bigger)
    reuse = table.completed() if resume_table else {}
    if reuse:
        logger.info("resuming %s: %d finished trial(s) will be reused", csv_path, len(reuse))
    objective = TuningObjective(model, dataset, config_files, trial_settings, paths, table, bigger, reuse, keep_checkpoints)
    objective.trials_started = len(table.read())
    logger.info("tuning %s on %s with %s/%s over %s; selecting on valid %s", model, dataset, tool, algo, names, valid_metric)

    if tool == "hyperopt":
        tuner = ValidationHyperTuning(
            objective,
            parameters,
            algo=algo,
            max_evals=max_evals,
            early_stop=early_stop if early_stop > 0 else 10**9,
            seed=seed,
        )
        tuner.run()
    else:
        run_ray(objective, parameters, algo, max_evals or 10, num_cpus, seed)

    best_row = table.best()
    best_params = {name: json.loads(best_row[name]) for name in names} if best_row else None
    markdown = table.write_markdown() if best_row else table.markdown_path
    return TuningOutcome(best_params, best_row, csv_path, markdown)
