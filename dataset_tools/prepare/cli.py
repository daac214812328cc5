"""``python -m dataset_tools prepare NAME --raw DIR --out DIR``: raw data -> RecBole files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "prepare",
        help="convert a raw dump (Amazon, MovieLens, Yelp, Steam, RecBole atomic, raw layout) into RecBole files",
        description="Convert a raw dataset into <out>/<name>/<name>.inter, .item, .item_text.jsonl and "
        ".prepare.json (docs/data-formats.md). The spec dataset_tools/datasets/<name>.yaml (or --spec) "
        "names the raw format (prepare.format: raw, atomic, amazon2014, amazon2018, amazon2023, ml-1m, "
        "ml-20m, yelp, steam), the files, the preprocessing (k-core, duplicates, minimum user length, "
        "rating threshold, id mapping) and the statistics to expect.",
    )
    parser.add_argument("name", help="dataset name: output folder/file stem and spec lookup")
    parser.add_argument("--raw", required=True, type=Path, help="raw data folder (the files the spec names)")
    parser.add_argument("--out", default=Path("dataset"), type=Path, help="output root (default: dataset)")
    parser.add_argument("--spec", type=Path, default=None,
                        help="spec YAML to use instead of dataset_tools/datasets/<name>.yaml")
    parser.add_argument("--stats-check", choices=("warn", "fail"), default=None,
                        help="when the counts differ from the spec's prepare.expected: warn and write "
                        "anyway, or fail (exit status 2, nothing written); default: the spec's on_mismatch")
    return parser


def main(args: argparse.Namespace) -> int:
    from dataset_tools.prepare.dataset import prepare_dataset
    from dataset_tools.spec import load_dataset_spec

    spec = load_dataset_spec(args.spec if args.spec is not None else args.name, dataset_name=args.name)
    logger.info("%s: preparing from %s with spec %s", args.name, args.raw, spec.source)
    prepare_dataset(spec, args.raw, args.out, stats_check=args.stats_check)
    return 0
