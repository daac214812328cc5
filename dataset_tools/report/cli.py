"""``python -m dataset_tools report DATASET --run RUN``: summarise an HSU run.

Prints operation frequencies, parse failures and fallbacks, and one user's trajectory as
a table like the paper's Table 6 (``--user``, default: the user with the most stages).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dataset_tools import DatasetToolsError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="summarise an HSU run: operation frequencies, parse failures, a user's trajectory",
        description="Read <data>/<dataset>/hsu/<run>/trajectories.jsonl and print a summary.",
    )
    parser.add_argument("dataset", help="dataset name")
    parser.add_argument("--data", type=Path, default=Path("dataset"), help="prepared data root (default: dataset)")
    parser.add_argument("--run", default=None, help="run folder name (default: the only one, if there is one)")
    parser.add_argument("--user", default=None, help="user whose trajectory to print (default: most stages)")
    parser.add_argument("--width", type=int, default=34, help="width of the table's text columns")
    return parser


def main(args: argparse.Namespace) -> int:
    from dataset_tools.formats.files import dataset_dir
    from dataset_tools.formats.item_text import item_text_path
    from dataset_tools.hsu.items import load_item_text
    from dataset_tools.hsu.store import find_run, load_trajectories
    from dataset_tools.report.summary import build_report, format_report, format_trajectory

    folder = dataset_dir(args.data, args.dataset)
    run_dir = find_run(folder / "hsu", args.run)
    trajectories = load_trajectories(run_dir)
    print(f"run {run_dir}")
    print(format_report(build_report(trajectories)))
    if not trajectories:
        return 0
    if args.user is not None:
        chosen = [t for t in trajectories if str(t["user"]) == args.user]
        if not chosen:
            raise DatasetToolsError(f"user {args.user!r} is not in {run_dir}")
        trajectory = chosen[0]
    else:
        # the first user with the most stages
        trajectory = max(enumerate(trajectories), key=lambda it: (len(it[1]["stages"]), -it[0]))[1]
    item_path = item_text_path(folder, args.dataset)
    item_text = load_item_text(item_path) if item_path.is_file() else None
    print()
    print(format_trajectory(trajectory, item_text, width=args.width))
    return 0
