"""Write a fixed, seeded sample of a prepared dataset's users, one per line, for
``dataset_tools hsu --users-from`` (the users HSU runs on when every user is too many).

    python benchmarks/hsu_sample_users.py --dataset=amazon-beauty --users=1000 --seed=0 \
        --out=benchmarks/results/raw/hsu-amazon-beauty/sample-1000-seed0.txt

The sample is the first ``--users`` users of a seeded hash order (``hsu_pipeline.sample_users``,
the sample the HSU benchmarks use), so it does not depend on file order. It prints how many
sampled users are head users (the top ``--active_ratio`` of all users by training
interactions: ``recbole_hsuga.evaluation.groups.top_fraction_mask``, the evaluator's and GAA's
rule) and how many are long-tail. ``--group=head`` (or ``tail``) writes only the sample's users of
that group, in the sample's order: the same users, so a slice over them first adds to the same run
and gives the group's answer before the whole sample is done (HSU takes users with fewer stages
first, so head users, who have more, otherwise come last).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np

from dataset_tools.formats.inter import inter_path, read_user_sequences, training_part
from hsu_pipeline import sample_users
from recbole_hsuga.evaluation.groups import top_fraction_mask

REPO_ROOT = Path(__file__).resolve().parents[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "dataset", help="prepared data root")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--active_ratio", type=float, default=0.2)
    parser.add_argument("--group", choices=["all", "head", "tail"], default="all",
                        help="write only the sample's head or long-tail users (default all)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    sequences = read_user_sequences(inter_path(args.data / args.dataset, args.dataset))
    if not 0 < args.users <= len(sequences):
        parser.error(f"--users must be in 1..{len(sequences)} (the dataset's users), got {args.users}")
    users = list(sequences)
    # The evaluator's and GAA's rule, on training interactions (validation and test items left out).
    is_head = top_fraction_mask(np.array([len(training_part(sequences[u])) for u in users]), args.active_ratio)
    head = {user for user, flag in zip(users, is_head) if flag}
    sample = sample_users(users, args.users, args.seed)
    in_head = sum(user in head for user in sample)
    written = [user for user in sample if args.group == "all" or (user in head) == (args.group == "head")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(f"{user}\n" for user in written), encoding="utf-8")
    which = "" if args.group == "all" else f"its {len(written)} {args.group} users of "
    print(f"wrote {args.out}: {which}{len(sample)} of {len(sequences)} users (seed {args.seed}); "
          f"{in_head} head, {len(sample) - in_head} long-tail (top {args.active_ratio:.0%} by training interactions)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
