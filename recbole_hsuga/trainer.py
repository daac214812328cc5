"""RecBole trainers whose evaluation reports both protocols and head/tail groups.

Training is RecBole's own. Evaluation is replaced by one full-sort pass per batch, from
which the leave-one-out target's rank is read under two protocols:

* ``full``: among all items;
* ``sampled``: among the target and ``eval_sampled_negatives`` (default 100) negatives
  drawn once per seed and phase (:mod:`recbole_hsuga.evaluation.negatives`).

Each metric is reported overall and on head / tail users (top ``head_fraction`` of users
by training interactions vs the rest) and head / tail items (top ``head_fraction`` of
items by training popularity; a user counts for the group of its target item).

Result keys: ``"<protocol>/<group>/<metric>@<k>"``, e.g. ``"sampled/tail_items/ndcg@10"``,
plus the plain ``"<metric>@<k>"`` of the overall group of ``eval_protocol`` (the protocol
``valid_metric`` refers to), so RecBole's early stopping works unchanged.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from logging import getLogger

import numpy as np
import torch
from recbole.data.dataloader import FullSortEvalDataLoader
from recbole.trainer import Trainer
from recbole.utils import set_color
from tqdm import tqdm

from recbole_hsuga.compat import load_recbole_checkpoint
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.evaluation.groups import top_fraction_mask
from recbole_hsuga.evaluation.negatives import sample_fixed_negatives
from recbole_hsuga.evaluation.ranking import full_ranks, group_means, per_user_metrics, sampled_ranks

PROTOCOLS = ("full", "sampled")
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


class HeadTailEvaluationMixin:
    """Replaces ``Trainer.evaluate`` with the two-protocol, head/tail evaluation.

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
        #: learning curve, one entry per epoch: ``{"epoch", "train_loss": [parts], "valid_score"?}``.
        #: A GAA run's loss has two parts, (ranking, alpha * SD), so their balance can be plotted.
        self.curve: list[dict] = []
        self.last_evaluation: dict[str, np.ndarray | str] | None = None

    # ----------------------------------------------------------------- training data
    def set_training_history(self, history: TrainingHistory) -> None:
        """Give the trainer the training interactions that define head/tail groups."""
        self.training_history = history

    def fit(self, train_data, valid_data=None, *args, **kwargs):
        if self.training_history is None and valid_data is not None:
            self.training_history = TrainingHistory.from_dataloaders(train_data, valid_data)
        return super().fit(train_data, valid_data, *args, **kwargs)

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        start = time.perf_counter()
        loss = super()._train_epoch(train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress)
        self.epoch_seconds.append(time.perf_counter() - start)
        parts = loss if isinstance(loss, tuple) else (loss,)
        self.curve.append({"epoch": epoch_idx, "train_loss": [round(float(part), 6) for part in parts]})
        return loss

    def _valid_epoch(self, valid_data, show_progress=False):
        # Per-epoch validation only needs the selection metric; the group table is
        # computed for the final evaluations.
        result = self.evaluate(valid_data, load_best_model=False, show_progress=show_progress, detailed=False)
        if self.curve:
            self.curve[-1]["valid_score"] = round(float(result[self.valid_metric]), 6)
        return result[self.valid_metric], result

    def run_report(self) -> dict:
        """Extra facts for the run's result file; trainers with more to say extend it."""
        return {}

    # ----------------------------------------------------------------- checkpoints
    def resume_checkpoint(self, resume_file):
        original = torch.load
        try:  # RecBole's resume uses torch.load directly; route it through our loader.
            torch.load = lambda path, map_location=None, **_: load_recbole_checkpoint(path, map_location)
            return super().resume_checkpoint(resume_file)
        finally:
            torch.load = original

    # ----------------------------------------------------------------- evaluation
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
        for row, user in enumerate(users):
            own = [item_lists[row], targets[row : row + 1]]
            if history is not None:
                own.append(history.items_of(user))
            excluded.append(np.concatenate(own))
        user_tokens = dataset.field2id_token[uid_field][users]
        item_tokens = dataset.field2id_token[iid_field]
        negatives_by_row = sample_fixed_negatives(
            user_tokens, excluded, item_tokens, self.n_sampled_negatives, int(self.config["seed"]), phase
        )
        negatives = np.zeros((dataset.user_num, self.n_sampled_negatives), dtype=np.int64)
        negatives[users] = negatives_by_row
        context = _PhaseContext(phase=phase, negatives=negatives)
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
            if show_progress
            else eval_data
        )
        users, items, ranks = [], [], {p: [] for p in PROTOCOLS}
        for batched_data in iter_data:
            interaction, scores, _, positive_i = self._full_sort_batch_eval(batched_data)
            batch_users = interaction[uid_field].to(self.device)
            targets = positive_i.to(self.device)
            ranks["full"].append(full_ranks(scores, targets).cpu())
            ranks["sampled"].append(sampled_ranks(scores, targets, negatives[batch_users]).cpu())
            users.append(batch_users.cpu())
            items.append(targets.cpu())
        users_arr = torch.cat(users).numpy()
        items_arr = torch.cat(items).numpy()
        rank_arrays = {p: torch.cat(r).numpy() for p, r in ranks.items()}
        # Kept for per-user paired tests between models (runner: save_user_ranks).
        self.last_evaluation = {"phase": context.phase, "users": users_arr, "targets": items_arr, **rank_arrays}
        return self._summarise(users_arr, items_arr, rank_arrays, detailed)

    def _groups(self, users: np.ndarray, items: np.ndarray) -> dict[str, np.ndarray]:
        groups = {"all": np.ones(len(users), dtype=bool)}
        if self.training_history is None:
            return groups
        user_counts = self.training_history.user_counts()
        item_counts = self.training_history.item_counts()
        valid_users = np.zeros(len(user_counts), dtype=bool)
        valid_users[1:] = True
        valid_items = np.zeros(len(item_counts), dtype=bool)
        valid_items[1:] = True
        head_users = top_fraction_mask(user_counts, self.head_fraction, valid_users)[users]
        head_items = top_fraction_mask(item_counts, self.head_fraction, valid_items)[items]
        groups.update(head_users=head_users, tail_users=~head_users, head_items=head_items, tail_items=~head_items)
        return groups

    def _summarise(self, users, items, rank_arrays, detailed: bool) -> OrderedDict:
        groups = self._groups(users, items) if detailed else {"all": np.ones(len(users), dtype=bool)}
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
    """RecBole's ``Trainer`` with the two-protocol head/tail evaluation."""

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
