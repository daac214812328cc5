"""``python -m dataset_tools report DATASET --run RUN``: summarise an HSU run.

Prints operation frequencies, parse failures and fallbacks, and one user's trajectory as
a table like the paper's Table 6 (``--user``, default: the user with the most stages).
``--users-from FILE`` summarises only the users listed (one per line), e.g. one user group of a
sample: the head users' figures beside the long-tail users'.
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
    parser.add_argument("--users-from", type=Path, default=None,
                        help="summarise only these users (one per line; blank lines and # comments ignored)")
    return parser


def main(args: argparse.Namespace) -> int:
    from dataset_tools.formats.files import dataset_dir
    from dataset_tools.formats.item_text import item_text_path
    from dataset_tools.hsu.cli import read_user_file
    from dataset_tools.hsu.items import load_item_text
    from dataset_tools.hsu.store import find_run, load_trajectories
    from dataset_tools.report.summary import build_report, format_report, format_trajectory

    folder = dataset_dir(args.data, args.dataset)
    run_dir = find_run(folder / "hsu", args.run)
    trajectories = load_trajectories(run_dir)
    print(f"run {run_dir}")
    if args.users_from is not None:
        trajectories = users_listed(trajectories, read_user_file(args.users_from), args.users_from)
    print(format_report(build_report(trajectories)))
    if not trajectories:
        return 0
    if args.user is not None:
        chosen = [t for t in trajectories if str(t["user"]) == args.user]
        if not chosen:
            where = f"the users of {args.users_from} in {run_dir}" if args.users_from is not None else str(run_dir)
            raise DatasetToolsError(f"user {args.user!r} is not in {where}")
        trajectory = chosen[0]
    else:
        # the first user with the most stages
        trajectory = max(enumerate(trajectories), key=lambda it: (len(it[1]["stages"]), -it[0]))[1]
    item_path = item_text_path(folder, args.dataset)
    item_text = load_item_text(item_path) if item_path.is_file() else None
    print()
    print(format_trajectory(trajectory, item_text, width=args.width))
    return 0


def users_listed(trajectories: list[dict], users: list[str], source: Path) -> list[dict]:
    """The trajectories of ``users`` (in the run's order), after one line on how many of them the
    run holds: a user of the list the run never reached is not an error, only not counted."""
    wanted = set(users)
    kept = [t for t in trajectories if str(t["user"]) in wanted]
    print(f"users from {source}: {len(wanted)} listed, {len(kept)} in this run")
    return kept
