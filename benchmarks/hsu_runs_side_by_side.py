"""Two or more HSU runs of one dataset side by side, on the users they share: what their LLM wrote.

For a question about the interests themselves (is one model, prompt or decoding setting more
specific than another?) before any vector is made: per run, the mean number of interests and
of words in them, generated tokens and LLM calls per user, retries, and how many users got the
same interest list as in the first run. Reads the run folder's stage records, else their
committed copy (``benchmarks/results/raw/hsu-<dataset>/<run>/stages.jsonl.gz``).

    python benchmarks/hsu_runs_side_by_side.py --dataset amazon-beauty \\
        --run staged-llamacpp-batch-qwen2.5-coder-1.5b --run probe-unconstrained-qwen2.5-coder-1.5b

Only each user's last stored stage is compared (its current interests).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from common import REPO, run_script
from dataset_tools.hsu.store import read_jsonl
from recbole_hsuga.errors import InputError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--run", action="append", required=True, help="run name; repeat; the first is the reference")
    parser.add_argument("--data", default=str(REPO / "dataset"), help="folder of prepared datasets")
    return parser.parse_args(argv)


def last_stages(data: Path, dataset: str, run: str) -> dict[str, dict]:
    """``{user: the stage record with the highest stage number}`` of one run."""
    committed = REPO / "benchmarks" / "results" / "raw" / f"hsu-{dataset}" / run / "stages.jsonl.gz"
    folder = data / dataset / "hsu" / run / "stages.jsonl"
    if not folder.is_file() and not committed.is_file():
        raise InputError(f"--run {run}: neither {committed} nor {folder} exists")
    last: dict[str, dict] = {}
    # A run still being written may end on a torn line: read_jsonl refuses it and leaves the file alone.
    for record in read_jsonl(folder if folder.is_file() else committed):
        user = str(record["user"])
        if user not in last or record["stage"] > last[user]["stage"]:
            last[user] = record
    return last


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    runs = {run: last_stages(Path(args.data), args.dataset, run) for run in args.run}
    users = sorted(set.intersection(*(set(stages) for stages in runs.values())))
    if not users:
        raise InputError(f"the runs {args.run} share no user")
    reference = runs[args.run[0]]
    print(f"{len(users)} users in every run; each user's last stored stage\n")
    print("| run | interests per user | words in them | generated tokens per stage | LLM calls per stage | retries | "
          f"same list as `{args.run[0]}` |")
    print("|---|---|---|---|---|---|---|")
    for run, stages in runs.items():
        rows = [stages[u] for u in users]
        print(f"| `{run}` | {statistics.mean(len(r['interests']) for r in rows):.2f} | "
              f"{statistics.mean(sum(len(i.split()) for i in r['interests']) for r in rows):.2f} | "
              f"{statistics.mean(r['completion_tokens'] for r in rows):.1f} | {statistics.mean(r['calls'] for r in rows):.2f} | "
              f"{sum(r['retries'] for r in rows)} | {sum(stages[u]['interests'] == reference[u]['interests'] for u in users)} |")


if __name__ == "__main__":
    run_script(main)
