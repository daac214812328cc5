"""The training dataloader of ``train_rows: sequence``: RecBole's TrainDataLoader over sequence rows.

The rows (:mod:`recbole_hsuga.data.sequence_rows`) are put into a copy of RecBole's
training dataset, so batching, shuffling and RecBole's transforms (BERT4Rec's
``MaskItemSequence``) are RecBole's own. RecBole's negative sampling is switched off:
it draws one negative per row for the row's ``item_id``, while sequence rows need one per
position, which :func:`recbole_hsuga.position_loss.sample_negatives` draws in the
loss. Validation and test dataloaders are untouched.
"""

from __future__ import annotations

from typing import Any

import torch
from recbole.data.dataloader import TrainDataLoader
from recbole.data.interaction import Interaction
from recbole.model.sequential_recommender import BERT4Rec

from recbole_hsuga.data.sequence_rows import SequenceRows, build_rows
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.errors import InputError

#: Field of the ``[B, L]`` per-position targets (0 = no loss at that position).
TARGET_SEQ = "target_id_list"
#: Field of the ``[B]`` flag marking each user's most recent window.
LAST_WINDOW = "last_window"
#: Training-row layouts the ``train_rows`` key accepts.
TRAIN_ROWS = ("prefix", "sequence", "segment")
#: What ``train_batch_size`` may count on sequence rows (``train_batch_unit``).
BATCH_UNITS = ("prefix_rows", "rows")
#: Field of RecBole's masking transform: each masked slot's position (0 = no target).
MASK_INDEX = "MASK_INDEX"
#: Masks drawn for a batch before one with a counted target is given up on.
_MASK_DRAWS = 100
_NO_SAMPLING = {"distribution": "none", "sample_num": "none", "alpha": "none", "dynamic": False,
                "candidate_num": 0}


class WithoutRecBoleNegatives:
    """Mixed into a RecBole ``TrainDataLoader`` whose rows are not RecBole's prefix rows: RecBole's
    per-row negative sampling is switched off (losses that need negatives draw their own)."""

    def _set_neg_sample_args(self, config, dataset, dl_format, neg_sample_args):
        super()._set_neg_sample_args(config, dataset, dl_format, dict(_NO_SAMPLING))


def rows_per_batch(config: Any, n_rows: int, n_prefix_rows: int) -> int:
    """Sequence rows per training batch.

    With ``train_batch_unit: prefix_rows``, ``train_batch_size`` counts the prefix rows a
    batch of sequence rows stands for: ``round(train_batch_size * n_rows / n_prefix_rows)``,
    at least 1. A sequence row holds every target of its user window (about 5.4 on
    amazon-beauty), so counting rows instead (``rows``) makes each step average over that
    many times more targets and an epoch take that many times fewer steps; measured on
    amazon-beauty, that cost GRU4Rec 0.003 test NDCG@10, and SASRec and BERT4Rec nothing
    (benchmarks/notes/sequence-batch-amazon-beauty.md).

    Args:
        config: the run's config (``train_batch_size``, ``train_batch_unit``).
        n_rows: sequence rows of the epoch.
        n_prefix_rows: rows RecBole's prefix layout has for the same training targets.
    """
    unit = str(config["train_batch_unit"] or "prefix_rows").lower()
    if unit not in BATCH_UNITS:
        raise InputError(f"train_batch_unit must be one of {BATCH_UNITS}, got {config['train_batch_unit']!r}")
    batch_size = int(config["train_batch_size"])
    if unit == "rows":
        return batch_size
    return max(1, round(batch_size * n_rows / max(n_prefix_rows, 1)))


def rows_layout(model: Any) -> str:
    """``cloze`` for models trained by masking (their config sets ``transform: mask_itemseq``)."""
    return "cloze" if isinstance(model, BERT4Rec) else "causal"


class SequenceTrainDataLoader(WithoutRecBoleNegatives, TrainDataLoader):
    """Shuffled batches of sequence rows.

    Batches carry ``user_id [B]``, ``item_id_list [B, L]``, ``item_length [B]``,
    ``target_id_list [B, L]`` and ``last_window [B]`` (plus, for BERT4Rec, the fields its
    masking transform adds).

    Args:
        config: the run's RecBole config.
        train_dataset: RecBole's training split (its field names and item count are reused).
        rows: the rows to serve.
        shuffle: reshuffle the rows every epoch.

    ``train_batch_size`` is read through :func:`rows_per_batch`.
    """

    def __init__(self, config: Any, train_dataset: Any, rows: SequenceRows, shuffle: bool = True) -> None:
        self.rows = rows
        # RecBole's loader sizes its batches in its constructor, from this value.
        self.rows_per_batch = rows_per_batch(config, len(rows), len(train_dataset))
        item_seq = train_dataset.iid_field + config["LIST_SUFFIX"]
        fields = {
            train_dataset.uid_field: torch.from_numpy(rows.users),
            item_seq: torch.from_numpy(rows.inputs),
            config["ITEM_LIST_LENGTH_FIELD"]: torch.from_numpy(rows.lengths),
            TARGET_SEQ: torch.from_numpy(rows.targets),
            LAST_WINDOW: torch.from_numpy(rows.last_window),
        }
        super().__init__(config, train_dataset.copy(Interaction(fields)), None, shuffle=shuffle)

    def _init_batch_size_and_step(self):
        self.step = self.rows_per_batch
        self.set_batch_size(self.rows_per_batch)

    def collate_fn(self, index):
        batch = super().collate_fn(index)
        # RecBole's masking never counts a mask at position 0 (its padding index) as a target,
        # and BERT4Rec divides its loss by the targets it counts: a batch whose masks all fell
        # at position 0 is 0/0, a NaN that ends the run. Only a batch of a few rows can draw
        # that (measured: the 2-row last batch of an epoch at 46 rows per batch, after 13
        # epochs); drawing its masks again keeps every batch's loss defined.
        for _ in range(_MASK_DRAWS):
            if MASK_INDEX not in batch.interaction or bool((batch[MASK_INDEX] > 0).any()):
                break
            batch = super().collate_fn(index)
        return batch


def sequence_train_data(config: Any, train_data: Any, history: TrainingHistory, model: Any) -> SequenceTrainDataLoader:
    """Replace RecBole's prefix-row ``train_data`` by sequence rows of the same users."""
    layout = rows_layout(model)
    window = int(config["MAX_ITEM_LIST_LENGTH"])
    stride = int(config["train_window_stride"] or 0)
    if stride < 0 or stride > window:
        raise InputError(f"train_window_stride must be in [0, MAX_ITEM_LIST_LENGTH={window}], got {stride}")
    rows = build_rows(history, layout, window, stride)
    return SequenceTrainDataLoader(config, train_data._dataset, rows, shuffle=True)
