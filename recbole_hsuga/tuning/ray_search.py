"""The Ray Tune 2.6.3 back-end: one CPU per trial, trials in parallel worker processes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence

from recbole_hsuga.tuning.objective import TuningObjective
from recbole_hsuga.tuning.space import SearchParameter, space_size, to_hyperopt_space, to_ray_space
from recbole_hsuga.tuning.table import SCORE_COLUMN

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

