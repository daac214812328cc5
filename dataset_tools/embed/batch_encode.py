"""Encode extracted texts in batches, resumably, and write the feature file.

Encoding is the slow part, so it is checkpointed: texts are encoded in chunks and each
finished chunk is saved under ``<output>.partial/``; a rerun with the same texts and
encoder reloads the finished chunks and encodes only the rest. The folder is removed
once the feature file is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from dataset_tools.progress import progress_bar

from dataset_tools.formats.features import ITEM_FIELDS, USER_FIELDS, write_feature_file
from dataset_tools.embed.encoders import Encoder
from dataset_tools.embed.extractors import BadInputError, ExtractedTexts

log = logging.getLogger(__name__)

#: Texts per checkpointed chunk: small enough to lose little on interruption.
CHUNK_SIZE = 2048


@dataclass
class EmbedResult:
    """What one embedding run produced and how long each step took (seconds)."""

    path: Path
    rows: int
    dimension: int
    extract_s: float
    encode_s: float
    write_s: float
    resumed_rows: int
    skipped: dict[str, int]


def _fingerprint(texts: list[str], encoder: Encoder) -> str:
    digest = hashlib.sha256(json.dumps(encoder.describe(), sort_keys=True).encode())
    digest.update(encoder.normalisation.encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def encode_texts(
    encoder: Encoder,
    texts: list[str],
    batch_size: int = 64,
    partial_dir: Path | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, int]:
    """Encode ``texts`` in batches of similar length.

    Args:
        partial_dir: where finished chunks are kept for resuming (None: no checkpoints).
    Returns:
        (vectors float32 [len(texts), encoder.dimension] in the order of ``texts``,
        number of rows reloaded from an earlier interrupted run).
    """
    if batch_size < 1:
        raise BadInputError(f"batch_size must be >= 1, got {batch_size}")
    # Sorting by length keeps padding (and so wasted compute) small inside a batch.
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    sorted_texts = [texts[i] for i in order]
    vectors = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    resumed = 0

    if partial_dir is not None:
        fingerprint = _fingerprint(texts, encoder)
        manifest = partial_dir / "manifest.json"
        if manifest.exists() and json.loads(manifest.read_text()).get("fingerprint") != fingerprint:
            log.info("%s belongs to other texts or another encoder: starting over", partial_dir)
            shutil.rmtree(partial_dir)
        partial_dir.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"fingerprint": fingerprint, "chunk_size": CHUNK_SIZE}))

    bar = progress_bar(len(texts), f"embed ({encoder.name})", unit="text", enabled=progress, smoothing=0.1)
    try:
        for chunk_start in range(0, len(texts), CHUNK_SIZE):
            chunk_end = min(chunk_start + CHUNK_SIZE, len(texts))
            chunk_file = partial_dir / f"chunk-{chunk_start:09d}.npy" if partial_dir else None
            if chunk_file is not None and chunk_file.exists():
                chunk = np.load(chunk_file)
                if chunk.shape == (chunk_end - chunk_start, encoder.dimension):
                    vectors[order[chunk_start:chunk_end]] = chunk
                    resumed += len(chunk)
                    bar.update(len(chunk))
                    continue
            chunk = np.zeros((chunk_end - chunk_start, encoder.dimension), dtype=np.float32)
            for start in range(chunk_start, chunk_end, batch_size):
                end = min(start + batch_size, chunk_end)
                chunk[start - chunk_start : end - chunk_start] = encoder.encode_batch(sorted_texts[start:end])
                bar.update(end - start)
            if chunk_file is not None:
                tmp = chunk_file.with_suffix(".tmp.npy")
                np.save(tmp, chunk)
                tmp.replace(chunk_file)
            vectors[order[chunk_start:chunk_end]] = chunk
    finally:
        bar.close()
    if resumed:
        log.info("resumed: %d of %d vectors came from %s", resumed, len(texts), partial_dir)
    return vectors, resumed


def embed_and_write(
    extracted: ExtractedTexts,
    encoder: Encoder,
    output: Path,
    batch_size: int = 64,
    extra_sidecar: dict[str, Any] | None = None,
    extract_s: float = 0.0,
    progress: bool = True,
) -> EmbedResult:
    """Encode ``extracted`` and write ``output`` (+ sidecar) with fields for its kind.

    A user file's sidecar gets ``held_out`` (the extractor's record of the items it held
    out per user, docs/data-formats.md).
    """
    if not extracted.tokens:
        raise BadInputError(f"nothing to embed for {output.name}: {extracted.skipped or 'no ids'}")
    partial_dir = output.with_name(output.name + ".partial")
    t0 = time.perf_counter()
    vectors, resumed = encode_texts(encoder, extracted.texts, batch_size, partial_dir, progress)
    encode_s = time.perf_counter() - t0
    sidecar: dict[str, Any] = {
        "kind": extracted.kind,
        **(extra_sidecar or {}),
        **encoder.describe(),
        "normalisation": encoder.normalisation,
        "source_run": extracted.details.get("source_run"),
        "extractor_details": {k: v for k, v in extracted.details.items() if k != "source_run"},
        "skipped": extracted.skipped,
        **({"held_out": extracted.held_out} if extracted.held_out is not None else {}),
        "batch_size": batch_size,
        "encode_seconds": round(encode_s, 3),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    t1 = time.perf_counter()
    fields = USER_FIELDS if extracted.kind == "user" else ITEM_FIELDS
    write_feature_file(output, extracted.tokens, vectors, sidecar, fields=fields)
    write_s = time.perf_counter() - t1
    shutil.rmtree(partial_dir, ignore_errors=True)
    return EmbedResult(output, len(extracted.tokens), encoder.dimension, extract_s, encode_s, write_s, resumed,
                       extracted.skipped)
