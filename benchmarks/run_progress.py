"""Where the unfinished runs of a run set stand, against its finished runs at the same epoch.

A converged run can take hours and a run set several sessions. Before it finishes, the one
thing worth reading is its validation curve beside the finished runs of the same seed: the
best validation score each reached *by the same epoch*. This reads the unfinished runs'
training states (``saved/<run set>/<variant>/<model>-<seed>/training-state-*.pth``) and the
finished runs' result files (``benchmarks/results/raw/<run set>/<variant>/*.json``) and
prints one markdown row per unfinished run:

    python benchmarks/run_progress.py --run_set compare-frontier-select-unseen-amazon-beauty

Validation scores only (the test split is read once, at the end); a partial curve says
where a run is heading, not where it ends.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import RAW, REPO, run_script
from recbole_hsuga.compat import load_recbole_checkpoint
from recbole_hsuga.errors import InputError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run_set", required=True, help="folder name under benchmarks/results/raw and saved/")
    parser.add_argument("--saved", default=str(REPO / "saved"), help="checkpoint root of the run set's states")
    parser.add_argument("--raw", default=str(RAW), help="root of the result files")
    return parser.parse_args(argv)


def best_by_epoch(curve: list[dict], last_epoch: int) -> float | None:
    """The best validation score of ``curve`` over epochs ``0..last_epoch`` (None if it has none)."""
    scores = [row["valid_score"] for row in curve if row["epoch"] <= last_epoch and row.get("valid_score") is not None]
    return max(scores) if scores else None


def unfinished_runs(saved: Path) -> list[tuple[str, int, list[dict]]]:
    """``(variant folder, seed, curve)`` of every training state under ``saved`` (a state is
    removed once its run's result file is written, so each one is a run without a result)."""
    runs = []
    for path in sorted(saved.glob("*/*/training-state-*.pth")):
        state = load_recbole_checkpoint(path, "cpu")
        runs.append((path.parent.parent.name, int(path.stem.rsplit("seed", 1)[1]), state["lists"]["curve"]))
    return runs


def finished_curves(raw: Path) -> dict[tuple[str, int], list[dict]]:
    """``{(variant folder, seed): curve}`` of the newest result file per variant and seed."""
    curves: dict[tuple[str, int], tuple[str, list[dict]]] = {}
    for path in sorted(raw.glob("*/*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        key = (path.parent.name, int(result["seed"]))
        if "curve" in result and (key not in curves or result["created"] > curves[key][0]):
            curves[key] = (result["created"], result["curve"])
    return {key: curve for key, (_, curve) in curves.items()}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    saved, raw = Path(args.saved) / args.run_set, Path(args.raw) / args.run_set
    if not saved.is_dir():
        raise InputError(f"{saved}: no such run set folder (--saved, --run_set)")
    running = unfinished_runs(saved)
    finished = finished_curves(raw) if raw.is_dir() else {}
    others = sorted({variant for variant, _ in finished})
    lines = [f"# {args.run_set}: unfinished runs against the finished ones at the same epoch", "",
             "Best validation score up to the unfinished run's last epoch.", "",
             "| run | seed | epochs | best valid | " + " | ".join(f"`{v}`" for v in others) + " |",
             "|---|---|---|---|" + "---|" * len(others)]
    for variant, seed, curve in running:
        last = max((row["epoch"] for row in curve), default=-1)
        own = best_by_epoch(curve, last)
        cells = [best_by_epoch(finished[(other, seed)], last) if (other, seed) in finished else None for other in others]
        lines.append(f"| `{variant}` | {seed} | {last + 1} | {'' if own is None else f'{own:.4f}'} | "
                     + " | ".join("" if cell is None else f"{cell:.4f}" for cell in cells) + " |")
    if not running:
        lines.append("| (no unfinished run) |  |  |  |" + " |" * len(others))
    print("\n".join(lines))


if __name__ == "__main__":
    run_script(main)
