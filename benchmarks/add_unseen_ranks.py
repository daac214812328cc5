"""Add the ``unseen`` protocol's per-user ranks to rank files written before runs recorded them.

    python benchmarks/add_unseen_ranks.py benchmarks/results/raw/compare-frontier-select-unseen-amazon-beauty/*/*.json

Runs report every protocol's metrics, but rank files written before the ``unseen`` protocol
was kept per user hold only ``full`` and ``sampled`` ranks, so the reports cannot test an
``unseen`` difference over users for them. For each such file this script loads the run's
best checkpoint (the path in its result file, with the config RecBole saved in it), evaluates
the test split once with the run's own trainer, and adds the ``unseen`` ranks.

Every file is checked before it is written: the recomputed ``full`` and ``sampled`` ranks must
equal the stored ones user for user, and the ``unseen`` HR@10 / NDCG@10 must equal the result
file's, so a checkpoint that is not the one the run tested is an error, not a silent change.
Files that already hold ``unseen`` ranks are left as they are, so the script can be run again.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from common import InputError, load_result, run_script

PROTOCOL = "unseen"


def recompute_test_ranks(checkpoint: Path) -> tuple[dict, np.ndarray]:
    """The test evaluation of ``checkpoint``: the trainer's ``last_evaluation`` and the user tokens."""
    import torch

    from recbole_hsuga.data.training_history import TrainingHistory
    from recbole_hsuga.runner import build_model_and_trainer, configure_threads, prepare_data
    from recbole.utils import init_seed

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config = state["config"]
    config["device"] = torch.device("cpu")
    config["show_progress"] = False
    init_seed(config["seed"], config["reproducibility"])
    configure_threads(config)
    _, train_data, valid_data, test_data = prepare_data(config)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    _, trainer = build_model_and_trainer(config, train_data._dataset)
    # The unseen mask, the sampled negatives' exclusions and the head/tail labels all read the
    # whole training history, which fit() would otherwise have recovered.
    trainer.set_training_history(TrainingHistory.from_dataloaders(train_data, valid_data))
    trainer.evaluate(test_data, load_best_model=True, model_file=str(checkpoint), show_progress=False)
    evaluation = trainer.last_evaluation
    dataset = test_data._dataset
    tokens = dataset.field2id_token[dataset.uid_field][evaluation["users"]].astype(str)
    return evaluation, tokens


def check_and_merge(result: dict, stored: dict[str, np.ndarray], evaluation: dict, tokens: np.ndarray) -> np.ndarray:
    """The recomputed ``unseen`` ranks in the stored file's user order, after the checks."""
    name = Path(result["_path"]).name
    order = {user: i for i, user in enumerate(tokens)}
    missing = [u for u in stored["users"] if u not in order]
    if missing:
        raise InputError(f"{name}: {len(missing)} stored users are not in the recomputed evaluation (e.g. {missing[0]})")
    index = np.array([order[u] for u in stored["users"]])
    for protocol in ("full", "sampled"):
        if not np.array_equal(evaluation[protocol][index], stored[protocol]):
            differ = int((evaluation[protocol][index] != stored[protocol]).sum())
            raise InputError(f"{name}: the checkpoint's {protocol} ranks differ from the stored ones for {differ} users")
    unseen = evaluation[PROTOCOL][index]
    expected = result["metrics"]["test"][PROTOCOL]["all"]
    measured = {"hit@10": float((unseen < 10).mean()),
                "ndcg@10": float(np.where(unseen < 10, 1.0 / np.log2(unseen + 2.0), 0.0).mean())}
    for metric, value in measured.items():
        if abs(value - expected[metric]) > 6e-5:  # the result file rounds to 4 decimals
            raise InputError(f"{name}: recomputed {PROTOCOL} {metric} {value:.5f} != the result file's {expected[metric]}")
    return unseen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="result JSON files (with their .ranks.npz)")
    args = parser.parse_args()
    for path in map(Path, args.results):
        result = load_result(path)
        ranks_path = Path(result["_ranks"])
        if not ranks_path.exists() or PROTOCOL not in result["metrics"]["test"]:
            continue
        stored = dict(np.load(ranks_path))
        if PROTOCOL in stored:
            continue
        checkpoint = Path(result["checkpoint"] or "")
        if not checkpoint.is_file():
            raise InputError(f"{path}: checkpoint {checkpoint} is missing (the run's best model is needed)")
        evaluation, tokens = recompute_test_ranks(checkpoint)
        stored[PROTOCOL] = check_and_merge(result, stored, evaluation, tokens)
        partial = ranks_path.with_name(ranks_path.name + ".partial.npz")
        np.savez_compressed(partial, **stored)
        os.replace(partial, ranks_path)
        print(f"{ranks_path}: added {PROTOCOL} ranks (checked against the run's full/sampled ranks and {PROTOCOL} metrics)")


if __name__ == "__main__":
    run_script(main)
