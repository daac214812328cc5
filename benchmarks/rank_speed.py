"""Speed of :func:`recbole_hsuga.evaluation.ranking.full_ranks` against the rank's definition
(items scored above the target plus the other items tied with it, two int64 counts), on the
same score matrices, in one process.

    python benchmarks/rank_speed.py                      # amazon-beauty's shape: 12,102 items
    python benchmarks/rank_speed.py --items=50000 --threads=2

Every validated epoch ranks each user's target among all items twice (the full and the
unseen protocol), so this cost is paid per user, protocol and epoch. Prints both times per
batch, their ratio, and whether the ranks agree (they must, ties included).
"""

from __future__ import annotations

import argparse
import time

import torch

from recbole_hsuga.evaluation.ranking import full_ranks


def defined_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The rank as defined: items above the target plus the other items tied with it."""
    target_scores = scores.gather(1, targets.view(-1, 1))
    return (scores > target_scores).sum(dim=1) + (scores == target_scores).sum(dim=1) - 1


def seconds_per_call(function, scores: torch.Tensor, targets: torch.Tensor, repeats: int) -> float:
    function(scores, targets)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        function(scores, targets)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=12102, help="items per row (amazon-beauty: 12,102)")
    parser.add_argument("--batch", type=int, default=1024, help="users per evaluation batch")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(args.batch, args.items, generator=generator)
    scores[:, 0] = -torch.inf  # RecBole's padding item
    scores[: args.batch // 4] = scores[: args.batch // 4].round(decimals=1)  # a quarter of rows with many ties
    targets = torch.randint(1, args.items, (args.batch,), generator=generator)

    agree = bool(torch.equal(full_ranks(scores, targets), defined_ranks(scores, targets)))
    baseline = seconds_per_call(defined_ranks, scores, targets, args.repeats)
    current = seconds_per_call(full_ranks, scores, targets, args.repeats)
    print(f"[{args.batch}, {args.items}] scores, {args.threads} thread(s), {args.repeats} repeats")
    print(f"definition (two int64 counts): {baseline * 1000:.1f} ms per batch")
    print(f"full_ranks:                    {current * 1000:.1f} ms per batch")
    print(f"speed-up: {baseline / current:.2f}x; ranks agree: {agree}")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
