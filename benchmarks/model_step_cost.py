"""Training and full-sort cost of several models against a baseline, measured in one process.

    python benchmarks/model_step_cost.py \
        --models="SASRec,SASRecLLMESR,SASRecHSUGA+semantic_suffix=useremb_text,SASRecGRASP" \
        --train_rows=sequence --loss_type=CE --train_batch_size=256 --steps=10 --rounds=3

The convergence runs report seconds per epoch too, but they ran at different times under
different machine load; this script puts every model on the same footing. Each model (a
spec as in ``model_comparison.py``: ``Model+key=value``) is built as the CLI builds it
(``runner.prepare_data``, the registry's trainer), and its trainer prepares training as
``fit`` does (``prepare_training``: training rows, GAA neighbours and teacher). The models
then alternate for ``--rounds`` rounds, so load changes hit all of them alike; per round,
each model times ``--steps`` training steps (zero_grad, the trainer's own batch loss,
backward, Adam), one teacher-table refresh (GAA models: the per-epoch extra) and one
full-sort validation pass (every validation user against every item, both protocols).

Estimated seconds per epoch = median step x steps per epoch + the median teacher refresh.
Ratios are against the first model. Writes a markdown table (``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch
from common import REPO, emit, first_batches, invocation, run_script
from model_comparison import parse_variant

from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.runner import build_model_and_trainer, configure_threads, prepare_data


@dataclass
class PreparedModel:
    """A model built as the CLI builds it, with its training rows prepared as ``fit`` prepares them."""

    config: HSUGAConfig
    model: Any
    trainer: Any
    training_rows: Any
    valid_data: Any


def prepare_model(spec: str, dataset: str, settings: list[str], checkpoint_folder: str) -> PreparedModel:
    """``spec`` (``Model+key=value`` as in ``model_comparison.py``) built through ``runner.prepare_data``
    and the registry's trainer, weights seeded 0, and ``prepare_training`` run (training rows, GAA
    neighbours and teacher); checkpoints, if any, go to ``saved/<checkpoint_folder>``."""
    model_name, own = parse_variant(spec)
    config = HSUGAConfig(model=model_name, dataset=dataset,
                         cmd_args=[*settings, *own, "--state=WARNING",
                                   f"--checkpoint_dir={REPO / 'saved' / checkpoint_folder}"])
    configure_threads(config)
    _, train_data, valid_data, _ = prepare_data(config)
    torch.manual_seed(0)
    model, trainer = build_model_and_trainer(config, train_data._dataset)
    rows = trainer.prepare_training(train_data, valid_data)
    return PreparedModel(config, model, trainer, rows, valid_data)


class Contender:
    """One model with its data, trainer, a fixed set of training batches and its timings."""

    def __init__(self, spec: str, dataset: str, settings: list[str], steps: int) -> None:
        self.spec = spec
        prepared = prepare_model(spec, dataset, settings, "step-cost")
        self.config, self.model, self.trainer = prepared.config, prepared.model, prepared.trainer
        self.valid_data = prepared.valid_data
        self.steps_per_epoch = len(prepared.training_rows)
        self.batches = first_batches(prepared.training_rows, steps)
        self.loss = self.trainer.training_loss() or self.model.calculate_loss
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=float(self.config["learning_rate"]))
        self.has_teacher = bool(getattr(self.trainer, "gaa_enabled", False) and self.trainer.gaa_teacher_detach)
        if self.has_teacher:
            self.trainer.refresh_teacher()
        self.step_seconds: list[float] = []
        self.teacher_seconds: list[float] = []
        self.full_sort_seconds: list[float] = []

    def round(self) -> None:
        if self.has_teacher:
            started = time.perf_counter()
            self.trainer.refresh_teacher()
            self.teacher_seconds.append(time.perf_counter() - started)
        self.model.train()
        for batch in self.batches:
            started = time.perf_counter()
            self.optimizer.zero_grad()
            loss = self.loss(batch)
            (sum(loss) if isinstance(loss, tuple) else loss).backward()
            self.optimizer.step()
            self.step_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        self.trainer.evaluate(self.valid_data, load_best_model=False, detailed=False)
        self.full_sort_seconds.append(time.perf_counter() - started)

    def epoch_seconds(self) -> float:
        teacher = statistics.median(self.teacher_seconds) if self.teacher_seconds else 0.0
        return statistics.median(self.step_seconds) * self.steps_per_epoch + teacher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="SASRec,SASRecLLMESR,SASRecHSUGA+semantic_suffix=useremb_text,SASRecGRASP")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args, settings = parser.parse_known_args()
    settings = [f"--data_path={args.data_path}/", *settings]
    contenders = [Contender(spec, args.dataset, settings, args.steps) for spec in args.models.split(",") if spec]
    for index in range(args.rounds):
        for contender in contenders:
            contender.round()
        print(f"round {index + 1}/{args.rounds}: " + ", ".join(
            f"{c.spec} {1000 * statistics.median(c.step_seconds):.0f} ms/step, "
            f"{statistics.median(c.full_sort_seconds):.1f} s/full sort" for c in contenders), flush=True)

    base = contenders[0]
    lines = [f"# Training and full-sort cost against {base.spec} on {args.dataset}", "",
             f"Produced by `{invocation('model_step_cost.py')}` on {time.strftime('%Y-%m-%d')} "
             f"(2-core CPU, no GPU, {torch.get_num_threads()} torch thread; the models alternate for {args.rounds} rounds "
             f"of {args.steps} training steps, one teacher refresh and one full-sort validation pass each).", "",
             "| model | steps / epoch | median ms / step | teacher refresh, s / epoch | est. s / epoch (ratio) | "
             "full-sort pass, s (ratio) |", "|---|---|---|---|---|---|"]
    for c in contenders:
        teacher = f"{statistics.median(c.teacher_seconds):.1f}" if c.teacher_seconds else "-"
        sort = statistics.median(c.full_sort_seconds)
        lines.append(f"| {c.spec} | {c.steps_per_epoch} | {1000 * statistics.median(c.step_seconds):.0f} | {teacher} | "
                     f"{c.epoch_seconds():.1f} ({c.epoch_seconds() / base.epoch_seconds():.2f}) | "
                     f"{sort:.1f} ({sort / statistics.median(base.full_sort_seconds):.2f}) |")
    emit(lines, args.out)


if __name__ == "__main__":
    run_script(main)
