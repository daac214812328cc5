"""Hyper-parameter search that selects on validation: RecBole's HyperTuning or Ray Tune 2.6.3.

A search space is a ``.hyper`` file in RecBole's format, one parameter a line::

    gaa_alpha choice [1.0,0.5,0.1]
    learning_rate loguniform -8,0        # bounds of ln(value), as hyperopt means them
    dropout_prob uniform 0.1,0.5
    embedding_size quniform 32,128,32

:func:`read_hyper_file` parses it once (errors name file and line) into
:class:`SearchParameter` objects that both back-ends' spaces are built from
(:func:`to_hyperopt_space`, :func:`to_ray_space`).

Every trial is one :func:`recbole_hsuga.runner.run`. The search optimises
``best_valid_score`` (``valid_metric`` on validation). RecBole's ``objective_function``
returns test metrics as its result, which invites selecting on test; here test metrics of
a trial are only written to the table for information. Each finished trial is appended to
``<results_dir>/tuning-<model>-<dataset>-<tool>-<time>.csv`` at once (under a file lock,
Ray trials run in parallel processes) and the markdown table next to it is rewritten, so
an interrupted search keeps what it finished; ``resume_table`` reuses those rows instead
of training the same parameters again.
"""

from __future__ import annotations

import ast
import csv
import fcntl
import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from recbole.trainer.hyper_tuning import HyperTuning

from recbole_hsuga.config import HSUGAConfig, parse_cmd_args

logger = logging.getLogger(__name__)

PARAMETER_KINDS = ("choice", "uniform", "quniform", "loguniform")
TOOLS = ("hyperopt", "ray")
#: algo names accepted on the command line -> RecBole's HyperTuning names.
ALGOS = {"exhaustive": "exhaustive", "grid": "exhaustive", "random": "random", "bayes": "bayes", "tpe": "bayes"}
#: settings the tuner places per trial itself (absolute paths, one folder per trial).
PATH_SETTINGS = ("data_path", "checkpoint_dir", "results_dir")
#: name of the score every back-end reports and the table's selection column.
SCORE_COLUMN = "valid_score"


class HyperFileError(ValueError):
    """A ``.hyper`` file is malformed; the message names file and line."""


# --------------------------------------------------------------------------- search space


@dataclass(frozen=True)
class SearchParameter:
    """One line of a ``.hyper`` file.

    ``values`` is the list of candidates for ``choice``; ``(low, high)`` for ``uniform`` and
    ``loguniform`` (bounds of ``ln(value)``, hyperopt's convention); ``(low, high, q)`` for
    ``quniform``.
    """

    name: str
    kind: str
    values: tuple


def _parse_bounds(text: str, count: int, where: str) -> tuple[float, ...]:
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) != count:
        raise HyperFileError(f"{where}: expected {count} comma-separated numbers, got {text!r}")
    try:
        numbers = tuple(float(p) for p in parts)
    except ValueError:
        raise HyperFileError(f"{where}: bounds {text!r} are not numbers") from None
    if not numbers[0] < numbers[1]:
        raise HyperFileError(f"{where}: lower bound {numbers[0]} is not below upper bound {numbers[1]}")
    if count == 3 and numbers[2] <= 0:
        raise HyperFileError(f"{where}: step q must be positive, got {numbers[2]}")
    return numbers


def read_hyper_file(path: str | os.PathLike) -> list[SearchParameter]:
    """Parse a RecBole ``.hyper`` file: ``name kind values`` per line, ``#`` starts a comment.

    Choice lists are read with :func:`ast.literal_eval` (RecBole calls ``eval``), so only
    literals are accepted. Unlike RecBole, a malformed line is an error, not skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"params file not found: {path}")
    parameters: list[SearchParameter] = []
    seen: set[str] = set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        where = f"{path}:{number}"
        tokens = line.split()
        if len(tokens) < 3:
            raise HyperFileError(f"{where}: expected 'name kind values', got {raw.strip()!r}")
        name, kind, text = tokens[0], tokens[1], "".join(tokens[2:])
        if kind not in PARAMETER_KINDS:
            raise HyperFileError(f"{where}: unknown kind {kind!r} of {name!r}; use one of {', '.join(PARAMETER_KINDS)}")
        if name in seen:
            raise HyperFileError(f"{where}: parameter {name!r} is defined twice")
        seen.add(name)
        if kind == "choice":
            try:
                values = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise HyperFileError(f"{where}: choices of {name!r} are not a Python literal list: {text!r}") from None
            if not isinstance(values, (list, tuple)) or not values:
                raise HyperFileError(f"{where}: choices of {name!r} must be a non-empty list, got {text!r}")
            parameters.append(SearchParameter(name, kind, tuple(values)))
        else:
            parameters.append(SearchParameter(name, kind, _parse_bounds(text, 3 if kind == "quniform" else 2, where)))
    if not parameters:
        raise HyperFileError(f"{path}: no parameters")
    return parameters


def _strip_comment(line: str) -> str:
    """Cut ``line`` at the first ``#`` that is not inside a quoted choice value."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:index]
    return line


def space_size(parameters: Sequence[SearchParameter]) -> int | None:
    """Number of grid points, or ``None`` when a parameter is continuous."""
    if any(p.kind != "choice" for p in parameters):
        return None
    return math.prod(len(p.values) for p in parameters)


def _integral(numbers: Sequence[float]) -> bool:
    return all(float(n).is_integer() for n in numbers)


def to_hyperopt_space(parameters: Sequence[SearchParameter]) -> dict:
    """hyperopt ``hp.*`` expressions by name (what RecBole's HyperTuning builds from a file)."""
    from hyperopt import hp
    from hyperopt.pyll import scope

    space = {}
    for p in parameters:
        if p.kind == "choice":
            space[p.name] = hp.choice(p.name, list(p.values))
        elif p.kind == "uniform":
            space[p.name] = hp.uniform(p.name, *p.values)
        elif p.kind == "quniform":
            # Integral grids (sizes, counts) must reach the model as int, not 64.0.
            draw = hp.quniform(p.name, *p.values)
            space[p.name] = scope.int(draw) if _integral(p.values) else draw
        else:
            space[p.name] = hp.loguniform(p.name, *p.values)
    return space


def to_ray_space(parameters: Sequence[SearchParameter], grid: bool = False) -> dict:
    """Ray Tune ``param_space``: the same distributions as :func:`to_hyperopt_space`.

    ``grid=True`` turns every choice into ``tune.grid_search`` (one trial per combination).
    ``loguniform`` bounds are exponentiated: hyperopt takes ``ln`` bounds, Ray real ones.
    """
    from ray import tune

    space = {}
    for p in parameters:
        if p.kind == "choice":
            space[p.name] = tune.grid_search(list(p.values)) if grid else tune.choice(list(p.values))
        elif p.kind == "uniform":
            space[p.name] = tune.uniform(*p.values)
        elif p.kind == "quniform":
            low, high, q = p.values
            space[p.name] = tune.qrandint(int(low), int(high), int(q)) if _integral(p.values) else tune.quniform(low, high, q)
        else:
            space[p.name] = tune.loguniform(math.exp(p.values[0]), math.exp(p.values[1]))
    return space


# --------------------------------------------------------------------------- results table


def _plain(value: Any) -> Any:
    """numpy scalars -> Python; whole floats of a q-uniform stay floats (RecBole casts)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)) else value


def params_key(params: dict) -> str:
    """Canonical text of a parameter set (the resume key): sorted JSON."""
    return json.dumps({k: _plain(v) for k, v in sorted(params.items())}, sort_keys=True)


class TuningTable:
    """The CSV of finished trials (append-only, locked) and its markdown rendering.

    One row per trial: ``trial``, the searched parameters (JSON-encoded values), the
    selection score ``valid_score`` and its metric name, every valid/test metric of the
    ``all`` user group as ``<split>/<protocol>/<metric>``, ``seconds``, the run's JSON file.
    """

    def __init__(self, csv_path: str | os.PathLike, parameter_names: Sequence[str], valid_metric: str, protocol: str, bigger: bool = True):
        self.csv_path = Path(csv_path)
        self.bigger = bigger
        self.markdown_path = self.csv_path.with_suffix(".md")
        self.parameter_names = list(parameter_names)
        self.valid_metric = valid_metric
        self.protocol = protocol

    def read(self) -> list[dict[str, str]]:
        if not self.csv_path.is_file():
            return []
        with self.csv_path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def completed(self) -> dict[str, dict[str, str]]:
        """Finished rows by :func:`params_key` of their parameters."""
        done = {}
        for row in self.read():
            try:
                params = {name: json.loads(row[name]) for name in self.parameter_names}
            except (KeyError, json.JSONDecodeError) as error:
                raise ValueError(f"{self.csv_path}: row {row.get('trial')!r} lacks parameter values ({error})") from None
            done[params_key(params)] = row
        return done

    def append(self, row: dict[str, Any]) -> None:
        """Append ``row`` (header first on an empty file), then rewrite the markdown table."""
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.csv_path.with_suffix(".lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            existing = self.read()
            columns = list(existing[0].keys()) if existing else list(row.keys())
            for key in row:
                if key not in columns:
                    columns.append(key)
            if existing and columns != list(existing[0].keys()):
                self._rewrite(columns, existing + [row])
            else:
                with self.csv_path.open("a", newline="", encoding="utf-8") as handle:
                    writer = csv.DictWriter(handle, fieldnames=columns, restval="")
                    if not existing:
                        writer.writeheader()
                    writer.writerow(row)
            self.write_markdown()

    def _rewrite(self, columns: list[str], rows: list[dict]) -> None:
        tmp = self.csv_path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(self.csv_path)

    def best(self) -> dict[str, str] | None:
        """The row with the best ``valid_score`` (ties: the earlier trial)."""
        rows = [r for r in self.read() if r.get(SCORE_COLUMN) not in (None, "")]
        if not rows:
            return None
        pick = max if self.bigger else min
        return pick(rows, key=lambda r: float(r[SCORE_COLUMN]))

    def write_markdown(self) -> Path:
        """Parameters, valid score, test value of the same metric and seconds, best first."""
        rows = self.read()
        test_column = f"test/{self.protocol}/{self.valid_metric.lower()}"
        header = ["trial", *self.parameter_names, f"valid {self.valid_metric}", f"test {self.valid_metric}", "seconds"]
        ordered = sorted(rows, key=lambda r: float(r[SCORE_COLUMN]), reverse=self.bigger)
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in ordered:
            cells = [row["trial"], *(row[name] for name in self.parameter_names)]
            cells += [f"{float(row[SCORE_COLUMN]):.4f}", _fmt(row.get(test_column)), _fmt(row.get("seconds"), 1)]
            lines.append("| " + " | ".join(cells) + " |")
        tmp = self.markdown_path.with_suffix(".md.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(self.markdown_path)
        return self.markdown_path


def _fmt(value: str | None, digits: int = 4) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return ""


# --------------------------------------------------------------------------- one trial


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


# --------------------------------------------------------------------------- hyperopt back-end


def grid_search(new_ids, domain, trials, seed, sizes: dict[str, int], order_seed: int = 0) -> list:
    """hyperopt ``algo`` that visits every combination of choice indices once.

    Replaces RecBole's ``exhaustive_search``, which hands hyperopt >= 0.2.7 (numpy
    ``Generator`` based) a ``RandomState`` and crashes, and which finds unseen points by
    rejection sampling. The grid is shuffled once with ``order_seed`` so that a
    ``max_evals`` cap takes a spread-out subset; ``seed`` (fmin's per-call seed) is unused.

    Args:
        sizes: number of choices of every parameter (hyperopt label -> count).
    """
    import itertools

    import numpy as np
    from hyperopt.base import miscs_update_idxs_vals

    names = sorted(sizes)
    combos = list(itertools.product(*(range(sizes[name]) for name in names)))
    order = np.random.default_rng(order_seed).permutation(len(combos))
    tried = {tuple(int(t["misc"]["vals"][name][0]) for name in names) for t in trials.trials}
    remaining = (combos[i] for i in order if combos[i] not in tried)
    docs = []
    for new_id in new_ids:
        combo = next(remaining, None)
        if combo is None:  # grid exhausted: hyperopt stops asking
            break
        misc = dict(tid=new_id, cmd=domain.cmd, workdir=domain.workdir)
        miscs_update_idxs_vals([misc], {n: [new_id] for n in names}, {n: [combo[i]] for i, n in enumerate(names)})
        docs.extend(trials.new_trial_docs([new_id], [None], [domain.new_result()], [misc]))
    return docs


class ValidationHyperTuning(HyperTuning):
    """RecBole's HyperTuning with four fixes.

    * A best score of exactly 0 counts as a score (RecBole tests ``if not best_score``, so a
      first trial scoring 0 was replaced by any later trial, even a worse one under
      ``valid_score_bigger=False``).
    * Exhaustive search uses :func:`grid_search` (RecBole's crashes on hyperopt >= 0.2.7)
      and ``max_evals`` caps it (RecBole always runs the whole grid).
    * The search is seeded (``seed``), so trials are drawn in a reproducible order.
    * Results are logged, not printed.
    """

    def __init__(self, objective_function, parameters: Sequence[SearchParameter], algo: str = "exhaustive", max_evals: int | None = None, early_stop: int = 10, seed: int = 2020):
        from functools import partial

        space = to_hyperopt_space(parameters)
        if algo == "exhaustive":
            size = space_size(parameters)
            if size is None:
                raise ValueError("exhaustive search needs choice parameters only")
            sizes = {p.name: len(p.values) for p in parameters}
            super().__init__(objective_function, space=space, algo=partial(grid_search, sizes=sizes, order_seed=seed), max_evals=min(size, max_evals or size), early_stop=early_stop)
        else:
            super().__init__(objective_function, space=space, algo=algo, max_evals=max_evals or 10, early_stop=early_stop)
        self.seed = seed
        self.best_result: dict | None = None

    def trial(self, params: dict) -> dict:
        import hyperopt

        params_str = self.params2str(params)
        self.params_list.append(params_str)
        result = self.objective_function(dict(params), self.fixed_config_file_list)
        self.params2result[params_str] = result
        self.model = result["model"]
        score, bigger = result["best_valid_score"], result["valid_score_bigger"]
        self.score_list.append(score)
        improved = self.best_score is None or (score > self.best_score if bigger else score < self.best_score)
        if improved:
            self.best_score, self.best_params, self.best_result = score, dict(params), result
            logger.info("new best valid score %.4f with %s", score, params_str)
        return {"loss": -score if bigger else score, "status": hyperopt.STATUS_OK}

    def run(self) -> None:
        import numpy as np
        from hyperopt import fmin

        fmin(
            self.trial,
            self.space,
            algo=self.algo,
            max_evals=int(self.max_evals),
            early_stop_fn=self.early_stop_fn,
            rstate=np.random.default_rng(self.seed),
            show_progressbar=True,
        )


# --------------------------------------------------------------------------- ray back-end


def make_worker_setup_hook() -> Callable[[], None]:
    """A Ray ``worker_process_setup_hook`` that restores numpy 2's removed aliases.

    Ray 2.6.3 workers import ``ray.tune`` (which uses ``np.bool8``) before any of our code.
    The hook is a nested function so cloudpickle ships it *by value*: unpickling it imports
    neither this package (whose ``__init__`` loads RecBole and torch) nor anything but numpy.
    It mirrors :data:`recbole_hsuga.compat._NUMPY_ALIASES`.
    """

    def restore_numpy_aliases() -> None:
        import builtins

        import numpy

        numpy_targets = {"float_": "float64", "complex_": "complex128", "unicode_": "str_", "bool8": "bool_", "Inf": "inf"}
        builtin_targets = {"float": "float", "int": "int", "bool": "bool", "object": "object", "str": "str", "long": "int"}
        for name, target in numpy_targets.items():
            if name not in numpy.__dict__:
                setattr(numpy, name, getattr(numpy, target))
        for name, target in builtin_targets.items():
            if name not in numpy.__dict__:
                setattr(numpy, name, getattr(builtins, target))

    return restore_numpy_aliases


def init_ray(num_cpus: int = 2) -> None:
    """Start a local Ray instance (no dashboard) whose workers get the numpy shim."""
    import ray

    if ray.is_initialized():
        return
    ray.init(
        num_cpus=num_cpus,
        num_gpus=0,
        include_dashboard=False,
        log_to_driver=True,
        runtime_env={"worker_process_setup_hook": make_worker_setup_hook()},
    )


def ray_trainable(config: dict, objective: TuningObjective) -> None:
    """Ray function trainable: one :meth:`TuningObjective.evaluate`, reported once."""
    from ray.air import session

    row = objective.evaluate(config, trial_name=session.get_trial_name())
    session.report({SCORE_COLUMN: row[SCORE_COLUMN], **{k: v for k, v in row.items() if "/" in k and isinstance(v, float)}})


def run_ray(
    objective: TuningObjective,
    parameters: Sequence[SearchParameter],
    algo: str,
    max_evals: int,
    num_cpus: int,
    seed: int,
) -> dict | None:
    """Search with ``tune.Tuner``: one CPU per trial, ``num_cpus`` trials at once.

    ``exhaustive`` runs every grid combination (``max_evals`` does not cap a Ray grid);
    ``random`` samples ``max_evals`` trials; ``bayes`` uses Ray's HyperOptSearch (TPE) on
    the hyperopt space of the same file.
    """
    from ray import air, tune

    init_ray(num_cpus)
    mode = "max" if objective.bigger else "min"
    trainable = tune.with_resources(tune.with_parameters(ray_trainable, objective=objective), {"cpu": 1})
    search_alg = None
    if algo == "exhaustive":
        param_space, num_samples = to_ray_space(parameters, grid=True), 1
        size = space_size(parameters)
        if max_evals and size and max_evals < size:
            logger.warning("ray grid search runs all %d combinations; max_evals=%d does not cap it", size, max_evals)
    elif algo == "random":
        param_space, num_samples = to_ray_space(parameters), max_evals
    else:
        from ray.tune.search.hyperopt import HyperOptSearch

        search_alg = HyperOptSearch(space=to_hyperopt_space(parameters), metric=SCORE_COLUMN, mode=mode, random_state_seed=seed)
        param_space, num_samples = {}, max_evals
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=SCORE_COLUMN,
            mode=mode,
            search_alg=search_alg,
            num_samples=num_samples,
            max_concurrent_trials=num_cpus,
            chdir_to_trial_dir=False,
        ),
        run_config=air.RunConfig(
            name=objective.table.csv_path.stem,
            storage_path=str(Path(objective.paths["results_dir"]) / "ray"),
            verbose=1,
        ),
    )
    grid = tuner.fit()
    errors = [str(r.error) for r in grid if r.error is not None]
    if errors:
        logger.error("%d ray trial(s) failed; first error:\n%s", len(errors), errors[0])
    if len(errors) == len(grid):
        raise RuntimeError(f"every ray trial failed; first error: {errors[0]}")
    best = grid.get_best_result(metric=SCORE_COLUMN, mode=mode)
    return {k: v for k, v in best.config.items()} if best else None


# --------------------------------------------------------------------------- driver


@dataclass
class TuningOutcome:
    """What a search produced: the best parameters by validation and the table files."""

    best_params: dict | None
    best_row: dict | None
    csv_path: Path
    markdown_path: Path


def _settings_paths(model: str, dataset: str, config_files: list[str], settings: dict[str, str]) -> tuple[dict[str, str], str, str, bool]:
    """Resolve the absolute path settings, valid metric, its protocol and direction once.

    Building the Config here also checks the fixed settings before any trial starts.
    """
    config = HSUGAConfig(model=model, dataset=dataset, config_file_list=config_files or None, cmd_args=[f"--{k}={v}" for k, v in settings.items()])
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
        raise ValueError(f"unknown tool {tool!r}; use one of {', '.join(TOOLS)}")
    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}; use one of {', '.join(ALGOS)}")
    algo = ALGOS[algo]
    parameters = read_hyper_file(params_file)
    names = [p.name for p in parameters]
    if algo == "exhaustive" and space_size(parameters) is None:
        continuous = [p.name for p in parameters if p.kind != "choice"]
        raise ValueError(f"{params_file}: exhaustive search needs choice parameters only; {continuous} are continuous (use --algo=random or bayes)")
    fixed = parse_cmd_args(settings)
    clash = sorted(set(fixed) & set(names))
    if clash:
        raise ValueError(f"setting(s) {clash} are both fixed on the command line and searched in {params_file}")
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
