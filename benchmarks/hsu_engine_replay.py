"""Engines side by side on identical HSU requests: sequential llama.cpp against llamacpp-batch.

``hsu_pipeline.py`` times each engine on its own pipeline run, so the two engines see
different stage-2 prompts (their stage-1 outputs differ). This script first records the
request batches of one pipeline run on a seeded user sample (the lockstep batches exactly as
the pipeline issues them), then replays those same requests through every engine setting
listed, one after another in this process, and reports wall-clock, tokens/s and each
setting's speed-up over the first one.

    python benchmarks/hsu_engine_replay.py --dataset movielens-100k --users 16 --max-items 40 \\
        --setting llamacpp --setting llamacpp-batch:parallel=16 \\
        --out benchmarks/results/hsu-engine-replay-movielens-100k.md

A setting is ``ENGINE[:key=value,...]`` with the engine's constructor options (``parallel``,
``n_ctx``, ``flash_attn``). Machine load is stated in the report; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from dataset_tools.formats.inter import read_user_sequences  # noqa: E402
from dataset_tools.hsu.engines import make_engine  # noqa: E402
from dataset_tools.hsu.engines.base import Engine, Generation, GenerationRequest  # noqa: E402
from dataset_tools.hsu.hsu_spec import parse_hsu_section  # noqa: E402
from dataset_tools.hsu.lockstep import HsuSettings  # noqa: E402
from dataset_tools.hsu.run_folder import run_dataset  # noqa: E402
from dataset_tools.spec import load_dataset_spec  # noqa: E402


class RecordingEngine(Engine):
    """Passes batches to a real engine and keeps them, in the order the pipeline sent them."""

    def __init__(self, inner: Engine) -> None:
        super().__init__(inner.model_id, inner.constrained)
        self.name = inner.name
        self.inner = inner
        self.batches: list[list[GenerationRequest]] = []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.batches.append(list(requests))
        return self.inner.generate(requests)


def parse_setting(text: str) -> tuple[str, dict[str, object]]:
    """``ENGINE[:key=value,...]`` -> (engine, options); values read as JSON when they parse."""
    engine, _, rest = text.partition(":")
    options: dict[str, object] = {}
    for pair in filter(None, rest.split(",")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--setting {text}: '{pair}' is not key=value")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return engine, options


def record(args: argparse.Namespace) -> list[list[GenerationRequest]]:
    source = args.data / args.dataset
    sequences = read_user_sequences(source / f"{args.dataset}.inter")
    spec = parse_hsu_section(load_dataset_spec(args.dataset))
    caps = {"max_tokens_interests": args.max_tokens, "max_tokens_selection": args.max_tokens} if args.max_tokens else {}
    settings = HsuSettings(stage_length=args.stage_length or spec.stage_length, operations=spec.operations,
                           item_line=spec.item_line, batch_size=args.batch_size,
                           max_items=args.max_items or spec.max_items, **caps)
    users = sorted(sequences, key=lambda u: hashlib.sha256(f"{args.seed}:{u}".encode()).hexdigest())[: args.users]
    work = Path(tempfile.mkdtemp(prefix="hsu-replay-"))
    (work / args.dataset).mkdir()
    for name in (f"{args.dataset}.item_text.jsonl", f"{args.dataset}.inter"):
        shutil.copy(source / name, work / args.dataset)
    engine_name, options = parse_setting(args.setting[-1])
    with make_engine(engine_name, args.model, n_threads=args.n_threads, **options) as engine:
        recorder = RecordingEngine(engine)
        run_dataset(work, args.dataset, "record", recorder, settings, users_from=users, progress=False)
    shutil.rmtree(work)
    return recorder.batches


def replay(batches: list[list[GenerationRequest]], setting: str, model: str, n_threads: int) -> dict[str, object]:
    engine_name, options = parse_setting(setting)
    with make_engine(engine_name, model, n_threads=n_threads, **options) as engine:
        started = time.perf_counter()
        outputs = [engine.generate(batch) for batch in batches]
        wall = time.perf_counter() - started
    prompt = sum(g.prompt_tokens for batch in outputs for g in batch)
    completion = sum(g.completion_tokens for batch in outputs for g in batch)
    return {"setting": setting, "wall_s": wall, "requests": sum(map(len, outputs)), "prompt_tokens": prompt,
            "completion_tokens": completion, "prompt_tokens_per_s": prompt / wall,
            "completion_tokens_per_s": completion / wall}


def render(results: dict, args: argparse.Namespace) -> str:
    rows = results["rows"]
    base = rows[0]["wall_s"]
    lines = [
        f"# HSU engines on identical requests: {args.dataset}",
        "",
        f"Command: `python benchmarks/hsu_engine_replay.py {' '.join(results['argv'])}`",
        "",
        f"Requests: the lockstep batches of one pipeline run ({results['recorded_with']}) on {args.users} users "
        f"(seed {args.seed}), {results['requests']} requests in {len(results['batch_sizes'])} batches "
        f"{results['batch_sizes']}; model `{args.model}`, {args.n_threads} thread(s), grammars on. "
        f"Machine: {results['cpus']} CPUs, load average {results['load_before']:.1f} before / "
        f"{results['load_after']:.1f} after.",
        "",
        "| setting | wall s | prompt tok/s | generated tok/s | generated tokens | speed-up over first |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| `{row['setting']}` | {row['wall_s']:.1f} | {row['prompt_tokens_per_s']:.0f} | "
                     f"{row['completion_tokens_per_s']:.1f} | {row['completion_tokens']} | {base / row['wall_s']:.2f}x |")
    lines += ["", "Prompt tokens are the same in every row (same requests); generated tokens can differ by a few "
              "per cent: batched matrix products round differently, so a greedy choice between near-equal tokens "
              "may differ.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO_ROOT / "dataset", help="prepared data root")
    parser.add_argument("--dataset", default="movielens-100k")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-items", type=int, default=None, help="history cap (default: the spec's)")
    parser.add_argument("--stage-length", type=int, default=None, help="items per stage (default: the spec's)")
    parser.add_argument("--max-tokens", type=int, default=None, help="generation cap of every call (default: the pipeline's)")
    parser.add_argument("--batch-size", type=int, default=16, help="users per lockstep batch while recording")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--n-threads", type=int, default=2)
    parser.add_argument("--setting", action="append", required=True,
                        help="ENGINE[:key=value,...]; repeatable; the last also records the requests; the first is the speed-up base")
    parser.add_argument("--requests", type=Path, default=None,
                        help="reuse (or, if absent, save) the recorded batches here (a local pickle)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    if args.requests and args.requests.exists():
        batches = pickle.loads(args.requests.read_bytes())
    else:
        batches = record(args)
        if args.requests:
            args.requests.write_bytes(pickle.dumps(batches))
    rows = []
    for setting in args.setting:
        rows.append(replay(batches, setting, args.model, args.n_threads))
        print(json.dumps(rows[-1]), flush=True)
    results = {"argv": list(argv if argv is not None else sys.argv[1:]), "recorded_with": args.setting[-1],
               "requests": sum(map(len, batches)), "batch_sizes": [len(b) for b in batches], "rows": rows,
               "cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()[0]}
    markdown = render(results, args)
    if args.out:
        args.out.write_text(markdown, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
