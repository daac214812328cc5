"""A control for user vectors: the same vectors handed to the wrong users.

GAA uses user vectors only to pick each user's cosine neighbours. Whether a GAA gain comes
from what the vectors know about a user, or only from pulling every user towards *some*
other users, is read off one more run: GAA on a file whose rows are a real file's rows,
permuted so that no user keeps its own. The permuted file keeps the set of vectors (their spread, their
duplicates, the shape of the neighbour graph) and breaks the tie to the user, so its
neighbours are chance neighbours with the real file's structure.

    python benchmarks/shuffled_user_vectors.py --dataset movielens-100k --vectors useremb_text

writes ``<data>/<ds>/<ds>.<vectors>_shuffled`` (``--suffix`` names it otherwise) and its
sidecar: the source sidecar (its held-out record stays true: no vector reads a held-out
item) plus ``control: {"shuffled_from": ..., "seed": ...}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from common import REPO, run_script
from dataset_tools.formats.features import read_feature_file, write_feature_file
from recbole_hsuga.errors import InputError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REPO / "dataset"), help="folder of prepared datasets")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--vectors", required=True, help="user feature file suffix to permute, e.g. useremb_text")
    parser.add_argument("--suffix", help="suffix of the file written (default: <vectors>_shuffled)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the permutation")
    return parser.parse_args(argv)


def derangement(n: int, seed: int) -> np.ndarray:
    """A permutation of ``range(n)`` that moves every index (n >= 2), so no user keeps its own vector."""
    rng = np.random.default_rng(seed)
    # Each user in a random order takes the vector of the one before it: a single cycle
    # through all n, so nobody keeps its own (not uniform over derangements; no need here).
    order = rng.permutation(n)
    permutation = np.empty(n, dtype=np.int64)
    permutation[order] = order[np.roll(np.arange(n), 1)]
    return permutation


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    folder = Path(args.data) / args.dataset
    source = folder / f"{args.dataset}.{args.vectors}"
    if not source.is_file():
        raise InputError(f"{source}: feature file not found (make it with `python -m dataset_tools embed`)")
    tokens, matrix, sidecar = read_feature_file(source)
    if len(tokens) < 2:
        raise InputError(f"{source}: {len(tokens)} user vector(s); a permutation needs at least 2")
    for key in ("dimension", "rows", "fields", "file"):
        sidecar.pop(key, None)  # write_feature_file adds them for the new file
    sidecar["control"] = {"shuffled_from": args.vectors, "seed": args.seed}
    out = folder / f"{args.dataset}.{args.suffix or args.vectors + '_shuffled'}"
    write_feature_file(out, tokens, matrix[derangement(len(tokens), args.seed)], sidecar)
    print(f"wrote {out}: {len(tokens)} users, each with another user's vector from {source.name}")


if __name__ == "__main__":
    run_script(main)
