"""Every trainer of recbole-hsuga (RecBole trainers with this package's evaluation).

- :class:`HeadTailEvaluationMixin` / :class:`HeadTailTrainer` /
  :func:`with_head_tail_evaluation`: RecBole's training, with the three-protocol, head/tail
  evaluation below; every model runs under it (RecBole's own models too).
- :class:`GAATrainer`: adds GAA's self-distillation term; the HSUGA models name it as their
  ``trainer_class``.

Evaluation
----------
Training is RecBole's own. Evaluation is replaced by one full-sort pass per batch, from
which the leave-one-out target's rank is read under three protocols:

* ``full``: among all items (RecBole's convention for sequential models: nothing masked);
* ``unseen``: among all items except those the user interacted with before the target
  (training items, plus the validation item at test time; the target itself stays
  rankable if it is a repeat). This is the convention of the S3-Rec / FMLP-Rec / BSARec
  code bases and of RecTools' ``filter_viewed``, so it is the protocol to read when
  numbers are put beside those papers';
* ``sampled``: among the target and ``eval_sampled_negatives`` (default 100) negatives
  drawn once per seed and phase (:mod:`recbole_hsuga.evaluation.negatives`).

Each metric is reported overall and on head / tail users (top ``head_fraction`` of users
by training interactions vs the rest) and head / tail items (top ``head_fraction`` of
items by training popularity; a user counts for the group of its target item).

Result keys: ``"<protocol>/<group>/<metric>@<k>"``, e.g. ``"sampled/tail_items/ndcg@10"``,
plus the plain ``"<metric>@<k>"`` of the overall group of ``eval_protocol`` (the protocol
``valid_metric`` refers to), so RecBole's early stopping works unchanged.

GAA training (paper Eq. 8)
--------------------------
::

    L = L_rank + gaa_alpha * L_SD

with ``L_SD`` on the scale ``gaa_sd_reduction`` picks (:mod:`recbole_hsuga.gaa.loss`: ``mean``
over dimensions by default, as the reference code computes it, so the paper's alpha grid
applies; ``sum`` is Eq. 4 as printed).

Once per run, in :meth:`GAATrainer.fit`, the group-aware neighbour sets are computed from
the **training** interactions only (:class:`~recbole_hsuga.data.training_history.TrainingHistory`,
the same counts that define the evaluator's head/tail users) and the user semantic table
of the training dataset (:class:`~recbole_hsuga.data.dataset.SemanticSequentialDataset`),
and cached under ``<checkpoint_dir>/gaa_cache/``.

Cost model (why an epoch does not get K times slower):

- student: ``f(u)`` comes out of the same backbone pass as the ranking loss
  (``model.ranking_loss_and_students``), no extra forward (BERT4Rec's masked input is not
  ``f(u)``: it encodes a ``gaa_student_fraction`` of the rows again). With prefix rows
  every row is a student and rows are weighted ``1 / rows(u)`` (:func:`prefix_row_weights`),
  so L_SD is a mean over users; with sequence rows each user's most recent window is its
  one student;
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
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from logging import getLogger
from typing import Any

import numpy as np
import torch
from recbole.data.dataloader import FullSortEvalDataLoader
from recbole.trainer import Trainer
from recbole.utils import early_stopping, set_color
from tqdm import tqdm

from dataset_tools.progress import is_terminal
from recbole_hsuga import training_state
from recbole_hsuga.compat import load_recbole_checkpoint
from recbole_hsuga.data.dataset import SemanticTable
from recbole_hsuga.data.segment_loader import SegmentTrainDataLoader
from recbole_hsuga.data.sequence_loader import TRAIN_ROWS, SequenceTrainDataLoader, sequence_train_data
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.epoch_progress import epoch_batches
from recbole_hsuga.errors import InputError
from recbole_hsuga.evaluation.groups import head_labels
from recbole_hsuga.evaluation.negatives import sample_fixed_negatives
from recbole_hsuga.evaluation.ranking import full_ranks, group_means, per_user_metrics, sampled_ranks
from recbole_hsuga.gaa.loss import REDUCTIONS, NeighbourCSR, self_distillation_loss
from recbole_hsuga.gaa.neighbours import GAAParams, NeighbourSets, build_neighbour_sets
from recbole_hsuga.lr_schedule import LearningRateSchedule
from recbole_hsuga.position_loss import (check_sequence_rows_support, check_softmax_sampler_support,
                                         prefix_rows_loss, sequence_rows_loss)
from recbole_hsuga.sampled_softmax import SAMPLER_ATTRIBUTE, sampler_from_config, sampler_of

PROTOCOLS = ("full", "sampled", "unseen")
PHASE_ATTRIBUTE = "_hsuga_phase"
GROUPS = ("all", "head_users", "tail_users", "head_items", "tail_items")


def tag_phase(eval_data, phase: str) -> None:
    """Mark an evaluation dataloader as ``"valid"`` or ``"test"``.

    RecBole's full-sort loaders do not know their phase, but the fixed negatives are
    drawn per phase, so the runner tags them once after ``data_preparation``.
    """
    if phase not in ("valid", "test"):
        raise ValueError(f"phase must be 'valid' or 'test', got {phase!r}")
    setattr(eval_data, PHASE_ATTRIBUTE, phase)


@dataclass
class _PhaseContext:
    """What an evaluation phase needs besides scores, built once per eval dataloader."""

    phase: str
    negatives: np.ndarray  # [n_users, n_neg] internal item ids, row = internal user id
    #: CSR over internal user ids: ``seen_items[seen_start[u]:seen_start[u + 1]]`` are the items
    #: the ``unseen`` protocol masks for user ``u`` (earlier interactions, never the target).
    seen_start: np.ndarray  # [n_users + 1] int64
    seen_items: np.ndarray  # [n_seen] int64

    def seen_mask_indices(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, items)`` to mask in a ``[len(users), n_items]`` score matrix."""
        starts, ends = self.seen_start[users], self.seen_start[users + 1]
        lengths = ends - starts
        rows = np.repeat(np.arange(len(users)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return rows, self.seen_items[np.repeat(starts, lengths) + offsets]


class HeadTailEvaluationMixin:
    """Replaces ``Trainer.evaluate`` with the three-protocol, head/tail evaluation.

    Mixed in front of RecBole's ``Trainer`` (or any subclass that keeps its evaluate).
    """

    def _init_head_tail(self) -> None:
        config = self.config
        self.eval_protocol: str = config["eval_protocol"] or "full"
        if self.eval_protocol not in PROTOCOLS:
            raise ValueError(f"eval_protocol must be one of {PROTOCOLS}, got {self.eval_protocol!r}")
        self.head_fraction: float = float(config["head_fraction"] or 0.2)
        self.n_sampled_negatives: int = int(config["eval_sampled_negatives"] or 100)
        self.metric_names = [m.lower() for m in config["metrics"]]
        self.topk = list(config["topk"])
        self.training_history: TrainingHistory | None = None
        self._phase_contexts: dict[int, _PhaseContext] = {}
        self.epoch_seconds: list[float] = []
        #: learning curve, one entry per epoch: ``{"epoch", "train_loss": [parts], "load_1min", "valid_score"?}``.
        #: A GAA run's loss has two parts, (ranking, alpha * SD), so their balance can be plotted.
        self.curve: list[dict] = []
        self.last_evaluation: dict[str, np.ndarray | str] | None = None
        self.train_rows: str = str(config["train_rows"] or "prefix").lower()
        if self.train_rows not in TRAIN_ROWS:
            raise InputError(f"train_rows must be one of {TRAIN_ROWS}, got {config['train_rows']!r}")
        #: rows per training epoch (prefix rows, or sequence rows once fit has built them).
        self.n_train_rows: int | None = None
        self.resume_training: bool = bool(config["resume_training"])
        self.training_state_file = training_state.state_path(config)
        #: epochs at which this run continued from a saved training state (0-based).
        self.resumed_at_epochs: list[int] = []
        self._last_saved_epoch = -1
        self._training_loader = None
        self.lr_schedule = LearningRateSchedule.from_config(config)
        #: epochs after whose validation the plateau schedule reduced the rate (resumed with the run).
        self.lr_reductions: list[int] = []
        # The configured rate of each parameter group, captured before a resumed optimizer state
        # (which holds the scheduled rate) is loaded: the schedule scales these.
        optimizer = getattr(self, "optimizer", None)
        self._base_lrs = [group["lr"] for group in optimizer.param_groups] if optimizer is not None else []

    # ----------------------------------------------------------------- training data
    def set_training_history(self, history: TrainingHistory) -> None:
        """Give the trainer the training interactions that define head/tail groups."""
        self.training_history = history

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False, callback_fn=None):
        rows = self._training_loader = self.prepare_training(train_data, valid_data)
        if not self.resume_training:
            return super().fit(rows, valid_data, verbose, saved, show_progress, callback_fn)
        # Held while this process trains the run; a killed process releases it with its files.
        with training_state.hold_lock(self.training_state_file):
            stopped = self._resume_training_state()
            self._replay_validations(callback_fn)
            if stopped:
                self.logger.info(f"{self.training_state_file}: this run had already stopped; testing its best "
                                 "checkpoint")
                return self.best_valid_score, self.best_valid_result

            def after_validation(epoch_idx: int, valid_score: float) -> None:
                self._save_training_state(epoch_idx, finished=False)
                if callback_fn is not None:
                    callback_fn(epoch_idx, valid_score)

            outcome = super().fit(rows, valid_data, verbose, saved, show_progress, after_validation)
            self._save_training_state(self._last_saved_epoch, finished=True)
            return outcome

    def prepare_training(self, train_data, valid_data=None):
        """What :meth:`fit` does before its first epoch: the training history (recovered from
        the two dataloaders) and the dataloader training iterates (:meth:`training_rows`),
        which it returns. Benchmarks that time training steps call it too."""
        if self.training_history is None and valid_data is not None:
            self.training_history = TrainingHistory.from_dataloaders(train_data, valid_data)
        self.attach_softmax_sampler()
        return self.training_rows(train_data)

    def attach_softmax_sampler(self) -> None:
        """Give the model the run's softmax negatives sampler (``softmax_negatives`` > 0), or
        None (the softmax over all items); popularity sampling counts training interactions."""
        counts = self.training_history.item_counts() if self.training_history is not None else None
        sampler = sampler_from_config(self.config, counts, self.model.n_items)
        if sampler is not None:
            check_softmax_sampler_support(self.model)
            self.logger.info(f"sampled softmax: {sampler.n_negatives} {self.config['softmax_sampling']} negatives "
                             "per position")
        setattr(self.model, SAMPLER_ATTRIBUTE, sampler)

    def training_loss(self):
        """The per-batch loss of training (``interaction -> loss or tuple of loss parts``);
        None means the model's own ``calculate_loss``."""
        if self.train_rows == "sequence":
            return self._sequence_rows_loss
        return self._prefix_rows_loss if sampler_of(self.model) is not None else None

    def _prefix_rows_loss(self, interaction) -> torch.Tensor:
        return prefix_rows_loss(self.model, interaction)

    def training_rows(self, train_data):
        """The dataloader that training iterates: RecBole's prefix rows as given, or, with
        ``train_rows: sequence``, one row per user window built from the training history, or,
        with ``train_rows: segment``, one random segment per user, drawn again every epoch."""
        if self.train_rows == "prefix" or isinstance(train_data, (SequenceTrainDataLoader, SegmentTrainDataLoader)):
            self.n_train_rows = len(train_data._dataset)
            return train_data
        if self.train_rows == "sequence":
            check_sequence_rows_support(self.model)
        if self.training_history is None:
            raise ValueError(f"train_rows: {self.train_rows} builds its rows from the training history: call "
                             "fit(train_data, valid_data) or set_training_history() first")
        if self.train_rows == "segment":
            return self._segment_rows(train_data)
        rows = sequence_train_data(self.config, train_data, self.training_history, self.model)
        self.n_train_rows = len(rows.rows)
        n_targets, batch_rows = int((rows.rows.targets > 0).sum()), rows.rows_per_batch
        # The targets per step are what the optimiser averages over (cloze rows draw theirs by masking).
        targets = f"{n_targets} training targets, about {n_targets / self.n_train_rows * batch_rows:.0f} per batch" \
            if n_targets else "targets drawn by masking"
        self.logger.info(f"train_rows: sequence: {self.n_train_rows} rows ({len(train_data._dataset)} prefix rows), "
                         f"{batch_rows} rows per batch (train_batch_size={self.config['train_batch_size']}, "
                         f"train_batch_unit={self.config['train_batch_unit']}), {targets}")
        return rows

    def _segment_rows(self, train_data) -> SegmentTrainDataLoader:
        negatives = self.config["train_neg_sample_args"] or {}
        if str(negatives.get("distribution", "none")) != "none":
            raise InputError(f"train_rows: segment rows carry no sampled negatives; loss_type "
                             f"{self.config['loss_type']} needs them (use loss_type: CE or train_rows: prefix)")
        rows = SegmentTrainDataLoader(self.config, train_data._dataset, self.training_history, shuffle=True)
        self.n_train_rows = len(rows._dataset)
        self.logger.info(f"train_rows: segment: {self.n_train_rows} rows per epoch, {rows.per_user} random segment(s) per user "
                         f"({len(train_data._dataset)} prefix rows), {self.config['train_batch_size']} rows per batch")
        return rows

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        start = time.perf_counter()
        set_epoch = getattr(train_data, "set_epoch", None)
        if callable(set_epoch):  # rows drawn per epoch (segment rows) depend on the epoch, not on the process
            set_epoch(epoch_idx)
        # Models that schedule work per epoch (HIPHOP's session bank and temperature) get the
        # epoch first; inside the timing, so the cost shows in seconds per epoch.
        epoch_start = getattr(self.model, "on_train_epoch_start", None)
        if callable(epoch_start):
            epoch_start(epoch_idx)
        learning_rate = self._schedule_learning_rate(epoch_idx)
        loss_func = loss_func or self.training_loss()
        train_data, show_progress = epoch_batches(train_data, epoch_idx, show_progress,
                                                  self.config["progress_log_seconds"] or 0, self.logger)
        loss = super()._train_epoch(train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress)
        self.epoch_seconds.append(time.perf_counter() - start)
        parts = loss if isinstance(loss, tuple) else (loss,)
        # The machine's load when the epoch ended says how many processes shared the cores with
        # this one, which its seconds per epoch depend on (benchmarks run side by side).
        self.curve.append({"epoch": epoch_idx, "train_loss": [round(float(part), 6) for part in parts],
                           "load_1min": round(os.getloadavg()[0], 2)})
        if learning_rate is not None:
            self.curve[-1]["learning_rate"] = learning_rate
        return loss

    def _schedule_learning_rate(self, epoch_idx: int) -> float | None:
        """Set this epoch's rate on every parameter group (``lr_scheduler``); the first
        group's rate, or None under a constant schedule (RecBole's rates left untouched)."""
        if self.lr_schedule.is_constant or not self._base_lrs:
            return None
        share = self.lr_schedule.multiplier(epoch_idx, len(self.lr_reductions))
        for group, base in zip(self.optimizer.param_groups, self._base_lrs):
            group["lr"] = base * share
        return float(self.optimizer.param_groups[0]["lr"])

    def _sequence_rows_loss(self, interaction) -> torch.Tensor:
        return sequence_rows_loss(self.model, interaction)

    def _valid_epoch(self, valid_data, show_progress=False):
        # Per-epoch validation only needs the selection metric; the group table is
        # computed for the final evaluations.
        start = time.perf_counter()
        result = self.evaluate(valid_data, load_best_model=False, show_progress=show_progress, detailed=False)
        score = float(result[self.valid_metric])
        if self.curve:
            self.curve[-1]["valid_score"] = round(score, 6)
            self.curve[-1]["valid_seconds"] = round(time.perf_counter() - start, 3)
        self._count_plateau(score)
        return result[self.valid_metric], result

    def _count_plateau(self, score: float) -> None:
        """Record a plateau reduction when this validation leaves a multiple of
        ``lr_plateau_patience`` evaluations without improvement: the count (``cur_step``) that
        RecBole's early stopping, called by ``fit`` right after, will keep. Counted here, before
        the training state is saved, so a resumed run has every reduction."""
        if self.lr_schedule.kind != "plateau":
            return
        _, stale, _, _ = early_stopping(score, self.best_valid_score, self.cur_step, max_step=self.stopping_step,
                                        bigger=self.valid_metric_bigger)
        if self.lr_schedule.reduces_after(stale):
            epoch = self.curve[-1]["epoch"] if self.curve else -1
            self.lr_reductions.append(epoch)
            self.logger.info(f"lr_scheduler: plateau: {stale} validations without improvement; the rate drops to "
                             f"{self.lr_schedule.multiplier(epoch + 1, len(self.lr_reductions)):g} of learning_rate")

    def run_report(self) -> dict:
        """Extra facts for the run's result file; trainers with more to say extend it."""
        return {"resumed_at_epochs": list(self.resumed_at_epochs)} if self.resumed_at_epochs else {}

    # ----------------------------------------------------------------- training state
    #: per-epoch lists a resumed run continues; trainers that record more extend it.
    resumable_lists: tuple[str, ...] = ("curve", "epoch_seconds", "lr_reductions")

    def _save_training_state(self, epoch_idx: int, finished: bool) -> None:
        """Everything the next epoch needs (see :mod:`recbole_hsuga.training_state`)."""
        self._last_saved_epoch = epoch_idx
        training_state.save(self.training_state_file, {
            "settings": training_state.settings_of(self.config),
            "epoch": epoch_idx,
            "finished": finished,
            "cur_step": self.cur_step,
            "best_valid_score": self.best_valid_score,
            "best_valid_result": self.best_valid_result,
            "saved_model_file": self.saved_model_file,
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
            "lists": {name: getattr(self, name) for name in self.resumable_lists},
            "resumed_at_epochs": self.resumed_at_epochs,
            "rng": training_state.rng_states(),
            # RecBole's dataloaders shuffle with a generator of their own, seeded once per run.
            "shuffle_rng": self._training_loader.generator.get_state(),
        })

    def _resume_training_state(self) -> bool:
        """Continue from the saved state, if there is one; whether that run had already stopped."""
        if not self.training_state_file.is_file():
            return False
        state = training_state.load(self.training_state_file, self.config, map_location=self.device)
        self.model.load_state_dict(state["state_dict"])
        self.model.load_other_parameter(state.get("other_parameter"))
        self.optimizer.load_state_dict(state["optimizer"])
        self.cur_step = state["cur_step"]
        self.best_valid_score = state["best_valid_score"]
        self.best_valid_result = state["best_valid_result"]
        self.saved_model_file = state["saved_model_file"]
        for name, values in state["lists"].items():
            setattr(self, name, values)
        self.resumed_at_epochs = state["resumed_at_epochs"]
        self.start_epoch = state["epoch"] + 1
        self._last_saved_epoch = state["epoch"]
        training_state.restore_rng_states(state["rng"])
        self._training_loader.generator.set_state(state["shuffle_rng"])
        stopped = state["finished"] and (self.cur_step > self.stopping_step or self.start_epoch >= self.epochs)
        if not stopped:
            self.resumed_at_epochs.append(self.start_epoch)
            self.logger.info(f"{self.training_state_file}: resuming at epoch {self.start_epoch} (best valid score "
                             f"{self.best_valid_score}, {self.cur_step} evaluations without improvement)")
        return stopped

    def _replay_validations(self, callback_fn) -> None:
        """Hand ``callback_fn`` the validations of the epochs a resumed run already trained, in
        order, so a caller that follows the scores (a tuning trial's halving rung records) sees
        the same sequence as an uninterrupted run."""
        if callback_fn is None:
            return
        for entry in self.curve:
            if "valid_score" in entry:
                callback_fn(entry["epoch"], entry["valid_score"])

    def forget_training_state(self) -> None:
        """Remove the saved training state and its lock file (the run's result is written)."""
        self.training_state_file.unlink(missing_ok=True)
        training_state.lock_path(self.training_state_file).unlink(missing_ok=True)

    # ----------------------------------------------------------------- checkpoints
    def resume_checkpoint(self, resume_file):
        original = torch.load
        try:  # RecBole's resume uses torch.load directly; route it through our loader.
            torch.load = lambda path, map_location=None, **_: load_recbole_checkpoint(path, map_location)
            return super().resume_checkpoint(resume_file)
        finally:
            torch.load = original

    # ----------------------------------------------------------------- evaluation
    def _sampled_ranks(self, interaction: Any, scores: torch.Tensor, targets: torch.Tensor,
                       negatives: torch.Tensor) -> torch.Tensor:
        """Ranks under the sampled protocol: from the full-sort scores, or, for a model whose
        full-sort scores only order a short list (a generative model's beam: every other item
        ties), from its own exact scores of the target and negatives
        (``candidate_scores(interaction, candidates [B, C]) -> [B, C]``)."""
        own = getattr(self.model, "candidate_scores", None)
        if own is None:
            return sampled_ranks(scores, targets, negatives)
        candidate = own(interaction, torch.cat([targets.view(-1, 1), negatives], dim=1))
        return (candidate[:, 1:] >= candidate[:, :1]).sum(dim=1)

    def _phase_context(self, eval_data) -> _PhaseContext:
        key = id(eval_data)
        if key in self._phase_contexts:
            return self._phase_contexts[key]
        dataset = eval_data._dataset
        phase = getattr(eval_data, PHASE_ATTRIBUTE, None)
        if phase is None:
            raise ValueError(
                "evaluation dataloader has no phase tag; build dataloaders with "
                "recbole_hsuga.runner.prepare_data, or call tag_phase(valid_data, 'valid') and "
                "tag_phase(test_data, 'test')"
            )
        uid_field, iid_field = dataset.uid_field, dataset.iid_field
        list_field = iid_field + self.config["LIST_SUFFIX"]
        inter = dataset.inter_feat
        users = inter[uid_field].numpy()
        if len(np.unique(users)) != len(users):
            raise ValueError(
                "the head/tail evaluator expects leave-one-out evaluation (one target per user); "
                "set eval_args.split to {'LS': 'valid_and_test'}"
            )
        history = self.training_history
        excluded = []
        item_lists = inter[list_field].numpy()
        targets = inter[iid_field].numpy()
        seen_by_user: dict[int, np.ndarray] = {}
        for row, user in enumerate(users):
            earlier = [item_lists[row]]
            if history is not None:
                earlier.append(history.items_of(user))
            seen = np.unique(np.concatenate(earlier))
            seen_by_user[int(user)] = seen[(seen != 0) & (seen != targets[row])]
            excluded.append(np.concatenate([*earlier, targets[row : row + 1]]))
        user_tokens = dataset.field2id_token[uid_field][users]
        item_tokens = dataset.field2id_token[iid_field]
        negatives_by_row = sample_fixed_negatives(
            user_tokens, excluded, item_tokens, self.n_sampled_negatives, int(self.config["seed"]), phase
        )
        negatives = np.zeros((dataset.user_num, self.n_sampled_negatives), dtype=np.int64)
        negatives[users] = negatives_by_row
        seen_lengths = np.zeros(dataset.user_num, dtype=np.int64)
        for user, seen in seen_by_user.items():
            seen_lengths[user] = len(seen)
        seen_start = np.concatenate([[0], np.cumsum(seen_lengths)]).astype(np.int64)
        seen_items = (np.concatenate([seen_by_user[u] for u in sorted(seen_by_user)]).astype(np.int64)
                      if seen_by_user else np.zeros(0, dtype=np.int64))
        context = _PhaseContext(phase=phase, negatives=negatives, seen_start=seen_start, seen_items=seen_items)
        self._phase_contexts[key] = context
        return context

    @torch.no_grad()
    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False, detailed=True):
        """Evaluate under both protocols; see the module docstring for the result keys."""
        if not eval_data:
            return None
        if not isinstance(eval_data, FullSortEvalDataLoader):
            raise ValueError(
                "recbole-hsuga evaluates from full-sort scores (both protocols); set eval_args.mode "
                "to 'full' -- the sampled protocol is configured by eval_sampled_negatives"
            )
        if load_best_model:
            checkpoint_file = model_file or self.saved_model_file
            checkpoint = load_recbole_checkpoint(checkpoint_file, map_location=self.device)
            self.model.load_state_dict(checkpoint["state_dict"])
            self.model.load_other_parameter(checkpoint.get("other_parameter"))
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        self.model.eval()
        # RecBole's _full_sort_batch_eval reads these (it falls back to predict() per item).
        self.tot_item_num = eval_data._dataset.item_num
        if self.item_tensor is None:
            self.item_tensor = eval_data._dataset.get_item_feature().to(self.device)
        context = self._phase_context(eval_data)
        negatives = torch.from_numpy(context.negatives).to(self.device)
        uid_field = eval_data._dataset.uid_field

        iter_data = (
            tqdm(eval_data, total=len(eval_data), ncols=100, desc=set_color(f"Evaluate {context.phase:<5}", "pink"))
            if show_progress and is_terminal(sys.stderr)
            else eval_data
        )
        users, items, ranks = [], [], {p: [] for p in PROTOCOLS}
        for batched_data in iter_data:
            interaction, scores, _, positive_i = self._full_sort_batch_eval(batched_data)
            batch_users = interaction[uid_field].to(self.device)
            targets = positive_i.to(self.device)
            ranks["full"].append(full_ranks(scores, targets).cpu())
            ranks["sampled"].append(self._sampled_ranks(interaction, scores, targets, negatives[batch_users]).cpu())
            rows, seen = context.seen_mask_indices(batch_users.cpu().numpy())
            unseen_scores = scores.clone()
            unseen_scores[torch.from_numpy(rows).to(self.device), torch.from_numpy(seen).to(self.device)] = -torch.inf
            ranks["unseen"].append(full_ranks(unseen_scores, targets).cpu())
            users.append(batch_users.cpu())
            items.append(targets.cpu())
        users_arr = torch.cat(users).numpy()
        items_arr = torch.cat(items).numpy()
        rank_arrays = {p: torch.cat(r).numpy() for p, r in ranks.items()}
        # Kept for per-user paired tests between models (runner: save_user_ranks), with each
        # user's head/tail labels (detailed evaluations) so such tests can be run within a group.
        groups = self._groups(users_arr, items_arr) if detailed else {"all": np.ones(len(users_arr), dtype=bool)}
        labels = {g: m for g, m in groups.items() if g in ("head_users", "head_items")}
        self.last_evaluation = {"phase": context.phase, "users": users_arr, "targets": items_arr, **rank_arrays,
                                **labels}
        return self._summarise(rank_arrays, groups)

    def _groups(self, users: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
        groups = {"all": np.ones(len(users), dtype=bool)}
        if self.training_history is None:
            return groups
        labels = head_labels(self.training_history.user_counts(), self.training_history.item_counts(), users, items,
                             self.head_fraction)
        head_users, head_items = labels["head_users"], labels["head_items"]
        groups.update(head_users=head_users, tail_users=~head_users, head_items=head_items, tail_items=~head_items)
        return groups

    def _summarise(self, rank_arrays: dict[str, np.ndarray], groups: dict[str, np.ndarray]) -> OrderedDict:
        """Metrics per protocol and group from ``rank_arrays[protocol]`` ``[n]`` and ``groups[name]``
        ``[n]`` boolean masks over the same users."""
        decimals = self.config["metric_decimal_place"] or 4
        result: OrderedDict[str, float] = OrderedDict()
        tables = {}
        for protocol, protocol_ranks in rank_arrays.items():
            values = per_user_metrics(protocol_ranks, self.metric_names, self.topk)
            tables[protocol] = group_means(values, groups)
        for key, value in tables[self.eval_protocol]["all"].items():
            if key != "n_users":
                result[key] = round(value, decimals)
        for protocol, table in tables.items():
            for group, entry in table.items():
                for key, value in entry.items():
                    result[f"{protocol}/{group}/{key}"] = round(value, decimals) if key != "n_users" else int(value)
        return result


class HeadTailTrainer(HeadTailEvaluationMixin, Trainer):
    """RecBole's ``Trainer`` with the three-protocol head/tail evaluation."""

    def __init__(self, config, model):
        super().__init__(config, model)
        self._init_head_tail()


def with_head_tail_evaluation(trainer_class: type) -> type:
    """Return ``trainer_class`` with the head/tail evaluation mixed in front of it.

    Used for RecBole's model-specific trainers (``<Model>Trainer``), which keep RecBole's
    evaluate and so accept the mixin.
    """
    if issubclass(trainer_class, HeadTailEvaluationMixin):
        return trainer_class
    if trainer_class.evaluate is not Trainer.evaluate:
        getLogger().warning(
            f"{trainer_class.__name__} overrides evaluate(); head/tail evaluation is not available for it"
        )
        return trainer_class

    def __init__(self, config, model):
        trainer_class.__init__(self, config, model)
        self._init_head_tail()

    return type(f"HeadTail{trainer_class.__name__}", (HeadTailEvaluationMixin, trainer_class), {"__init__": __init__})


# ============================================================================ GAA
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


def prefix_row_weights(train_dataset: Any, n_users: int) -> torch.Tensor:
    """``[n_users]`` float: ``1 / rows(u)`` for each user's prefix training rows (0 without rows).

    RecBole makes ``n - 1`` training rows of a user with ``n`` training items, so a row-level
    mean would give an active user with 30 items ten times the alignment weight of a user
    with 4. Weighting each row by ``1 / rows(u)`` makes every user weigh the same, as the
    paper's ``mean_u`` and one student per user in sequence rows do.
    """
    rows = np.bincount(train_dataset.inter_feat[train_dataset.uid_field].numpy(), minlength=n_users)
    weights = np.where(rows > 0, 1.0 / np.maximum(rows, 1), 0.0)
    return torch.from_numpy(weights.astype(np.float32))


class GAATrainer(HeadTailTrainer):
    """HeadTailTrainer + GAA self-distillation; used by every HSUGA model (``trainer_class``)."""

    resumable_lists = (*HeadTailTrainer.resumable_lists, "gaa_teacher_seconds")

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
        #: the user semantic vectors that choose the neighbours (from the training dataset).
        self.user_semantic: SemanticTable | None = None
        #: ``[n_users]`` weight of a user's prefix rows in L_SD (``1 / rows(u)``); None with sequence rows.
        self._row_weights: torch.Tensor | None = None
        if self.gaa_enabled:
            gaa_params_from_config(config)  # fail at construction on a bad gaa_* value
            if not hasattr(model, "ranking_loss_and_students"):
                raise TypeError(f"gaa: true needs an HSUGA model (with ranking_loss_and_students), "
                                f"got {type(model).__name__}")

    # ------------------------------------------------------------------ setup
    def set_semantic_tables(self, dataset) -> None:
        """Take the user semantic table from ``dataset`` (a :class:`SemanticSequentialDataset`
        or one of its splits); :meth:`fit` does this from the training data when not done."""
        table = dataset.semantic_table("user") if hasattr(dataset, "semantic_table") else None
        if table is None:
            raise ValueError(f"gaa: true needs the user semantic vectors (semantic_suffix) in the dataset; got a "
                             f"{type(dataset).__name__} without them (build the data with "
                             "recbole_hsuga.runner.prepare_data for an HSUGA model)")
        self.user_semantic = table

    def prepare_training(self, train_data, valid_data=None):
        """The parent's preparation plus GAA's: user vectors, neighbour sets, teacher sequences
        and, with prefix rows, the per-user row weights."""
        if self.gaa_enabled:
            if self.train_rows == "segment":
                raise InputError("GAA's student is a user's representation on its training history; train_rows: "
                                 "segment trains on random segments of it (use prefix or sequence)")
            if self.user_semantic is None:
                self.set_semantic_tables(train_data._dataset)
            if self.training_history is None:
                if valid_data is None:
                    raise ValueError("GAA needs the validation dataloader to recover each user's first training "
                                     "item; call fit(train_data, valid_data) or set_training_history() first")
                self.training_history = TrainingHistory.from_dataloaders(train_data, valid_data)
            self.prepare_gaa(self.training_history)
            self._row_weights = None if self.train_rows == "sequence" else prefix_row_weights(
                train_data._dataset, self.training_history.n_users).to(self.device)
        return super().prepare_training(train_data, valid_data)

    def training_loss(self):
        return self._joint_loss if self.gaa_enabled else super().training_loss()

    def prepare_gaa(self, history: TrainingHistory) -> NeighbourSets:
        """Compute (or load from the cache) the neighbour sets and the teacher sequences.

        Needs the user semantic table (:meth:`set_semantic_tables`).
        """
        if self.user_semantic is None:
            raise ValueError("GAA needs the user semantic vectors: call set_semantic_tables(dataset) "
                             "or fit(train_data, valid_data) first")
        vectors, has_vector = self.user_semantic.table, self.user_semantic.has_vector
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
        losses = super()._train_epoch(train_data, epoch_idx, loss_func=self.training_loss(), show_progress=show_progress)
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
        rank_loss, student, users = self.model.ranking_loss_and_students(interaction)
        if self.gaa_teacher_detach:
            teacher = self._teacher_table
        else:
            teacher = self._online_teacher(users, student.size(1))
        weights = self._row_weights[users] if self._row_weights is not None else None
        sd_loss = self_distillation_loss(student, users, teacher, self._neighbours, detach_teacher=self.gaa_teacher_detach,
                                         reduction=self.gaa_sd_reduction, weights=weights)
        return rank_loss, self.gaa_alpha * sd_loss
