"""Add head/tail group labels to rank files written before runs recorded them.

    python benchmarks/label_rank_files.py --dataset=amazon-beauty benchmarks/results/raw/*/*.json \
        benchmarks/results/raw/*/*/*.json

A run's ``.ranks.npz`` holds each test user's target rank under both protocols; runs now
also save ``head_users`` / ``head_items`` (is the user active, is the user's test target
popular) so that the reports can test differences within a group over users. For older
files this script computes the labels once, with the evaluator's own rule
(:func:`recbole_hsuga.evaluation.groups.head_labels`) on the dataset as RecBole loads it,
and adds them to the file; the ranks themselves are not touched.

Every file is checked before it is written: the labels must give the group sizes and the
per-group HR@10 / NDCG@10 that the run's result file reports (both protocols), so a label
that disagrees with what the run measured is an error, not a silent change. Files that
already carry labels are checked and left as they are, so the script can be run again.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from common import GROUPS, REPO, InputError, group_mask, load_result, run_script
from tqdm import tqdm

from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.evaluation.groups import head_labels
from recbole_hsuga.evaluation.ranking import per_user_metrics
from recbole_hsuga.runner import configure_threads, prepare_data

LABELS = ("head_users", "head_items")


class DatasetGroups:
    """The dataset's training counts and test targets, keyed by original user id."""

    def __init__(self, dataset: str, data_path: str | Path):
        config = HSUGAConfig(model="SASRec", dataset=dataset,
                             config_dict={"data_path": f"{data_path}/", "state": "WARNING",
                                          "checkpoint_dir": str(REPO / "saved" / "label-rank-files")})
        configure_threads(config)
        _, train_data, valid_data, test_data = prepare_data(config)
        history = TrainingHistory.from_dataloaders(train_data, valid_data)
        self.user_counts, self.item_counts = history.user_counts(), history.item_counts()
        test = test_data._dataset
        self.token_to_id = {token: i for i, token in enumerate(test.field2id_token[test.uid_field])}
        self.target_of = dict(zip(test.inter_feat[test.uid_field].numpy().tolist(),
                                  test.inter_feat[test.iid_field].numpy().tolist()))

    def labels(self, user_tokens: np.ndarray, fraction: float, where: str) -> dict[str, np.ndarray]:
        missing = [t for t in user_tokens if t not in self.token_to_id]
        if missing:
            raise InputError(f"{where}: {len(missing)} users are not in the dataset, e.g. {missing[:5]}")
        users = np.array([self.token_to_id[t] for t in user_tokens])
        targets = np.array([self.target_of[u] for u in users])
        return head_labels(self.user_counts, self.item_counts, users, targets, fraction)


def check_labels(result: dict, ranks: dict[str, np.ndarray]) -> None:
    """The labelled ranks must reproduce the run's reported group sizes and metrics."""
    for protocol in ("full", "sampled"):
        for group in GROUPS:
            mask = group_mask(ranks, group)
            reported = result["metrics"]["test"][protocol][group]
            if int(mask.sum()) != reported["n_users"]:
                raise InputError(f"{result['_ranks']}: {group} has {int(mask.sum())} users, the result file "
                                 f"reports {reported['n_users']}")
            measured = per_user_metrics(ranks[protocol][mask], ["hit", "ndcg"], [10])
            for metric in ("hit@10", "ndcg@10"):
                if abs(float(measured[metric].mean()) - reported[metric]) > 6e-5:
                    raise InputError(f"{result['_ranks']}: {protocol} {group} {metric} is "
                                     f"{float(measured[metric].mean()):.4f} with these labels, the result file "
                                     f"reports {reported[metric]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="result JSON files (with their .ranks.npz)")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    args = parser.parse_args()
    results = [load_result(Path(p)) for p in args.results if Path(p).with_suffix(".ranks.npz").exists()]
    results = [r for r in results if r.get("dataset") == args.dataset]
    if not results:
        raise InputError(f"none of the {len(args.results)} result files is a {args.dataset} run with a ranks file")
    groups = None
    added = 0
    # No bar when stderr is not a terminal (disable=None), so a log or an error stays one line per event.
    for result in tqdm(results, desc="rank files", ncols=100, disable=None):
        with np.load(result["_ranks"]) as stored:
            ranks = {key: stored[key] for key in stored.files}
        if all(label in ranks for label in LABELS):
            check_labels(result, ranks)
            continue
        groups = groups or DatasetGroups(args.dataset, args.data_path)
        fraction = float(result["config"].get("head_fraction") or 0.2)
        ranks.update(groups.labels(ranks["users"].astype(str), fraction, result["_ranks"]))
        check_labels(result, ranks)
        # Written beside the file and moved over it, so an interrupted run leaves the raw file whole.
        partial = Path(result["_ranks"]).with_suffix(".partial.npz")
        np.savez_compressed(partial, **ranks)
        os.replace(partial, result["_ranks"])
        added += 1
    print(f"{added} rank files labelled, {len(results) - added} already had labels; every file matches its run's "
          "reported group sizes and HR@10 / NDCG@10")


if __name__ == "__main__":
    run_script(main)
