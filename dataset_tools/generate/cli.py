"""``python -m dataset_tools generate DATASET``: LLM item descriptions for GRASP (resumable, batched).

Examples::

    python -m dataset_tools generate amazon-beauty --data dataset/ --limit-items 5          # CPU: SmolLM2, a rate sample
    python -m dataset_tools generate amazon-beauty --engine vllm --model /models/Qwen2.5-7B-Instruct --batch-size 256
    python -m dataset_tools embed amazon-beauty --data dataset/ --extractor items --item-text generated --suffix itememb_gen

Writes ``<ds>.item_generated.jsonl``; the store ``<ds>/generate/<run>/`` makes reruns resume.
Engines and their options are the HSU pipeline's (``dataset_tools hsu --help``).
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import Any

from dataset_tools import DatasetToolsError

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from dataset_tools.hsu.cli import add_engine_arguments

    parser = subparsers.add_parser(
        "generate",
        help="GRASP's generation step: an LLM description per item from its attributes -> <ds>.item_generated.jsonl",
        description="Prompt an LLM (the HSU engines) with each item's attributes in GRASP's template and write "
        "the descriptions to <ds>.item_generated.jsonl; `embed --extractor items --item-text generated` embeds them.",
    )
    parser.add_argument("dataset", help="dataset name, e.g. amazon-beauty")
    parser.add_argument("--data", type=Path, default=Path("dataset"), help="prepared data root (default: dataset)")
    parser.add_argument("--run", default=None, help="store folder under <data>/<ds>/generate/ (default: <engine>-<model>)")
    parser.add_argument("--domain", default="beauty", help="the word in 'The <domain> item has ...' (default beauty)")
    parser.add_argument("--batch-size", type=int, default=16, help="items per engine call (default 16)")
    parser.add_argument("--max-tokens", type=int, default=128, help="generation cap per item (default 128)")
    parser.add_argument("--limit-items", type=int, default=None, help="only the first N items (a rate sample)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_arguments(parser)
    return parser


def default_run_name(engine: str, model: str) -> str:
    """``<engine>-<model name>`` as a folder name: a ``.gguf`` suffix dropped, the rest kept
    (``qwen2.5-coder-0.5b`` must not become ``qwen2.5-coder-0`` as ``Path.stem`` would make it)."""
    name = Path(model).name.removesuffix(".gguf")
    return re.sub(r"[^A-Za-z0-9.]+", "-", f"{engine}-{name}").strip("-").lower()


def model_and_run(args: argparse.Namespace) -> tuple[str, str]:
    """The model (the packaged default for the llama.cpp engines) and the store folder name of a
    generation command (``generate``, ``reason``); a served engine without ``--model`` is refused."""
    from dataset_tools.hsu.packaged_models import DEFAULT_MODEL

    if args.engine not in ("llamacpp", "llamacpp-batch") and not args.model:
        raise DatasetToolsError(f"--engine {args.engine} needs --model (the served model name or model folder)")
    model = args.model or DEFAULT_MODEL
    return model, args.run or default_run_name(args.engine, model)


def main(args: argparse.Namespace) -> int:
    from dataset_tools.embed.extractors import read_item_texts
    from dataset_tools.formats.files import require_dataset_dir
    from dataset_tools.generate.items import generate_item_texts
    from dataset_tools.hsu.cli import engine_options
    from dataset_tools.hsu.engines import make_engine

    model, run = model_and_run(args)
    folder = require_dataset_dir(args.data, args.dataset)
    records = read_item_texts(folder, args.dataset)
    with make_engine(args.engine, model, **engine_options(args)) as engine:
        outcome = generate_item_texts(args.data, args.dataset, engine, run, records, domain=args.domain,
                                      batch_size=args.batch_size, max_tokens=args.max_tokens,
                                      limit=args.limit_items, progress=not args.no_progress)
    report = outcome.report
    log.info("wrote %s: %d items with text (%d generated now, %d resumed, %d empty); %.1f s, %s items/s, "
             "%d completion tokens", outcome.path, report["written"], report["generated_now"], report["resumed"],
             report["empty"], report["seconds"], report["items_per_second"], report["completion_tokens"])
    return 0
