"""Benchmark of the HSU pipeline on a fixed user sample with the CPU default engine.

Measures, on ``--users`` users drawn by a seeded hash of their ids (the same sample every
time):

1. the pipeline: users/s, prompt and generated tokens/s, parse-failure, retry and fallback
   rates, operation distribution;
2. the engine's raw throughput on exactly the same requests (each batch is replayed straight
   into ``engine.generate`` right after the pipeline ran it, so machine load hits both
   alike), and the ratio pipeline / raw;
3. the cost of an incremental one-stage update against recomputing the same users from
   scratch (users with >= 2 stages, history cut back by their last stage, then grown).

Runs write into a scratch copy of the dataset (``--work``), never into ``--data``.

    python benchmarks/hsu_pipeline.py --data dataset --users 200 \
        --out benchmarks/results/hsu-pipeline-amazon-beauty.md

``--compare-engine llamacpp-batch --parallel 16`` also runs 1 and 2 with that engine on the
same sample in the same process (its own run folder and lockstep batch size), and the report
puts the two engines side by side: users/s of each and their ratio, pipeline / raw of each.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from dataset_tools.formats.inter import read_user_sequences, write_sequences  # noqa: E402
from dataset_tools.hsu.engines import make_engine  # noqa: E402
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest  # noqa: E402
from dataset_tools.hsu.hsu_spec import parse_hsu_section  # noqa: E402
from dataset_tools.hsu.lockstep import HsuSettings, default_batch_size  # noqa: E402
from dataset_tools.hsu.prompts import PROMPT_VERSION  # noqa: E402
from dataset_tools.hsu.run_folder import run_dataset  # noqa: E402
from dataset_tools.hsu.stages import user_stages  # noqa: E402
from dataset_tools.spec import load_dataset_spec  # noqa: E402

logger = logging.getLogger("hsu_benchmark")


class InterleavedReplayEngine(Engine):
    """Runs each pipeline batch on a real engine, then replays it raw, timed apart.

    Interleaving batch by batch means that load from other jobs on a shared machine hits the
    pipeline and the raw engine alike, so their ratio measures the pipeline and not the
    machine. The pipeline gets the first outputs; the replay's outputs are only counted.
    """

    def __init__(self, inner: Engine) -> None:
        super().__init__(inner.model_id, inner.constrained)
        self.name = inner.name
        self.inner = inner
        self.replay_s = 0.0
        self.replay_requests = 0
        self.replay_prompt_tokens = 0
        self.replay_completion_tokens = 0

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        outputs = self.inner.generate(requests)
        started = time.perf_counter()
        replayed = self.inner.generate(requests)
        self.replay_s += time.perf_counter() - started
        self.replay_requests += len(replayed)
        self.replay_prompt_tokens += sum(g.prompt_tokens for g in replayed)
        self.replay_completion_tokens += sum(g.completion_tokens for g in replayed)
        return outputs

    def raw_throughput(self) -> dict[str, float]:
        wall = max(self.replay_s, 1e-9)
        return {"wall_s": self.replay_s, "prompt_tokens": self.replay_prompt_tokens,
                "completion_tokens": self.replay_completion_tokens, "requests": self.replay_requests,
                "prompt_tokens_per_s": self.replay_prompt_tokens / wall,
                "completion_tokens_per_s": self.replay_completion_tokens / wall}


def sample_users(users: Sequence[str], count: int, seed: int) -> list[str]:
    """``count`` users ordered by a seeded hash: a fixed sample independent of file order."""
    ranked = sorted(users, key=lambda u: hashlib.sha256(f"{seed}:{u}".encode()).hexdigest())
    return ranked[:count]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "dataset", help="prepared data root")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--users", type=int, default=200, help="sample size (fixed, seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--incremental-users", type=int, default=5, help="users with >= 2 stages for step 3")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--n-threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--compare-engine", default=None,
                        help="also measure this engine on the same sample (e.g. llamacpp-batch), side by side")
    parser.add_argument("--parallel", type=int, default=16, help="llamacpp-batch: sequences decoded together")
    parser.add_argument("--work", type=Path, default=None, help="scratch data root (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=None, help="markdown result file")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw numbers as JSON")
    parser.add_argument("--render-json", type=Path, default=None,
                        help="only re-render the markdown from a JSON written by --json (no LLM runs)")
    args = parser.parse_args(argv)
    if args.render_json:
        results = json.loads(args.render_json.read_text(encoding="utf-8"))
        args.users, args.seed, args.incremental_users = results["users"], results["seed"], results["incremental"]["users"]
        markdown = render(results, args)
        if args.out:
            args.out.write_text(markdown, encoding="utf-8")
        print(markdown)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    source = args.data / args.dataset
    sequences = read_user_sequences(source / f"{args.dataset}.inter")
    hsu_spec = parse_hsu_section(load_dataset_spec(args.dataset))
    settings = HsuSettings(stage_length=hsu_spec.stage_length, operations=hsu_spec.operations,
                           item_line=hsu_spec.item_line, batch_size=args.batch_size)
    sample = sample_users(list(sequences), args.users, args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="hsu-bench-"))
    folder = work / args.dataset
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy(source / f"{args.dataset}.item_text.jsonl", folder)
    shutil.copy(source / f"{args.dataset}.inter", folder)
    load_before = os.getloadavg()

    results: dict[str, object] = {"users": len(sample), "seed": args.seed, "model": args.model,
                                  "n_threads": args.n_threads, "batch_size": args.batch_size,
                                  "stage_length": settings.stage_length, "prompt_version": PROMPT_VERSION}
    with make_engine("llamacpp", args.model, n_threads=args.n_threads) as engine:
        # 1 + 2. pipeline on the sample, each batch replayed raw right after it
        recorder = InterleavedReplayEngine(engine)
        outcome = run_dataset(work, args.dataset, "bench", recorder, settings, users_from=sample, progress=True)
        outcome.stats.wall_s -= recorder.replay_s  # the pipeline's own time, replays excluded
        results["pipeline"] = outcome.stats.as_dict()
        results["report"] = outcome.report
        results["raw"] = recorder.raw_throughput()

        # 3. incremental one-stage update vs recompute from scratch
        multi = [u for u in sample_users(list(sequences), len(sequences), args.seed)
                 if len(user_stages(sequences[u], settings.stage_length)) >= 2][: args.incremental_users]
        cut = {}
        for user in multi:
            last = user_stages(sequences[user], settings.stage_length)[-1]
            cut[user] = sequences[user][: len(sequences[user]) - len(last)]
        write_sequences(folder / f"{args.dataset}.inter", cut)
        run_dataset(work, args.dataset, "incremental", engine, settings, progress=False)
        write_sequences(folder / f"{args.dataset}.inter", {u: sequences[u] for u in multi})
        inc = run_dataset(work, args.dataset, "incremental", engine, settings, progress=False).stats
        scratch = run_dataset(work, args.dataset, "scratch", engine, settings, progress=False).stats
        results["incremental"] = {
            "users": len(multi),
            "stages_per_user": scratch.stages_computed / max(1, len(multi)),
            "update_s_per_user": inc.wall_s / max(1, len(multi)),
            "update_stages_computed": inc.stages_computed,
            "update_stages_reused": inc.stages_reused,
            "scratch_s_per_user": scratch.wall_s / max(1, len(multi)),
            "scratch_stages_computed": scratch.stages_computed,
            "ratio": inc.wall_s / scratch.wall_s if scratch.wall_s else None,
        }
    if args.compare_engine:
        options = {"n_threads": args.n_threads}
        if args.compare_engine == "llamacpp-batch":
            options.update(parallel=args.parallel, n_ctx=2048)
        batch_size = default_batch_size(args.compare_engine)
        other = HsuSettings(stage_length=settings.stage_length, operations=settings.operations,
                            item_line=settings.item_line, batch_size=batch_size)
        write_sequences(folder / f"{args.dataset}.inter", sequences)
        with make_engine(args.compare_engine, args.model, **options) as engine:
            recorder = InterleavedReplayEngine(engine)
            outcome = run_dataset(work, args.dataset, f"bench-{args.compare_engine}", recorder, other,
                                  users_from=sample, progress=True)
            outcome.stats.wall_s -= recorder.replay_s
            results["comparison"] = {"engine": args.compare_engine, "options": options, "batch_size": batch_size,
                                     "pipeline": outcome.stats.as_dict(), "raw": recorder.raw_throughput(),
                                     "fallback_rate": outcome.report["fallback_rate"]}
    results["machine"] = {"cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg(),
                          "python": platform.python_version()}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    markdown = render(results, args)
    if args.out:
        args.out.write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


def render(results: dict, args: argparse.Namespace) -> str:
    pipe, raw, report, inc = results["pipeline"], results["raw"], results["report"], results["incremental"]
    ratio_prompt = pipe["prompt_tokens_per_s"] / raw["prompt_tokens_per_s"] if raw["prompt_tokens_per_s"] else 0
    ratio_gen = pipe["completion_tokens_per_s"] / raw["completion_tokens_per_s"] if raw["completion_tokens_per_s"] else 0
    ops = report["operations"]
    overhead = pipe["wall_s"] - report["llm_latency_s"]
    same_tokens = (pipe["prompt_tokens"], pipe["completion_tokens"]) == (raw["prompt_tokens"], raw["completion_tokens"])
    sample_note = []
    if results["users"] < 200:
        per_user = pipe["wall_s"] / max(1, results["users"])
        sample_note = [
            f"Sample: {results['users']} users, not the 200 the script defaults to: at {per_user:.0f} s per user on "
            f"this machine, 200 users would take about {200 * per_user / 60:.0f} min for the pipeline plus as long "
            "again for the interleaved raw replay. Run `--users 200` on a quieter machine for the full sample.",
            "",
        ]
    lines = [
        f"# HSU pipeline benchmark: {args.dataset}",
        "",
        f"Command: `python benchmarks/hsu_pipeline.py --data {args.data} --users {results['users']} "
        f"--incremental-users {args.incremental_users} --seed {results['seed']}`",
        "",
        f"Engine: in-process llama.cpp (llama-cpp-python), model `{results['model']}`, "
        f"{results['n_threads']} thread(s), grammars on; batch size {results['batch_size']}, "
        f"stage length {results['stage_length']}, prompts `{results['prompt_version']}`. "
        f"Machine: {results['machine']['cpus']} CPUs shared with other jobs, load average "
        f"{results['machine']['load_before'][0]:.1f} before / {results['machine']['load_after'][0]:.1f} after.",
        "",
        *sample_note,
        "## Pipeline vs raw engine on the same requests",
        "",
        "| | wall s | users/s | prompt tok/s | generated tok/s | requests |",
        "|---|---|---|---|---|---|",
        f"| pipeline | {pipe['wall_s']:.1f} | {pipe['users_per_s']:.3f} | {pipe['prompt_tokens_per_s']:.1f} | "
        f"{pipe['completion_tokens_per_s']:.1f} | {pipe['requests']} |",
        f"| raw engine (replay) | {raw['wall_s']:.1f} | | {raw['prompt_tokens_per_s']:.1f} | "
        f"{raw['completion_tokens_per_s']:.1f} | {raw['requests']} |",
        f"| ratio pipeline / raw | | | {ratio_prompt:.2f} | {ratio_gen:.2f} | |",
        "",
        f"Of the pipeline's {pipe['wall_s']:.1f} s, {report['llm_latency_s']:.1f} s were spent inside engine calls "
        f"and {overhead:.2f} s ({overhead / max(pipe['wall_s'], 1e-9):.2%}) outside them (prompt building, parsing, "
        "store writes with fsync). "
        + ("Each batch was replayed raw right after the pipeline ran it, so load from other jobs hit both rows "
           "alike. " + ("Both rows processed exactly the same requests and token counts." if same_tokens else
                        "The replay generated different token counts: retries sample at a positive temperature, "
                        "so a replayed retry can differ from the pipeline's.")),
        "",
        f"Users: {report['users']}, stages: {report['stages']}, LLM calls: {report['llm_calls']}; "
        f"per stage {report['mean_prompt_tokens_per_stage']:.0f} prompt / "
        f"{report['mean_completion_tokens_per_stage']:.0f} generated tokens, "
        f"{report['mean_latency_s_per_stage']:.2f} s.",
        "",
        "## Parsing",
        "",
        f"Parse failures: {report['parse_failures']} ({report['parse_failure_rate']:.1%} of calls); "
        f"retries: {report['retries']}; fallbacks: {report['fallbacks'] or 'none'} "
        f"({report['fallback_rate']:.1%} of stages).",
        "",
        "## Operations",
        "",
        "| summary (stage 1) | add | delete | update | retain |",
        "|---|---|---|---|---|",
        f"| {ops['summary']} | {ops['add']} | {ops['delete']} | {ops['update']} | {ops['retain']} |",
        "",
        "## Incremental one-stage update vs recompute from scratch",
        "",
        f"{inc['users']} users with >= 2 stages ({inc['stages_per_user']:.1f} stages each on average); their "
        "history was cut back by its last stage, processed, then grown back.",
        "",
        "| | s per user | stages computed | stages reused |",
        "|---|---|---|---|",
        f"| incremental update | {inc['update_s_per_user']:.1f} | {inc['update_stages_computed']} | "
        f"{inc['update_stages_reused']} |",
        f"| from scratch | {inc['scratch_s_per_user']:.1f} | {inc['scratch_stages_computed']} | 0 |",
        f"| ratio | {inc['ratio']:.2f} | | |" if inc["ratio"] is not None else "| ratio | n/a | | |",
        "",
    ]
    if "comparison" in results:
        lines += render_comparison(results)
    return "\n".join(lines)


def render_comparison(results: dict) -> list[str]:
    """The two engines side by side on the same sample (steps 1 and 2 of each)."""
    other = results["comparison"]
    rows = [("llamacpp", results["batch_size"], results["pipeline"], results["raw"], results["report"]["fallback_rate"]),
            (other["engine"], other["batch_size"], other["pipeline"], other["raw"], other["fallback_rate"])]
    base_users = rows[0][2]["users_per_s"] or float("nan")
    lines = ["## Engines side by side (same users, same process)", "",
             f"{other['engine']} options: {other['options']}.", "",
             "| engine | lockstep batch | users/s | x first engine | generated tok/s | pipeline / raw (generated tok/s) "
             "| fallbacks |", "|---|---|---|---|---|---|---|"]
    for name, batch, pipe, raw, fallback in rows:
        ratio = pipe["completion_tokens_per_s"] / raw["completion_tokens_per_s"] if raw["completion_tokens_per_s"] else 0
        lines.append(f"| {name} | {batch} | {pipe['users_per_s']:.3f} | {pipe['users_per_s'] / base_users:.2f} | "
                     f"{pipe['completion_tokens_per_s']:.1f} | {ratio:.2f} | {fallback:.1%} |")
    return lines + [""]


if __name__ == "__main__":
    sys.exit(main())
