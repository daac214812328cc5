"""The table of finished trials: a CSV appended under a file lock, and its markdown view.

Each finished trial is appended at once (Ray trials run in parallel processes, hence the
lock) and the markdown table next to it is rewritten, so an interrupted search keeps what
it finished; :meth:`TuningTable.completed` gives those rows back to resume a search.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Sequence

from recbole_hsuga.errors import InputError

#: name of the score every back-end reports and the table's selection column.
SCORE_COLUMN = "valid_score"


def _plain(value: Any) -> Any:
    """numpy scalars -> Python; whole floats of a q-uniform stay floats (RecBole casts)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)) else value


def params_key(params: dict) -> str:
    """Canonical text of a parameter set (the resume key): sorted JSON."""
    return json.dumps({k: _plain(v) for k, v in sorted(params.items())}, sort_keys=True)


class TuningTable:
    """The CSV of finished trials (append-only, locked) and its markdown rendering.

    One row per trial: ``trial``, the searched parameters (JSON-encoded values), the
    selection score ``valid_score`` and its metric name, every valid/test metric of the
    ``all`` user group as ``<split>/<protocol>/<metric>``, ``seconds``, the run's JSON file.
    """

    def __init__(self, csv_path: str | os.PathLike, parameter_names: Sequence[str], valid_metric: str, protocol: str, bigger: bool = True):
        self.csv_path = Path(csv_path)
        self.bigger = bigger
        self.markdown_path = self.csv_path.with_suffix(".md")
        self.parameter_names = list(parameter_names)
        self.valid_metric = valid_metric
        self.protocol = protocol

    def read(self) -> list[dict[str, str]]:
        if not self.csv_path.is_file():
            return []
        with self.csv_path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def completed(self) -> dict[str, dict[str, str]]:
        """Finished rows by :func:`params_key` of their parameters."""
        done = {}
        for row in self.read():
            try:
                params = {name: json.loads(row[name]) for name in self.parameter_names}
            except (KeyError, json.JSONDecodeError) as error:
                raise InputError(f"{self.csv_path}: row {row.get('trial')!r} lacks parameter values ({error})") from None
            done[params_key(params)] = row
        return done

    def append(self, row: dict[str, Any]) -> None:
        """Append ``row`` (header first on an empty file), then rewrite the markdown table."""
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.csv_path.with_suffix(".lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            existing = self.read()
            columns = list(existing[0].keys()) if existing else list(row.keys())
            for key in row:
                if key not in columns:
                    columns.append(key)
            if existing and columns != list(existing[0].keys()):
                self._rewrite(columns, existing + [row])
            else:
                with self.csv_path.open("a", newline="", encoding="utf-8") as handle:
                    writer = csv.DictWriter(handle, fieldnames=columns, restval="")
                    if not existing:
                        writer.writeheader()
                    writer.writerow(row)
            self.write_markdown()

    def _rewrite(self, columns: list[str], rows: list[dict]) -> None:
        tmp = self.csv_path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(self.csv_path)

    def best(self) -> dict[str, str] | None:
        """The row with the best ``valid_score`` (ties: the earlier trial)."""
        rows = [r for r in self.read() if r.get(SCORE_COLUMN) not in (None, "")]
        if not rows:
            return None
        pick = max if self.bigger else min
        return pick(rows, key=lambda r: float(r[SCORE_COLUMN]))

    def write_markdown(self) -> Path:
        """Parameters, valid score, test value of the same metric and seconds, best first."""
        rows = self.read()
        test_column = f"test/{self.protocol}/{self.valid_metric.lower()}"
        header = ["trial", *self.parameter_names, f"valid {self.valid_metric}", f"test {self.valid_metric}", "seconds"]
        ordered = sorted(rows, key=lambda r: float(r[SCORE_COLUMN]), reverse=self.bigger)
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in ordered:
            cells = [row["trial"], *(row[name] for name in self.parameter_names)]
            cells += [f"{float(row[SCORE_COLUMN]):.4f}", _fmt(row.get(test_column)), _fmt(row.get("seconds"), 1)]
            lines.append("| " + " | ".join(cells) + " |")
        tmp = self.markdown_path.with_suffix(".md.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(self.markdown_path)
        return self.markdown_path


def _fmt(value: str | None, digits: int = 4) -> str:
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return ""

