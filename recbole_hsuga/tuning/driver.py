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
from recbole_hsuga.tuning.halving import SCHEDULERS, HalvingRule, check_halving_settings
from recbole_hsuga.tuning.hyperopt_search import ValidationHyperTuning
from recbole_hsuga.tuning.objective import TuningObjective, milestones_for
from recbole_hsuga.tuning.ray_search import run_ray
from recbole_hsuga.tuning.space import SearchParameter, point_of, read_hyper_file, space_size
from recbole_hsuga.tuning.table import TuningTable

logger = logging.getLogger(__name__)

TOOLS = ("hyperopt", "ray")
#: algo names accepted on the command line -> RecBole's HyperTuning names.
ALGOS = {"exhaustive": "exhaustive", "grid": "exhaustive", "random": "random", "bayes": "bayes", "tpe": "bayes"}
#: settings the tuner places per trial itself (absolute paths, one folder per trial).
PATH_SETTINGS = ("data_path", "checkpoint_dir", "results_dir")
#: ``--key=value`` flags that configure the search itself, not the trials: taken out of the
#: fixed settings (run_hyper_hsuga.py passes every unknown ``--key=value`` as a setting).
SCHEDULER_FLAGS = ("scheduler", "grace_period", "reduction_factor", "max_t")
#: what the first trial is: drawn by the search | defaults (the configured values of the searched
#: keys: the model's YAML, the config files and the fixed settings).
FIRST_TRIALS = ("drawn", "defaults")
#: defaults of the halving flags: rungs at 5, 15, 45, ... epochs.
DEFAULT_GRACE_PERIOD, DEFAULT_REDUCTION_FACTOR = 5, 3


@dataclass
class TuningOutcome:
    """What a search produced: the best parameters by validation and the table files."""

    best_params: dict | None
    best_row: dict | None
    csv_path: Path
    markdown_path: Path


def _settings_paths(model: str, dataset: str, config_files: list[str], settings: dict[str, str],
                    searched: Sequence[str] = ()) -> tuple[dict[str, str], str, str, bool, int, int, dict]:
    """Resolve the absolute path settings, valid metric, its protocol and direction, the
    epoch cap, the training seed and the configured values of the ``searched`` keys once.

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
    configured = {name: config[name] for name in searched}
    return (paths, str(config["valid_metric"]), str(config["eval_protocol"] or "full"), bigger, int(config["epochs"]),
            int(config["seed"]), configured)


def first_point(model: str, params_file: str | os.PathLike, parameters: Sequence[SearchParameter],
                configured: dict) -> dict:
    """The configured values of the searched keys as a point of the space, or :class:`InputError`
    naming the key that has no value or a value outside the space."""
    point = {}
    for parameter in parameters:
        value = configured.get(parameter.name)
        if value is None:
            raise InputError(f"--first_trial=defaults: {model} has no configured value of {parameter.name}, "
                             f"searched in {params_file}")
        try:
            point[parameter.name] = point_of(parameter, value)
        except InputError as error:
            raise InputError(f"--first_trial=defaults: {model}'s configured {error} ({params_file})") from None
    return point


def _int_flag(name: str, value) -> int | None:
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise InputError(f"--{name} must be an integer, got {value!r}") from None


def scheduler_options(fixed: dict[str, str], scheduler: str | None, grace_period, reduction_factor, max_t) -> dict:
    """The search's scheduler flags: keyword arguments, else ``--key=value`` settings
    (removed from ``fixed``), else the defaults. Raises :class:`InputError` on a bad value or
    a flag given both ways with different values."""
    given = {"scheduler": scheduler, "grace_period": grace_period, "reduction_factor": reduction_factor, "max_t": max_t}
    for name in SCHEDULER_FLAGS:
        if name in fixed:
            value = fixed.pop(name)
            if given[name] is not None and str(given[name]) != value:
                raise InputError(f"--{name} is given twice: {given[name]!r} and {value!r}")
            given[name] = value
    name = str(given["scheduler"] or "none").lower()
    if name not in SCHEDULERS:
        raise InputError(f"unknown scheduler {given['scheduler']!r}; use one of {', '.join(SCHEDULERS)}")
    options = {"scheduler": name}
    for flag in ("grace_period", "reduction_factor", "max_t"):
        options[flag] = _int_flag(flag, given[flag])
    if name == "none":
        halving_flags = [f"--{flag}" for flag in ("grace_period", "reduction_factor", "max_t") if options[flag] is not None]
        if halving_flags:
            raise InputError(f"{', '.join(halving_flags)} only apply with --scheduler=asha")
    return options


def effective_max_evals(tool: str, algo: str, max_evals: int | None, size: int | None) -> int:
    """Trials the search runs at most: the budget's ``max_evals``."""
    if algo == "exhaustive":
        if tool == "ray":  # a Ray grid runs every combination
            return int(size)
        return min(int(size), max_evals or int(size))
    return max_evals or 10


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
    scheduler: str | None = None,
    grace_period: int | None = None,
    reduction_factor: int | None = None,
    max_t: int | None = None,
    first_trial: str = "drawn",
) -> TuningOutcome:
    """Search ``params_file`` for ``model`` on ``dataset``, selecting on validation.

    Args:
        tool: ``hyperopt`` (RecBole's HyperTuning, trials in this process) or ``ray``.
        algo: exhaustive (grid) | random | bayes (alias tpe).
        max_evals: trials to run (random/bayes; caps an exhaustive hyperopt grid).
        settings: ``--key=value`` strings fixed for every trial; may not name a searched key.
            ``--scheduler``, ``--grace_period``, ``--reduction_factor`` and ``--max_t`` among
            them are the scheduler flags below (the command line passes them so).
        early_stop: hyperopt stops after this many trials without improvement (0: never).
        resume_table: CSV of an earlier search of the same file to continue (its finished
            and early-terminated parameter sets are not trained again; new rows go to the
            same file). Its budget must be this search's.
        scheduler: none (every trial trains to its end or early stopping) | asha (successive
            halving: Ray's ASHAScheduler, or :class:`HalvingRule` in-process for hyperopt).
        grace_period, reduction_factor: rungs at ``grace_period * reduction_factor**k``
            epochs (defaults 5 and 3); a trial outside the top ``1/reduction_factor`` of the
            earlier trials' scores at a rung stops.
        max_t: epochs after which the scheduler stops a trial (default and maximum: ``epochs``).
        first_trial: drawn (the search draws every trial) | defaults (hyperopt: the first trial is
            the configured values of the searched keys, which must be a point of the space; it
            counts toward the budget, and being the first at every rung it is never stopped
            early, so the search's best is never a recipe that validates below them).
    Returns:
        a :class:`TuningOutcome`; the CSV and markdown tables are already written.
    """
    if tool not in TOOLS:
        raise InputError(f"unknown tool {tool!r}; use one of {', '.join(TOOLS)}")
    if algo not in ALGOS:
        raise InputError(f"unknown algo {algo!r}; use one of {', '.join(ALGOS)}")
    algo = ALGOS[algo]
    if first_trial not in FIRST_TRIALS:
        raise InputError(f"unknown --first_trial {first_trial!r}; use one of {', '.join(FIRST_TRIALS)}")
    if first_trial == "defaults" and tool != "hyperopt":
        raise InputError("--first_trial=defaults needs --tool=hyperopt, whose trials run one after another "
                         "(Ray runs several at once, so its first trial is not the first at every rung)")
    fixed = parse_cmd_args(settings)
    options = scheduler_options(fixed, scheduler, grace_period, reduction_factor, max_t)
    parameters = read_hyper_file(params_file)
    names = [p.name for p in parameters]
    if algo == "exhaustive" and space_size(parameters) is None:
        continuous = [p.name for p in parameters if p.kind != "choice"]
        raise InputError(f"{params_file}: exhaustive search needs choice parameters only; {continuous} are continuous (use --algo=random or bayes)")
    clash = sorted(set(fixed) & set(names))
    if clash:
        raise InputError(f"setting(s) {clash} are both fixed on the command line and searched in {params_file}")
    config_files = [str(Path(f).resolve()) for f in config_files]
    for path in config_files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"config file not found: {path}")
    paths, valid_metric, protocol, bigger, epochs, training_seed, configured = _settings_paths(
        model, dataset, config_files, fixed, names)
    start = first_point(model, params_file, parameters, configured) if first_trial == "defaults" else None
    if options["scheduler"] == "asha":
        options["grace_period"] = options["grace_period"] or DEFAULT_GRACE_PERIOD
        options["reduction_factor"] = options["reduction_factor"] or DEFAULT_REDUCTION_FACTOR
        options["max_t"] = options["max_t"] or epochs
        check_halving_settings(options["grace_period"], options["reduction_factor"], options["max_t"], epochs)
    # Trials place these per trial in config_dict, which --key=value would override.
    trial_settings = [f"--{k}={v}" for k, v in fixed.items() if k not in PATH_SETTINGS]
    budget = {
        "tool": tool,
        "algo": algo,
        "max_evals": effective_max_evals(tool, algo, max_evals, space_size(parameters)),
        "early_stop": (early_stop if early_stop > 0 else 0) if tool == "hyperopt" else None,
        **options,
        "epochs": epochs,
        "search_seed": seed,
        "seed": training_seed,
    }
    if start is not None:  # only then, so tables written before the option existed still resume
        budget["first_trial"] = first_trial

    if resume_table:
        csv_path = Path(resume_table).resolve()
        if not csv_path.is_file():
            raise FileNotFoundError(f"table to resume not found: {csv_path}")
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        csv_path = Path(paths["results_dir"]) / f"tuning-{model}-{dataset}-{tool}-{stamp}.csv"
    table = TuningTable(csv_path, names, valid_metric, protocol, bigger, budget=budget)
    reuse = {}
    if resume_table:
        if table.stored_budget() is None and table.read():
            logger.warning("%s states no budget (written before budgets were recorded); resuming it under %s", csv_path, budget)
        table.check_budget(budget)
        reuse = table.completed()
    if reuse:
        logger.info("resuming %s: %d ended trial(s) will be reused", csv_path, len(reuse))
    milestones = milestones_for(options["scheduler"], options["grace_period"], options["reduction_factor"], options["max_t"])
    halving = None
    if options["scheduler"] == "asha" and tool == "hyperopt":
        halving = HalvingRule(options["grace_period"], options["reduction_factor"], options["max_t"], bigger)
        for row in table.read():  # a resumed search continues the rung records
            halving.load(row["trial"], json.loads(row.get("rung_scores") or "{}"))
    objective = TuningObjective(model, dataset, config_files, trial_settings, paths, table, bigger, reuse, keep_checkpoints,
                                budget=budget, epoch_cap=epochs, milestones=milestones, halving=halving)
    logger.info("tuning %s on %s with %s/%s over %s; selecting on valid %s; budget %s", model, dataset, tool, algo, names,
                valid_metric, budget)

    if tool == "hyperopt":
        tuner = ValidationHyperTuning(
            objective,
            parameters,
            algo=algo,
            max_evals=max_evals,
            early_stop=early_stop if early_stop > 0 else 10**9,
            seed=seed,
            first_point=start,
        )
        tuner.run()
    else:
        run_ray(objective, parameters, algo, max_evals or 10, num_cpus, seed, scheduler=options["scheduler"],
                grace_period=options["grace_period"], reduction_factor=options["reduction_factor"], max_t=options["max_t"])

    best_row = table.best()
    best_params = {name: json.loads(best_row[name]) for name in names} if best_row else None
    markdown = table.write_markdown() if table.read() else table.markdown_path
    return TuningOutcome(best_params, best_row, csv_path, markdown)
