"""``python -m dataset_tools prepare NAME --raw DIR --out DIR``: raw data -> RecBole files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "prepare",
        help="convert raw interactions.txt/items.jsonl into RecBole atomic files",
        description="Convert a raw dataset (interactions.txt, optional items.jsonl) into "
        "<out>/<name>/<name>.inter, .item, .item_text.jsonl and .prepare.json "
        "(docs/data-formats.md). Field choices come from dataset_tools/datasets/<name>.yaml.",
    )
    parser.add_argument("name", help="dataset name: output folder/file stem and spec lookup")
    parser.add_argument("--raw", required=True, type=Path, help="raw data folder (interactions.txt, items.jsonl)")
    parser.add_argument("--out", default=Path("dataset"), type=Path, help="output root (default: dataset)")
    parser.add_argument("--spec", type=Path, default=None,
                        help="spec YAML to use instead of dataset_tools/datasets/<name>.yaml")
    return parser


def main(args: argparse.Namespace) -> int:
    from dataset_tools.prepare.dataset import prepare_dataset
    from dataset_tools.spec import load_dataset_spec

    spec = load_dataset_spec(args.spec if args.spec is not None else args.name, dataset_name=args.name)
    logger.info("%s: preparing from %s with spec %s", args.name, args.raw, spec.source)
    prepare_dataset(spec, args.raw, args.out)
    return 0
