"""``python -m recbole_hsuga.report``: one table and two figures per study, from result files, no training.

    python -m recbole_hsuga.report --study benchmarks/results/raw/compare-llm-enhanced-amazon-beauty \\
        --runs benchmarks/results/raw/train-rows-amazon-beauty/sequence/SASRec-*.json \\
        --baseline SASRec --out benchmarks/results/glance

    python -m recbole_hsuga.report --runs results/ --out results/glance      # your own runs

Writes per study ``<out>/<study>.md`` (the Markdown table: rows = models, columns = each
protocol's all / tail users / tail items NDCG@10 as mean ± std over seeds, the best of
each column in bold, Δ% against the baseline with a paired t-test marker),
``<out>/<study>-bars.png`` (NDCG@10 per group and protocol, one bar per model, std over
seeds as error bars) and ``<out>/<study>-curves.png`` (validation score per epoch, mean
over seeds, one line per model). Bad input (a malformed result file, an unknown baseline,
a missing folder) prints one line naming the file or key and exits with status 2.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Sequence

from recbole_hsuga.cli import guarded
from recbole_hsuga.errors import InputError
from recbole_hsuga.reporting.collect import Study, add_models, collect_runs, collect_study, parse_labels, relabel
from recbole_hsuga.reporting.figures import bar_figure, curve_figure
from recbole_hsuga.reporting.table import render_table

PROG = "python -m recbole_hsuga.report"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; ``--study`` or ``--runs`` (or both) is required."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", nargs="+", default=[], metavar="DIR",
                        help="study folder(s) whose sub-folders are the models (benchmarks/results/raw/compare-X-Y)")
    parser.add_argument("--runs", nargs="+", default=[], metavar="PATH",
                        help="result files or folders of them; models = the 'model' field plus the settings that "
                             "differ. With --study: extra models put in front of each study's (a shared baseline)")
    parser.add_argument("--out", default="results/glance", help="output folder (default results/glance)")
    parser.add_argument("--baseline", default=None, help="model the Δ%% column compares against (default: the first)")
    parser.add_argument("--split", default="test", help="metrics split to report (default test)")
    parser.add_argument("--metric", default="ndcg@10", help="metric to report (default ndcg@10)")
    parser.add_argument("--name", default=None, help="study name for --runs alone (default: the folder's name)")
    parser.add_argument("--label", action="append", default=[], metavar="NAME=LABEL",
                        help="show model NAME as LABEL in the table and figures (repeatable; the label follows the "
                             "last '='); --baseline may name either")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the traceback of input errors")
    args = parser.parse_args(argv)
    if not args.study and not args.runs:
        parser.error("give --study DIR and/or --runs PATH")
    return args


def studies(args: argparse.Namespace) -> list[Study]:
    """The studies the arguments name: each ``--study`` (with the ``--runs`` models in front), or the runs alone."""
    extra = None
    if args.runs:
        name = args.name or (Path(args.runs[0]).name if Path(args.runs[0]).is_dir() else "runs")
        extra = collect_runs(args.runs, name=name)
    if not args.study:
        return [extra]
    found = [collect_study(folder) for folder in args.study]
    return [add_models(study, extra) if extra is not None else study for study in found]


def labelled(study: Study, labels: dict[str, str]) -> Study:
    """The study under ``--label`` names (labels for models of another study are skipped)."""
    names = {model.name for model in study.models}
    return relabel(study, {name: label for name, label in labels.items() if name in names})


def write_study(study: Study, out: Path, baseline: str | None, split: str, metric: str, command: str) -> list[Path]:
    """Write ``<study>.md``, ``<study>-bars.png`` and ``<study>-curves.png`` into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    table = render_table(study, baseline or study.models[0].name, split=split, metric=metric)
    bars = bar_figure(study, out / f"{study.name}-bars.png", split=split, metric=metric)
    curves = curve_figure(study, out / f"{study.name}-curves.png")
    dropped = sum(model.repeats_dropped for model in study.models)
    note = f" A seed run more than once counts once, newest run kept ({dropped} older runs left out)." if dropped else ""
    text = (f"# {study.name}: {metric.upper()} at a glance\n\n{table}\nRuns: {', '.join(f'`{s}`' for s in study.sources)}."
            f"{note} Made by `{command}`.\n\n![{metric.upper()} per group]({bars.name})\n\n"
            f"![validation curves]({curves.name})\n")
    markdown = out / f"{study.name}.md"
    markdown.write_text(text, encoding="utf-8")
    return [markdown, bars, curves]


def report(args: argparse.Namespace, command: str) -> list[Path]:
    """Every study's files; prints each path and the table."""
    written = []
    labels = parse_labels(args.label)
    all_studies = studies(args)
    known = {model.name for study in all_studies for model in study.models}
    unknown = [name for name in labels if name not in known]
    if unknown:
        raise InputError(f"--label {unknown[0]!r}: no such model (models: {', '.join(sorted(known))})")
    baseline = labels.get(args.baseline, args.baseline) if args.baseline else None
    for study in all_studies:
        paths = write_study(labelled(study, labels), Path(args.out), baseline, args.split, args.metric, command)
        written += paths
        print(paths[0].read_text(encoding="utf-8"))
        print("\n".join(f"wrote {path}" for path in paths))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    command = " ".join([PROG, *map(shlex.quote, argv)])
    return guarded(lambda: report(args, command), args.verbose, PROG)


if __name__ == "__main__":
    sys.exit(main())
