"""Where test targets land in each model's full ranking, by the target item's popularity.

    python benchmarks/rank_profile.py --dataset=amazon-beauty \
        benchmarks/results/raw/train-rows-amazon-beauty/sequence/SASRec-amazon-beauty-seed42-*.json \
        benchmarks/results/raw/compare-llm-enhanced-amazon-beauty/SASRecLLMESR/SASRecLLMESR-amazon-beauty-seed42-*.json

HR@10 under full ranking and under 100 sampled negatives can move in opposite directions
between two models; this profile shows why: for each result file (its ``.ranks.npz``: each
test user's target rank under both protocols) and each popularity bucket of the target
item (training interactions of the item, the last two of every user held out, as the
evaluator counts them), the share of targets in the full top 10 / 50 / 200 / 1000, the
median full rank, and the sampled HR@10. A model that lifts targets from rank ~1000 to
~100 gains under sampled ranking (it beats most random negatives) without gaining in the
full top 10.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
from common import REPO, emit, invocation, load_result

from dataset_tools.formats.inter import read_user_sequences

#: target popularity buckets: (label, lowest count, highest count) of training interactions.
BUCKETS = [("1-4", 1, 4), ("5-14", 5, 14), ("15-49", 15, 49), (">=50", 50, 10**9)]
CUTS = [10, 50, 200, 1000]


def targets_and_popularity(inter_file: Path) -> tuple[dict[str, str], Counter]:
    """Each user's test target (last item) and every item's training interaction count."""
    sequences = read_user_sequences(inter_file)
    counts: Counter = Counter()
    for items in sequences.values():
        counts.update(items[:-2])
    return {user: items[-1] for user, items in sequences.items()}, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="result JSON files (with their .ranks.npz)")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    target_of, popularity = targets_and_popularity(Path(args.data_path) / args.dataset / f"{args.dataset}.inter")
    lines = [f"# Full-ranking rank profile by target popularity on {args.dataset}", "",
             f"Produced by `{invocation('rank_profile.py')}`. Buckets: training interactions "
             "of the test target item. Cells: share of test users whose target is in the full top K, median full rank "
             "(0-based), HR@10 among 100 sampled negatives.", "",
             "| model (seed) | target bucket | users | " + " | ".join(f"full HR@{k}" for k in CUTS)
             + " | median full rank | sampled HR@10 |", "|---|---|---|" + "---|" * (len(CUTS) + 2)]
    for path in args.results:
        result = load_result(Path(path))
        ranks = np.load(result["_ranks"])
        users = ranks["users"].astype(str)
        item_count = np.array([popularity[target_of[user]] for user in users])
        for label, low, high in [("all", 0, 10**9), *BUCKETS]:
            chosen = (item_count >= low) & (item_count <= high)
            full, sampled = ranks["full"][chosen], ranks["sampled"][chosen]
            cells = " | ".join(f"{np.mean(full < k):.4f}" for k in CUTS)
            lines.append(f"| {result['model']} ({result['seed']}) | {label} | {int(chosen.sum())} | {cells} | "
                         f"{np.median(full):.0f} | {np.mean(sampled < 10):.4f} |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
