"""Sequence rows: one training row per user (per window), a target at every position.

RecBole's sequential datasets train on *prefix rows*: a user with training items
``s_1 .. s_n`` becomes ``n - 1`` rows ``(s_1..s_{k-1}) -> s_k``, each encoded on its own
and trained on its last position. A causal encoder (SASRec, GRU4Rec) sees the same
``(context, next item)`` examples when it reads ``s_1 .. s_{n-1}`` once and is trained at
every position ``j`` on the target ``s_{j+1}``: this module builds those rows.

Windows. A row holds at most ``L = MAX_ITEM_LIST_LENGTH`` input items. A user with
``m = n - 1 > L`` input positions gets several windows of ``L`` inputs that start
``stride`` apart, the last one aligned to the end of the sequence. Every target is
trained exactly once, in the first window that reaches it (positions of a window whose
targets an earlier window already owns get target 0, no loss), so a target outside the
first window keeps at least ``L - stride`` items of context; prefix rows give it ``L``.
Users whose inputs fit one window (95% of amazon-beauty users at ``L = 20``) get exactly
the examples of prefix mode.

Cloze rows (BERT4Rec) are the user's whole training sequence ``s_1 .. s_n`` (its last
item included: the bidirectional model predicts masked items, not the next one), cut into
consecutive windows of ``L`` from the end so that every item is in exactly one window;
RecBole's ``MaskItemSequence`` transform masks them as it masks prefix rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recbole_hsuga.data.training_history import TrainingHistory

#: Row layouts: ``causal`` (next item at every position) and ``cloze`` (masked items).
LAYOUTS = ("causal", "cloze")


@dataclass(frozen=True)
class SequenceRows:
    """Training rows as arrays, one row per (user, window).

    Attributes:
        users: ``[R]`` internal user ids.
        inputs: ``[R, L]`` input item ids, left-aligned, zero padded.
        lengths: ``[R]`` number of input items of each row (>= 1).
        targets: ``[R, L]`` target item at each position, 0 where the position has no loss
            (padding, or a target that an earlier window of the user already trains).
            All zero for ``cloze`` rows, whose targets are drawn by masking.
        last_window: ``[R]`` True for the row holding the user's most recent items; its
            last input position is the user's representation ``f(u)`` (GAA's student).
    """

    users: np.ndarray
    inputs: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray
    last_window: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


def window_starts(n_positions: int, window: int, stride: int) -> list[tuple[int, int]]:
    """``[(start, owned_from), ...]`` windows over ``n_positions`` input positions.

    Window ``w`` covers positions ``[start, start + window)`` (clipped to ``n_positions``)
    and trains the targets of positions ``[owned_from, start + window)``: the first
    window owns all of its positions, each later one those past the previous window's end.
    The last window ends at ``n_positions``.
    """
    if window < 1 or not 1 <= stride <= window:
        raise ValueError(f"need window >= 1 and 1 <= stride <= window, got window {window}, stride {stride}")
    if n_positions <= window:
        return [(0, 0)]
    windows = [(0, 0)]
    covered = window
    start = 0
    while covered < n_positions:
        start = min(start + stride, n_positions - window)
        windows.append((start, covered))
        covered = start + window
    return windows


def causal_rows(history: TrainingHistory, window: int, stride: int) -> SequenceRows:
    """Next-item rows: inputs ``s_1..s_{n-1}``, targets ``s_2..s_n`` (see the module docstring).

    Users with fewer than two training items have no training example and get no row.
    """
    users, inputs, lengths, targets, last = [], [], [], [], []
    for user in range(history.n_users):
        items = history.items_of(user)
        if len(items) < 2:
            continue
        source, goal = items[:-1], items[1:]
        spans = window_starts(len(source), window, stride)
        for index, (start, owned_from) in enumerate(spans):
            stop = min(start + window, len(source))
            row_inputs = np.zeros(window, dtype=np.int64)
            row_targets = np.zeros(window, dtype=np.int64)
            row_inputs[: stop - start] = source[start:stop]
            row_targets[owned_from - start : stop - start] = goal[owned_from:stop]
            users.append(user)
            inputs.append(row_inputs)
            lengths.append(stop - start)
            targets.append(row_targets)
            last.append(index == len(spans) - 1)
    return _as_rows(users, inputs, lengths, targets, last, window)


def cloze_rows(history: TrainingHistory, window: int) -> SequenceRows:
    """Masked-item rows: each user's training items in windows of ``window`` from the end."""
    users, inputs, lengths, targets, last = [], [], [], [], []
    for user in range(history.n_users):
        items = history.items_of(user)
        if len(items) < 1:
            continue
        ends = list(range(len(items), 0, -window))
        for index, end in enumerate(reversed(ends)):
            start = max(0, end - window)
            row_inputs = np.zeros(window, dtype=np.int64)
            row_inputs[: end - start] = items[start:end]
            users.append(user)
            inputs.append(row_inputs)
            lengths.append(end - start)
            targets.append(np.zeros(window, dtype=np.int64))
            last.append(index == len(ends) - 1)
    return _as_rows(users, inputs, lengths, targets, last, window)


def _as_rows(users, inputs, lengths, targets, last, window: int) -> SequenceRows:
    if not users:
        empty = np.zeros((0, window), dtype=np.int64)
        return SequenceRows(np.zeros(0, np.int64), empty, np.zeros(0, np.int64), empty.copy(), np.zeros(0, bool))
    return SequenceRows(
        users=np.asarray(users, dtype=np.int64),
        inputs=np.stack(inputs),
        lengths=np.asarray(lengths, dtype=np.int64),
        targets=np.stack(targets),
        last_window=np.asarray(last, dtype=bool),
    )


def build_rows(history: TrainingHistory, layout: str, window: int, stride: int = 0) -> SequenceRows:
    """Rows of ``layout`` (``causal`` | ``cloze``); ``stride`` 0 means half the window."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if layout == "cloze":
        return cloze_rows(history, window)
    return causal_rows(history, window, stride or max(1, window // 2))
