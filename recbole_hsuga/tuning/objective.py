"""One trial: train a parameter set with :func:`recbole_hsuga.runner.run` and record it.

The trial's training calls back after every validation (``Trainer.fit``'s
``callback_fn(epoch_idx, valid_score)``, threaded through :func:`runner.run`). The callback
keeps the best score so far, hands it to ``report`` (the Ray trainable's per-epoch
``session.report``, which ASHA reads) and asks the in-process :class:`HalvingRule`
(hyperopt) whether to go on; a stop raises :class:`TrialStopped` out of training, and the
trial is recorded as early-terminated with its best score so far.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from recbole_hsuga.errors import InputError
from recbole_hsuga.tuning.halving import HalvingRule, TrialStopped, rung_milestones
from recbole_hsuga.tuning.table import (
    BUDGET_COLUMN,
    EARLY_TERMINATED,
    FAILED,
    FINISHED,
    SCORE_COLUMN,
    STATUS_COLUMN,
    TuningTable,
    _plain,
    budget_text,
    params_key,
    row_score,
)

logger = logging.getLogger(__name__)

#: the per-epoch report's time attribute (epochs trained, 1-based): ASHA's ``time_attr``.
EPOCH_KEY = "epoch"
#: a trial's seconds so far, in its checkpoint folder (beside its training state), for a resumed trial.
ELAPSED_FILE = "trial-seconds.txt"
#: the parameters a trial's checkpoint folder was written for (its resume key).
PARAMS_FILE = "trial-params.json"


def _seconds_in(path: Path) -> float:
    """Seconds a stopped trial had trained (0 for a new trial or an unreadable file)."""
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return 0.0


@dataclass
class EpochTracker:
    """A trial's best validation score so far, epoch by epoch, and at each halving rung."""

    bigger: bool = True
    milestones: tuple[int, ...] = ()
    best: float | None = None
    epochs: int = 0
    rung_scores: dict[int, float] = field(default_factory=dict)

    def update(self, epoch_idx: int, valid_score: float) -> float:
        """Take one validation (``epoch_idx`` 0-based, as RecBole counts); returns the best so far."""
        score = float(valid_score)
        if self.best is None or (score > self.best if self.bigger else score < self.best):
            self.best = score
        self.epochs = epoch_idx + 1
        for milestone in self.milestones:
            if milestone <= self.epochs and milestone not in self.rung_scores:
                self.rung_scores[milestone] = self.best
        return self.best


@dataclass
class TuningObjective:
    """Train one parameter set with :func:`runner.run` and record it; picklable for Ray workers.

    Args:
        model, dataset: as for :func:`runner.run`.
        config_files: user YAML files (absolute paths).
        fixed_settings: ``--key=value`` settings that hold for every trial (not searched).
        paths: absolute ``data_path`` (the root holding ``<dataset>/``), ``checkpoint_dir``
            and ``results_dir`` (each trial gets its own sub-folder of the latter two).
        table: where trials go.
        reuse: rows of an earlier table by :func:`params_key` (resume).
        keep_checkpoints: keep each trial's model file (otherwise deleted after testing).
        budget: the search's budget, written on every row.
        epoch_cap: the trials' ``epochs``; the last epoch is neither reported per epoch nor
            judged by the halving rule (training ends there anyway).
        milestones: epochs of the halving rungs (rows record the best score so far at each).
        halving: the in-process successive-halving rule (hyperopt with ``--scheduler=asha``).
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
    budget: dict[str, Any] = field(default_factory=dict)
    epoch_cap: int | None = None
    milestones: tuple[int, ...] = ()
    halving: HalvingRule | None = None
    #: trials drawn so far by :meth:`__call__` (hyperopt; Ray names its own trials). A resumed
    #: search draws the same sequence again, so draw ``k`` is ``trial{k:04d}`` in every run of it.
    trials_started: int = 0

    def _row(self, trial_name: str, params: dict, status: str, score: float | None, tracker: EpochTracker | None,
             seconds: float | None) -> dict[str, Any]:
        row: dict[str, Any] = {"trial": trial_name}
        row.update({name: json.dumps(params[name]) for name in self.table.parameter_names})
        row[STATUS_COLUMN] = status
        row[SCORE_COLUMN] = "" if score is None else float(score)
        row["valid_metric"] = self.table.valid_metric
        row["epochs"] = tracker.epochs if tracker is not None else ""
        row["rung_scores"] = json.dumps({str(m): s for m, s in sorted(tracker.rung_scores.items())}) if tracker else "{}"
        row["seconds"] = "" if seconds is None else round(seconds, 2)
        return row

    def record_ended(self, trial_name: str, params: dict, status: str, score: float | None, epochs: int | None = None,
                     rung_scores: dict | None = None, seconds: float | None = None, error: str = "") -> dict[str, Any]:
        """Append the row of a trial that did not finish (Ray's driver records the trials ASHA
        stopped and those that failed in their worker with it)."""
        tracker = EpochTracker(self.bigger, self.milestones, epochs=epochs or 0,
                               rung_scores={int(m): float(s) for m, s in (rung_scores or {}).items()})
        row = self._row(trial_name, {k: _plain(v) for k, v in params.items()}, status, score, tracker, seconds)
        if epochs is None:
            row["epochs"] = ""
        row[BUDGET_COLUMN] = budget_text(self.budget)
        row["error"] = error
        self.table.append(row)
        self._drop_checkpoints(trial_name)  # its worker was killed before it could clean up
        return row

    def evaluate(self, params: dict, trial_name: str, report: Callable[[int, float, dict], None] | None = None) -> dict[str, Any]:
        """Run (or reuse) one trial; returns its table row (``valid_score`` a float, or None
        for a failed trial's reused row, which is never reused).

        Args:
            report: ``report(epoch, best_score_so_far, rung_scores)`` after every validation
                but the last epoch's (the Ray trainable's ``session.report``; it may not return
                when the scheduler stops the trial).
        Raises:
            whatever training raised, after recording the trial as failed.
        """
        params = {k: _plain(v) for k, v in params.items()}
        previous = self.reuse.get(params_key(params))
        if previous is not None:
            logger.info("trial %s: parameters %s ended earlier (trial %s, %s), reusing its row", trial_name, params,
                        previous["trial"], previous.get(STATUS_COLUMN) or FINISHED)
            row = dict(previous)
            row[SCORE_COLUMN] = row_score(row)
            return row
        from recbole_hsuga.runner import run  # torch; after the space is known to be valid

        config_dict = dict(params)
        config_dict["data_path"] = self.paths["data_path"]
        config_dict["checkpoint_dir"] = str(self.trial_checkpoints(trial_name))
        config_dict["results_dir"] = str(Path(self.paths["results_dir"]) / self.table.csv_path.stem / trial_name)
        # A trial killed mid-training (a search longer than a session) continues from its last
        # validated epoch when the resumed search draws it again under the same name; its seconds
        # count the time it trained before the stop too.
        config_dict["resume_training"] = True
        self._claim_checkpoints(trial_name, params)
        elapsed_file = Path(config_dict["checkpoint_dir"]) / ELAPSED_FILE
        started = time.perf_counter() - _seconds_in(elapsed_file)
        tracker = EpochTracker(self.bigger, self.milestones)

        def after_validation(epoch_idx: int, valid_score: float) -> None:
            elapsed_file.parent.mkdir(parents=True, exist_ok=True)
            elapsed_file.write_text(f"{time.perf_counter() - started:.3f}\n")
            best = tracker.update(epoch_idx, valid_score)
            if self.epoch_cap is not None and tracker.epochs >= self.epoch_cap:
                return  # the last epoch: training ends anyway, the trial finishes
            if report is not None:
                report(tracker.epochs, best, dict(tracker.rung_scores))
            if self.halving is not None:
                decision = self.halving.observe(trial_name, tracker.epochs, best)
                if decision.stop:
                    raise TrialStopped(tracker.epochs, best, decision.milestone, decision.cutoff)

        logger.info("trial %s: %s", trial_name, params)
        try:
            result = run(
                self.model,
                self.dataset,
                config_file_list=self.config_files or None,
                config_dict=config_dict,
                cmd_args=self.fixed_settings,
                saved=True,
                write_results=True,
                callback_fn=after_validation,
            )
        except TrialStopped as stop:
            seconds = time.perf_counter() - started
            self._drop_checkpoints(trial_name)
            row = self._row(trial_name, params, EARLY_TERMINATED, stop.score, tracker, seconds)
            row[BUDGET_COLUMN] = budget_text(self.budget)
            self.table.append(row)
            logger.info("trial %s: early-terminated %s", trial_name, stop)
            return row
        except InputError:
            raise  # bad settings: every trial would fail the same way
        except Exception as error:
            seconds = time.perf_counter() - started
            self._drop_checkpoints(trial_name)
            row = self._row(trial_name, params, FAILED, tracker.best, tracker, seconds)
            row[BUDGET_COLUMN] = budget_text(self.budget)
            row["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            self.table.append(row)
            logger.error("trial %s failed: %s", trial_name, row["error"])
            raise
        seconds = time.perf_counter() - started
        if result.get("checkpoint"):
            self._drop_checkpoints(trial_name)
        row = self._row(trial_name, params, FINISHED, float(result["best_valid_score"]), tracker, seconds)
        row["valid_metric"] = result["valid_metric"]
        for split in ("valid", "test"):
            for protocol, groups in result["metrics"][split].items():
                for metric, value in groups.get("all", {}).items():
                    if metric != "n_users":
                        row[f"{split}/{protocol}/{metric}"] = value
        row["result_file"] = result.get("result_file", "")
        row[BUDGET_COLUMN] = budget_text(self.budget)
        self.table.append(row)
        logger.info("trial %s: valid %s = %.4f (%.1f s)", trial_name, result["valid_metric"], row[SCORE_COLUMN], seconds)
        return row

    def trial_checkpoints(self, trial_name: str) -> Path:
        """A trial's checkpoint folder: its model file and its training state."""
        return Path(self.paths["checkpoint_dir"]) / self.table.csv_path.stem / trial_name

    def _claim_checkpoints(self, trial_name: str, params: dict) -> None:
        """Make the trial's checkpoint folder this parameter set's. A search whose draws depend on
        results (TPE) can draw other parameters under a name after a failed trial was retried; the
        folder then holds another trial's state, which is removed rather than refused."""
        folder = self.trial_checkpoints(trial_name)
        marker = folder / PARAMS_FILE
        key = params_key(params)
        written_for = marker.read_text(encoding="utf-8") if marker.is_file() else key
        if written_for != key:
            logger.warning("trial %s: %s was written for other parameters (%s); training %s anew", trial_name, folder,
                           written_for, key)
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(key, encoding="utf-8")

    def _drop_checkpoints(self, trial_name: str) -> None:
        if not self.keep_checkpoints:
            shutil.rmtree(self.trial_checkpoints(trial_name), ignore_errors=True)

    def __call__(self, params: dict, fixed_config_file_list: Any = None) -> dict:
        """RecBole's ``objective_function`` interface, with the *valid* result as the score.

        A failed trial (recorded as such) returns ``best_valid_score`` None and its error
        under ``error``; the search goes on.
        """
        self.trials_started += 1
        name = f"trial{self.trials_started:04d}"
        try:
            row = self.evaluate(params, trial_name=name)
        except InputError:
            raise
        except Exception as error:
            return {"model": self.model, "best_valid_score": None, "valid_score_bigger": self.bigger, "status": FAILED,
                    "error": f"{type(error).__name__}: {error}", "best_valid_result": {}, "test_result": {}}
        valid = {k.split("/", 1)[1]: v for k, v in row.items() if k.startswith("valid/")}
        test = {k.split("/", 1)[1]: v for k, v in row.items() if k.startswith("test/")}
        return {
            "model": self.model,
            "best_valid_score": row[SCORE_COLUMN],
            "valid_score_bigger": self.bigger,
            "status": row.get(STATUS_COLUMN) or FINISHED,
            "best_valid_result": valid,
            "test_result": test,  # for information only; never compared
        }


def milestones_for(scheduler: str, grace_period: int | None, reduction_factor: int | None, max_t: int | None) -> tuple[int, ...]:
    """The rung epochs a table records best-so-far scores at (none without a scheduler)."""
    if scheduler != "asha":
        return ()
    return tuple(rung_milestones(grace_period, reduction_factor, max_t))
