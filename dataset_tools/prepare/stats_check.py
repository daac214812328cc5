"""The statistics check: the prepared dataset against the numbers a paper states.

A spec's ``prepare.expected`` gives some of ``users``, ``items``, ``interactions``. After
preprocessing, :func:`check_statistics` compares them with the final counts; on a
mismatch it also names the steps whose counts do match (e.g. a paper that counted items
before its last filter), logs a warning, and - with ``on_mismatch: fail`` or
``prepare --stats-check fail`` - stops before anything is written.
"""

from __future__ import annotations

import logging
from typing import Any

from dataset_tools import DatasetToolsError
from dataset_tools.spec_preprocess import ExpectedStats

logger = logging.getLogger(__name__)


class StatisticsMismatch(DatasetToolsError):
    """The prepared dataset's counts differ from the spec's ``expected`` ones (``on_mismatch: fail``)."""


def check_statistics(
    expected: ExpectedStats | None,
    final: dict[str, int],
    steps: list[dict[str, Any]],
    name: str,
    spec_source: str,
    on_mismatch: str | None = None,
) -> dict[str, Any] | None:
    """Compare ``final`` counts with ``expected``.

    Args:
        final: ``users``, ``items``, ``interactions`` of the prepared dataset.
        steps: the preprocessing report (each step's ``after`` counts).
        on_mismatch: overrides the spec's ``on_mismatch`` (``warn`` or ``fail``) when given.

    Returns:
        The check for the report (None without ``expected``): expected and actual counts,
        ``ok``, the differences, and the steps whose counts match the expected ones.

    Raises:
        StatisticsMismatch: counts differ and the policy is ``fail``.
    """
    if expected is None:
        return None
    policy = on_mismatch or expected.on_mismatch
    actual = {key: final[key] for key in expected.counts}
    differences = {
        key: {"expected": number, "actual": final[key], "difference": final[key] - number}
        for key, number in expected.counts.items()
        if final[key] != number
    }
    matching_steps = [
        step["step"] for step in steps
        if "after" in step and all(step["after"][key] == number for key, number in expected.counts.items())
    ]
    check = {
        "expected": dict(expected.counts),
        "actual": actual,
        "ok": not differences,
        "differences": differences,
        "steps_matching_expected": matching_steps,
        "on_mismatch": policy,
        "source": expected.source,
    }
    if not differences:
        logger.info("%s: statistics match the expected ones (%s)", name,
                    ", ".join(f"{k} {v:,}" for k, v in expected.counts.items()))
        return check
    text = "; ".join(f"{key} {d['actual']:,} instead of {d['expected']:,} ({d['difference']:+,})"
                     for key, d in differences.items())
    hint = (f"; the counts after step(s) {', '.join(matching_steps)} match" if matching_steps
            else "; no step's counts match")
    message = f"{name}: statistics differ from prepare.expected in {spec_source}: {text}{hint}"
    if policy == "fail":
        raise StatisticsMismatch(message + " (nothing written; --stats-check warn writes the files anyway)")
    logger.warning("%s", message)
    return check
