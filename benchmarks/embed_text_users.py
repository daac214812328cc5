"""Benchmark: embed EVERY user of a prepared dataset with the ``text`` extractor.

Runs the real pipeline (extract training-history texts, encode with the packaged
all-MiniLM-L6-v2 on the CPU, write ``<ds>.useremb_text`` + sidecar) and reports the
time of each step and users/s, to stdout and to
``benchmarks/results/embed-text-<dataset>.md``.

    python benchmarks/embed_text_users.py --data dataset --dataset amazon-beauty

An interrupted run resumes from ``<ds>.useremb_text.partial/`` (the report then says
how many rows were reloaded, and users/s counts only the rows encoded in this run).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

log = logging.getLogger("benchmarks.embed_text_users")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT / "dataset"))
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-items", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--suffix", default="useremb_text")
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    import torch

    from dataset_tools.embed.batch_encode import embed_and_write
    from dataset_tools.embed.encoders import SentenceTransformerEncoder
    from dataset_tools.embed.extractors import extract_text
    from dataset_tools.formats.inter import read_user_sequences

    torch.set_num_threads(args.threads)
    folder = Path(args.data) / args.dataset
    n_users = len(read_user_sequences(folder / f"{args.dataset}.inter"))

    t0 = time.perf_counter()
    extracted = extract_text(args.data, args.dataset, max_items=args.max_items)
    extract_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    encoder = SentenceTransformerEncoder()
    load_s = time.perf_counter() - t1

    # Token lengths as the encoder sees them (before its own 256-token cut).
    tokenizer = encoder._model.tokenizer
    lengths = [len(ids) for ids in tokenizer(extracted.texts, add_special_tokens=True)["input_ids"]]
    max_seq = encoder._model.max_seq_length
    cut = sum(length > max_seq for length in lengths)

    output = folder / f"{args.dataset}.{args.suffix}"
    result = embed_and_write(
        extracted, encoder, output, batch_size=args.batch_size,
        extra_sidecar={"dataset": args.dataset, "extractor": "text"}, extract_s=extract_s,
    )
    encoded = result.rows - result.resumed_rows
    users_per_s = encoded / result.encode_s if result.encode_s > 0 else float("nan")
    total_s = extract_s + load_s + result.encode_s + result.write_s

    lines = [
        f"# Embedding every {args.dataset} user with the `text` extractor",
        "",
        f"Command: `python benchmarks/embed_text_users.py --data {args.data} --dataset {args.dataset} "
        f"--batch-size {args.batch_size} --max-items {args.max_items} --threads {args.threads}`",
        f"Date (UTC): {datetime.now(timezone.utc).isoformat(timespec='seconds')}; "
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), "
        f"torch {torch.__version__}, {args.threads} torch thread(s), CPU.",
        "",
        f"Encoder: sentence-transformers, {encoder.model}, {encoder.dimension} dims, l2-normalised, "
        f"max {max_seq} tokens per text.",
        f"Text: titles of the {args.max_items} most recent training items (last two items per user "
        "held out), most recent first.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| users in `{args.dataset}.inter` | {n_users} |",
        f"| users embedded (rows written) | {result.rows} |",
        f"| users without a row | {sum(result.skipped.values())} {result.skipped or ''} |",
        f"| users with > {args.max_items} training items (truncated) | "
        f"{extracted.details['users_truncated']} |",
        f"| text tokens per user: median / mean / max | {statistics.median(lengths):.0f} / "
        f"{statistics.fmean(lengths):.1f} / {max(lengths)} |",
        f"| texts cut by the encoder's {max_seq}-token limit (oldest items dropped) | {cut} |",
        f"| extract texts | {extract_s:.1f} s |",
        f"| load model | {load_s:.1f} s |",
        f"| encode ({encoded} users, batch {args.batch_size}) | {result.encode_s:.1f} s |",
        f"| rows reloaded from an interrupted run | {result.resumed_rows} |",
        f"| **users/s (encoding)** | **{users_per_s:.1f}** |",
        f"| write `{output.name}` + sidecar | {result.write_s:.1f} s |",
        f"| total | {total_s:.1f} s |",
        "",
        f"Output: `{output.relative_to(Path(args.data).parent) if output.is_relative_to(Path(args.data).parent) else output}`"
        f" ({output.stat().st_size / 1e6:.1f} MB).",
    ]
    report = "\n".join(lines) + "\n"
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    (results / f"embed-text-{args.dataset}.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
