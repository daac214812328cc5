"""Preprocessing steps between reading and writing, each counted in the report.

Order (fixed; every step is off or neutral by default except ``min_user_length: 3``):

1. ``rating_threshold``: keep interactions whose rating is >= the threshold.
2. ``duplicates``: ``keep_all`` or ``keep_first`` - for each (user, item) pair only the
   earliest interaction (smallest time; equal times: the first in the file).
3. k-core (``k_core_users``, ``k_core_items``): in each round the users with fewer than
   ``k_core_users`` interactions and the items with fewer than ``k_core_items`` are
   counted on the current data and all their interactions removed at once; rounds repeat
   until none is below its minimum (or ``k_core_rounds`` rounds ran: ``1`` is the
   single-pass filter of LLM-ESR's preprocessing). The fixed point does not depend on the
   removal order: it is the largest subset in which every user and item meets its minimum.
4. ``min_user_length``: users with fewer interactions are dropped (items are not filtered
   again, as in LLM-ESR).
5. order: users in order of their first written interaction in the file (``user_order:
   first_kept``) or of their first interaction that passed the rating threshold
   (``first_seen``); a user's interactions by time, **ties in file order** (a stable
   sort on the time value).
6. ``id_mapping``: ``keep`` the source ids, or ``first_appearance``: users 1, 2, ... in
   the written order and items 1, 2, ... in order of first appearance along the written
   rows (S3-Rec's numbering).

The written timestamp is the source time (``timestamps: source``; the line number for
the raw layout) or the global row number (``timestamps: row``). Either way the rows are
written in the order of step 5, and RecBole's stable sort by time keeps that order.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dataset_tools.prepare.filter import KeptInteractions
from dataset_tools.prepare.problems import MAX_EXAMPLES, RawDataError, WarningLog
from dataset_tools.prepare.read import Interactions
from dataset_tools.spec_preprocess import PreprocessSpec

logger = logging.getLogger(__name__)


@dataclass
class Preprocessed:
    """The rows to write and what each step removed.

    Attributes:
        kept: the rows (indices into the read :class:`Interactions`) in written order,
            with the items they use and the dropped users.
        users, items: the written user and item id of each row of ``kept.rows``.
        timestamps: the written timestamp of each row.
        item_ids: source item id -> written id (identity for ``id_mapping: keep``).
        steps: one report entry per step, in order.
    """

    kept: KeptInteractions
    users: list[str]
    items: list[str]
    timestamps: list[float]
    item_ids: dict[str, str]
    steps: list[dict[str, Any]] = field(default_factory=list)


def summary(inter: Interactions, rows: list[int]) -> dict[str, int]:
    """Users, items and interactions among ``rows``."""
    return {
        "users": len({inter.users[k] for k in rows}),
        "items": len({inter.items[k] for k in rows}),
        "interactions": len(rows),
    }


def apply_rating_threshold(inter: Interactions, rows: list[int], threshold: float) -> list[int]:
    """Rows whose rating is >= ``threshold``."""
    ratings = inter.ratings
    assert ratings is not None, "the reader must read ratings when a threshold is set"
    return [k for k in rows if ratings[k] >= threshold]


def drop_repeated_pairs(inter: Interactions, rows: list[int]) -> list[int]:
    """``keep_first``: for each (user, item), the row with the smallest (time, file position)."""
    times = inter.timestamps
    assert times is not None
    best: dict[tuple[str, str], int] = {}
    for k in rows:
        pair = (inter.users[k], inter.items[k])
        current = best.get(pair)
        if current is None or times[k] < times[current]:
            best[pair] = k
    keep = set(best.values())
    return [k for k in rows if k in keep]


def count_repeated_pairs(inter: Interactions, rows: list[int]) -> int:
    """Rows repeating an earlier (user, item) pair."""
    return len(rows) - len({(inter.users[k], inter.items[k]) for k in rows})


def k_core(
    inter: Interactions, rows: list[int], k_users: int, k_items: int, max_rounds: int | None
) -> tuple[list[int], list[dict[str, int]], bool]:
    """Iterative k-core on users and items.

    Returns:
        (remaining rows in file order, one report per round that removed something,
        whether the result is a k-core: False only when ``max_rounds`` stopped it early).
    """
    rounds: list[dict[str, int]] = []
    while True:
        user_counts = Counter(inter.users[k] for k in rows)
        item_counts = Counter(inter.items[k] for k in rows)
        low_users = {u for u, n in user_counts.items() if n < k_users}
        low_items = {i for i, n in item_counts.items() if n < k_items}
        if not low_users and not low_items:
            return rows, rounds, True
        if max_rounds is not None and len(rounds) >= max_rounds:
            return rows, rounds, False
        kept = [k for k in rows if inter.users[k] not in low_users and inter.items[k] not in low_items]
        after = summary(inter, kept)
        rounds.append({
            "round": len(rounds) + 1,
            "users_below_k": len(low_users),
            "items_below_k": len(low_items),
            "interactions_removed": len(rows) - len(kept),
            "users_left": after["users"],
            "items_left": after["items"],
            "interactions_left": after["interactions"],
        })
        rows = kept


def drop_short_users(
    inter: Interactions, rows: list[int], min_length: int, warnings: WarningLog
) -> tuple[list[int], set[str]]:
    """Drop users with fewer than ``min_length`` rows; each is a counted warning (``short_users_dropped``)."""
    lengths = Counter(inter.users[k] for k in rows)
    short = {u for u, n in lengths.items() if n < min_length}
    if short:
        first_line: dict[str, int] = {}
        for k in rows:
            u = inter.users[k]
            if u in short and u not in first_line:
                first_line[u] = inter.line_numbers[k]
        warnings.add_many(
            "short_users_dropped",
            f"user has fewer than min_user_length={min_length} interactions; dropped",
            len(short),
            [f"{inter.path}:{first_line[u]}: user {u} has {lengths[u]}"
             for u in sorted(short, key=first_line.__getitem__)[:MAX_EXAMPLES]],
        )
    return [k for k in rows if inter.users[k] not in short], short


def time_order(
    inter: Interactions, rows: list[int], first_seen: dict[str, int] | None = None
) -> tuple[list[int], dict[str, int]]:
    """Users by first row in the file; each user's rows by time, ties in file order.

    Args:
        first_seen: user -> file position that orders the users; default: the user's
            first row among ``rows``.

    Returns:
        (ordered rows, tie statistics: rows whose time equals the previous row's of the
        same user, and the users with such ties).
    """
    times = inter.timestamps
    assert times is not None
    by_user: dict[str, list[int]] = {}
    for k in rows:  # rows are in file order, so dict order = first appearance
        by_user.setdefault(inter.users[k], []).append(k)
    ordered: list[int] = []
    tied_rows = 0
    tied_users = 0
    users = list(by_user)
    if first_seen is not None:
        users.sort(key=first_seen.__getitem__)
    for user in users:
        user_rows = by_user[user]
        user_rows.sort(key=lambda k: times[k])  # stable: equal times keep file order
        ties = sum(1 for a, b in zip(user_rows, user_rows[1:]) if times[a] == times[b])
        tied_rows += ties
        tied_users += ties > 0
        ordered.extend(user_rows)
    return ordered, {"tied_rows": tied_rows, "users_with_ties": tied_users}


def preprocess(inter: Interactions, spec: PreprocessSpec, warnings: WarningLog, spec_source: str) -> Preprocessed:
    """Run the steps of ``spec`` on the interactions as read.

    Raises:
        RawDataError: a step leaves no interaction (naming the step and the spec).
    """
    rows = list(range(len(inter.users)))
    steps: list[dict[str, Any]] = [{"step": "read", "after": summary(inter, rows)}]

    def record(step: dict[str, Any], before: int, rows_now: list[int]) -> None:
        step["removed_interactions"] = before - len(rows_now)
        step["after"] = summary(inter, rows_now)
        steps.append(step)
        logger.info("step %-16s removed %d interactions; %s", step["step"], step["removed_interactions"], step["after"])
        if not rows_now:
            raise RawDataError(
                f"{inter.path}: no interaction is left after step {step['step']} (settings in {spec_source})"
            )

    if spec.rating_threshold is not None:
        before = len(rows)
        rows = apply_rating_threshold(inter, rows, spec.rating_threshold)
        record({"step": "rating_threshold", "keep_rating_at_least": spec.rating_threshold}, before, rows)

    first_seen: dict[str, int] = {}
    if spec.user_order == "first_seen":
        for k in rows:
            first_seen.setdefault(inter.users[k], k)

    before = len(rows)
    repeated = count_repeated_pairs(inter, rows)
    if spec.duplicates == "keep_first":
        rows = drop_repeated_pairs(inter, rows)
    record({"step": "duplicates", "policy": spec.duplicates, "repeated_pairs_found": repeated}, before, rows)

    if spec.k_core_users > 1 or spec.k_core_items > 1:
        before = len(rows)
        rows, rounds, is_core = k_core(inter, rows, spec.k_core_users, spec.k_core_items, spec.k_core_rounds)
        for r in rounds:
            logger.info("k-core round %d: %d users and %d items below k, %d interactions removed; "
                        "left %d users, %d items, %d interactions", r["round"], r["users_below_k"],
                        r["items_below_k"], r["interactions_removed"], r["users_left"], r["items_left"],
                        r["interactions_left"])
        record({"step": "k_core", "k_users": spec.k_core_users, "k_items": spec.k_core_items,
                "max_rounds": spec.k_core_rounds, "rounds": rounds, "is_k_core": is_core}, before, rows)
        if not is_core:
            warnings.add("k_core_incomplete", f"k_core_rounds={spec.k_core_rounds} stopped the k-core filter "
                         "while users or items were still below their minimum (as the spec asks)")

    before = len(rows)
    try:
        rows, short = drop_short_users(inter, rows, spec.min_user_length, warnings)
        record({"step": "min_user_length", "min_user_length": spec.min_user_length, "removed_users": len(short)},
               before, rows)
    except RawDataError:
        raise RawDataError(
            f"{inter.path}: no user has at least min_user_interactions={spec.min_user_length} "
            f"interactions (set in {spec_source})"
        ) from None

    rows, ties = time_order(inter, rows, first_seen if spec.user_order == "first_seen" else None)
    steps.append({"step": "order", "users": spec.user_order, "within_user": "time, ties in file order", **ties})

    user_ids, item_ids = _id_maps(inter, rows, spec.id_mapping)
    steps.append({"step": "id_mapping", "mode": spec.id_mapping})
    users = [user_ids[inter.users[k]] for k in rows]
    items = [item_ids[inter.items[k]] for k in rows]
    times = inter.timestamps
    assert times is not None
    stamps = list(range(1, len(rows) + 1)) if spec.timestamps == "row" else [_number(times[k]) for k in rows]

    raw_lengths = Counter(inter.users)
    kept_users = set(inter.users[k] for k in rows)
    kept = KeptInteractions(
        rows=rows,
        items=list(dict.fromkeys(inter.items[k] for k in rows)),
        raw_user_lengths=raw_lengths,
        dropped_users={u for u in raw_lengths if u not in kept_users},
    )
    return Preprocessed(kept, users, items, stamps, item_ids, steps)


def _number(value: float) -> float | int:
    """Whole numbers as int, so the ``.inter`` shows ``1252800000``, not ``1252800000.0``."""
    return int(value) if float(value).is_integer() else value


def _id_maps(inter: Interactions, rows: list[int], mode: str) -> tuple[dict[str, str], dict[str, str]]:
    users: dict[str, str] = {}
    items: dict[str, str] = {}
    for k in rows:
        users.setdefault(inter.users[k], "")
        items.setdefault(inter.items[k], "")
    if mode == "first_appearance":
        return ({u: str(n) for n, u in enumerate(users, start=1)},
                {i: str(n) for n, i in enumerate(items, start=1)})
    return {u: u for u in users}, {i: i for i in items}
