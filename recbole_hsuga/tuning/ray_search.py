"""The Ray Tune 2.6.3 back-end: one CPU per trial, trials in parallel worker processes.

Each trial reports its best validation score so far after every epoch (``epoch`` is the
time attribute), so ``--scheduler=asha`` (Ray's ``ASHAScheduler``) can stop weak trials.
A stopped trial's worker never returns, so the driver records it: the callback of
:func:`make_table_callback` writes an early-terminated row (or a failed one) for every trial
that ended without a row.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

from recbole_hsuga.tuning.objective import EPOCH_KEY, TuningObjective
from recbole_hsuga.tuning.space import SearchParameter, space_size, to_hyperopt_space, to_ray_space
from recbole_hsuga.tuning.table import EARLY_TERMINATED, FAILED, SCORE_COLUMN, STATUS_COLUMN

logger = logging.getLogger(__name__)


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
        logger.warning("Ray is already running in this process: its workers may lack the numpy 2 shim "
                       "that Ray Tune 2.6.3 needs (np.bool8); call ray.shutdown() first if trials fail on it")
        return
    ray.init(
        num_cpus=num_cpus,
        num_gpus=0,
        include_dashboard=False,
        log_to_driver=True,
        runtime_env={"worker_process_setup_hook": make_worker_setup_hook()},
    )


def ray_trainable(config: dict, objective: TuningObjective) -> None:
    """Ray function trainable: one :meth:`TuningObjective.evaluate`, reporting every epoch.

    Per-epoch reports carry ``valid_score`` (the best so far: what ASHA compares at a rung),
    ``epoch`` and the rung scores so far (JSON, for the driver's row if ASHA stops the
    trial). The last report, after testing, carries the trial's row: its status and metrics.
    """
    import json

    from ray.air import session

    def report_epoch(epoch: int, best: float, rung_scores: dict) -> None:
        # Does not return if the scheduler stops the trial here (Ray ends the thread).
        session.report({SCORE_COLUMN: best, EPOCH_KEY: epoch, STATUS_COLUMN: "running",
                        "rung_scores": json.dumps({str(m): s for m, s in sorted(rung_scores.items())})})

    row = objective.evaluate(config, trial_name=session.get_trial_name(), report=report_epoch)
    epochs = row.get("epochs")
    final = {SCORE_COLUMN: row[SCORE_COLUMN], EPOCH_KEY: int(epochs) if str(epochs).isdigit() else 0,
             STATUS_COLUMN: row.get(STATUS_COLUMN)}
    final.update({k: v for k, v in row.items() if "/" in k and isinstance(v, float)})
    session.report(final)


def make_table_callback(objective: TuningObjective):
    """A Ray Tune ``Callback`` (in the driver) that records trials that ended without a row.

    A trial ASHA stopped never reaches the end of :meth:`TuningObjective.evaluate`; its last
    report holds the best score so far, the epochs and the rung scores, and it is written as
    early-terminated. A trial whose worker died before recording its failure is written as
    failed. Trials that wrote their own row (finished, or failed in Python) are skipped.
    """
    import json

    from ray.tune import Callback

    class _TableCallback(Callback):
        def _record(self, trial, status: str, error: str = "") -> None:
            name = str(trial)
            if objective.table.has_trial(name):
                return
            result = trial.last_result or {}
            score = result.get(SCORE_COLUMN)
            epochs = result.get(EPOCH_KEY)
            rungs = json.loads(result.get("rung_scores") or "{}") if isinstance(result.get("rung_scores"), str) else {}
            params = {name_: trial.config[name_] for name_ in objective.table.parameter_names if name_ in trial.config}
            objective.record_ended(name, params, status, None if score is None else float(score),
                                   epochs=int(epochs) if epochs is not None else None, rung_scores=rungs,
                                   seconds=result.get("time_total_s"), error=error)
            logger.info("trial %s: %s after %s epoch(s), best valid score so far %s", name, status, epochs, score)

        def on_trial_complete(self, iteration, trials, trial, **info):
            # A trial whose last report is its row's (finished, or reused on resume) has its row.
            if (trial.last_result or {}).get(STATUS_COLUMN) in (None, "running"):
                self._record(trial, EARLY_TERMINATED)

        def on_trial_error(self, iteration, trials, trial, **info):
            error = ""
            if trial.error_file:
                try:
                    with open(trial.error_file, encoding="utf-8") as handle:
                        lines = [line.strip() for line in handle if line.strip()]
                    error = lines[-1][:300] if lines else ""
                except OSError:
                    pass
            self._record(trial, FAILED, error)

    return _TableCallback()


def run_ray(
    objective: TuningObjective,
    parameters: Sequence[SearchParameter],
    algo: str,
    max_evals: int,
    num_cpus: int,
    seed: int,
    scheduler: str = "none",
    grace_period: int = 5,
    reduction_factor: int = 3,
    max_t: int | None = None,
) -> dict | None:
    """Search with ``tune.Tuner``: one CPU per trial, ``num_cpus`` trials at once.

    ``exhaustive`` runs every grid combination (``max_evals`` does not cap a Ray grid);
    ``random`` samples ``max_evals`` trials; ``bayes`` uses Ray's HyperOptSearch (TPE) on
    the hyperopt space of the same file. ``scheduler="asha"`` stops weak trials with Ray's
    ``ASHAScheduler`` (time attribute: epochs trained; ``max_t`` defaults to the epoch cap).
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
    trial_scheduler = None
    if scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        trial_scheduler = ASHAScheduler(time_attr=EPOCH_KEY, max_t=max_t or objective.epoch_cap or 100,
                                        grace_period=grace_period, reduction_factor=reduction_factor, brackets=1)
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=SCORE_COLUMN,
            mode=mode,
            search_alg=search_alg,
            scheduler=trial_scheduler,
            num_samples=num_samples,
            max_concurrent_trials=num_cpus,
            chdir_to_trial_dir=False,
        ),
        run_config=air.RunConfig(
            name=objective.table.csv_path.stem,
            storage_path=str(Path(objective.paths["results_dir"]) / "ray"),
            verbose=1,
            callbacks=[make_table_callback(objective)],
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

