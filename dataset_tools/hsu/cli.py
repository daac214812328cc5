"""``python -m dataset_tools hsu DATASET ...``: run, resume or update an HSU run.

Examples::

    # CPU default: in-process llama.cpp with the packaged SmolLM2 (tests, demos)
    python -m dataset_tools hsu amazon-beauty --data dataset --limit-users 50
    # a llama.cpp or vLLM server
    python -m dataset_tools hsu amazon-beauty --engine openai --base-url http://127.0.0.1:8000/v1 \\
        --server-kind vllm --model Qwen/Qwen2.5-7B-Instruct
    # ablation without Add; the CoT baseline
    python -m dataset_tools hsu amazon-beauty --operations delete,update,retain
    python -m dataset_tools hsu amazon-beauty --mode oneshot
    # shards on two machines, then merge
    python -m dataset_tools hsu amazon-beauty --shard 0/2 ; ... --shard 1/2
    python -m dataset_tools hsu amazon-beauty --merge RUN-shard0of2 RUN-shard1of2 --run RUN
    # the same as Ray tasks (a local instance, or a cluster: --ray auto), merged at the end
    python -m dataset_tools hsu amazon-beauty --ray --ray-workers 4 --engine vllm --model /models/qwen7b

Rerunning the same command resumes; rerunning it after the dataset grew processes only
the new stages.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path
from typing import Any

from dataset_tools import DatasetToolsError
from dataset_tools.hsu.engines import ENGINE_NAMES
from dataset_tools.hsu.lockstep import CPU_BATCH_USERS, GPU_BATCH_USERS, default_batch_size
from dataset_tools.hsu.packaged_models import DEFAULT_MODEL
from dataset_tools.hsu.stages import DEFAULT_STAGE_LENGTH

logger = logging.getLogger(__name__)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise argparse.ArgumentTypeError(f"--shard expects i/n with 0 <= i < n, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def read_user_file(path: Path) -> list[str]:
    """One user token per line; blank lines and ``#`` comments ignored."""
    if not path.is_file():
        raise DatasetToolsError(f"{path}: --users-from file not found")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]


def default_run_name(args: argparse.Namespace, operations: tuple[str, ...]) -> str:
    from dataset_tools.hsu.prompts import ALL_OPERATIONS

    model = re.sub(r"[^A-Za-z0-9.]+", "-", Path(args.model).stem if args.model else DEFAULT_MODEL).strip("-").lower()
    name = f"{args.mode}-{args.engine}-{model}"
    dropped = [op for op in ALL_OPERATIONS if op not in operations]
    if dropped and args.mode == "staged":
        name += "-no-" + "-".join(dropped)
    if args.shard:
        name += f"-shard{args.shard[0]}of{args.shard[1]}"
    return name


def parse_engine_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> ``(KEY, VALUE)``, VALUE decoded as JSON when it is JSON, else kept as text."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a Python name, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``engine`` argument group (shared by ``hsu`` and ``generate``); :func:`engine_options` reads it."""
    engine = parser.add_argument_group("engine")
    engine.add_argument("--engine", choices=ENGINE_NAMES, default="llamacpp", help="default: llamacpp (in-process CPU)")
    engine.add_argument("--model", default=None,
                        help=f"llamacpp: GGUF path or alias (default {DEFAULT_MODEL}; also qwen2.5-coder-0.5b/1.5b); "
                        "openai: served model name; vllm: model folder")
    engine.add_argument("--n-threads", type=int, default=1, help="llamacpp threads (default 1: best on busy CPUs)")
    engine.add_argument("--n-ctx", type=int, default=4096,
                        help="context length (llamacpp n_ctx, llamacpp-batch cells per sequence, vllm max_model_len)")
    engine.add_argument("--parallel", type=int, default=16,
                        help="llamacpp-batch: sequences decoded together (default 16)")
    engine.add_argument("--base-url", default="http://127.0.0.1:8000/v1", help="openai: server URL including /v1")
    engine.add_argument("--server-kind", choices=("llamacpp", "vllm", "vllm-legacy", "none"), default="llamacpp",
                        help="openai: which constrained-decoding extension the server speaks")
    engine.add_argument("--concurrency", type=int, default=8, help="openai: requests in flight")
    engine.add_argument("--gpu-memory-utilization", type=float, default=0.85, help="vllm")
    engine.add_argument("--vllm-option", action="append", default=[], metavar="KEY=VALUE", type=parse_engine_option,
                        help="vllm: more vllm.LLM arguments, VALUE read as JSON when it parses "
                        "(tensor_parallel_size=2, enforce_eager=true, "
                        "structured_outputs_config='{\"backend\": \"guidance\"}'); repeatable")
    engine.add_argument("--unconstrained", action="store_true", help="no grammars/structured outputs: parse and retry only")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "hsu",
        help="HSU: staged LLM interest editing per user (resumable, incremental)",
        description="Run the HSU staged LLM pipeline over a prepared dataset's training histories "
        "(the last two items of every sequence are never shown). Results go to "
        "<data>/<dataset>/hsu/<run>/ (docs/data-formats.md).",
    )
    parser.add_argument("dataset", help="dataset name (folder <data>/<dataset> and spec lookup)")
    parser.add_argument("--data", type=Path, default=Path("dataset"), help="prepared data root (default: dataset)")
    parser.add_argument("--spec", type=Path, default=None, help="spec YAML instead of dataset_tools/datasets/<dataset>.yaml")
    parser.add_argument("--run", default=None, help="run folder name (default: <mode>-<engine>-<model>[-no-OPS][-shardIofN])")
    add_engine_arguments(parser)
    hsu = parser.add_argument_group("pipeline")
    hsu.add_argument("--mode", choices=("staged", "oneshot"), default="staged",
                     help="staged (HSU) or oneshot (whole history in one prompt: CoT baseline)")
    hsu.add_argument("--stage-length", type=int, default=None, help=f"items per stage (default: spec, else {DEFAULT_STAGE_LENGTH})")
    hsu.add_argument("--max-items", type=int, default=None,
                     help="only each user's most recent N training items (default: spec hsu.max_items, else all)")
    hsu.add_argument("--operations", default=None, help="comma-separated subset of add,delete,update,retain (ablations)")
    hsu.add_argument("--batch-size", type=int, default=None,
                     help=f"users per lockstep batch (default: {CPU_BATCH_USERS} for llamacpp and llama.cpp servers, "
                     f"which decode few sequences at once; {GPU_BATCH_USERS}, i.e. every pending user of a step, "
                     "for vllm and servers of kind vllm)")
    hsu.add_argument("--max-retries", type=int, default=2, help="retries of an unparsable output before falling back")
    hsu.add_argument("--max-tokens-interests", type=int, default=320,
                     help="generation cap of summaries and executed edits (default 320)")
    hsu.add_argument("--max-tokens-selection", type=int, default=120,
                     help="generation cap of operation selections (default 120)")
    sample = parser.add_argument_group("users")
    sample.add_argument("--limit-users", type=int, default=None, help="process only the first N selected users")
    sample.add_argument("--users-from", type=Path, default=None, help="file with one user token per line")
    sample.add_argument("--shard", type=parse_shard, default=None, help="i/n: only users whose stable hash is i mod n")
    sample.add_argument("--merge", nargs="+", default=None, metavar="RUN",
                        help="merge these shard run folders (names under <data>/<dataset>/hsu/) into --run")
    sample.add_argument("--rebuild", action="store_true",
                        help="rewrite trajectories.jsonl and report.json of --run from its stored stages.jsonl and "
                        "run.json, loading no engine (a run restored from a copy of those two files)")
    sample.add_argument("--no-progress", action="store_true", help="no progress bar")
    ray = parser.add_argument_group("distributed (Ray)")
    ray.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                     help="run --ray-workers shards as Ray tasks (one per GPU with vllm, --n-threads CPUs each with "
                     "llamacpp), each with its own stage store, then merge them into --run; no ADDRESS: a local "
                     "Ray instance, else a cluster address (auto, ray://host:port) whose nodes share --data")
    ray.add_argument("--ray-workers", type=int, default=2, help="shard tasks of a --ray run (default 2)")
    return parser


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """``make_engine`` keyword arguments from the ``engine`` group's parsed arguments."""
    constrained = not args.unconstrained
    if args.engine == "llamacpp":
        return {"n_threads": args.n_threads, "n_ctx": args.n_ctx, "constrained": constrained}
    if args.engine == "llamacpp-batch":
        return {"n_threads": args.n_threads, "n_ctx": args.n_ctx, "parallel": args.parallel, "constrained": constrained}
    if args.engine == "openai":
        return {"base_url": args.base_url, "server_kind": args.server_kind, "concurrency": args.concurrency,
                "constrained": constrained}
    return {"gpu_memory_utilization": args.gpu_memory_utilization, "max_model_len": args.n_ctx,
            "constrained": constrained, **dict(args.vllm_option)}




def main(args: argparse.Namespace) -> int:
    from dataset_tools.hsu.hsu_spec import parse_hsu_section
    from dataset_tools.hsu.engines import make_engine
    from dataset_tools.hsu.lockstep import HsuSettings
    from dataset_tools.hsu.prompts import validate_operations
    from dataset_tools.report.summary import build_report, format_report
    from dataset_tools.hsu.run_folder import check_inputs, rebuild_run, run_dataset
    from dataset_tools.hsu.store import load_trajectories, merge_runs, write_json_atomic, REPORT_FILE
    from dataset_tools.spec import load_dataset_spec

    if args.merge:
        if not args.run:
            raise DatasetToolsError("--merge needs --run NAME for the merged folder")
        root = args.data / args.dataset / "hsu"
        counts = merge_runs([root / name for name in args.merge], root / args.run)
        report = build_report(load_trajectories(root / args.run))
        write_json_atomic(root / args.run / REPORT_FILE, report)
        logger.info("merged %d runs into %s: %s", len(args.merge), root / args.run, counts)
        return 0

    if args.rebuild:
        if not args.run:
            raise DatasetToolsError("--rebuild needs --run NAME of the run folder to rebuild")
        outcome = rebuild_run(args.data, args.dataset, args.run)
        print(format_report(outcome.report))
        return 0

    spec = parse_hsu_section(load_dataset_spec(args.spec if args.spec is not None else args.dataset, dataset_name=args.dataset))
    operations = validate_operations(args.operations.split(",")) if args.operations else spec.operations
    if args.engine not in ("llamacpp", "llamacpp-batch") and not args.model:
        raise DatasetToolsError(f"--engine {args.engine} needs --model (the served model name or model folder)")
    settings = HsuSettings(
        stage_length=args.stage_length or spec.stage_length,
        max_items=args.max_items or spec.max_items,
        operations=operations,
        mode=args.mode,
        item_line=spec.item_line,
        max_retries=args.max_retries,
        max_tokens_interests=args.max_tokens_interests,
        max_tokens_selection=args.max_tokens_selection,
        batch_size=args.batch_size or default_batch_size(args.engine, getattr(args, "server_kind", None)),
    )
    run_name = args.run or default_run_name(args, operations)
    users_from = read_user_file(args.users_from) if args.users_from else None
    check_inputs(args.data, args.dataset)
    if args.ray is not None:
        from dataset_tools.hsu.distributed import run_on_ray

        if args.shard:
            raise DatasetToolsError("--ray makes the shards itself (--ray-workers); drop --shard")
        outcome = run_on_ray(args, run_name)
        logger.info("run folder: %s (shards: %s)", outcome["run_dir"], ", ".join(outcome["shards"]))
        print(format_report(json.loads((outcome["run_dir"] / REPORT_FILE).read_text(encoding="utf-8"))))
        return 0
    with make_engine(args.engine, args.model or DEFAULT_MODEL, **engine_options(args)) as engine:
        outcome = run_dataset(
            args.data, args.dataset, run_name, engine, settings,
            users_from=users_from, shard=args.shard, limit_users=args.limit_users, progress=not args.no_progress,
        )
    logger.info("run folder: %s", outcome.run_dir)
    print(format_report(outcome.report))
    return 0
