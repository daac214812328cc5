"""``python -m dataset_tools toy --out DIR``: write the synthetic raw dataset."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("toy", help="write a small synthetic dataset in the raw layout (demo, tests)")
    parser.add_argument("--out", required=True, help="folder to write interactions.txt and items.jsonl into")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--items", type=int, default=180)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(args: argparse.Namespace) -> int:
    from dataset_tools.toy.raw import make_toy_raw

    make_toy_raw(args.out, n_users=args.users, n_items=args.items, seed=args.seed)
    return 0
