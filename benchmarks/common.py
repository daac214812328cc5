"""What the benchmark scripts share: running the CLI, reading result files, paired tests, reports,
timing training steps.

Scripts import it as ``from common import ...`` (Python puts the script's folder on the
path). Metrics are computed by :mod:`recbole_hsuga.evaluation.ranking`, the evaluator's
own code, never re-derived here.
"""

from __future__ import annotations

import concurrent.futures
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import stats
import torch

from recbole_hsuga.cli import guarded
from recbole_hsuga.errors import InputError
from recbole_hsuga.evaluation.ranking import per_user_metrics
from recbole_hsuga.training_state import VALUE_BEFORE_KEY_EXISTED

REPO = Path(__file__).resolve().parent.parent
RAW = REPO / "benchmarks" / "results" / "raw"
GROUPS = ["all", "head_users", "tail_users", "head_items", "tail_items"]
METRICS = ["hit@10", "ndcg@10"]


def run_script(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main`` as the package's CLIs run theirs.

    Bad input (a malformed ``--pairs``, a result file that is missing or of the wrong
    model) prints one line naming it and exits with status 2 (``RECBOLE_HSUGA_TRACEBACK=1``
    shows the traceback); anything else is a bug and keeps its traceback.
    """
    raise SystemExit(guarded(main, verbose=False, prog=Path(sys.argv[0]).name))


def mean_or_nan(values) -> float:
    """The mean of a sequence or array, NaN when it is empty (a group or bucket without users; no warning)."""
    return float(np.mean(values)) if len(values) else float("nan")


def labelled_run(spec: str) -> tuple[str, str]:
    """``--run LABEL=RESULT_JSON`` -> ``(label, path)``; only the first '=' splits, since result
    paths hold '=' (variant folders) and labels may not."""
    label, sep, path = spec.partition("=")
    if not sep or not label or not path:
        raise InputError(f"--run {spec!r}: expected LABEL=RESULT_JSON")
    return label, path


def seed_list(text: str) -> list[int]:
    """``"42,43,44"`` -> ``[42, 43, 44]``, the ``--seeds`` value of the run-set scripts."""
    try:
        return [int(seed) for seed in text.split(",")]
    except ValueError:
        raise InputError(f"--seeds takes integers joined by ',', got {text!r}") from None


def invocation(script: str) -> str:
    """The command that produced a report: this process's arguments without ``--report_only``.

    A report rewritten from result files must name the command that trained them, so that
    re-running what the report says trains the same runs rather than only rewriting it.
    A wrapper script that calls this one on a scratch copy (paths that do not outlive it)
    names itself in ``BENCHMARK_COMMAND`` instead.
    """
    if os.environ.get("BENCHMARK_COMMAND"):
        return os.environ["BENCHMARK_COMMAND"]
    args = [a for a in sys.argv[1:] if a != "--report_only"]
    return f"python benchmarks/{script} {shlex.join(args)}".rstrip()  # quoted: a label with spaces stays one argument


def newest_result_time(runs_by_key: dict) -> str:
    """When the newest of these runs finished (``YYYY-MM-DD HH:MM``), or "no run yet".

    A report dated by its newest result stays byte-identical when it is rewritten without a
    new result, so only new runs show up as changes in the committed report.
    """
    created = [run["created"] for runs in runs_by_key.values() for run in runs if run.get("created")]
    return max(created)[:16].replace("T", " ") if created else "no run yet"


def machine_load(runs_by_key: dict) -> str:
    """How busy the machine was while these runs trained: the median and range of the 1-minute
    load average at their epoch ends (recorded in each run's learning curve).

    A report states this measured figure rather than its own ``--jobs``, because another
    command (``benchmarks/queue.sh`` runs two lanes) may share the cores. Result files from
    before the load was recorded are counted as such.
    """
    runs = [run for runs in runs_by_key.values() for run in runs]
    loads = [point["load_1min"] for run in runs for point in run.get("curve", []) if "load_1min" in point]
    unrecorded = sum(1 for run in runs if not any("load_1min" in point for point in run.get("curve", [])))
    if not loads:
        return "machine load not recorded by these runs"
    text = (f"1-minute load average at epoch ends: median {float(np.median(loads)):.1f}, "
            f"range {min(loads):.1f}-{max(loads):.1f}")
    return text + (f"; not recorded by {unrecorded} older run(s)" if unrecorded else "")


def ndcg_at_10(ranks: np.ndarray) -> np.ndarray:
    """Per-user NDCG@10 of 0-based target ranks, as the evaluator computes it."""
    return per_user_metrics(ranks, ["ndcg"], [10])["ndcg@10"]


def load_result(path: Path) -> dict:
    """A run's result JSON, with ``_ranks`` pointing at its per-user ranks file and ``_path`` at itself."""
    result = json.loads(Path(path).read_text())
    result["_ranks"] = str(Path(path).with_suffix(".ranks.npz"))
    result["_path"] = str(path)
    return result


def result_files(results_dir: Path, model: str, dataset: str, seed: int) -> set[Path]:
    return set(Path(results_dir).glob(f"{model}-{dataset}-seed{seed}-*.json"))


def run_cli(model: str, dataset: str, data_path: str | Path, results_dir: Path, seed: int,
            settings: list[str]) -> dict:
    """Train and test one model through ``run_recbole_hsuga.py`` in its own process; its result."""
    results_dir.mkdir(parents=True, exist_ok=True)
    before = result_files(results_dir, model, dataset, seed)
    command = [sys.executable, str(REPO / "run_recbole_hsuga.py"), f"--model={model}", f"--dataset={dataset}",
               f"--data_path={data_path}/", f"--results_dir={results_dir}", f"--seed={seed}",
               "--save_user_ranks=True", "--state=WARNING", *settings]
    print("running:", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)
    (path,) = result_files(results_dir, model, dataset, seed) - before
    return load_result(path)


def collect(model: str, seed: int, dataset: str, results_dir: Path, since: str, until: str | None = None) -> dict:
    """Newest result file of ``model`` and ``seed`` stamped in ``[since, until)`` (``YYYYmmddTHHMM``)."""
    until = until or "9"
    found = sorted(p for p in result_files(results_dir, model, dataset, seed)
                   if since <= p.stem.rsplit("-", 1)[-1] < until)
    if not found:
        raise InputError(f"no result for {model}, seed {seed} in {results_dir} stamped from {since} to {until}")
    return load_result(found[-1])


def best_epoch(result: dict) -> int | None:
    """1-based epoch whose validation score was best (the model that was tested), from the curve.

    RecBole's early stopping saves a model whose score ties the best so far (``>=``), so a
    tie goes to the later epoch.
    """
    scored = [(entry["valid_score"], entry["epoch"]) for entry in result.get("curve", []) if "valid_score" in entry]
    return max(scored)[1] + 1 if scored else None


def epoch_reaching(result: dict, fraction: float) -> int | None:
    """1-based first epoch whose validation score reached ``fraction`` of the run's best.

    Unlike :func:`best_epoch` it does not depend on which of a plateau's noisy maxima came
    last, so it compares how fast runs converge (and, unlike seconds, not on machine load).
    """
    scored = [(entry["epoch"], entry["valid_score"]) for entry in result.get("curve", []) if "valid_score" in entry]
    if not scored:
        return None
    best = max(score for _, score in scored)
    return next(epoch for epoch, score in scored if score >= fraction * best) + 1


def group_mask(ranks, group: str) -> np.ndarray | None:
    """Which users of a ranks file (an open ``.npz`` or a dict of its arrays) belong to ``group``
    (one of GROUPS), or None when it carries no head/tail labels (files written before they
    were recorded)."""
    if group == "all":
        return np.ones(len(ranks["users"]), dtype=bool)
    label = "head_users" if group.endswith("users") else "head_items"
    if label not in ranks:
        return None
    head = ranks[label].astype(bool)
    return head if group.startswith("head") else ~head


def user_level_test(base_runs: list[dict], other_runs: list[dict], protocol: str,
                    group: str = "all") -> tuple[float, float]:
    """Wilcoxon over users of NDCG@10 differences (other - base), runs paired by seed and user,
    over the users of ``group``; ``(nan, nan)`` when a ranks file has no group labels or no
    ranks under ``protocol``."""
    diffs = []
    for base, other in zip(base_runs, other_runs):
        a, b = np.load(base["_ranks"]), np.load(other["_ranks"])
        order_a, order_b = np.argsort(a["users"]), np.argsort(b["users"])
        if not (a["users"][order_a] == b["users"][order_b]).all():
            raise InputError(f"{base['_ranks']} and {other['_ranks']} rank different users")
        mask_a, mask_b = group_mask(a, group), group_mask(b, group)
        if mask_a is None or mask_b is None or protocol not in a or protocol not in b:
            return float("nan"), float("nan")  # files written before the labels / the protocol existed
        if not (mask_a[order_a] == mask_b[order_b]).all():
            raise InputError(f"{base['_ranks']} and {other['_ranks']} put users in different {group} groups")
        keep = mask_a[order_a]
        diffs.append(ndcg_at_10(b[protocol][order_b][keep]) - ndcg_at_10(a[protocol][order_a][keep]))
    diff = np.concatenate(diffs)
    nonzero = diff[diff != 0]
    p = float(stats.wilcoxon(nonzero).pvalue) if len(nonzero) else 1.0
    return float(diff.mean()), p


def paired_seed_test(base_values: list[float], other_values: list[float]) -> float:
    """Two-sided paired t-test over seeds (nan with fewer than two pairs)."""
    if len(base_values) < 2:
        return float("nan")
    return float(stats.ttest_rel(other_values, base_values).pvalue)


def group_table(runs_by_name: dict[str, list[dict]], protocol: str) -> list[str]:
    """Markdown rows ``| name | HR@10 / NDCG@10 per group |`` (means over each name's runs)."""
    lines = ["| model | " + " | ".join(GROUPS) + " |", "|---|" + "---|" * len(GROUPS)]
    for name, runs in runs_by_name.items():
        cells = []
        for group in GROUPS:
            values = [[r["metrics"]["test"][protocol][group][m] for m in METRICS] for r in runs]
            mean = np.mean(values, axis=0)
            cells.append(f"{mean[0]:.4f} / {mean[1]:.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def write_report(text: str, notes: str | None, out: str | Path | None) -> None:
    """Print ``text`` plus the hand-written reading notes in ``notes`` (if any) and write it to ``out`` (if given)."""
    if notes:
        text += "\n" + Path(notes).read_text()
    if out:
        Path(out).write_text(text)
    print(text, flush=True)


def emit(lines: list[str], out: str | Path | None) -> str:
    """Print a markdown report made of ``lines`` and write it to ``out`` when given."""
    text = "\n".join(lines) + "\n"
    write_report(text, None, out)
    return text


def write_rows(rows: list[dict], path: str | Path | None) -> None:
    """A report's cells as CSV rows for plotting (columns: the first row's keys), when ``path`` is given."""
    if not path:
        return
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def first_batches(loader, n: int) -> list:
    """The first ``n`` batches of a dataloader (all of them when it has fewer)."""
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == n:
            break
    return batches


def step_seconds(model, optimizer, loss_of, batches: list, bf16_autocast: bool = False) -> list[float]:
    """Seconds of each training step, one per batch: zero_grad, ``loss_of(batch)`` (under
    ``torch.autocast("cpu", torch.bfloat16)`` when ``bf16_autocast``), backward, optimizer step."""
    model.train()
    seconds = []
    for batch in batches:
        started = time.perf_counter()
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_autocast):
            loss = loss_of(batch)
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - started)
    return seconds


def timed_steps(model, optimizer, loss_of, batches: list) -> float:
    """Seconds for one training step per batch, in all (see :func:`step_seconds`)."""
    return sum(step_seconds(model, optimizer, loss_of, batches))


# ------------------------------------------------------------------ one step computed two ways
def two_way_step_setup(doc: str, model_name: str):
    """What a benchmark of one model's training step computed two ways starts from.

    Reads ``--dataset``, ``--steps``, ``--rounds``, ``--out`` and passes every other
    ``--key=value`` to the model's config; returns ``(args, config, model, batches)``: the model
    built on the training split and the split's first ``--steps`` batches.
    """
    import argparse

    from recbole_hsuga.config import HSUGAConfig
    from recbole_hsuga.registry import get_model
    from recbole_hsuga.runner import configure_threads, prepare_data

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args, settings = parser.parse_known_args()
    config = HSUGAConfig(model=model_name, dataset=args.dataset, cmd_args=settings + ["--state=WARNING"])
    configure_threads(config)
    _, train, _, _ = prepare_data(config)
    model = get_model(model_name)(config, train._dataset)
    return args, config, model, first_batches(train, args.steps)


def loss_gradients(model, batch) -> list[torch.Tensor]:
    """The gradient of ``calculate_loss(batch)`` for every parameter that gets one."""
    model.zero_grad()
    model.calculate_loss(batch).backward()
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def alternating_step_seconds(model, learning_rate: float, ways: dict[str, Callable[[], None]], batches: list,
                             rounds: int) -> dict[str, list[float]]:
    """Seconds of each training step (Adam) of every way, the ways taking turns for ``rounds``
    rounds over the same batches, so that load changes hit all alike; ``ways`` maps a name to
    the call that switches the model to that way. The model is left in the first way."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    seconds = {name: [] for name in ways}
    for _ in range(rounds):
        for name, switch in ways.items():
            switch()
            seconds[name] += step_seconds(model, optimizer, model.calculate_loss, batches)
    next(iter(ways.values()))()
    return seconds


def median_ratio_rows(seconds: dict[str, list[float]], baseline: str) -> list[str]:
    """Markdown rows ``| way | median s / step | ratio |``, ratios to the median of ``baseline``."""
    reference = statistics.median(seconds[baseline])
    return [f"| {name} | {statistics.median(values):.3f} | {statistics.median(values) / reference:.2f} |"
            for name, values in seconds.items()]


# ------------------------------------------------------------------ run sets that resume
def pinned_to_prefix_rows(settings: list[str]) -> list[str]:
    """``settings`` with ``--train_rows=prefix`` unless they choose the rows: the run sets of
    the scripts that call this were made on prefix rows, RecBole's, before the package's
    default became sequence rows, and a rerun has to train the way their files were made."""
    return settings if any(s.startswith("--train_rows=") for s in settings) else ["--train_rows=prefix", *settings]


def run_config(result: dict) -> dict:
    """A result file's config; a file written before a key existed has the value every run had then."""
    return {**VALUE_BEFORE_KEY_EXISTED, **result.get("config", {})}


def same_setting(stored: object, given: str) -> bool:
    """Whether a config value equals a command-line value: as text (``True`` and YAML's ``true``
    alike) or as numbers, since a run's config holds ``50.0`` where a tuning table hands over
    ``50``."""
    if str(stored) == given or str(stored).lower() == given.lower():
        return True
    try:
        return float(str(stored)) == float(given)
    except ValueError:
        return False


def settings_match(result: dict, settings: list[str]) -> bool:
    """Whether a result file was made with ``settings`` (``--key=value``)."""
    config = run_config(result)
    for setting in settings:
        key, value = setting[2:].split("=", 1)
        if not same_setting(config.get(key), value):
            return False
    return True


def finished_run(folder: Path, model: str, dataset: str, seed: int, settings: list[str]) -> dict | None:
    """The newest result in ``folder`` of ``model`` and ``seed`` made with ``settings``, if any:
    a run set started again skips what it already has."""
    for path in sorted(Path(folder).glob(f"{model}-{dataset}-seed{seed}-*.json"), reverse=True):
        result = load_result(path)
        if settings_match(result, settings):
            return result
    return None


def wall_to_best(result: dict) -> float:
    """Seconds of training and per-epoch validation up to and including the selected epoch."""
    selected = best_epoch(result)  # 1-based: the curve and epoch_seconds up to it
    if selected is None:
        return float("nan")
    curve = result["curve"]
    epoch_seconds = result["timings"]["epoch_seconds"]
    return float(sum(epoch_seconds[:selected]) + sum(e.get("valid_seconds", 0.0) for e in curve[:selected]))


def full_sort_seconds(result: dict) -> float:
    """Median seconds of one full-sort validation pass (every validation user against every item)."""
    seconds = [entry["valid_seconds"] for entry in result.get("curve", []) if "valid_seconds" in entry]
    return float(np.median(seconds)) if seconds else float("nan")


def run_in_parallel(jobs: list[tuple], dataset: str, data_path: str | Path, n_parallel: int, on_result) -> None:
    """Train ``jobs`` = ``[(key, model, results_dir, seed, settings), ...]`` through the CLI,
    ``n_parallel`` processes at a time; ``on_result(key, result)`` runs as each finishes.

    Each run gets a checkpoint folder of its own (RecBole names checkpoints by model and start
    second, so two runs started together would overwrite each other) and saves its training
    state after every epoch (``resume_training``): a run set stopped mid-run continues each
    unfinished run at its next epoch when started again.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, n_parallel)) as pool:
        futures = {}
        for key, model, results_dir, seed, settings in jobs:
            checkpoints = REPO / "saved" / Path(results_dir).relative_to(RAW) / f"{model}-{seed}"
            futures[pool.submit(run_cli, model, dataset, data_path, Path(results_dir), seed,
                                [*settings, f"--checkpoint_dir={checkpoints}", "--resume_training=True"])] = key
        for future in concurrent.futures.as_completed(futures):
            on_result(futures[future], future.result())
