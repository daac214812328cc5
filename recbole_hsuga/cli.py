"""The two command lines: train and evaluate one model, and search hyper-parameters.

``run_recbole_hsuga.py`` / ``python -m recbole_hsuga`` / ``recbole-hsuga`` run
:func:`train_main`; ``run_hyper_hsuga.py`` / ``recbole-hsuga-tune`` run :func:`tune_main`.

Bad input (a setting of the wrong type, a missing file or dataset folder, an unknown
model, a malformed ``.hyper`` file) prints one line on stderr that names the culprit and
exits with status 2, as argparse and ``python -m dataset_tools`` do. ``-v``/``--verbose``
or ``RECBOLE_HSUGA_TRACEBACK=1`` shows the traceback instead. Any other exception is a
bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Callable, Sequence

TRAIN_DESCRIPTION = """Train and evaluate a recbole-hsuga or RecBole model under one protocol.

    python run_recbole_hsuga.py --model=SASRecHSUGA --dataset=amazon-beauty \\
        [--config_files="a.yaml b.yaml"] [--key=value ...]

Any ``--key=value`` is a RecBole / recbole-hsuga setting (``--data_path=dataset/``,
``--epochs=20``, ``--seed=43`` ...) and overrides the YAML files. Bad input exits with
status 2 and one line naming what is wrong; -v (or RECBOLE_HSUGA_TRACEBACK=1) shows the
traceback.
"""

TUNE_DESCRIPTION = """Hyper-parameter search for a recbole-hsuga or RecBole model, selecting on validation.

    python run_hyper_hsuga.py --tool=hyperopt --model=SASRecHSUGA --dataset=amazon-beauty \\
        --params_file=properties/hyper/gaa_alpha.hyper [--algo=exhaustive|random|bayes] \\
        [--max_evals=N] [--config_files="a.yaml b.yaml"] [--key=value ...]

``--tool=hyperopt`` runs RecBole's HyperTuning in this process; ``--tool=ray`` runs Ray
Tune 2.6.3 on this machine, one CPU per trial, ``--num_cpus`` trials at once. Every other
``--key=value`` is a setting fixed for all trials (``--epochs=20``, ``--data_path=...``).
Trials are ranked by ``best_valid_score`` (valid_metric on validation); test metrics are
written to the table for information only.

Writes ``<results_dir>/tuning-<model>-<dataset>-<tool>-<time>.csv`` (one row per trial, as
trials finish) and ``.md``; ``--resume=<that csv>`` continues a search without re-training
finished parameter sets; the trial a stopped search was in continues from its last validated
epoch (each trial keeps a training state under ``<checkpoint_dir>/<table>/<trial>/``). Bad
input exits with status 2 and one line naming what is wrong; -v (or
RECBOLE_HSUGA_TRACEBACK=1) shows the traceback.
"""

#: exit status for bad input (argparse's and ``python -m dataset_tools``'s).
INPUT_ERROR_STATUS = 2
TRACEBACK_ENV = "RECBOLE_HSUGA_TRACEBACK"


def input_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the input is wrong": printed as one line, status 2.

    ``FileNotFoundError`` is one: a run reads only files the user named or prepared
    (config files, the dataset, vector files, a ``.hyper`` file, a table to resume).
    """
    from dataset_tools.formats import DatasetToolsError

    from recbole_hsuga.errors import InputError

    return (InputError, DatasetToolsError, FileNotFoundError)


def one_line(error: BaseException) -> str:
    """The error's message on one line (a multi-line message is joined with ' | ')."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " | ".join(lines) or type(error).__name__


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true",
                        help=f"show the traceback of input errors (or set {TRACEBACK_ENV}=1)")


def _split_settings(parser: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    args, rest = parser.parse_known_args(argv)
    for item in rest:
        if not item.startswith("--") or "=" not in item:
            parser.error(f"unrecognised argument {item!r}: settings are given as --key=value")
    return args, rest


def parse_train_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog=_prog("run_recbole_hsuga.py"), description=TRAIN_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", "-m", default="SASRec", help="model name: this package's or any RecBole model")
    parser.add_argument("--dataset", "-d", default="amazon-beauty", help="dataset folder name under data_path")
    parser.add_argument("--config_files", default="", help="space-separated YAML files, later ones win")
    parser.add_argument("--nosave", action="store_true", help="do not write checkpoints (evaluates the last epoch)")
    _add_common(parser)
    return _split_settings(parser, argv)


def parse_tune_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog=_prog("run_hyper_hsuga.py"), description=TUNE_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", choices=["hyperopt", "ray"], default="hyperopt", help="search back-end")
    parser.add_argument("--model", "-m", default="SASRecHSUGA", help="model name: this package's or any RecBole model")
    parser.add_argument("--dataset", "-d", default="amazon-beauty", help="dataset folder name under data_path")
    parser.add_argument("--params_file", required=True, help="search space in RecBole's .hyper format")
    parser.add_argument("--algo", default="exhaustive", choices=["exhaustive", "grid", "random", "bayes", "tpe"], help="search algorithm")
    parser.add_argument("--max_evals", type=int, default=None, help="trials (random/bayes; caps an exhaustive hyperopt grid); default 10")
    parser.add_argument("--config_files", default="", help="space-separated YAML files, later ones win")
    parser.add_argument("--early_stop", type=int, default=10, help="hyperopt: stop after N trials without improvement (0: never)")
    parser.add_argument("--num_cpus", type=int, default=2, help="ray: CPUs, i.e. trials at once")
    parser.add_argument("--search_seed", type=int, default=2020, help="seed of the search algorithm (not of training)")
    parser.add_argument("--resume", default=None, help="CSV table of an earlier search to continue")
    parser.add_argument("--keep_checkpoints", action="store_true", help="keep every trial's model file")
    parser.add_argument("--scheduler", default=None,
                        help="none | asha: stop weak trials by successive halving on validation (default none)")
    parser.add_argument("--grace_period", default=None, help="asha: epochs before the first rung (default 5)")
    parser.add_argument("--reduction_factor", default=None,
                        help="asha: keep the top 1/N of trials at each rung (default 3)")
    parser.add_argument("--max_t", default=None, help="asha: epochs of a trial that is never stopped (default: epochs)")
    parser.add_argument("--first_trial", default="drawn", choices=["drawn", "defaults"],
                        help="defaults: the first trial is the configured values of the searched keys (hyperopt), "
                             "so early termination cannot stop them and the search's best never validates below them")
    _add_common(parser)
    args, rest = _split_settings(parser, argv)
    if args.max_evals is not None and args.max_evals < 1:
        parser.error("--max_evals must be at least 1")
    return args, rest


def _prog(script: str) -> str:
    """The program name argparse prints: the script as invoked, or ``script``."""
    invoked = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if invoked == "__main__.py":
        return "python -m recbole_hsuga"
    return invoked if invoked and invoked != "-c" else script


def guarded(body: Callable[[], object], verbose: bool, prog: str) -> int:
    """Run ``body``; an input error becomes one line on stderr and status 2."""
    show_traceback = verbose or os.environ.get(TRACEBACK_ENV, "").strip().lower() not in ("", "0", "false", "no")
    try:
        body()
    except input_error_types() as error:
        if show_traceback:
            raise
        print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
        return INPUT_ERROR_STATUS
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return 0


def train(args: argparse.Namespace, settings: list[str]) -> dict:
    """One run of ``run_recbole_hsuga.py``; returns :func:`recbole_hsuga.runner.run`'s result."""
    from recbole_hsuga.config import HSUGAConfig, require_dataset_folder
    from recbole_hsuga.runner import run

    config_files = args.config_files.split() or None
    # Settings, model name, config files and the dataset folder are checked before any
    # data is read (RecBole would try to download a dataset whose folder is missing).
    require_dataset_folder(HSUGAConfig(model=args.model, dataset=args.dataset, config_file_list=config_files, cmd_args=settings))
    return run(
        model=args.model,
        dataset=args.dataset,
        config_file_list=config_files,
        cmd_args=settings,
        saved=not args.nosave,
    )


def train_main(argv: Sequence[str] | None = None) -> int:
    """``run_recbole_hsuga.py``: returns the exit status."""
    args, settings = parse_train_args(sys.argv[1:] if argv is None else argv)
    if sys.stderr.isatty() and not any(s.startswith("--show_progress=") for s in settings):
        settings.append("--show_progress=True")
    return guarded(lambda: train(args, settings), args.verbose, _prog("run_recbole_hsuga.py"))


def tune(args: argparse.Namespace, settings: list[str]):
    """One search of ``run_hyper_hsuga.py``: prints the tables and the best parameters."""
    from recbole_hsuga.tuning import tune_model

    outcome = tune_model(
        model=args.model,
        dataset=args.dataset,
        params_file=args.params_file,
        tool=args.tool,
        algo=args.algo,
        max_evals=args.max_evals,
        config_files=args.config_files.split(),
        settings=settings,
        early_stop=args.early_stop,
        num_cpus=args.num_cpus,
        seed=args.search_seed,
        resume_table=args.resume,
        keep_checkpoints=args.keep_checkpoints,
        scheduler=args.scheduler,
        grace_period=args.grace_period,
        reduction_factor=args.reduction_factor,
        max_t=args.max_t,
        first_trial=args.first_trial,
    )
    print(f"results table: {outcome.csv_path}\nmarkdown table: {outcome.markdown_path}")
    if outcome.best_row is None:
        print("no trial finished")
    else:
        print(outcome.markdown_path.read_text())
        print(f"best parameters by validation: {json.dumps(outcome.best_params)}")
        print(f"best valid {outcome.best_row['valid_metric']}: {float(outcome.best_row['valid_score']):.4f}")
    return outcome


def tune_main(argv: Sequence[str] | None = None) -> int:
    """``run_hyper_hsuga.py``: returns the exit status."""
    args, settings = parse_tune_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return guarded(lambda: tune(args, settings), args.verbose, _prog("run_hyper_hsuga.py"))
