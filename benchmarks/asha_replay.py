"""What a search's successive-halving rule would have done with runs trained outside it.

ASHA (``--scheduler=asha``) judges a trial at each rung by its best validation score so far, so
a recipe that starts slowly is stopped at the first rung whatever it would have reached. This
replays the rule of a tuning table (its budget's rungs, its trials' recorded rung scores) on the
validation curves of converged runs of the same model, data, seed and protocol, e.g. the default
recipe trained to convergence before the search:

    python benchmarks/asha_replay.py TABLE.csv --run "default recipe=RESULT.json" [--run ...] [--out report.md]

For each run it reports its best score by each rung, the cutoff there had it arrived after every
trial of the table, and over every arrival position (before trial 1, 2, ..., after the last; the
rule depends on the order of arrival) where it would have stopped; beside that, its best
validation score within the search's epoch cap and its test score, against the search's best
finished trial. Pure arithmetic on committed files (the rule is :mod:`recbole_hsuga.tuning.halving`'s).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from best_trial import read_result, score_within
from common import emit, invocation, run_script
from recbole_hsuga.errors import InputError
from recbole_hsuga.tuning.halving import rung_cutoff, rung_milestones, stops_at_rung
from recbole_hsuga.tuning.table import FINISHED, TuningTable, row_score, row_status

NEVER = "never"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", help="CSV table of a search with --scheduler=asha")
    parser.add_argument("--run", action="append", required=True, metavar="LABEL=RESULT.json",
                        help="a converged run's result file, with the label the report gives it (no '=' in it; repeatable)")
    parser.add_argument("--out", default=None, help="write the markdown report here too")
    return parser.parse_args(argv)


def labelled_runs(items: list[str]) -> list[tuple[str, dict]]:
    runs = []
    for item in items:
        label, sep, path = item.partition("=")  # result paths may hold '=' (variant folders), labels may not
        if not sep or not label:
            raise InputError(f"--run takes LABEL=RESULT.json, got {item!r}")
        runs.append((label, read_result(Path(path))))
    return runs


def score_by(curve: list[dict], epochs: int) -> float | None:
    """The best validation score after ``epochs`` training epochs (curve epochs are 0-based)."""
    scores = [float(row["valid_score"]) for row in curve if row["epoch"] < epochs and row.get("valid_score") is not None]
    return max(scores) if scores else None


def stopping_rung(scores: dict[int, float | None], earlier: dict[int, list[float]], reduction_factor: int) -> int | str:
    """The first rung at which a run with best-so-far ``scores`` stops, given the ``earlier``
    arrivals' scores at each rung (:data:`NEVER` if it passes every rung it reaches)."""
    for milestone in sorted(scores):
        score = scores[milestone]
        if score is None:  # the run never trained this long
            break
        if stops_at_rung(score, earlier[milestone], reduction_factor):
            return milestone
    return NEVER


@dataclass(frozen=True)
class RungRecords:
    """A table's halving rule and the rung scores its trials recorded, in order of arrival."""

    reduction_factor: int
    milestones: list[int]
    recorded: list[dict[int, float]]

    @classmethod
    def of(cls, rows: list[dict[str, str]], budget: dict) -> "RungRecords":
        if budget.get("scheduler") != "asha":
            raise InputError(f"the table's budget has scheduler {budget.get('scheduler')!r}: there is no rung rule to replay")
        factor, max_t = int(budget["reduction_factor"]), int(budget["max_t"])
        # at max_t a trial stops without a comparison (HalvingRule.observe), so a rung there judges nothing
        milestones = [m for m in rung_milestones(int(budget["grace_period"]), factor, max_t) if m < max_t]
        recorded = [{int(m): float(s) for m, s in json.loads(row.get("rung_scores") or "{}").items() if s is not None}
                    for row in sorted(rows, key=lambda row: row["trial"])]
        return cls(factor, milestones, recorded)

    def earlier_than(self, position: int) -> dict[int, list[float]]:
        """Each rung's scores of the trials that arrived before ``position``."""
        return {m: [trial[m] for trial in self.recorded[:position] if m in trial] for m in self.milestones}

    def cutoffs(self) -> dict[int, float | None]:
        """Each rung's cutoff for a run arriving after every trial."""
        everyone = self.earlier_than(len(self.recorded))
        return {m: rung_cutoff(everyone[m], self.reduction_factor) for m in self.milestones}

    def replay(self, curve: list[dict]) -> dict:
        """The rule's verdicts on one run's validation curve: its best score by each rung, the rung it
        stops at arriving last, and how many arrival positions stop it at each rung."""
        scores = {m: score_by(curve, m) for m in self.milestones}
        arrivals = len(self.recorded) + 1
        by_position = [stopping_rung(scores, self.earlier_than(p), self.reduction_factor) for p in range(arrivals)]
        return {"scores": scores, "last": by_position[-1], "positions": Counter(by_position), "arrivals": arrivals}


def test_ndcg(result: dict) -> float | None:
    protocol = result.get("eval_protocol") or "full"
    try:
        return float(result["metrics"]["test"][protocol]["all"]["ndcg@10"])
    except (KeyError, TypeError):
        return None


def fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def report(table_path: Path, runs: list[tuple[str, dict]]) -> list[str]:
    if not table_path.is_file():
        raise InputError(f"{table_path}: tuning table not found")
    table = TuningTable(table_path, [], valid_metric="", protocol="")
    rows, budget = table.read(), table.stored_budget() or {}
    finished = [row for row in rows if row_status(row) == FINISHED and row_score(row) is not None]
    cap = budget.get("epochs")
    rule = RungRecords.of(rows, budget)
    cutoffs = rule.cutoffs()
    lines = ["# What the search's halving rule would have done with runs trained outside it", "",
             f"Produced by `{invocation('asha_replay.py')}`.", "",
             f"Table: `{table_path}` ({len(rows)} trials ended, {len(finished)} finished); its budget: rungs at "
             f"{', '.join(map(str, rule.milestones))} epochs, reduction factor {rule.reduction_factor} (a run below "
             f"the top 1/{rule.reduction_factor} of the earlier arrivals' scores at a rung stops), epoch cap {cap}.", ""]
    best = max(finished, key=row_score) if finished else None
    if best is not None:
        lines += [f"The search's best finished trial: {best['trial']}, validation {fmt(row_score(best))}.", ""]
    lines += ["Cutoff at each rung, had a run arrived after every trial of the table: " + ", ".join(
        f"rung {m}: {fmt(cutoffs[m]) or 'none (no trial reached it, so every run passes)'}"
        for m in rule.milestones) + ".", ""]
    header = ["run"] + [f"best by epoch {m}" for m in rule.milestones] + [
        "arriving last, stops at", "arrival positions: stopped at rung (count)", f"best valid within {cap} epochs",
        "test NDCG@10"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, result in runs:
        verdict = rule.replay(result.get("curve", []))
        where = verdict["last"]
        positions = ", ".join(f"{'passes' if rung == NEVER else f'rung {rung}'}: {count}"
                              for rung, count in sorted(verdict["positions"].items(),
                                                         key=lambda kv: (kv[0] == NEVER, kv[0] if kv[0] != NEVER else 0)))
        lines.append("| " + " | ".join([label] + [fmt(verdict["scores"][m]) for m in rule.milestones] + [
            "passes every rung" if where == NEVER else f"rung {where}", f"{positions} (of {verdict['arrivals']})",
            fmt(score_within(result, cap)), fmt(test_ndcg(result))]) + " |")
    return lines


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    emit(report(Path(args.table), labelled_runs(args.run)), args.out)


if __name__ == "__main__":
    run_script(main)
