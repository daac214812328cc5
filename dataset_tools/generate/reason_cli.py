"""``python -m dataset_tools reason DATASET --kind items|users``: ISRF's semantic reasoning texts.

Examples::

    python -m dataset_tools reason amazon-beauty --kind items --limit 20        # CPU: SmolLM2, a rate sample
    python -m dataset_tools reason amazon-beauty --kind users --engine vllm --model /models/Qwen2.5-7B-Instruct \\
        --batch-size 256
    python -m dataset_tools embed amazon-beauty --extractor items --item-text reasoning --suffix itememb_isrf
    python -m dataset_tools embed amazon-beauty --extractor reasoning --suffix useremb_isrf

Writes ``<ds>.item_reasoning.jsonl`` / ``<ds>.user_reasoning.jsonl``; the store
``<ds>/reason/<kind>-<run>/`` makes reruns resume. Engines and their options are the HSU
pipeline's (``dataset_tools hsu --help``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from dataset_tools import DatasetToolsError

log = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from dataset_tools.hsu.cli import add_engine_arguments

    parser = subparsers.add_parser(
        "reason",
        help="ISRF's reasoning texts: like -> dislike -> features (items) or preferences (users), chained LLM calls",
        description="Three chained LLM answers per item (from its attributes) or per user (from the titles of the "
        "most recent training items): positive, negative, then the text to embed. Resumable; writes "
        "<ds>.item_reasoning.jsonl or <ds>.user_reasoning.jsonl.",
    )
    parser.add_argument("dataset", help="dataset name, e.g. amazon-beauty")
    parser.add_argument("--kind", required=True, choices=("items", "users"))
    parser.add_argument("--data", type=Path, default=Path("dataset"), help="prepared data root (default: dataset)")
    parser.add_argument("--run", default=None, help="store folder suffix under <data>/<ds>/reason/<kind>- "
                        "(default: <engine>-<model>)")
    parser.add_argument("--domain", default="beauty", help="items: the word in 'The <domain> item has ...'")
    parser.add_argument("--max-items", type=int, default=20, help="users: most recent training items listed (default 20)")
    parser.add_argument("--batch-size", type=int, default=16, help="requests per engine call (default 16)")
    parser.add_argument("--max-tokens", type=int, default=128, help="generation cap per answer (default 128)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items or users (a rate sample)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_arguments(parser)
    return parser


def main(args: argparse.Namespace) -> int:
    from dataset_tools.embed.extractors import read_item_texts
    from dataset_tools.formats.files import require_dataset_dir
    from dataset_tools.generate.cli import model_and_run
    from dataset_tools.generate.reasoning import run_reasoning
    from dataset_tools.hsu.cli import engine_options
    from dataset_tools.hsu.engines import make_engine

    model, run = model_and_run(args)
    if args.max_items < 1 or args.batch_size < 1 or args.max_tokens < 1:
        raise DatasetToolsError("--max-items, --batch-size and --max-tokens must be >= 1")
    folder = require_dataset_dir(args.data, args.dataset)
    records = read_item_texts(folder, args.dataset)
    with make_engine(args.engine, model, **engine_options(args)) as engine:
        outcome = run_reasoning(args.data, args.dataset, args.kind, engine, run, records, domain=args.domain,
                                max_items=args.max_items, batch_size=args.batch_size, max_tokens=args.max_tokens,
                                limit=args.limit, progress=not args.no_progress)
    report = outcome.report
    log.info("wrote %s: %d of %d %s complete (%d calls now, %d empty); %.1f s, %s calls/s, %d completion tokens",
             outcome.path, report["complete"], report["entities"], args.kind, report["generated_now"], report["empty"],
             report["seconds"], report["calls_per_second"], report["completion_tokens"])
    return 0
