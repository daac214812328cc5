"""Hyper-parameter search for a recbole-hsuga or RecBole model, selecting on validation.

    python run_hyper_hsuga.py --tool=hyperopt --model=SASRecHSUGA --dataset=amazon-beauty \
        --params_file=properties/hyper/gaa_alpha.hyper [--algo=exhaustive|random|bayes] \
        [--max_evals=N] [--config_files="a.yaml b.yaml"] [--key=value ...]

``--tool=hyperopt`` runs RecBole's HyperTuning in this process; ``--tool=ray`` runs Ray
Tune 2.6.3 on this machine, one CPU per trial, ``--num_cpus`` trials at once. Every other
``--key=value`` is a setting fixed for all trials (``--epochs=20``, ``--data_path=...``).
Trials are ranked by ``best_valid_score`` (valid_metric on validation); test metrics are
written to the table for information only.

Writes ``<results_dir>/tuning-<model>-<dataset>-<tool>-<time>.csv`` (one row per trial, as
trials finish) and ``.md``; ``--resume=<that csv>`` continues a search without re-training
finished parameter sets.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    args, rest = parser.parse_known_args(argv)
    for item in rest:
        if not item.startswith("--") or "=" not in item:
            parser.error(f"unrecognised argument {item!r}: settings are given as --key=value")
    if args.max_evals is not None and args.max_evals < 1:
        parser.error("--max_evals must be at least 1")
    return args, rest


def main(argv: list[str] | None = None):
    args, settings = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from recbole_hsuga.tuning import tune_model  # after argument errors, which need no torch

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
    )
    print(f"results table: {outcome.csv_path}\nmarkdown table: {outcome.markdown_path}")
    if outcome.best_row is None:
        print("no trial finished")
    else:
        print(outcome.markdown_path.read_text())
        print(f"best parameters by validation: {json.dumps(outcome.best_params)}")
        print(f"best valid {outcome.best_row['valid_metric']}: {float(outcome.best_row['valid_score']):.4f}")
    return outcome


if __name__ == "__main__":
    main()
