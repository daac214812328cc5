"""Training cost of each HSUGA model against its RecBole base model, in one process.

For each pair the script takes the same training batches and alternates blocks of steps
(forward, backward, Adam) of

- the base model (RecBole's ``calculate_loss``),
- the HSUGA model with semantic fusion only (``gaa: false``),
- the HSUGA model under GAATrainer's joint loss (ranking + alpha * SD),
- for BERT4Rec, also the joint loss with every row as a student (``gaa_student_fraction: 1``),

so that load from other jobs hits every variant alike. The once-per-epoch teacher refresh
is timed separately and added to estimate seconds per epoch; the target for the ratio
HSUGA / base is <= 1.5 (GAA may cost at most half a base epoch more). Full training runs
(``hsuga_vs_base.py``) report their measured s/epoch too, but runs made one after the
other see different machine load.

    python benchmarks/gaa_step_cost.py --pairs=SASRec,GRU4Rec,BERT4Rec --batches=8 --rounds=3 \
        --out=benchmarks/results/gaa-step-cost-amazon-beauty.md
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

from recbole_hsuga.config import HSUGAConfig
from recbole_hsuga.data.training_history import TrainingHistory
from recbole_hsuga.registry import get_model
from recbole_hsuga.runner import prepare_data
from recbole_hsuga.trainer import GAATrainer

from common import first_batches, run_script, timed_steps


def measure_pair(base: str, dataset: str, n_batches: int, rounds: int, settings: list[str]) -> dict:
    hsuga = f"{base}HSUGA"
    config = HSUGAConfig(model=hsuga, dataset=dataset, cmd_args=settings)
    torch.set_num_threads(int(config["torch_num_threads"] or torch.get_num_threads()))
    _, train_data, valid_data, _ = prepare_data(config)
    rows = train_data._dataset
    base_config = HSUGAConfig(model=base, dataset=dataset, cmd_args=settings)
    for key in ("MASK_INDEX", "MASK_ITEM_SEQ", "POS_ITEMS", "NEG_ITEMS"):
        # BERT4Rec's field names are set on the config by the data transform, which only
        # ran for the HSUGA config; both models train on the same batches.
        if config[key] is not None:
            base_config[key] = config[key]
    base_model = get_model(base)(base_config, rows)
    hsuga_model = get_model(hsuga)(config, rows)
    trainer = GAATrainer(config, hsuga_model)
    trainer.set_semantic_tables(rows)  # the user vectors that choose the neighbours
    trainer.prepare_gaa(TrainingHistory.from_dataloaders(train_data, valid_data))
    started = time.perf_counter()
    trainer.refresh_teacher()
    refresh_seconds = time.perf_counter() - started

    batches = first_batches(train_data, n_batches)
    samples = sum(len(b) for b in batches)

    def joint(interaction) -> torch.Tensor:
        rank_loss, sd_loss = trainer._joint_loss(interaction)
        return rank_loss + sd_loss

    # name -> (model, loss, BERT4Rec student fraction or None)
    variants: dict[str, tuple[torch.nn.Module, Callable, float | None]] = {
        base: (base_model, base_model.calculate_loss, None),
        f"{hsuga}, fusion only": (hsuga_model, hsuga_model.calculate_loss, None),
    }
    configured = getattr(hsuga_model, "gaa_student_fraction", None)
    if configured is None:
        variants[f"{hsuga}, fusion + GAA"] = (hsuga_model, joint, None)
    else:
        variants[f"{hsuga}, fusion + GAA (student fraction {configured:g})"] = (hsuga_model, joint, configured)
        variants[f"{hsuga}, fusion + GAA (every row a student)"] = (hsuga_model, joint, 1.0)

    optimizers = {id(m): torch.optim.Adam(m.parameters(), lr=config["learning_rate"])
                  for m in (base_model, hsuga_model)}
    totals = dict.fromkeys(variants, 0.0)
    for step_batches, repeats in ((batches[:1], 1), (batches, rounds)):  # warm-up, then the timed rounds
        for _ in range(repeats):
            for name, (model, loss_of, fraction) in variants.items():
                if fraction is not None:
                    model.gaa_student_fraction = fraction
                seconds = timed_steps(model, optimizers[id(model)], loss_of, step_batches)
                if step_batches is batches:
                    totals[name] += seconds
    if configured is not None:
        hsuga_model.gaa_student_fraction = configured

    epoch_rows = len(rows)
    base_epoch = totals[base] / (samples * rounds) * epoch_rows
    report = {"pair": f"{base} vs {hsuga}", "batch_size": config["train_batch_size"], "batches": n_batches,
              "rounds": rounds, "train_rows_per_epoch": epoch_rows, "teacher_refresh_s": round(refresh_seconds, 2),
              "neighbour_search_s": trainer.neighbour_sets.stats.get("search_seconds"), "variants": {}}
    for name, seconds in totals.items():
        per_step_ms = seconds / (n_batches * rounds) * 1000
        epoch = seconds / (samples * rounds) * epoch_rows + (refresh_seconds if "GAA" in name else 0.0)
        report["variants"][name] = {"ms_per_step": round(per_step_ms, 1), "estimated_s_per_epoch": round(epoch, 1),
                                    "ratio_vs_base": round(epoch / base_epoch, 2)}
    return report


def render(reports: list[dict], command: str) -> str:
    lines = ["# Training cost: HSUGA models vs their base models", "",
             f"Produced by `{command}` on {time.strftime('%Y-%m-%d')} (2-core CPU, no GPU, 1 torch thread, "
             "shared with other jobs; the variants alternate on the same batches, so load hits all alike). "
             "Epoch estimates are per-step time x training rows, plus the once-per-epoch teacher refresh for GAA.",
             ""]
    for report in reports:
        lines += [f"## {report['pair']}", "",
                  f"{report['batches']} batches of {report['batch_size']} rows x {report['rounds']} rounds; "
                  f"{report['train_rows_per_epoch']} training rows per epoch; teacher refresh "
                  f"{report['teacher_refresh_s']} s per epoch; neighbour search (one-time) "
                  f"{report['neighbour_search_s']} s.", "",
                  "| variant | ms / step | est. s / epoch | ratio vs base (target <= 1.5) |", "|---|---|---|---|"]
        for name, row in report["variants"].items():
            lines.append(f"| {name} | {row['ms_per_step']} | {row['estimated_s_per_epoch']} | {row['ratio_vs_base']} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default="SASRec,GRU4Rec,BERT4Rec")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args, settings = parser.parse_known_args()
    if not any(s.startswith("--semantic_suffix") for s in settings):
        settings.append("--semantic_suffix=useremb_text")  # the vectors every amazon-beauty user has
    if not any(s.startswith("--loss_type") for s in settings):
        # RecBole's base YAMLs default to CE and ours to BPR: compare like with like, and
        # as hsuga_vs_base.py runs them.
        settings.append("--loss_type=CE")
    reports = [measure_pair(base, args.dataset, args.batches, args.rounds, settings) for base in args.pairs.split(",")]
    command = "python benchmarks/gaa_step_cost.py " + " ".join(
        [f"--pairs={args.pairs}", f"--batches={args.batches}", f"--rounds={args.rounds}", *settings])
    text = render(reports, command)
    print(json.dumps(reports, indent=2))
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    run_script(main)
