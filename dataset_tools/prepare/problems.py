"""Problems found in raw data: fatal ones (:class:`RawDataError`) and counted ones.

A problem that makes the data unusable (a malformed line, a duplicate id, a user whose
lines are not contiguous) stops ``prepare`` with the file, the line and the field. A
problem of one record (an empty title, an item without metadata, a user with too few
interactions) is skipped or repaired and counted in a :class:`WarningLog`, which ends up
in the log and in ``<name>.prepare.json``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from dataset_tools import DatasetToolsError

#: How many examples (file:line and detail) each counted warning keeps.
MAX_EXAMPLES = 5


class RawDataError(DatasetToolsError):
    """The raw data is unusable; the message names the file, the line and the field."""


@dataclass
class CountedWarning:
    """All occurrences of one kind of problem: how many, what it means, a few examples."""

    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


class WarningLog:
    """Counts problems that are skipped or repaired instead of raising.

    Codes are short identifiers (``unknown_items``, ``missing.title``); each keeps its
    count and the first ``MAX_EXAMPLES`` examples, usually ``file:line: detail``.
    """

    def __init__(self) -> None:
        self._by_code: dict[str, CountedWarning] = {}

    def add(self, code: str, message: str, example: str | None = None, count: int = 1) -> None:
        entry = self._by_code.setdefault(code, CountedWarning(message))
        entry.count += count
        if example is not None and len(entry.examples) < MAX_EXAMPLES:
            entry.examples.append(example)

    def add_many(self, code: str, message: str, total: int, examples: list[str]) -> None:
        """Record ``total`` occurrences at once, keeping the first examples given."""
        for example in examples[:MAX_EXAMPLES]:
            self.add(code, message, example, count=0)
        self.add(code, message, count=total)

    def count(self, code: str) -> int:
        entry = self._by_code.get(code)
        return entry.count if entry else 0

    def __len__(self) -> int:
        return len(self._by_code)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {
            code: {"count": w.count, "message": w.message, "examples": list(w.examples)}
            for code, w in sorted(self._by_code.items())
        }

    def log_summary(self, log: logging.Logger, dataset: str) -> None:
        if not self._by_code:
            log.info("%s: no warnings", dataset)
            return
        total = sum(w.count for w in self._by_code.values())
        log.warning("%s: %d warning(s) of %d kind(s):", dataset, total, len(self._by_code))
        for code, w in sorted(self._by_code.items()):
            example = f" (e.g. {w.examples[0]})" if w.examples else ""
            log.warning("  %-28s %8d  %s%s", code, w.count, w.message, example)
