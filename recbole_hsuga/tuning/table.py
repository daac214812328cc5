"""The table of trials: a CSV appended under a file lock, and its markdown view.

Each trial that ends (finished, early-terminated by the scheduler, or failed) is appended at
once (Ray trials run in parallel processes, hence the lock) and the markdown table next to
it is rewritten, so an interrupted search keeps what it did; :meth:`TuningTable.completed`
gives those rows back to resume a search. Every row carries the search's budget (JSON in
the ``budget`` column) and the markdown table states it above the rows, so reports can show
that each model had the same budget; :meth:`TuningTable.check_budget` refuses to resume a
table with another budget.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Sequence

from recbole_hsuga.errors import InputError

#: name of the score every back-end reports and the table's selection column.
SCORE_COLUMN = "valid_score"
#: how a trial ended: finished (trained to its end, then tested) | early-terminated (stopped
#: by the scheduler; its score is the best validation score so far) | failed (raised).
STATUS_COLUMN = "status"
FINISHED, EARLY_TERMINATED, FAILED = "finished", "early-terminated", "failed"
STATUSES = (FINISHED, EARLY_TERMINATED, FAILED)
#: the search's budget as compact JSON (the same on every row of a table).
BUDGET_COLUMN = "budget"


def _plain(value: Any) -> Any:
    """numpy scalars -> Python; whole floats of a q-uniform stay floats (RecBole casts)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)) else value


def params_key(params: dict) -> str:
    """Canonical text of a parameter set (the resume key): sorted JSON."""
    return json.dumps({k: _plain(v) for k, v in sorted(params.items())}, sort_keys=True)


def budget_text(budget: dict[str, Any]) -> str:
    """The ``budget`` column's value: sorted compact JSON."""
    return json.dumps(budget, sort_keys=True, separators=(",", ":"))


def describe_budget(budget: dict[str, Any]) -> str:
    """One line for the markdown header, e.g. ``10 trials (max_evals), scheduler asha (...)``."""
    parts = [f"{budget.get('max_evals')} trials (max_evals)"]
    if budget.get("scheduler") == "asha":
        parts.append(f"scheduler asha (grace_period {budget.get('grace_period')} epochs, reduction_factor "
                     f"{budget.get('reduction_factor')}, max_t {budget.get('max_t')} epochs)")
    else:
        parts.append(f"scheduler {budget.get('scheduler')}")
    parts.append(f"epoch cap {budget.get('epochs')}")
    parts.append(f"search seed {budget.get('search_seed')}, training seed {budget.get('seed')}")
    parts.append(f"{budget.get('tool')}/{budget.get('algo')}")
    if budget.get("early_stop") is not None:
        parts.append(f"early_stop {budget.get('early_stop')} trials")
    if budget.get("first_trial") == "defaults":
        parts.append("first trial: the configured values")
    return "Budget: " + "; ".join(parts) + "."


def ended_trials(rows: list[dict[str, str]]) -> int:
    """Trials that used the budget: finished or early-terminated (a failed trial is tried again on resume)."""
    return sum(row_status(row) != FAILED for row in rows)


def progress_line(rows: list[dict[str, str]], budget: dict[str, Any] | None) -> str:
    """How far a search is: trials ended against the budget, by status, and the training time
    spent (one core per trial, so hours are core-hours)."""
    finished, stopped, failed = (sum(row_status(row) == status for row in rows)
                                 for status in (FINISHED, EARLY_TERMINATED, FAILED))
    wanted = (budget or {}).get("max_evals")
    seconds = sum(float(row.get("seconds") or 0.0) for row in rows)
    line = f"Ended: {ended_trials(rows)}" + (f" of {wanted}" if wanted is not None else "")
    line += f" trials ({finished} {FINISHED}, {stopped} {EARLY_TERMINATED})"
    if failed:
        line += f"; {failed} {FAILED}"
    return line + f"; {seconds / 3600:.2f} core-hours of trials in all."


def row_status(row: dict[str, str]) -> str:
    """A row's status; rows of tables written before the column existed were finished."""
    return row.get(STATUS_COLUMN) or FINISHED


def row_score(row: dict[str, str]) -> float | None:
    value = row.get(SCORE_COLUMN)
    return None if value in (None, "") else float(value)


class TuningTable:
    """The CSV of trials (append-only, locked) and its markdown rendering.

    One row per trial: ``trial``, the searched parameters (JSON-encoded values), ``status``
    (finished / early-terminated / failed), the selection score ``valid_score`` (an
    early-terminated trial's best so far; empty if none) and its metric name, ``epochs``
    trained, ``rung_scores`` (JSON: best score so far at each halving rung reached), every
    valid/test metric of the ``all`` user group as ``<split>/<protocol>/<metric>`` (finished
    trials), ``seconds``, the run's JSON file, ``budget`` and ``error`` (failed trials).

    Args:
        budget: the current search's budget (written to the markdown header); a table
            read only for its rows can leave it out and the rows' budget is shown.
    """

    def __init__(self, csv_path: str | os.PathLike, parameter_names: Sequence[str], valid_metric: str, protocol: str, bigger: bool = True,
                 budget: dict[str, Any] | None = None):
        self.csv_path = Path(csv_path)
        self.bigger = bigger
        self.markdown_path = self.csv_path.with_suffix(".md")
        self.parameter_names = list(parameter_names)
        self.valid_metric = valid_metric
        self.protocol = protocol
        self.budget = budget

    def read(self) -> list[dict[str, str]]:
        if not self.csv_path.is_file():
            return []
        with self.csv_path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def completed(self) -> dict[str, dict[str, str]]:
        """Rows to reuse on resume by :func:`params_key` of their parameters: finished and
        early-terminated trials (failed ones are tried again)."""
        done = {}
        for row in self.read():
            if row_status(row) == FAILED:
                continue
            try:
                params = {name: json.loads(row[name]) for name in self.parameter_names}
            except (KeyError, json.JSONDecodeError) as error:
                raise InputError(f"{self.csv_path}: row {row.get('trial')!r} lacks parameter values ({error})") from None
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

    def stored_budget(self) -> dict[str, Any] | None:
        """The budget the table's rows were written under (None: no row states one)."""
        for row in self.read():
            if row.get(BUDGET_COLUMN):
                return json.loads(row[BUDGET_COLUMN])
        return None

    def check_budget(self, budget: dict[str, Any]) -> None:
        """Refuse (:class:`InputError` naming the first differing key) a budget that differs
        from the one the table's rows were written under; a table without one passes."""
        stored = self.stored_budget()
        if stored is None:
            return
        for key in sorted(set(stored) | set(budget)):
            if stored.get(key) != budget.get(key):
                raise InputError(f"{self.csv_path}: budget key {key!r} is {stored.get(key)!r} in the table but "
                                 f"{budget.get(key)!r} now; a resumed search keeps its budget (start a new table instead)")

    def has_trial(self, trial: str) -> bool:
        """Whether a row of ``trial`` (its name) is in the table."""
        return any(row.get("trial") == trial for row in self.read())

    def best(self) -> dict[str, str] | None:
        """The finished row with the best ``valid_score`` (ties: the earlier trial); when no
        trial finished, the best early-terminated one."""
        rows = [r for r in self.read() if row_score(r) is not None]
        finished = [r for r in rows if row_status(r) == FINISHED]
        rows = finished or rows
        if not rows:
            return None
        pick = max if self.bigger else min
        return pick(rows, key=row_score)

    def write_markdown(self) -> Path:
        """The budget, then parameters, status, epochs, valid score, test value of the same
        metric and seconds; best first, trials without a score last."""
        rows = self.read()
        test_column = f"test/{self.protocol}/{self.valid_metric.lower()}"
        header = ["trial", *self.parameter_names, "status", "epochs", f"valid {self.valid_metric}",
                  f"test {self.valid_metric}", "seconds"]
        sign = -1.0 if self.bigger else 1.0
        ordered = sorted(rows, key=lambda r: (row_score(r) is None, sign * (row_score(r) or 0.0)))
        budget = self.budget or self.stored_budget()
        lines = [describe_budget(budget), ""] if budget else []
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in ordered:
            cells = [row["trial"], *(row[name] for name in self.parameter_names), row_status(row), row.get("epochs", "")]
            cells += [_fmt(row.get(SCORE_COLUMN)), _fmt(row.get(test_column)), _fmt(row.get("seconds"), 1)]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", progress_line(rows, budget)]
        tmp = self.markdown_path.with_suffix(".md.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(self.markdown_path)
        return self.markdown_path


def _fmt(value: str | None, digits: int = 4) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return ""

