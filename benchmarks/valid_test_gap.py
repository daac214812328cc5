"""Why a model validates higher than it tests: validation against test NDCG@10, split by item popularity.

    python benchmarks/valid_test_gap.py \\
        --run "SASRec=benchmarks/results/raw/compare-frontier-select-unseen-amazon-beauty/SASRec__lr_scheduler=plateau/SASRec-amazon-beauty-seed42-20261207T021409.json" \\
        --run "LLM-ESR=benchmarks/results/raw/compare-frontier-select-unseen-amazon-beauty/SASRecLLMESR/SASRecLLMESR-amazon-beauty-seed42-20261207T043455.json"

Early stopping, tuning and every "select on validation" choice trust that validation ranks
models as test does. On amazon-beauty the released dual view (LLM-ESR, HSUGA on it) and GRASP
keep about 0.72 of their validation NDCG@10 at test, SASRec and GAA about 0.81, so validation
favours them. Validation and test differ in two ways a model can feel: the target (the test
target is one step later in time) and the input (the test input ends with the validation
target, an item the model never saw in this user's sequence during training).

For every ``--run LABEL=RESULT_JSON`` (the run's selected checkpoint must still exist) this
reloads the model, evaluates the validation and the test split user by user, and reports
NDCG@10 under the run's selection protocol:

- overall, and the test/validation ratio;
- by the target's count of training interactions (popularity), for validation and test
  targets alike, with each bucket's share of users: a drift towards rarer test targets
  costs the models that lean on popularity;
- by the count of the test input's newest item (the validation target), test against the
  same users' validation: what the one new input item costs.

``--csv`` writes the cells as rows for plotting (``valid_users`` / ``users``: the users behind
the validation / test cell).
"""

from __future__ import annotations

import argparse

import numpy as np
from common import (REPO, InputError, emit, invocation, labelled_run, mean_or_nan, ndcg_at_10, run_script,
                    write_rows)
from trained_model import load_trained_run

#: (label, fewest, most) training interactions of an item.
POPULARITY = [("0-4", 0, 4), ("5-19", 5, 19), ("20-99", 20, 99), ("100+", 100, 10**9)]


def split_ranks(trainer, loader, protocol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(users [n], targets [n], NDCG@10 [n])`` of one split, sorted by user (the trainer's
    ``evaluate`` switches the model to eval mode and runs without gradients)."""
    trainer.evaluate(loader, load_best_model=False)
    evaluation = trainer.last_evaluation
    order = np.argsort(evaluation["users"])
    return evaluation["users"][order], evaluation["targets"][order], ndcg_at_10(evaluation[protocol][order])


def measure(result_path: str, data_path: str) -> dict:
    """One run's per-user validation and test NDCG@10 and the training counts of the items involved."""
    result, _, trainer, test_data, valid_data = load_trained_run(result_path, data_path)
    protocol = str(result["config"].get("eval_protocol") or "full")
    valid_users, valid_targets, valid_ndcg = split_ranks(trainer, valid_data, protocol)
    test_users, test_targets, test_ndcg = split_ranks(trainer, test_data, protocol)
    if not np.array_equal(valid_users, test_users):
        raise InputError(f"{result_path}: the validation and test splits hold different users")
    counts = np.asarray(trainer.training_history.item_counts())
    stored = {split: result["metrics"][split][protocol]["all"]["ndcg@10"] for split in ("valid", "test")}
    return {"result": result, "protocol": protocol, "valid": valid_ndcg, "test": test_ndcg,
            "valid_target_count": counts[valid_targets], "test_target_count": counts[test_targets], "stored": stored}


def bucket_masks(counts: np.ndarray) -> list[tuple[str, np.ndarray]]:
    return [(label, (counts >= low) & (counts <= high)) for label, low, high in POPULARITY]


def ratio(test: float, valid: float) -> str:
    return f"{test / valid:.2f}" if valid > 0 else "-"


def bucket_cells(runs: dict[str, dict], split: str, bucket: str, valid_mask: np.ndarray, test_mask: np.ndarray,
                 rows: list[dict]) -> str:
    """One table row's ``valid / test (ratio)`` cells, one per run, over the users of each mask
    (``[n_users]`` booleans); appends the same cells to ``rows`` for the CSV."""
    cells = []
    for label, run in runs.items():
        valid, test = mean_or_nan(run["valid"][valid_mask]), mean_or_nan(run["test"][test_mask])
        cells.append(f"{valid:.4f} / {test:.4f} ({ratio(test, valid)})")
        rows.append({"run": label, "split": split, "bucket": bucket, "valid_users": int(valid_mask.sum()),
                     "users": int(test_mask.sum()), "valid": valid, "test": test})
    return " | ".join(cells)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="LABEL=RESULT_JSON")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--out", default=None)
    parser.add_argument("--csv", default=None)
    args = parser.parse_args(argv)
    runs = {}
    for spec in args.run:
        label, path = labelled_run(spec)
        runs[label] = measure(path, args.data_path)
    first = next(iter(runs.values()))
    dataset = first["result"]["dataset"]
    for label, run in runs.items():
        if run["result"]["dataset"] != dataset or len(run["test"]) != len(first["test"]):
            raise InputError(f"--run {label}: dataset {run['result']['dataset']!r}, the first run's {dataset!r}; "
                             "compare runs of one dataset")
    rows: list[dict] = []
    lines = [f"# Validation against test NDCG@10 on {dataset}", "",
             f"Produced by `{invocation('valid_test_gap.py')}`: each run's selected checkpoint, reloaded and "
             "evaluated on both splits user by user; cells are NDCG@10 under the run's selection protocol "
             "(validation targets are each user's second-last item, test targets the last).", "",
             "`valid, test's mix`: validation NDCG@10 per popularity bucket of the target (next table), "
             "weighted by the test targets' shares of the buckets -- what validation would read if its "
             "targets were as rare as the test targets; `test / mix` is the loss that drift leaves unexplained.",
             "",
             "| run | protocol | seed | valid | test | test / valid | valid, test's mix | test / mix "
             "| valid, result file | test, result file |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    valid_buckets = bucket_masks(first["valid_target_count"])
    test_shares = [mask.mean() for _, mask in bucket_masks(first["test_target_count"])]
    for label, run in runs.items():
        valid, test = float(run["valid"].mean()), float(run["test"].mean())
        mix = sum(share * mean_or_nan(run["valid"][mask]) for share, (_, mask) in zip(test_shares, valid_buckets)
                  if mask.any())
        lines.append(f"| {label} | {run['protocol']} | {run['result']['seed']} | {valid:.4f} | {test:.4f} | "
                     f"{ratio(test, valid)} | {mix:.4f} | {ratio(test, mix)} | {run['stored']['valid']:.4f} | "
                     f"{run['stored']['test']:.4f} |")
        rows.append({"run": label, "split": "all", "bucket": "all", "valid_users": len(run["valid"]),
                     "users": len(run["test"]), "valid": valid, "test": test})
    lines += ["", "## By the target's training interactions", "",
              "Validation cells over the users whose validation target falls in the bucket, test cells over "
              "those whose test target does.", "",
              "| target's count | valid users | test users | " + " | ".join(
                  f"{label}: valid / test (ratio)" for label in runs) + " |",
              "|---|---:|---:|" + "---|" * len(runs)]
    for (bucket, valid_mask), (_, test_mask) in zip(bucket_masks(first["valid_target_count"]),
                                                     bucket_masks(first["test_target_count"])):
        cells = bucket_cells(runs, "target count", bucket, valid_mask, test_mask, rows)
        lines.append(f"| {bucket} | {valid_mask.mean():.1%} | {test_mask.mean():.1%} | {cells} |")
    lines += ["", "## By the test input's newest item (the validation target)", "",
              "The same users under both splits: test against validation NDCG@10 for users whose validation "
              "target -- the item the test input ends with -- has that many training interactions.", "",
              "| newest input item's count | users | " + " | ".join(
                  f"{label}: valid / test (ratio)" for label in runs) + " |",
              "|---|---:|" + "---|" * len(runs)]
    for bucket, mask in bucket_masks(first["valid_target_count"]):
        cells = bucket_cells(runs, "newest input item count", bucket, mask, mask, rows)
        lines.append(f"| {bucket} | {mask.mean():.1%} | {cells} |")
    emit(lines, args.out)
    write_rows(rows, args.csv)


if __name__ == "__main__":
    run_script(main)
