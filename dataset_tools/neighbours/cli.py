"""``python -m dataset_tools neighbours``: GRASP's neighbour means from an existing vector file.

Examples::

    python -m dataset_tools neighbours amazon-beauty --data dataset/ --source itememb --k 10
    python -m dataset_tools neighbours amazon-beauty --data dataset/ --source useremb_text --k 10
    python -m dataset_tools neighbours amazon-beauty --data dataset/ --source itememb --k 5 --suffix itememb_nbr5

A subcommand of its own rather than an ``embed`` option: it reads a vector file that any
extractor / encoder wrote (text, HSU or item vectors) and loads no encoder, so the k
ablations reuse one embedding run in seconds.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "neighbours",
        help="mean of each user's / item's top-k cosine neighbours (GRASP's ū, ī) -> <ds>.<source>_nbr<k>",
        description="Read <ds>.<source> (a feature file of `embed`), find each row's top-k cosine neighbours "
        "(faiss, the row itself excluded), and write the mean of their vectors as <ds>.<suffix> with a "
        "sidecar naming the source file, k and model.",
    )
    parser.add_argument("dataset", help="dataset name, e.g. amazon-beauty")
    parser.add_argument("--data", default="dataset", help="folder holding <dataset>/ (default: dataset)")
    parser.add_argument("--source", required=True, help="suffix of the vector file to read, e.g. itememb, useremb_text")
    parser.add_argument("--k", type=int, default=10, help="neighbours per row (default 10, the paper's best)")
    parser.add_argument("--suffix", help="output suffix (default <source>_nbr<k>)")
    return parser


def main(args: argparse.Namespace) -> int:
    from dataset_tools.formats.files import require_dataset_dir
    from dataset_tools.neighbours.means import write_neighbour_means

    folder = require_dataset_dir(args.data, args.dataset)
    summary = write_neighbour_means(folder, args.dataset, args.source, args.k, args.suffix)
    log.info("wrote %s: %d rows, %d neighbours each, %.1f s", summary["path"], summary["rows"], summary["k"],
             summary["seconds"])
    return 0
