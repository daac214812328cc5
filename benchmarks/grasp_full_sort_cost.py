"""Full-ranking cost of SASRecGRASP against SASRec, in one process, on generated data.

GRASP's item vectors depend on the user, so full ranking needs ``i_all(u, j)`` for every
(user, item) pair. With ``grasp_mlp_layers: 1`` the scores factorise into a few
``[B, H] x [H, n]`` products; deeper MLPs run per pair on item chunks. This script times
``full_sort_predict`` over the same evaluation batches for SASRec, SASRecGRASP (MLP depth
1) and SASRecGRASP (depth 2), alternating rounds so machine load hits each alike, and
prints the ratios to SASRec. Untrained models: the cost does not depend on the weights.

It generates its own dataset (``--items`` items, default amazon-beauty's 12,101; 384-d
item and user vectors like all-MiniLM-L6-v2's; k = 10 neighbour means written by
``dataset_tools neighbours``) in a temporary folder, so it runs anywhere in a minute:

    python benchmarks/grasp_full_sort_cost.py --users=512 --items=12101 --rounds=3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import recbole_hsuga  # noqa: F401  (compat shims before RecBole)
from dataset_tools.__main__ import main as tools_main
from dataset_tools.formats.features import ITEM_FIELDS, write_feature_file
from dataset_tools.formats.inter import write_sequences
from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.runner import prepare_data

from common import run_script

DATASET = "grasp-cost"


def write_data(root: Path, n_users: int, n_items: int, dim: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    folder = root / DATASET
    folder.mkdir(parents=True)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity /= popularity.sum()
    # Popularity-skewed histories, plus every item once (item i goes to user i mod n_users) so that
    # RecBole's catalogue is all n_items.
    sequences = {}
    for u in range(n_users):
        items = list(rng.choice(n_items, size=int(rng.integers(5, 15)), p=popularity)) + list(range(u, n_items, n_users))
        sequences[f"u{u}"] = [f"i{i}" for i in rng.permutation(items)]
    write_sequences(folder / f"{DATASET}.inter", sequences)
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    write_feature_file(folder / f"{DATASET}.useremb_text", list(sequences),
                       unit(rng.normal(size=(n_users, dim))).astype(np.float32), {"extractor": "synthetic"})
    write_feature_file(folder / f"{DATASET}.itememb", [f"i{i}" for i in range(n_items)],
                       unit(rng.normal(size=(n_items, dim))).astype(np.float32), {"extractor": "synthetic"},
                       fields=ITEM_FIELDS)
    for source in ("useremb_text", "itememb"):
        assert tools_main(["-q", "neighbours", DATASET, "--data", str(root), "--source", source, "--k", "10"]) == 0


def build(root: Path, model: str, **settings):
    config = HSUGAConfig(model=model, dataset=DATASET, config_dict={
        "data_path": str(root), "checkpoint_dir": str(root / "saved"), "device": "cpu", "use_gpu": False,
        "state": "WARNING", "show_progress": False, "eval_batch_size": 256, "MAX_ITEM_LIST_LENGTH": 20,
        "user_inter_num_interval": "[0,inf)", "item_inter_num_interval": "[0,inf)", **settings})
    _, train_data, _, test_data = prepare_data(config)
    torch.manual_seed(0)
    return config.model_class(config, train_data._dataset).eval(), test_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=512)
    parser.add_argument("--items", type=int, default=12101)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_data(root, args.users, args.items, args.dim)
        variants = {"SASRec": build(root, "SASRec"),
                    "SASRecGRASP (MLP 1 layer)": build(root, "SASRecGRASP", grasp_mlp_layers=1),
                    "SASRecGRASP (MLP 2 layers)": build(root, "SASRecGRASP", grasp_mlp_layers=2)}
        batches = [batch[0] for batch in variants["SASRec"][1]]
        n_rows = sum(len(b) for b in batches)
        seconds = {name: [] for name in variants}
        with torch.no_grad():
            for _ in range(args.rounds):
                for name, (model, _) in variants.items():
                    started = time.perf_counter()
                    for interaction in batches:
                        model.full_sort_predict(interaction)
                    seconds[name].append(time.perf_counter() - started)
    n_items = variants["SASRec"][0].n_items
    base = float(np.median(seconds["SASRec"]))
    print(f"full_sort_predict over {n_rows} users x {n_items} items (eval batch 256, {args.threads} thread(s), "
          f"median of {args.rounds} rounds; hidden 64, {args.dim}-d tables)")
    print("| model | seconds | per 1k users | ratio to SASRec |\n|---|---|---|---|")
    for name, values in seconds.items():
        median = float(np.median(values))
        print(f"| {name} | {median:.3f} | {1000 * median / n_rows:.3f} | {median / base:.2f} |")


if __name__ == "__main__":
    run_script(main)
