"""Models compared at convergence under one protocol: a baseline and its LLM-enhanced rivals.

    python benchmarks/model_comparison.py --name=llm-enhanced \
        --variants="SASRec,SASRecLLMESR,SASRecHSUGA,SASRecHSUGA+hsuga_backbone=id_only,SASRecGRASP" \
        --seeds=42,43,44 --jobs=2 --train_rows=sequence --train_batch_size=256

Each variant is a model name, optionally with settings of its own after ``+``
(``SASRecHSUGA+gaa_teacher_refresh_steps=10``); the first variant is the baseline every
other one is tested against. Every run trains through the CLI with the same extra
``--key=value`` settings and early stopping on validation NDCG@10 (``stopping_step``,
``epochs`` as the cap). Raw results go to ``benchmarks/results/raw/compare-<name>-<dataset>/<variant>/``;
a run whose result file is already there with the same settings is not trained again, so
a run set larger than one session resumes where it stopped. The report (rewritten after
every finished run) has, per protocol, HR@10 / NDCG@10 for all users and head/tail users
and items (mean over seeds), each variant's NDCG@10 difference to the baseline with a
paired t-test over seeds and a Wilcoxon test over users x seeds, and the cost: seconds per
epoch, epochs, the selected epoch, wall-clock to it, and one full-sort pass, each also as a
ratio to the baseline's.

A variant may end with ``@SEED/SEED...`` to run only those of ``--seeds``
(``SASRecHSUGA+gaa_teacher_refresh_steps=30@42``: a one-seed diagnostic beside the full set).

``--baseline_runs=FOLDER`` shares baseline runs with another run set's raw folder (e.g.
``raw/train-rows-amazon-beauty/sequence``): a finished run there with the same settings is
reused, and a missing one is trained into that folder, so the same converged run is never
trained twice by the two run sets.

A variant's own settings replace the shared ones of the same key
(``--train_batch_size=256`` with ``GRU4Rec+train_batch_size=48``: that variant trains at 48).

``--reuse_runs=FOLDER[,FOLDER...]`` also looks up every variant's finished runs in other run
sets' raw folders (same model, seed and settings), without ever training into them: a
diagnostic set compares new runs against runs another script already trained
(``raw/train-rows-amazon-beauty/prefix``, ``.../sequence``).

``--pairs=OTHER:BASE,...`` adds paired comparisons between two variants besides those against
the baseline (``SASRecHSUGA:SASRecLLMESR``): per protocol and group, the NDCG@10 difference
over the seeds both have, with a paired t-test over seeds and a Wilcoxon test over users x
seeds (within a head/tail group only for runs whose rank files carry the group labels).

``--train_first=VARIANT,...`` trains those variants' missing runs before the others (each group
still seed-major): a question added to a long run set is answered on every seed before the
set's slow remainder, while the report keeps every variant.

``--report_only`` writes the report from the result files without training.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import numpy as np
from common import (GROUPS, METRICS, RAW, REPO, InputError, best_epoch, finished_run, full_sort_seconds, invocation,
                    machine_load, newest_result_time, paired_seed_test, run_config, run_in_parallel, run_script,
                    seed_list, user_level_test, wall_to_best, write_report)
from recbole_hsuga.reporting.collect import parse_labels

SHOWN = ["train_rows", "loss_type", "softmax_negatives", "softmax_sampling", "train_batch_size", "train_batch_unit",
         "learning_rate", "MAX_ITEM_LIST_LENGTH", "hidden_size", "n_layers", "n_heads", "hidden_dropout_prob",
         "attn_dropout_prob", "weight_decay", "stopping_step", "epochs", "eval_protocol", "semantic_suffix", "item_semantic_suffix", "hsuga_backbone", "gaa",
         "gaa_alpha", "gaa_group_aware", "gaa_teacher_refresh_steps"]


def split_seeds(spec: str, seeds: list[int]) -> tuple[str, list[int]]:
    """``"SASRecGRASP@42/43"`` -> ``("SASRecGRASP", [42, 43])``; without ``@`` every seed of ``seeds``."""
    if "@" not in spec:
        return spec, seeds
    variant, own = spec.rsplit("@", 1)
    try:
        chosen = [int(seed) for seed in own.split("/")]
    except ValueError:
        raise InputError(f"variant {spec!r}: seeds after '@' are integers joined by '/', got {own!r}") from None
    unknown = sorted(set(chosen) - set(seeds))
    if unknown:
        raise InputError(f"variant {spec!r}: seeds {unknown} are not in --seeds")
    return variant, chosen


def parse_variant(spec: str) -> tuple[str, list[str]]:
    """``"SASRecHSUGA+hsuga_backbone=id_only"`` -> ``("SASRecHSUGA", ["--hsuga_backbone=id_only"])``."""
    model, *overrides = spec.split("+")
    for override in overrides:
        if "=" not in override:
            raise InputError(f"variant {spec!r}: settings after '+' are key=value, got {override!r}")
    return model, [f"--{override}" for override in overrides]


def with_overrides(settings: list[str], own: list[str]) -> list[str]:
    """The shared ``--key=value`` settings with a variant's own ones in place of the same keys."""
    own_keys = {setting.split("=", 1)[0] for setting in own}
    return [setting for setting in settings if setting.split("=", 1)[0] not in own_keys] + own


#: Protocol tables in report order; a run written before a protocol existed is left out of its table.
REPORTED_PROTOCOLS = ("full", "unseen", "sampled")
PROTOCOL_NOTES = {"unseen": " (items the user interacted with before the target masked, as S3-Rec, FMLP-Rec, "
                            "BSARec and RecTools evaluate)"}


def selection_protocols(done: dict[str, list[dict]]) -> str:
    """The protocol(s) the runs selected their epoch on (``eval_protocol``), e.g. ``"full"``."""
    found = sorted({str(run_config(run).get("eval_protocol") or "full") for runs in done.values() for run in runs})
    return " / ".join(found) or "full"


#: longest variant folder name kept whole; file systems refuse names over 255 bytes, and a tuned
#: recipe handed over as ``+key=value`` settings is longer than that.
SLUG_MAX = 120


def slug(spec: str) -> str:
    """A variant's folder name: ``A+k=v`` -> ``A__k=v``. A longer one than :data:`SLUG_MAX` keeps its
    leading whole settings and ends in ``__sha=<10 hex digits of the spec>`` (every run's result
    file holds its full settings)."""
    name = re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec.replace("+", "__"))
    if len(name) <= SLUG_MAX:
        return name
    digest = "__sha=" + hashlib.sha1(spec.encode()).hexdigest()[:10]
    head = name[:SLUG_MAX - len(digest)]
    head = head[:head.rfind("__")] if "__" in head else head
    return head + digest


def mean_metric(runs: list[dict], protocol: str, group: str, metric: str) -> float:
    return float(np.mean([r["metrics"]["test"][protocol][group][metric] for r in runs]))


def parse_pairs(spec: str | None, variants: list[str]) -> list[tuple[str, str]]:
    """``"A:B,C:D"`` -> ``[(A, B), (C, D)]`` (other, base), each a variant of ``--variants``."""
    pairs = []
    for item in filter(None, (spec or "").split(",")):
        other, sep, base = item.partition(":")
        if not sep or other not in variants or base not in variants:
            raise InputError(f"--pairs: {item!r} must be OTHER:BASE with both in --variants ({', '.join(variants)})")
        pairs.append((other, base))
    return pairs


def seed_pairs(done: dict[str, list[dict]], other: str, base: str) -> list[tuple[dict, dict]]:
    """``(base run, other run)`` for every seed both variants have, in seed order."""
    base_by_seed = {r["seed"]: r for r in done.get(base, [])}
    return [(base_by_seed[r["seed"]], r) for r in sorted(done.get(other, []), key=lambda r: r["seed"])
            if r["seed"] in base_by_seed]


def delta_cell(pairs: list[tuple[dict, dict]], protocol: str, group: str) -> str:
    """``+0.0012 (p = t-test over seeds[; Wilcoxon over users x seeds])``: other minus base in
    NDCG@10; the Wilcoxon test within a head/tail group only when the rank files carry group
    labels (files written before they were recorded do not)."""
    base_values = [b["metrics"]["test"][protocol][group]["ndcg@10"] for b, _ in pairs]
    other_values = [o["metrics"]["test"][protocol][group]["ndcg@10"] for _, o in pairs]
    cell = f"{np.mean(other_values) - np.mean(base_values):+.4f} (p = {paired_seed_test(base_values, other_values):.2g}"
    _, p_users = user_level_test([b for b, _ in pairs], [o for _, o in pairs], protocol, group)
    if not np.isnan(p_users):
        cell += f"; {p_users:.2g}"
    return cell + ")"


def paired_rows(done: dict[str, list[dict]], other: str, base: str, protocol: str,
                labels: dict[str, str] | None = None) -> str | None:
    """One markdown row: ``other`` minus ``base`` in NDCG@10 per group, paired by seed (``None``
    until they share a seed); variants appear under their ``labels``."""
    labels = labels or {}
    pairs = [(b, o) for b, o in seed_pairs(done, other, base)
             if protocol in b["metrics"]["test"] and protocol in o["metrics"]["test"]]
    if not pairs:
        return None
    cells = [delta_cell(pairs, protocol, group) for group in GROUPS]
    return (f"| {labels.get(other, other)} vs {labels.get(base, base)} | {[o['seed'] for _, o in pairs]} | "
            + " | ".join(cells) + " |")


def parse_variant_labels(specs: list[str], variants: list[str]) -> dict[str, str]:
    """``--label VARIANT=LABEL`` (repeatable; split at the last ``=``) -> ``{variant: label}``: the
    report's name for a variant whose spec is long (a tuned recipe as ``+key=value`` settings)."""
    labels = parse_labels(specs)
    unknown = [name for name in labels if name not in variants]
    if unknown:
        raise InputError(f"--label {unknown[0]!r}: not a variant of --variants")
    return labels


def report(done: dict[str, list[dict]], variants: list[str], args, settings: list[str],
           comparisons: list[tuple[str, str]] = (), labels: dict[str, str] | None = None) -> str:
    labels = labels or {}

    def named(variant: str) -> str:
        return labels.get(variant, variant)

    lines = [f"# {args.name}: models at convergence on {args.dataset}", "",
             f"Produced by `{invocation('model_comparison.py')}` (newest run "
             f"{newest_result_time(done)}; 2-core CPU, no GPU, one torch thread per run; "
             f"{machine_load(done)}). Every run trains until validation NDCG@10 ({selection_protocols(done)} "
             "ranking) stops improving. "
             "Cells: mean over seeds, test split, HR@10 / NDCG@10.", ""]
    present = [v for v in variants if done.get(v)]
    if not present:
        return "\n".join(lines + ["(no finished run yet)"]) + "\n"
    for variant in present:
        config = run_config(done[variant][0])
        shown = f"{labels[variant]}: `{variant}`" if variant in labels else f"`{variant}`"
        lines.append(f"- {shown}: " + ", ".join(f"{k}={config[k]}" for k in SHOWN if k in config))
    lines.append("")
    baseline = variants[0]
    for protocol in REPORTED_PROTOCOLS:
        measured = [v for v in present if all(protocol in r["metrics"]["test"] for r in done[v])]
        if not measured:
            continue
        lines += [f"**{protocol} ranking**{PROTOCOL_NOTES.get(protocol, '')}", "",
                  "| variant | seeds | " + " | ".join(GROUPS) + f" | Δ NDCG@10 vs {named(baseline)} "
                  "(t-test over seeds p; Wilcoxon p) |", "|---|---|" + "---|" * (len(GROUPS) + 1)]
        for variant in measured:
            runs = sorted(done[variant], key=lambda r: r["seed"])
            cells = [" / ".join(f"{mean_metric(runs, protocol, g, m):.4f}" for m in METRICS) for g in GROUPS]
            pairs = seed_pairs(done, variant, baseline) if variant != baseline and baseline in measured else []
            delta = delta_cell(pairs, protocol, "all") if pairs else ""
            lines.append(f"| {named(variant)} | {[r['seed'] for r in runs]} | " + " | ".join(cells) + f" | {delta} |")
        lines.append("")
    rows = {protocol: [row for other, base in comparisons if (row := paired_rows(done, other, base, protocol, labels))]
            for protocol in REPORTED_PROTOCOLS}
    if any(rows.values()):
        lines += ["**Paired comparisons** (NDCG@10 difference, mean over the seeds both have; paired t-test over "
                  "seeds p, then the Wilcoxon test over users x seeds; within a head/tail group only where the runs' "
                  "rank files carry group labels)", ""]
        for protocol, protocol_rows in rows.items():
            lines += [f"*{protocol} ranking*", "", "| comparison | seeds | " + " | ".join(GROUPS) + " |",
                      "|---|---|" + "---|" * len(GROUPS), *protocol_rows, ""]
    lines += ["**cost**", "", "Seconds as each run measured them, with whatever else shared the machine's cores at the "
              "time (runs side by side, tests, other benchmarks), so ratios between runs are rough; "
              "`benchmarks/model_step_cost.py` measures the per-step cost of every model in one process.", "",
              "| variant | s / epoch (ratio) | epochs run | selected epoch | wall-clock to it, s (ratio) | "
              "full-sort pass, s (ratio) |", "|---|---|---|---|---|---|"]
    base_runs = done.get(baseline, [])

    def ratio(value: float, base: float) -> str:
        return f"{value:.1f} ({value / base:.2f})" if base_runs and base > 0 else f"{value:.1f}"

    base_epoch = float(np.mean([r["timings"]["seconds_per_epoch"] for r in base_runs])) if base_runs else 0.0
    base_wall = float(np.mean([wall_to_best(r) for r in base_runs])) if base_runs else 0.0
    base_sort = float(np.mean([full_sort_seconds(r) for r in base_runs])) if base_runs else 0.0
    for variant in present:
        runs = sorted(done[variant], key=lambda r: r["seed"])
        lines.append(f"| {named(variant)} | {ratio(float(np.mean([r['timings']['seconds_per_epoch'] for r in runs])), base_epoch)} | "
                     f"{[r['timings']['epochs'] for r in runs]} | {[best_epoch(r) for r in runs]} | "
                     f"{ratio(float(np.mean([wall_to_best(r) for r in runs])), base_wall)} | "
                     f"{ratio(float(np.mean([full_sort_seconds(r) for r in runs])), base_sort)} |")
    return "\n".join(lines) + "\n"


def plan_runs(seeds_of: dict[str, list[int]], seeds: list[int], root: Path, shared_baseline: Path | None,
              dataset: str, settings: list[str], reuse: tuple[Path, ...] = ()
              ) -> tuple[dict[str, list[dict]], list[tuple]]:
    """Finished results per variant, and the runs still to train as ``run_in_parallel`` jobs.

    Seed-major: every variant of a seed comes before the next seed. The baseline (the first
    variant) is looked up in its own folder, then in ``shared_baseline``, where a missing
    baseline run is also trained, so that two run sets share one converged run. Any variant
    is then looked up in the ``reuse`` folders, which are only read.
    """
    variants = list(seeds_of)
    done: dict[str, list[dict]] = {}
    todo = []
    for seed in seeds:
        for variant in variants:
            if seed not in seeds_of[variant]:
                continue
            model, own = parse_variant(variant)
            run_settings = with_overrides(settings, own)
            folder = root / slug(variant)
            result = finished_run(folder, model, dataset, seed, run_settings)
            if result is None and variant == variants[0] and shared_baseline is not None:
                folder = shared_baseline
                result = finished_run(folder, model, dataset, seed, run_settings)
            for other in reuse:
                if result is None:
                    result = finished_run(other, model, dataset, seed, run_settings)
            if result is not None:
                done.setdefault(variant, []).append(result)
            else:
                todo.append((variant, model, folder, seed, run_settings))
    return done, todo


def train_first(todo: list[tuple], first: list[str]) -> list[tuple]:
    """``todo`` with the runs of the ``first`` variants ahead of the rest, each part in its order."""
    return [job for job in todo if job[0] in first] + [job for job in todo if job[0] not in first]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="llm-enhanced", help="names the raw-result folder and the report")
    parser.add_argument("--variants", default="SASRec,SASRecLLMESR,SASRecHSUGA,SASRecHSUGA+hsuga_backbone=id_only")
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--data_path", default=str(REPO / "dataset"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default=None)
    parser.add_argument("--notes", default=None, help="markdown file appended to the report (reading notes)")
    parser.add_argument("--baseline_runs", default=None,
                        help="raw-result folder whose baseline runs are reused, and where missing ones are trained")
    parser.add_argument("--reuse_runs", default="",
                        help="FOLDER,... raw-result folders whose finished runs of any variant are reused (read only)")
    parser.add_argument("--pairs", default=None, help="OTHER:BASE,... extra paired comparisons between variants")
    parser.add_argument("--train_first", default="",
                        help="VARIANT,... variants of --variants whose missing runs train before the others")
    parser.add_argument("--report_only", action="store_true")
    parser.add_argument("--label", action="append", default=[],
                        help="VARIANT=LABEL (repeatable): the report's name for a variant")
    args, settings = parser.parse_known_args()
    seeds = seed_list(args.seeds)
    seeds_of = dict(split_seeds(spec, seeds) for spec in args.variants.split(",") if spec)
    variants = list(seeds_of)
    comparisons = parse_pairs(args.pairs, variants)
    labels = parse_variant_labels(args.label, variants)
    root = RAW / f"compare-{args.name}-{args.dataset}"
    shared_baseline = Path(args.baseline_runs).resolve() if args.baseline_runs else None
    out = Path(args.out) if args.out else REPO / "benchmarks" / "results" / f"compare-{args.name}-{args.dataset}.md"
    reuse = tuple(Path(folder).resolve() for folder in args.reuse_runs.split(",") if folder)
    first = [spec for spec in args.train_first.split(",") if spec]
    unknown = [spec for spec in first if spec not in variants]
    if unknown:
        raise InputError(f"--train_first: {unknown[0]!r} is not a variant of --variants ({', '.join(variants)})")
    done, todo = plan_runs(seeds_of, seeds, root, shared_baseline, args.dataset, settings, reuse)
    todo = train_first(todo, first)
    if args.report_only:
        todo = []
    print(f"{sum(len(v) for v in done.values())} runs found, {len(todo)} to train", flush=True)
    write_report(report(done, variants, args, settings, comparisons, labels), args.notes, out)

    def on_result(variant: str, result: dict) -> None:
        done.setdefault(variant, []).append(result)
        write_report(report(done, variants, args, settings, comparisons, labels), args.notes, out)

    run_in_parallel(todo, args.dataset, args.data_path, args.jobs, on_result)


if __name__ == "__main__":
    run_script(main)
