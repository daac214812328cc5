"""The hyperopt back-end: RecBole's HyperTuning, selecting on validation, and a grid search."""

from __future__ import annotations

import logging
from typing import Sequence

from recbole.trainer.hyper_tuning import HyperTuning

from recbole_hsuga.errors import InputError
from recbole_hsuga.tuning.space import SearchParameter, space_size, to_hyperopt_space

logger = logging.getLogger(__name__)


def grid_search(new_ids, domain, trials, seed, sizes: dict[str, int], order_seed: int = 0,
                skip: frozenset[tuple[int, ...]] = frozenset()) -> list:
    """hyperopt ``algo`` that visits every combination of choice indices once.

    Replaces RecBole's ``exhaustive_search``, which hands hyperopt >= 0.2.7 (numpy
    ``Generator`` based) a ``RandomState`` and crashes, and which finds unseen points by
    rejection sampling. The grid is shuffled once with ``order_seed`` so that a
    ``max_evals`` cap takes a spread-out subset; ``seed`` (fmin's per-call seed) is unused.

    Args:
        sizes: number of choices of every parameter (hyperopt label -> count).
        skip: points (choice indices in sorted label order) already trained outside hyperopt,
            e.g. the configured values run as the first trial.
    """
    import itertools

    import numpy as np
    from hyperopt.base import miscs_update_idxs_vals

    names = sorted(sizes)
    combos = list(itertools.product(*(range(sizes[name]) for name in names)))
    order = np.random.default_rng(order_seed).permutation(len(combos))
    tried = {tuple(int(t["misc"]["vals"][name][0]) for name in names) for t in trials.trials} | set(skip)
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
    """RecBole's HyperTuning with five fixes.

    * A best score of exactly 0 counts as a score (RecBole tests ``if not best_score``, so a
      first trial scoring 0 was replaced by any later trial, even a worse one under
      ``valid_score_bigger=False``).
    * Exhaustive search uses :func:`grid_search` (RecBole's crashes on hyperopt >= 0.2.7)
      and ``max_evals`` caps it (RecBole always runs the whole grid).
    * The search is seeded (``seed``), so trials are drawn in a reproducible order.
    * A failed trial (the objective returns ``best_valid_score`` None) is a failed hyperopt
      trial and counts as one without improvement; the search goes on, and raises only if
      every trial failed. An early-terminated trial's score (its best so far) is its loss.
    * Results are logged, not printed.

    ``first_point`` (values of every searched parameter, points of the space) is trained as the
    first trial, before hyperopt draws, and counts toward ``max_evals``; a grid does not draw it
    again. TPE does not learn from it (hyperopt never sees it).
    """

    def __init__(self, objective_function, parameters: Sequence[SearchParameter], algo: str = "exhaustive", max_evals: int | None = None, early_stop: int = 10, seed: int = 2020,
                 first_point: dict | None = None):
        from functools import partial

        space = to_hyperopt_space(parameters)
        if algo == "exhaustive":
            size = space_size(parameters)
            if size is None:
                raise InputError("exhaustive search needs choice parameters only")
            sizes = {p.name: len(p.values) for p in parameters}
            skip = frozenset()
            if first_point is not None:
                by_name = {p.name: p for p in parameters}
                skip = frozenset({tuple(list(by_name[name].values).index(first_point[name]) for name in sorted(sizes))})
            super().__init__(objective_function, space=space, algo=partial(grid_search, sizes=sizes, order_seed=seed, skip=skip),
                             max_evals=min(size, max_evals or size), early_stop=early_stop)
        else:
            super().__init__(objective_function, space=space, algo=algo, max_evals=max_evals or 10, early_stop=early_stop)
        self.first_point = first_point
        self.seed = seed
        self.early_stop = early_stop
        self.best_result: dict | None = None
        self.trials_without_improvement = 0
        self.errors: list[str] = []

    def trial(self, params: dict) -> dict:
        import hyperopt

        params_str = self.params2str(params)
        self.params_list.append(params_str)
        result = self.objective_function(dict(params), self.fixed_config_file_list)
        self.params2result[params_str] = result
        self.model = result["model"]
        score, bigger = result["best_valid_score"], result["valid_score_bigger"]
        self.score_list.append(score)
        if score is None:
            self.errors.append(str(result.get("error", "no score")))
            self.trials_without_improvement += 1
            return {"status": hyperopt.STATUS_FAIL}
        improved = self.best_score is None or (score > self.best_score if bigger else score < self.best_score)
        if improved:
            self.best_score, self.best_params, self.best_result = score, dict(params), result
            self.trials_without_improvement = 0
            logger.info("new best valid score %.4f with %s", score, params_str)
        else:
            self.trials_without_improvement += 1
        return {"loss": -score if bigger else score, "status": hyperopt.STATUS_OK}

    def _stop_early(self, trials, *state):
        """hyperopt's ``early_stop_fn``: ``early_stop`` trials in a row without improvement."""
        return self.trials_without_improvement >= self.early_stop, list(state)

    def run(self) -> None:
        import numpy as np
        from hyperopt import fmin

        draws = int(self.max_evals)
        if self.first_point is not None:
            self.trial(dict(self.first_point))
            draws -= 1
        if draws > 0 and not self._stop_early(None)[0]:
            fmin(
                self.trial,
                self.space,
                algo=self.algo,
                max_evals=draws,
                early_stop_fn=self._stop_early,
                rstate=np.random.default_rng(self.seed),
                show_progressbar=True,
                return_argmin=False,
            )
        if self.errors and self.best_score is None:
            raise RuntimeError(f"every trial failed; first error: {self.errors[0]}")
