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
    parser.add_argument("--raw", required=True,
                        help="raw data folder (the files the spec names), or recbole:NAME for an example "
                        "dataset RecBole's wheel ships (recbole:ml-100k: recbole/dataset_example/ml-100k)")
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
    raw = raw_folder(args.raw)
    logger.info("%s: preparing from %s with spec %s", args.name, raw, spec.source)
    prepare_dataset(spec, raw, args.out, stats_check=args.stats_check)
    return 0


#: ``--raw recbole:NAME``: the example datasets inside RecBole's package.
PACKAGED_PREFIX = "recbole:"


def raw_folder(raw: str | Path) -> Path:
    """The raw folder ``--raw`` names: a path, or ``recbole:NAME`` for RecBole's packaged example.

    Raises:
        RawDataError: ``recbole:NAME`` that RecBole does not ship (naming what it ships).
    """
    text = str(raw)
    if not text.startswith(PACKAGED_PREFIX):
        return Path(text)
    import recbole

    from dataset_tools.prepare.problems import RawDataError

    examples = Path(recbole.__file__).parent / "dataset_example"
    folder = examples / text[len(PACKAGED_PREFIX):]
    if not text[len(PACKAGED_PREFIX):] or not folder.is_dir():
        shipped = ", ".join(sorted(p.name for p in examples.iterdir() if p.is_dir()))
        raise RawDataError(f"--raw {text}: RecBole ships no example dataset of that name (it ships: {shipped})")
    return folder
