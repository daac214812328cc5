"""The training dataloader of ``train_rows: segment``: one random segment per user per epoch.

ISRF's released trainer (and the P5/ELMRec code it builds on) does not walk every prefix of
a user's history: each pass over the users draws one segment of the user's training items
(a start uniform over the items that leave at least one target after it, then an end
uniform after the start), and the segment's last item is the target of the items before
it. An epoch therefore holds one row per user: about 5.9x fewer rows than RecBole's prefix
rows on amazon-beauty (22,363 against 131,413), with shorter inputs on average.

Where histories are long, one segment per user makes an epoch a handful of steps (MovieLens-100K:
943 rows, 15 batches of 64), and an early-stopping patience counted in epochs then stops a run
that is still improving. ``train_segments_per_user`` draws that many independent segments per
user per epoch, so an epoch can be sized like the release's epochs on its own datasets.

The rows have the fields of prefix rows (``user_id``, ``item_id_list`` left-aligned,
``item_length``, ``item_id``), so every prefix-row model trains on them unchanged. They are
drawn again for each epoch from ``(seed, epoch)``: a run resumed at epoch ``e`` trains on
the segments an uninterrupted run would have drawn. RecBole's negative sampling is off
(the row's loss is the model's own over the catalogue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from recbole.data.dataloader import TrainDataLoader
from recbole.data.interaction import Interaction

from recbole_hsuga.data.sequence_loader import WithoutRecBoleNegatives
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.errors import InputError


@dataclass(frozen=True)
class SegmentRows:
    """Training rows: ``per_user`` segments of each user with at least two training items.

    Attributes:
        users: ``[R]`` internal user ids.
        inputs: ``[R, L]`` the segment's items before its last, left-aligned, zero padded
            (the last ``L`` of them where the segment is longer).
        lengths: ``[R]`` input items of each row (``1 <= length <= L``).
        targets: ``[R]`` the segment's last item.
    """

    users: np.ndarray
    inputs: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


def sample_segments(history: TrainingHistory, window: int, rng: np.random.Generator,
                    per_user: int = 1) -> SegmentRows:
    """``per_user`` independent random segments of each user's training items.

    For a user with training items ``s_0 .. s_{n-1}`` (``n >= 2``): ``start`` uniform in
    ``[0, n - 2]``, ``end`` uniform in ``[start + 1, n - 1]``; inputs ``s_start .. s_{end-1}``
    (the last ``window`` of them), target ``s_end``. Users with fewer than two training items
    have no row (as they have no prefix row).
    """
    counts = history.user_counts()
    users = np.repeat(np.flatnonzero(counts >= 2), per_user)
    n = counts[users]
    start = rng.integers(0, n - 1)  # high is exclusive: [0, n - 2]
    end = start + 1 + rng.integers(0, n - 1 - start)  # [start + 1, n - 1]
    lengths = np.minimum(end - start, window)
    offsets = history.indptr[users]
    # Row r reads items[offsets[r] + end[r] - lengths[r] + j] for j < lengths[r].
    columns = np.arange(window)
    first = offsets + end - lengths
    positions = first[:, None] + columns[None, :]
    inside = columns[None, :] < lengths[:, None]
    inputs = np.where(inside, history.items[np.where(inside, positions, 0)], 0)
    targets = history.items[offsets + end]
    return SegmentRows(users.astype(np.int64), inputs.astype(np.int64), lengths.astype(np.int64),
                       targets.astype(np.int64))


class SegmentTrainDataLoader(WithoutRecBoleNegatives, TrainDataLoader):
    """Shuffled batches of random segments (``train_segments_per_user`` per user), drawn again every epoch.

    Batches carry ``user_id [B]``, ``item_id_list [B, L]``, ``item_length [B]`` and
    ``item_id [B]``, as prefix rows do. ``train_batch_size`` counts rows.

    Args:
        config: the run's RecBole config (``MAX_ITEM_LIST_LENGTH``, ``seed``).
        train_dataset: RecBole's training split (its field names are reused).
        history: each user's training items.
        shuffle: reshuffle the rows every epoch.
    """

    def __init__(self, config: Any, train_dataset: Any, history: TrainingHistory, shuffle: bool = True) -> None:
        self.history = history
        self.window = int(config["MAX_ITEM_LIST_LENGTH"])
        self.seed = int(config["seed"] or 0)
        per_user = config["train_segments_per_user"]
        self.per_user = 1 if per_user is None else int(per_user)
        if self.per_user < 1:
            raise InputError(f"train_segments_per_user must be at least 1, got {config['train_segments_per_user']!r}")
        self.epoch = 0
        rows = sample_segments(history, self.window, self._rng(0), self.per_user)
        if not len(rows):
            raise InputError("train_rows: segment: no user has two training items")
        self._fields = (train_dataset.uid_field, train_dataset.iid_field + config["LIST_SUFFIX"],
                        config["ITEM_LIST_LENGTH_FIELD"], train_dataset.iid_field)
        super().__init__(config, train_dataset.copy(Interaction(self._as_fields(rows))), None, shuffle=shuffle)

    def _rng(self, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch])

    def _as_fields(self, rows: SegmentRows) -> dict[str, torch.Tensor]:
        arrays = (rows.users, rows.inputs, rows.lengths, rows.targets)
        return {name: torch.from_numpy(array) for name, array in zip(self._fields, arrays)}

    def set_epoch(self, epoch: int) -> None:
        """Serve epoch ``epoch``'s segments (the same users, so the same number of rows)."""
        if epoch == self.epoch:
            return
        rows = sample_segments(self.history, self.window, self._rng(epoch), self.per_user)
        for name, values in self._as_fields(rows).items():
            self._dataset.inter_feat.interaction[name] = values
        self.epoch = epoch
