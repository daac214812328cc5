"""The preprocessing part of a ``prepare:`` section, and the statistics a spec expects.

Steps run in a fixed order (``dataset_tools/prepare/preprocess.py``):
``rating_threshold`` -> ``duplicates`` -> k-core (``k_core_users``, ``k_core_items``,
``k_core_rounds``) -> ``min_user_length`` -> order (``user_order``; a user's interactions
by time, ties in file order) -> ``id_mapping``. ``expected`` states the statistics a paper reports; ``prepare`` compares
the prepared dataset with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DUPLICATE_POLICIES = ("keep_all", "keep_first")
ID_MAPPINGS = ("keep", "first_appearance")
USER_ORDERS = ("first_kept", "first_seen")
TIMESTAMP_OUTPUTS = ("source", "row")
ON_MISMATCH = ("warn", "fail")
EXPECTED_COUNTS = ("users", "items", "interactions")


@dataclass(frozen=True)
class ExpectedStats:
    """Statistics a spec expects of the prepared dataset (from the paper it reproduces).

    Attributes:
        counts: some of ``users``, ``items``, ``interactions`` -> the stated number.
        on_mismatch: ``warn`` (log and report) or ``fail`` (stop, write nothing).
        source: where the numbers come from, for the report.
    """

    counts: Mapping[str, int]
    on_mismatch: str = "warn"
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self.counts, "on_mismatch": self.on_mismatch, "source": self.source}


@dataclass(frozen=True)
class PreprocessSpec:
    """The validated preprocessing settings (each with the behaviour of the raw layout as default).

    Attributes:
        rating_threshold: keep interactions whose rating is >= this (None: keep all).
        duplicates: ``keep_all`` or ``keep_first`` (the earliest interaction of a
            (user, item) pair; ties in time: the first in the file).
        k_core_users: iterative k-core, minimum interactions per user (0: off).
        k_core_items: iterative k-core, minimum interactions per item (0: off).
        k_core_rounds: at most this many filtering rounds (None: until no user or item is
            below its minimum; 1 is the single-pass filter some papers use).
        min_user_length: users with fewer interactions are dropped after the k-core
            (items are not filtered again).
        user_order: users are written in the order of their first interaction in the
            file that is written (``first_kept``, as LLM-ESR's filter builds its user
            dict) or that passed the rating threshold (``first_seen``, as S3-Rec's dict
            is built while reading); they differ only when the k-core removes a user's
            first interaction but not all of them.
        id_mapping: ``keep`` the source ids or number users and items 1, 2, ... in order
            of first appearance in the written file.
        timestamps: ``source`` writes the raw time value (the line number for the raw
            layout); ``row`` writes the global row number, so no two rows tie.
        expected: the statistics to check, or None.
    """

    rating_threshold: float | None = None
    duplicates: str = "keep_all"
    k_core_users: int = 0
    k_core_items: int = 0
    k_core_rounds: int | None = None
    min_user_length: int = 3
    user_order: str = "first_kept"
    id_mapping: str = "keep"
    timestamps: str = "source"
    expected: ExpectedStats | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rating_threshold": self.rating_threshold,
            "duplicates": self.duplicates,
            "k_core_users": self.k_core_users,
            "k_core_items": self.k_core_items,
            "k_core_rounds": self.k_core_rounds,
            "min_user_length": self.min_user_length,
            "user_order": self.user_order,
            "id_mapping": self.id_mapping,
            "timestamps": self.timestamps,
            "expected": self.expected.to_dict() if self.expected is not None else None,
        }


#: Keys of ``prepare:`` that :func:`parse_preprocess` reads (``min_user_interactions`` is
#: the older name of ``min_user_length``).
PREPROCESS_KEYS = {
    "rating_threshold", "duplicates", "k_core_users", "k_core_items", "k_core_rounds",
    "min_user_length", "min_user_interactions", "user_order", "id_mapping", "timestamps", "expected",
}
_EXPECTED_KEYS = set(EXPECTED_COUNTS) | {"on_mismatch", "source"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_preprocess(section: Mapping[str, Any], fail: Callable[[str, str], Exception]) -> PreprocessSpec:
    """Validate the preprocessing keys of a ``prepare:`` mapping (defaults filled in).

    Raises:
        the exception ``fail`` builds for ``(key path, message)``.
    """
    d = PreprocessSpec()

    threshold = section.get("rating_threshold", d.rating_threshold)
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise fail("prepare.rating_threshold", f"must be a number or null, got {threshold!r}")

    duplicates = section.get("duplicates", d.duplicates)
    if duplicates not in DUPLICATE_POLICIES:
        raise fail("prepare.duplicates", f"must be one of {', '.join(DUPLICATE_POLICIES)}, got {duplicates!r}")

    k_values = {}
    for key in ("k_core_users", "k_core_items"):
        value = section.get(key, getattr(d, key))
        if not _is_int(value) or value < 0:
            raise fail(f"prepare.{key}", f"must be an integer >= 0 (0 = off), got {value!r}")
        k_values[key] = value
    rounds = section.get("k_core_rounds", d.k_core_rounds)
    if rounds is not None and (not _is_int(rounds) or rounds < 1):
        raise fail("prepare.k_core_rounds", f"must be an integer >= 1 or null (until stable), got {rounds!r}")

    if "min_user_length" in section and "min_user_interactions" in section:
        raise fail("prepare.min_user_interactions", "give min_user_length only (min_user_interactions is its old name)")
    key = "min_user_interactions" if "min_user_interactions" in section else "min_user_length"
    min_len = section.get(key, d.min_user_length)
    if not _is_int(min_len) or min_len < 1:
        raise fail(f"prepare.{key}", f"must be an integer >= 1, got {min_len!r}")

    user_order = section.get("user_order", d.user_order)
    if user_order not in USER_ORDERS:
        raise fail("prepare.user_order", f"must be one of {', '.join(USER_ORDERS)}, got {user_order!r}")
    id_mapping = section.get("id_mapping", d.id_mapping)
    if id_mapping not in ID_MAPPINGS:
        raise fail("prepare.id_mapping", f"must be one of {', '.join(ID_MAPPINGS)}, got {id_mapping!r}")
    timestamps = section.get("timestamps", d.timestamps)
    if timestamps not in TIMESTAMP_OUTPUTS:
        raise fail("prepare.timestamps", f"must be one of {', '.join(TIMESTAMP_OUTPUTS)}, got {timestamps!r}")

    return PreprocessSpec(
        rating_threshold=float(threshold) if threshold is not None else None,
        duplicates=duplicates,
        k_core_users=k_values["k_core_users"],
        k_core_items=k_values["k_core_items"],
        k_core_rounds=rounds,
        min_user_length=min_len,
        user_order=user_order,
        id_mapping=id_mapping,
        timestamps=timestamps,
        expected=_parse_expected(section.get("expected"), fail),
    )


def _parse_expected(value: Any, fail: Callable[[str, str], Exception]) -> ExpectedStats | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise fail("prepare.expected", f"must be a mapping (users, items, interactions, on_mismatch), got {value!r}")
    unknown = sorted(set(map(str, value)) - _EXPECTED_KEYS)
    if unknown:
        raise fail(f"prepare.expected.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_EXPECTED_KEYS))})")
    counts = {}
    for name in EXPECTED_COUNTS:
        if name in value:
            number = value[name]
            if not _is_int(number) or number < 0:
                raise fail(f"prepare.expected.{name}", f"must be an integer >= 0, got {number!r}")
            counts[name] = number
    if not counts:
        raise fail("prepare.expected", f"state at least one of {', '.join(EXPECTED_COUNTS)}")
    on_mismatch = value.get("on_mismatch", "warn")
    if on_mismatch not in ON_MISMATCH:
        raise fail("prepare.expected.on_mismatch", f"must be one of {', '.join(ON_MISMATCH)}, got {on_mismatch!r}")
    source = value.get("source", "")
    if not isinstance(source, str):
        raise fail("prepare.expected.source", f"must be a string, got {source!r}")
    return ExpectedStats(counts=counts, on_mismatch=on_mismatch, source=source)
