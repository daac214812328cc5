"""How much a user-vector file knows about a user's next item, before any model trains on it.

HSUGA's claim for HSU is that staged interest edits give better user vectors than the
plain history text. GAA only ever uses those vectors through cosine neighbours, so two
model-free measurements say whether one file is better than another, for the same users
and the same sentence encoder:

- **semantic next-item retrieval** (with training popularity, same masking, as a reference row): rank every item by cosine(user vector, item vector),
  the user's training items masked as in full-ranking evaluation, and score the
  validation item (HR@N, NDCG@N, N = ``--cutoff``);
- **neighbour quality**: of a user's K nearest users by cosine (K = ``--k``, among the
  users compared), the share whose training items include the user's validation item.
  The chance level (the same share over every other compared user) is reported beside it.

Both per group: head (active) users are the top ``--head-fraction`` of all users of the
dataset by training interactions (:func:`recbole_hsuga.evaluation.groups.top_fraction_mask`,
ties broken by order of first appearance in the ``.inter`` file), and per group of the
validation item (head items: the top fraction by training popularity). Paired Wilcoxon
tests of per-user NDCG@N and neighbour share against the first file.

    python benchmarks/user_vector_quality.py --dataset movielens-100k \\
        --vectors useremb_text --vectors useremb --out report.md --json report.json

Only the users present in every file are compared (HSU may have skipped some); the
report names how many each file had.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

from common import REPO, invocation, run_script
from dataset_tools.formats.features import read_feature_file
from dataset_tools.formats.inter import inter_path, read_user_sequences, training_part
from dataset_tools.neighbours.cosine import cosine_top_k
from recbole_hsuga.errors import InputError
from recbole_hsuga.evaluation.groups import top_fraction_mask


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REPO / "dataset"), help="folder of prepared datasets")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--vectors", action="append", required=True,
                        help="user feature file suffix (e.g. useremb_text, useremb); repeat; the first is the base")
    parser.add_argument("--items", default="itememb", help="item feature file suffix (same encoder as the users)")
    parser.add_argument("--k", type=int, default=10, help="neighbours per user")
    parser.add_argument("--cutoff", type=int, default=50, help="N of HR@N / NDCG@N")
    parser.add_argument("--head-fraction", type=float, default=0.2)
    parser.add_argument("--out", help="markdown report")
    parser.add_argument("--json", help="JSON report (per-group values, tests)")
    return parser.parse_args(argv)


def load_vectors(folder: Path, dataset: str, suffix: str) -> tuple[dict[str, int], np.ndarray, dict]:
    """``({token: row}, [n, d] L2-normalised float32, sidecar)`` of ``<dataset>.<suffix>``."""
    path = folder / f"{dataset}.{suffix}"
    if not path.is_file():
        raise InputError(f"{path}: feature file not found (make it with `python -m dataset_tools embed`)")
    tokens, matrix, sidecar = read_feature_file(path)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return {t: r for r, t in enumerate(tokens)}, matrix / np.maximum(norms, 1e-12), sidecar


def retrieval_ranks(users: np.ndarray | None, items: np.ndarray, train_rows: list[np.ndarray],
                    targets: np.ndarray) -> np.ndarray:
    """1-based rank of each user's target among all items, training items masked.

    Args:
        users: ``[n, d]`` normalised user vectors, scored by cosine with ``items``; None
            scores every user with ``items`` itself (``[m]``, the popularity reference).
        items: ``[m, d]`` normalised item vectors, or ``[m]`` item scores.
        train_rows: per user, the item rows of its training items.
        targets: ``[n]`` item row of each user's validation item.
    Ties count against the target (a pessimistic rank), so equal scores earn nothing.
    """
    n = len(targets)
    ranks = np.empty(n, dtype=np.int64)
    for start in range(0, n, 1024):
        stop = min(n, start + 1024)
        scores = (np.tile(items, (stop - start, 1)) if users is None else users[start:stop] @ items.T)
        for offset, row in enumerate(scores):
            u = start + offset
            target_score = row[targets[u]]
            row[train_rows[u]] = -np.inf
            row[targets[u]] = -np.inf
            ranks[u] = 1 + int(np.sum(row >= target_score))
    return ranks


def neighbour_lists(vectors: np.ndarray, k: int) -> list[np.ndarray]:
    """Per user, the rows of its ``k`` nearest other users by cosine (GAA's neighbour search)."""
    ids = np.arange(len(vectors))
    candidates, keep = cosine_top_k(vectors, ids, np.full(len(vectors), k))
    return [candidates[u][keep[u]] for u in range(len(vectors))]


def neighbour_shares(neighbours: list[np.ndarray], train_sets: list[set[int]], targets: np.ndarray) -> np.ndarray:
    """Per user, the share of its neighbours whose training items hold its target."""
    return np.array([np.mean([targets[u] in train_sets[v] for v in near]) if len(near) else 0.0
                     for u, near in enumerate(neighbours)])


def shared_neighbours(neighbours: list[np.ndarray], base: list[np.ndarray]) -> float:
    """Mean share of a user's neighbours that are also its neighbours under ``base``: whether
    two files send GAA to the same users at all."""
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / max(1, len(b)) for a, b in zip(neighbours, base)]))


def vector_structure(vectors: np.ndarray, k: int, chunk: int = 2048) -> dict[str, float]:
    """How spread out a file's vectors are, the first thing to look at when its neighbours
    are no better than chance: the share of distinct vectors (users with the same text get
    the same vector), the mean cosine to the ``k`` nearest other users, and the mean cosine
    over all pairs of distinct users (near 1 when every text says much the same). Rows are
    compared ``chunk`` at a time, so memory stays ``chunk x n``."""
    n = len(vectors)
    distinct = len(np.unique(np.round(vectors, 5), axis=0)) / n
    top_sum = pair_sum = 0.0
    for start in range(0, n, chunk):
        cosines = vectors[start:start + chunk] @ vectors.T
        rows = np.arange(len(cosines))
        pair_sum += float(cosines.sum() - cosines[rows, start + rows].sum())
        cosines[rows, start + rows] = -np.inf
        top_sum += float(np.partition(cosines, -k, axis=1)[:, -k:].sum())
    return {"distinct_share": float(distinct), f"mean_top{k}_cosine": top_sum / (n * k),
            "mean_pair_cosine": pair_sum / (n * (n - 1))}


def chance_shares(train_sets: list[set[int]], targets: np.ndarray) -> np.ndarray:
    """Per user, the share of all *other* compared users whose training items hold its target."""
    holders: dict[int, int] = {}
    for items in train_sets:
        for item in items:
            holders[item] = holders.get(item, 0) + 1
    n = len(train_sets)
    return np.array([(holders.get(t, 0) - (t in train_sets[u])) / max(1, n - 1) for u, t in enumerate(targets)])


def wilcoxon_p(a: np.ndarray, b: np.ndarray) -> float | None:
    """Two-sided Wilcoxon signed-rank p of paired per-user values (None when all equal)."""
    if np.allclose(a, b):
        return None
    return float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    folder = Path(args.data) / args.dataset
    sequences = read_user_sequences(inter_path(folder, args.dataset))
    all_users = list(sequences)
    user_counts = np.array([len(training_part(sequences[u])) for u in all_users])
    head_user = dict(zip(all_users, top_fraction_mask(user_counts, args.head_fraction)))

    item_index, item_vectors, _ = load_vectors(folder, args.dataset, args.items)
    item_counts = np.zeros(len(item_index))
    for user in all_users:
        for item in training_part(sequences[user]):
            if item in item_index:
                item_counts[item_index[item]] += 1
    head_item = top_fraction_mask(item_counts, args.head_fraction)

    files = [(suffix, *load_vectors(folder, args.dataset, suffix)) for suffix in args.vectors]
    compared = [u for u in all_users
                if len(sequences[u]) >= 3 and all(u in index for _, index, _, _ in files)
                and sequences[u][-2] in item_index]
    if len(compared) < args.k + 1:
        raise InputError(f"only {len(compared)} users are in every file of --vectors; need more than --k={args.k}")
    train_rows = [np.array([item_index[i] for i in training_part(sequences[u]) if i in item_index], dtype=np.int64)
                  for u in compared]
    train_sets = [set(rows.tolist()) for rows in train_rows]
    targets = np.array([item_index[sequences[u][-2]] for u in compared])
    masks = {"all": np.ones(len(compared), dtype=bool),
             "head_users": np.array([head_user[u] for u in compared])}
    masks["tail_users"] = ~masks["head_users"]
    masks["head_items"] = head_item[targets]
    masks["tail_items"] = ~masks["head_items"]
    # A group no compared user falls in (a sample of tail users only) has no row, rather than NaNs.
    masks = {group: mask for group, mask in masks.items() if mask.any()}

    chance = chance_shares(train_sets, targets)
    per_file: dict[str, dict[str, np.ndarray]] = {}
    structure: dict[str, dict[str, float]] = {}
    popularity = retrieval_ranks(None, item_counts, train_rows, targets)
    base_neighbours: list[np.ndarray] = []
    for suffix, index, vectors, _ in files:
        user_vectors = vectors[[index[u] for u in compared]]
        ranks = retrieval_ranks(user_vectors, item_vectors, train_rows, targets)
        hit = (ranks <= args.cutoff).astype(float)
        ndcg = np.where(ranks <= args.cutoff, 1.0 / np.log2(ranks + 1), 0.0)
        neighbours = neighbour_lists(user_vectors, args.k)
        base_neighbours = base_neighbours or neighbours
        per_file[suffix] = {"hit": hit, "ndcg": ndcg, "share": neighbour_shares(neighbours, train_sets, targets)}
        structure[suffix] = {**vector_structure(user_vectors, args.k),
                             f"shared_neighbours@{args.k}": shared_neighbours(neighbours, base_neighbours)}

    reference = {group: {f"hit@{args.cutoff}": float((popularity[mask] <= args.cutoff).mean()),
                         f"ndcg@{args.cutoff}": float(np.where(popularity[mask] <= args.cutoff,
                                                               1.0 / np.log2(popularity[mask] + 1), 0.0).mean())}
                 for group, mask in masks.items()}
    report = {"command": invocation("user_vector_quality.py"), "dataset": args.dataset, "users_compared": len(compared), "k": args.k, "cutoff": args.cutoff,
              "head_fraction": args.head_fraction, "items": args.items,
              "users_per_file": {suffix: len(index) for suffix, index, _, _ in files},
              "group_sizes": {g: int(m.sum()) for g, m in masks.items()},
              "chance_share": {g: float(chance[m].mean()) for g, m in masks.items()},
              "popularity": reference, "structure": structure, "files": {}}
    base = args.vectors[0]
    for suffix, values in per_file.items():
        entry = {}
        for group, mask in masks.items():
            row = {f"hit@{args.cutoff}": float(values["hit"][mask].mean()),
                   f"ndcg@{args.cutoff}": float(values["ndcg"][mask].mean()),
                   f"neighbour_share@{args.k}": float(values["share"][mask].mean())}
            if suffix != base:
                row["p_ndcg"] = wilcoxon_p(values["ndcg"][mask], per_file[base]["ndcg"][mask])
                row["p_share"] = wilcoxon_p(values["share"][mask], per_file[base]["share"][mask])
            entry[group] = row
        report["files"][suffix] = entry

    text = markdown(report, base)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def markdown(report: dict, base: str) -> str:
    n, k = report["cutoff"], report["k"]
    lines = [f"# User vectors of {report['dataset']}: next-item retrieval and neighbour quality", "",
             f"Command: `{report['command']}`", "",
             f"{report['users_compared']} users in every file ({', '.join(f'{s}: {c}' for s, c in report['users_per_file'].items())}); "
             f"target: the validation item; items: `{report['items']}`; head = top {report['head_fraction']:.0%}. "
             f"p: paired Wilcoxon against `{base}` (per-user values).", "",
             f"| vectors | group | users | HR@{n} | NDCG@{n} | p | neighbour share@{k} | chance | p |",
             "|---|---|---|---|---|---|---|---|---|"]
    for suffix, entry in report["files"].items():
        for group in report["group_sizes"]:
            row = entry[group]
            p1 = "" if suffix == base else fmt_p(row["p_ndcg"])
            p2 = "" if suffix == base else fmt_p(row["p_share"])
            lines.append(f"| `{suffix}` | {group} | {report['group_sizes'][group]} | {row[f'hit@{n}']:.4f} | "
                         f"{row[f'ndcg@{n}']:.4f} | {p1} | {row[f'neighbour_share@{k}']:.4f} | "
                         f"{report['chance_share'][group]:.4f} | {p2} |")
    for group in report["group_sizes"]:
        row = report["popularity"][group]
        lines.append(f"| popularity (no vectors) | {group} | {report['group_sizes'][group]} | {row[f'hit@{n}']:.4f} | "
                     f"{row[f'ndcg@{n}']:.4f} |  |  | {report['chance_share'][group]:.4f} |  |")
    lines += ["", f"| vectors | distinct vectors | mean cosine to the {k} nearest | mean cosine over all pairs | "
                  f"neighbours shared with `{base}` (of {k}) |",
              "|---|---|---|---|---|"]
    for suffix, row in report["structure"].items():
        lines.append(f"| `{suffix}` | {row['distinct_share']:.1%} | {row[f'mean_top{k}_cosine']:.3f} | "
                     f"{row['mean_pair_cosine']:.3f} | {row[f'shared_neighbours@{k}']:.1%} |")
    return "\n".join(lines) + "\n"


def fmt_p(p: float | None) -> str:
    return "equal" if p is None else (f"{p:.2g}" if p >= 1e-4 else "<1e-4")


if __name__ == "__main__":
    run_script(main)
