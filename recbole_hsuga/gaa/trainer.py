"""GAATrainer: RecBole training with GAA's self-distillation term (paper Eq. 8).

    L = L_rank + gaa_alpha * L_SD

with ``L_SD`` on the scale ``gaa_sd_reduction`` picks (:mod:`recbole_hsuga.gaa.loss`: ``mean``
over dimensions by default, as the reference code computes it, so the paper's alpha grid
applies; ``sum`` is Eq. 4 as printed).

Once per run, in :meth:`GAATrainer.fit`, the group-aware neighbour sets are computed from
the **training** interactions only (:class:`~recbole_hsuga.data.training_history.TrainingHistory`,
the same counts that define the evaluator's head/tail users) and cached under
``<checkpoint_dir>/gaa_cache/``.

Cost model (why an epoch does not get K times slower):

- student: ``f(u)`` of each training row comes out of the same backbone pass as the
  ranking loss (``model.ranking_loss_and_representation``), no extra forward (BERT4Rec's
  masked input is not ``f(u)``: it encodes a ``gaa_student_fraction`` of the rows again);
- teacher (``gaa_teacher_detach: true``, the default): a ``[n_users, H]`` table of ``f(v)``
  on each neighbour's full training sequence, recomputed under ``no_grad`` in eval mode at
  the start of every epoch and, with ``gaa_teacher_refresh_steps: N``, after every ``N``
  training steps; one forward per user that is somebody's neighbour, whatever K, and the
  per-batch mean over neighbours is a gather + ``index_add``. A table refreshed only per
  epoch is a whole epoch stale, and in the first epoch it holds the untrained model's
  representations;
- ``gaa_teacher_detach: false`` lets gradients flow into the teacher: the batch's distinct
  neighbours are encoded again *with* gradients every step, so this mode does cost more
  (bounded by the number of distinct neighbours per batch).

``gaa: false`` makes this exactly the parent trainer (HSU fusion only).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch

from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.gaa.loss import REDUCTIONS, NeighbourCSR, self_distillation_loss
from recbole_hsuga.gaa.neighbours import GAAParams, NeighbourSets, build_neighbour_sets
from recbole_hsuga.trainer import HeadTailTrainer


def _flag(value: Any, default: bool) -> bool:
    return default if value is None else bool(value)


def gaa_params_from_config(config: Any) -> GAAParams:
    """The ``gaa_*`` keys of a RecBole config as :class:`GAAParams` (validated there)."""
    return GAAParams(
        k_active=int(config["gaa_k_active"]),
        k_longtail=int(config["gaa_k_longtail"]),
        active_ratio=float(config["gaa_active_ratio"]),
        pearson_percentile=float(config["gaa_pearson_percentile"]),
        group_aware=_flag(config["gaa_group_aware"], True),
        active_filter=_flag(config["gaa_active_filter"], True),
    )


def last_items(history: TrainingHistory, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's full training sequence, cut to its last ``max_length`` items.

    Returns:
        ``item_seq [n_users, max_length]`` (left-aligned, zero padded, time order) and
        ``item_seq_len [n_users]`` (0 for users without training items).
    """
    counts = history.user_counts()
    lengths = np.minimum(counts, max_length)
    start = history.indptr[1:] - lengths  # keep the most recent items
    positions = start[:, None] + np.arange(max_length)[None, :]
    inside = np.arange(max_length)[None, :] < lengths[:, None]
    safe = np.clip(positions, 0, max(len(history.items) - 1, 0))
    items = history.items[safe] if len(history.items) else np.zeros_like(safe)
    return np.where(inside, items, 0).astype(np.int64), lengths.astype(np.int64)


class GAATrainer(HeadTailTrainer):
    """HeadTailTrainer + GAA self-distillation; used by every HSUGA model (``trainer_class``)."""

    def __init__(self, config: Any, model: Any) -> None:
        super().__init__(config, model)
        self.gaa_enabled = _flag(config["gaa"], False)
        self.gaa_alpha = float(config["gaa_alpha"] if config["gaa_alpha"] is not None else 0.0)
        self.gaa_teacher_detach = _flag(config["gaa_teacher_detach"], True)
        self.gaa_teacher_refresh_steps = int(config["gaa_teacher_refresh_steps"] or 0)
        if self.gaa_teacher_refresh_steps < 0:
            raise ValueError(f"gaa_teacher_refresh_steps must be >= 0 (0: once per epoch), "
                             f"got {config['gaa_teacher_refresh_steps']!r}")
        self._steps_since_refresh = 0
        self.gaa_sd_reduction = str(config["gaa_sd_reduction"] or "mean").lower()
        if self.gaa_sd_reduction not in REDUCTIONS:
            raise ValueError(f"gaa_sd_reduction must be one of {REDUCTIONS}, got {config['gaa_sd_reduction']!r}")
        self.neighbour_sets: NeighbourSets | None = None
        self._neighbours: NeighbourCSR | None = None
        self._teacher_table: torch.Tensor | None = None
        self._teacher_users: torch.Tensor | None = None
        self._teacher_seq: torch.Tensor | None = None  # [n_users, L], row = user id
        self._teacher_len: torch.Tensor | None = None  # [n_users]
        #: seconds spent per epoch on teacher refreshes (the only extra GAA passes).
        self.gaa_teacher_seconds: list[float] = []
        self.gaa_epoch_seconds: list[float] = []
        if self.gaa_enabled:
            gaa_params_from_config(config)  # fail at construction on a bad gaa_* value
            if not hasattr(model, "ranking_loss_and_representation"):
                raise TypeError(f"gaa: true needs an HSUGA model (with ranking_loss_and_representation), "
                                f"got {type(model).__name__}")
            if not model.semantic_fusion.loaded:
                raise ValueError("gaa: true needs the user semantic vectors (semantic_suffix)")

    # ------------------------------------------------------------------ setup
    def fit(self, train_data, valid_data=None, *args, **kwargs):
        if self.gaa_enabled:
            if self.training_history is None:
                if valid_data is None:
                    raise ValueError("GAA needs the validation dataloader to recover each user's first training "
                                     "item; call fit(train_data, valid_data) or set_training_history() first")
                self.training_history = TrainingHistory.from_dataloaders(train_data, valid_data)
            self.prepare_gaa(self.training_history)
        return super().fit(train_data, valid_data, *args, **kwargs)

    def prepare_gaa(self, history: TrainingHistory) -> NeighbourSets:
        """Compute (or load from the cache) the neighbour sets and the teacher sequences."""
        semantic = self.model.semantic_fusion
        vectors = semantic.semantic_table.cpu().numpy()
        has_vector = semantic.has_vector.cpu().numpy()
        if history.n_users != vectors.shape[0]:
            raise ValueError(f"training history has {history.n_users} users, the semantic table {vectors.shape[0]}")
        train_users, train_items = history.user_item_pairs()
        cache_dir = os.path.join(self.config["checkpoint_dir"], "gaa_cache")
        sets = build_neighbour_sets(vectors, has_vector, history.user_counts(), train_users, train_items,
                                    history.n_items, gaa_params_from_config(self.config), cache_dir=cache_dir)
        self.neighbour_sets = sets
        self._neighbours = NeighbourCSR.from_numpy(sets.indptr, sets.indices, device=self.device)
        item_seq, item_seq_len = last_items(history, int(self.config["MAX_ITEM_LIST_LENGTH"]))
        self._teacher_seq = torch.from_numpy(item_seq).to(self.device)
        self._teacher_len = torch.from_numpy(item_seq_len).to(self.device)
        # Only users that are somebody's neighbour need a teacher representation.
        self._teacher_users = torch.from_numpy(np.unique(sets.indices)).to(self.device)
        self.logger.info(f"GAA: {len(sets.indices)} neighbour links, {len(self._teacher_users)} teacher users, "
                         f"alpha {self.gaa_alpha}, teacher detached: {self.gaa_teacher_detach}; stats {sets.stats}")
        return sets

    def run_report(self) -> dict:
        """GAA facts for the run's result file: neighbour statistics and teacher cost."""
        report = super().run_report()
        if self.neighbour_sets is not None:
            report["gaa"] = {
                "neighbour_stats": self.neighbour_sets.stats,
                "teacher_refresh_seconds": [round(s, 3) for s in self.gaa_teacher_seconds],
            }
        return report

    # ------------------------------------------------------------------ teacher
    def _encode_users(self, users: torch.Tensor) -> torch.Tensor:
        """``f(v)`` on the full training sequences of ``users`` [U] -> [U, H]."""
        return self.model.encode_sequence(self._teacher_seq[users], self._teacher_len[users])

    @torch.no_grad()
    def refresh_teacher(self) -> torch.Tensor:
        """Recompute the ``[n_users, H]`` teacher table (eval mode: no dropout noise)."""
        was_training = self.model.training
        self.model.eval()
        batch_size = int(self.config["eval_batch_size"] or 4096)
        table = None
        for start in range(0, len(self._teacher_users), batch_size):
            users = self._teacher_users[start:start + batch_size]
            representation = self._encode_users(users)
            if table is None:
                table = torch.zeros(self._teacher_seq.size(0), representation.size(1), device=self.device)
            table[users] = representation
        if table is None:  # nobody has a neighbour: the SD term is zero
            table = torch.zeros(self._teacher_seq.size(0), 1, device=self.device)
        self.model.train(was_training)
        self._teacher_table = table
        return table

    def _online_teacher(self, users: torch.Tensor, width: int) -> torch.Tensor:
        """Teacher table with gradients for the batch's distinct neighbours (``gaa_teacher_detach: false``)."""
        indptr, indices = self._neighbours
        starts, ends = indptr[users], indptr[users + 1]
        degree = ends - starts
        rows = torch.repeat_interleave(torch.arange(len(users), device=users.device), degree)
        offsets = torch.arange(rows.numel(), device=users.device) - (torch.cumsum(degree, 0) - degree)[rows]
        neighbours = torch.unique(indices[starts[rows] + offsets])
        table = torch.zeros(self._teacher_seq.size(0), width, device=self.device)
        if neighbours.numel():
            table = table.index_put((neighbours,), self._encode_users(neighbours))
        return table

    # ------------------------------------------------------------------ training
    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        if not self.gaa_enabled or loss_func is not None:
            return super()._train_epoch(train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress)
        started = time.perf_counter()
        teacher_seconds = 0.0
        if self.gaa_teacher_detach:
            self.refresh_teacher()
            teacher_seconds = time.perf_counter() - started
        self._steps_since_refresh = 0
        self.gaa_teacher_seconds.append(teacher_seconds)  # mid-epoch refreshes add to it
        losses = super()._train_epoch(train_data, epoch_idx, loss_func=self._joint_loss, show_progress=show_progress)
        self.gaa_epoch_seconds.append(time.perf_counter() - started)
        if getattr(self, "epoch_seconds", None):
            # HeadTailTrainer times only the batches; the reported epoch time must include
            # the teacher refresh so GAA's overhead shows in the runner's timings.
            self.epoch_seconds[-1] += teacher_seconds
        return losses

    def _joint_loss(self, interaction) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L_rank, alpha * L_SD)`` from one backbone pass (RecBole sums and logs the parts)."""
        if self.gaa_teacher_detach and self.gaa_teacher_refresh_steps:
            if self._steps_since_refresh >= self.gaa_teacher_refresh_steps:
                started = time.perf_counter()
                self.refresh_teacher()
                self.gaa_teacher_seconds[-1] += time.perf_counter() - started
                self._steps_since_refresh = 0
            self._steps_since_refresh += 1
        rank_loss, student = self.model.ranking_loss_and_representation(interaction)
        users = self.model.user_ids(interaction)[: student.size(0)]  # the student covers the first rows
        if self.gaa_teacher_detach:
            teacher = self._teacher_table
        else:
            teacher = self._online_teacher(users, student.size(1))
        sd_loss = self_distillation_loss(student, users, teacher, self._neighbours,
                                         detach_teacher=self.gaa_teacher_detach, reduction=self.gaa_sd_reduction)
        return rank_loss, self.gaa_alpha * sd_loss
