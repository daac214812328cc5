"""Hyper-parameter search that selects on validation: RecBole's HyperTuning or Ray Tune 2.6.3.

One module per job:

* :mod:`~recbole_hsuga.tuning.space`: ``.hyper`` files (RecBole's format) parsed once into
  :class:`SearchParameter` objects, and the hyperopt / Ray spaces built from them;
* :mod:`~recbole_hsuga.tuning.objective`: one trial, :class:`TuningObjective`, is one
  :func:`recbole_hsuga.runner.run`, whose per-epoch callback reports the best validation
  score so far and may stop the trial;
* :mod:`~recbole_hsuga.tuning.halving`: the successive-halving rule (ASHA's) as a pure
  function and the in-process :class:`HalvingRule` the hyperopt back-end stops trials with;
* :mod:`~recbole_hsuga.tuning.hyperopt_search`: RecBole's HyperTuning, fixed
  (:class:`ValidationHyperTuning`), and a grid search for it;
* :mod:`~recbole_hsuga.tuning.ray_search`: Ray Tune, one CPU per trial, optionally ASHA;
* :mod:`~recbole_hsuga.tuning.table`: the CSV of trials (status, budget) and its markdown view;
* :mod:`~recbole_hsuga.tuning.driver`: :func:`tune_model`, what ``run_hyper_hsuga.py`` calls.

The search optimises ``best_valid_score`` (``valid_metric`` on validation). RecBole's
``objective_function`` returns test metrics as its result, which invites selecting on
test; here test metrics of a trial are only written to the table for information. Each
trial that ends (finished, early-terminated or failed) is appended to ``<results_dir>/tuning-<model>-<dataset>-<tool>-<time>.csv``
at once (under a file lock, Ray trials run in parallel processes) and the markdown table
next to it is rewritten, so an interrupted search keeps what it finished;
``resume_table`` reuses those rows instead of training the same parameters again. Trials
train with ``resume_training`` in their own checkpoint folder, and a resumed search draws its
trials in the same order under the same names, so the trial a stopped search was in continues
from its last validated epoch, its earlier validations replayed to the halving rule.
"""

from recbole_hsuga.tuning.driver import ALGOS, PATH_SETTINGS, SCHEDULER_FLAGS, TOOLS, TuningOutcome, tune_model
from recbole_hsuga.tuning.halving import (
    SCHEDULERS,
    HalvingRule,
    RungDecision,
    TrialStopped,
    rung_cutoff,
    rung_milestones,
    stops_at_rung,
)
from recbole_hsuga.tuning.hyperopt_search import ValidationHyperTuning, grid_search
from recbole_hsuga.tuning.objective import TuningObjective
from recbole_hsuga.tuning.ray_search import init_ray, make_table_callback, make_worker_setup_hook, ray_trainable, run_ray
from recbole_hsuga.tuning.space import (
    PARAMETER_KINDS,
    HyperFileError,
    SearchParameter,
    read_hyper_file,
    space_size,
    to_hyperopt_space,
    to_ray_space,
)
from recbole_hsuga.tuning.table import (
    EARLY_TERMINATED,
    FAILED,
    FINISHED,
    SCORE_COLUMN,
    STATUS_COLUMN,
    TuningTable,
    params_key,
)

__all__ = [
    "ALGOS",
    "EARLY_TERMINATED",
    "FAILED",
    "FINISHED",
    "PARAMETER_KINDS",
    "PATH_SETTINGS",
    "SCHEDULERS",
    "SCHEDULER_FLAGS",
    "SCORE_COLUMN",
    "STATUS_COLUMN",
    "TOOLS",
    "HalvingRule",
    "HyperFileError",
    "RungDecision",
    "SearchParameter",
    "TrialStopped",
    "TuningObjective",
    "TuningOutcome",
    "TuningTable",
    "ValidationHyperTuning",
    "grid_search",
    "init_ray",
    "make_table_callback",
    "make_worker_setup_hook",
    "params_key",
    "ray_trainable",
    "read_hyper_file",
    "run_ray",
    "rung_cutoff",
    "rung_milestones",
    "space_size",
    "stops_at_rung",
    "to_hyperopt_space",
    "to_ray_space",
    "tune_model",
]
