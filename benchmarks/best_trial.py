"""The best trial of a finished search, as settings the run-set scripts take.

A tuned recipe is what later run sets inherit (issue 24: tune SASRec's backbone first, then
each enhanced model tunes only its own keys on it), so the hand-over must be exact and must
not happen from a search that is still running:

    python benchmarks/best_trial.py benchmarks/results/raw/tuning-frontier-amazon-beauty/tuning-SASRec-....csv
    --MAX_ITEM_LIST_LENGTH=50 --hidden_dropout_prob=0.2 ... (run_recbole_hsuga.py / run_hyper_hsuga.py settings)
    python benchmarks/best_trial.py TABLE.csv --format=variant
    +MAX_ITEM_LIST_LENGTH=50+hidden_dropout_prob=0.2 ... (append to a model_comparison.py variant)

The best trial is :meth:`TuningTable.best`'s: the finished trial with the best validation
score. A table with fewer ended trials than its budget's ``max_evals`` is refused (exit
status 2) unless ``--allow_partial``: its best is not yet the search's answer.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from common import run_script
from recbole_hsuga.errors import InputError
from recbole_hsuga.tuning.table import FINISHED, STATUS_COLUMN, TuningTable, ended_trials, row_status


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", help="CSV table of a search (run_hyper_hsuga.py writes it)")
    parser.add_argument("--format", choices=["args", "variant"], default="args",
                        help="args: --key=value separated by spaces; variant: +key=value joined")
    parser.add_argument("--allow_partial", action="store_true", help="accept a search with fewer trials than its budget")
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


def best_settings(path: Path, allow_partial: bool = False) -> dict[str, object]:
    """The best finished trial's parameters, in the table's column order."""
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
    return {name: json.loads(best[name]) for name in names}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = best_settings(Path(args.table), args.allow_partial)
    if args.format == "variant":
        print("".join(f"+{name}={setting_text(value)}" for name, value in settings.items()))
    else:
        print(" ".join(f"--{name}={setting_text(value)}" for name, value in settings.items()))


if __name__ == "__main__":
    run_script(main)
