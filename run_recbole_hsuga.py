"""Train and evaluate a recbole-hsuga or RecBole model under one protocol.

    python run_recbole_hsuga.py --model=SASRecHSUGA --dataset=amazon-beauty \
        [--config_files="a.yaml b.yaml"] [--key=value ...]

Any ``--key=value`` is a RecBole / recbole-hsuga setting (``--data_path=dataset/``,
``--epochs=20``, ``--seed=43`` ...) and overrides the YAML files.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", "-m", default="SASRec", help="model name: this package's or any RecBole model")
    parser.add_argument("--dataset", "-d", default="amazon-beauty", help="dataset folder name under data_path")
    parser.add_argument("--config_files", default="", help="space-separated YAML files, later ones win")
    parser.add_argument("--nosave", action="store_true", help="do not write checkpoints (evaluates the last epoch)")
    args, rest = parser.parse_known_args(argv)
    for item in rest:
        if not item.startswith("--") or "=" not in item:
            parser.error(f"unrecognised argument {item!r}: settings are given as --key=value")
    return args, rest


def main(argv: list[str] | None = None) -> dict:
    args, settings = parse_args(sys.argv[1:] if argv is None else argv)
    if sys.stderr.isatty() and not any(s.startswith("--show_progress=") for s in settings):
        settings.append("--show_progress=True")
    from recbole_hsuga.runner import run  # after argument errors, which need no torch

    return run(
        model=args.model,
        dataset=args.dataset,
        config_file_list=args.config_files.split() or None,
        cmd_args=settings,
        saved=not args.nosave,
    )


if __name__ == "__main__":
    main()
