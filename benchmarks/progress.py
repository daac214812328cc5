"""Where the unfinished runs of a run set stand, read from their saved training states.

    python benchmarks/progress.py                       # every state under saved/
    python benchmarks/progress.py saved/compare-llm-enhanced-amazon-beauty

One line per ``training-state-*.pth`` (written by runs with ``resume_training: true``, as
every benchmark run is): epochs done, the best validation score and its epoch, evaluations
since it improved (the run stops after ``stopping_step`` of them), median seconds per epoch
(training + validation) and the last validation scores.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from common import REPO, best_epoch

from recbole_hsuga.compat import load_recbole_checkpoint


def describe(path: Path) -> str:
    state = load_recbole_checkpoint(path, map_location="cpu")
    curve = state["lists"]["curve"]
    seconds = [train + entry.get("valid_seconds", 0.0)
               for train, entry in zip(state["lists"]["epoch_seconds"], curve)]
    scores = [entry["valid_score"] for entry in curve if "valid_score" in entry]
    selected = best_epoch({"curve": curve})  # 1-based
    best_score = curve[selected - 1]["valid_score"] if selected else float("nan")
    last = ", ".join(f"{score:.4f}" for score in scores[-5:])
    status = "finished" if state["finished"] else "running or stopped"
    return (f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {len(curve)} epochs ({status}), "
            f"best {best_score:.4f} at epoch {selected}, {state['cur_step']} evaluations since, "
            f"{statistics.median(seconds) if seconds else float('nan'):.0f} s / epoch; last: {last}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default=str(REPO / "saved"))
    args = parser.parse_args()
    states = sorted(Path(args.folder).rglob("training-state-*.pth"))
    if not states:
        print(f"no training state under {args.folder}")
    for path in states:
        print(describe(path), flush=True)


if __name__ == "__main__":
    main()
