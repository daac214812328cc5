"""The best trial of a finished search, as settings the run-set scripts take.

A tuned recipe is what later run sets inherit (issue 24: tune SASRec's backbone first, then
each enhanced model tunes only its own keys on it), so the hand-over must be exact and must
not happen from a search that is still running:

    python benchmarks/best_trial.py benchmarks/results/raw/tuning-frontier-amazon-beauty/tuning-SASRec-....csv
    --MAX_ITEM_LIST_LENGTH=50 --hidden_dropout_prob=0.2 ... (run_recbole_hsuga.py / run_hyper_hsuga.py settings)
    python benchmarks/best_trial.py TABLE.csv --format=variant
    +MAX_ITEM_LIST_LENGTH=50+hidden_dropout_prob=0.2 ... (append to a model_comparison.py variant)
    python benchmarks/best_trial.py TABLE.csv --incumbent=RESULT.json
    (the incumbent's settings unless a finished trial beats it on validation)

The best trial is :meth:`TuningTable.best`'s: the finished trial with the best validation
score. A table with fewer ended trials than its budget's ``max_evals`` is refused (exit
status 2) unless ``--allow_partial``: its best is not yet the search's answer.

``--incumbent`` names a run trained outside the search, to convergence, on the search's data,
seed, protocol and fixed settings (the default recipe, say). Early termination judges a trial
by its score after a few epochs, so it can stop a recipe that starts slowly and ends best
(``benchmarks/asha_replay.py`` measures this); tuning must not hand over a recipe worse than
the one it started from. The incumbent is compared by its best validation score within the
search's epoch cap, and its settings are handed over unless a finished trial scores above it.
It must share every setting with the best trial's run except the searched ones (a key one of
the two runs lacks, added to the package after it ran, is named on stderr, not compared).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from common import load_result, run_config, run_script
from recbole_hsuga.errors import InputError
from recbole_hsuga.training_state import NOT_SETTINGS
from recbole_hsuga.tuning.table import FINISHED, STATUS_COLUMN, TuningTable, ended_trials, row_score, row_status

#: top-level fields of a result file that two compared runs must share.
SHARED_FIELDS = ("model", "dataset", "seed", "valid_metric", "eval_protocol")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", help="CSV table of a search (run_hyper_hsuga.py writes it)")
    parser.add_argument("--format", choices=["args", "variant"], default="args",
                        help="args: --key=value separated by spaces; variant: +key=value joined")
    parser.add_argument("--allow_partial", action="store_true", help="accept a search with fewer trials than its budget")
    parser.add_argument("--incumbent", default=None,
                        help="result file (.json) of a converged run outside the search that a trial must beat")
    return parser.parse_args(argv)


def parameter_names(path: Path) -> list[str]:
    """The searched parameters: the table's columns between ``trial`` and ``status``."""
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    if "trial" not in header or STATUS_COLUMN not in header:
        raise InputError(f"{path}: not a tuning table (its header lacks 'trial' or '{STATUS_COLUMN}')")
    return header[header.index("trial") + 1:header.index(STATUS_COLUMN)]


def setting_text(value: object) -> str:
    """A parameter value as a command-line setting (RecBole parses it back)."""
    return value if isinstance(value, str) else json.dumps(value)


def best_row(path: Path, allow_partial: bool = False) -> tuple[dict[str, str], list[str], dict]:
    """The best finished trial's row, the searched names and the table's budget."""
    if not path.is_file():
        raise InputError(f"{path}: tuning table not found")
    names = parameter_names(path)
    table = TuningTable(path, names, valid_metric="", protocol="")
    rows = table.read()
    budget = table.stored_budget() or {}
    ended = ended_trials(rows)
    wanted = budget.get("max_evals")
    if not allow_partial and wanted is not None and ended < int(wanted):
        raise InputError(f"{path}: {ended} of the budget's {wanted} trials have ended; resume the search, "
                         "or pass --allow_partial to read its best so far")
    best = table.best()
    if best is None or row_status(best) != FINISHED:
        raise InputError(f"{path}: no trial finished, so there is no tested best")
    return best, names, budget


def read_result(path: Path) -> dict:
    """A result file, or one line naming what is wrong with it."""
    if not path.is_file():
        raise InputError(f"{path}: result file not found")
    try:
        return load_result(path)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: line {error.lineno}: not a result file ({error.msg})") from None


def trial_result(table: Path, row: dict[str, str]) -> dict:
    """The result file of a trial; where the absolute path the table holds is gone (the table was
    moved or cloned elsewhere), the copy beside the table: ``<table stem>/<trial>/<file name>``."""
    stored = Path(row.get("result_file") or "")
    beside = table.with_suffix("") / row["trial"] / stored.name
    for path in (stored, beside):
        if stored.name and path.is_file():
            return read_result(path)
    raise InputError(f"{table}: {row['trial']}'s result file {stored} is missing (also looked for {beside})")


def score_within(result: dict, epochs: int | None) -> float:
    """The run's best validation score over its first ``epochs`` epochs (all of them if None or
    the run has no curve): what it would have scored in a search with that epoch cap."""
    curve = [row for row in result.get("curve", []) if row.get("valid_score") is not None]
    if epochs is not None and curve:
        curve = [row for row in curve if row["epoch"] < epochs]
        if not curve:
            raise InputError(f"the incumbent has no validated epoch within the search's cap of {epochs}")
        return max(float(row["valid_score"]) for row in curve)
    return float(result["best_valid_score"])


def unshared_settings(incumbent: dict, trial: dict, searched: list[str]) -> tuple[list[str], list[str]]:
    """Settings on which the two runs differ, beside the searched ones, and keys only one run has."""
    differ = [f"{field} {incumbent.get(field)!r} vs {trial.get(field)!r}"
              for field in SHARED_FIELDS if incumbent.get(field) != trial.get(field)]
    mine, theirs = run_config(incumbent), run_config(trial)
    ignored = NOT_SETTINGS | set(searched)
    differ += [f"{key} {mine[key]!r} vs {theirs[key]!r}" for key in sorted(set(mine) & set(theirs))
               if key not in ignored and mine[key] != theirs[key]]
    one_sided = sorted((set(mine) ^ set(theirs)) - ignored)
    return differ, one_sided


def hand_over(path: Path, allow_partial: bool = False, incumbent_path: Path | None = None) -> dict[str, object]:
    """The settings to hand over: the best finished trial's, or the incumbent's where it scores
    at least as high within the search's epoch cap. Says on stderr which, and why."""
    best, names, budget = best_row(path, allow_partial)
    settings = {name: json.loads(best[name]) for name in names}
    if incumbent_path is None:
        return settings
    incumbent = read_result(incumbent_path)
    differ, one_sided = unshared_settings(incumbent, trial_result(path, best), names)
    if differ:
        raise InputError(f"{incumbent_path}: not trained like the search's trials besides the searched keys "
                         f"(incumbent vs {best['trial']}): {differ[0]}")
    config = run_config(incumbent)
    missing = [name for name in names if name not in config]
    if missing:
        raise InputError(f"{incumbent_path}: its config lacks the searched key '{missing[0]}'")
    cap = budget.get("epochs")
    score, trial_score = score_within(incumbent, cap), row_score(best)
    within = f" within {cap} epochs" if cap is not None else ""
    if one_sided:
        print(f"best_trial.py: not compared (one run lacks them): {', '.join(one_sided)}", file=sys.stderr)
    if score >= trial_score:
        print(f"best_trial.py: the incumbent {incumbent_path} (valid {score:.4f}{within}) is not beaten by the "
              f"search's best finished {best['trial']} ({trial_score:.4f}): its settings are handed over", file=sys.stderr)
        return {name: config[name] for name in names}
    print(f"best_trial.py: {best['trial']} (valid {trial_score:.4f}) beats the incumbent {incumbent_path} "
          f"({score:.4f}{within})", file=sys.stderr)
    return settings


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = hand_over(Path(args.table), args.allow_partial, Path(args.incumbent) if args.incumbent else None)
    if args.format == "variant":
        print("".join(f"+{name}={setting_text(value)}" for name, value in settings.items()))
    else:
        print(" ".join(f"--{name}={setting_text(value)}" for name, value in settings.items()))


if __name__ == "__main__":
    run_script(main)
