#!/usr/bin/env bash
# Puts a committed HSU run (benchmarks/results/raw/hsu-<dataset>/<run>/: stages.jsonl.gz and run.json)
# back into dataset/<dataset>/hsu/<run>/ where this checkout lacks it, and rewrites its trajectories and
# report from those two files (`dataset_tools hsu --rebuild`: no model is loaded). Leaves a run folder
# that has its stages alone, and does nothing where no copy is committed.
#
#   bash benchmarks/restore_hsu_run.sh movielens-100k staged-llamacpp-batch-qwen2.5-coder-0.5b
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ $# -eq 2 ] || { echo "usage: restore_hsu_run.sh DATASET RUN" >&2; exit 2; }
SAVED=benchmarks/results/raw/hsu-$1/$2
FOLDER=dataset/$1/hsu/$2
if [ -f "$SAVED/stages.jsonl.gz" ] && [ ! -f "$FOLDER/stages.jsonl" ]; then
    mkdir -p "$FOLDER"
    gunzip -c "$SAVED/stages.jsonl.gz" > "$FOLDER/stages.jsonl.restoring"
    cp "$SAVED/run.json" "$FOLDER/"
    mv "$FOLDER/stages.jsonl.restoring" "$FOLDER/stages.jsonl"
    $PY -m dataset_tools hsu "$1" --data dataset --run "$2" --rebuild
    echo "restored $(wc -l < "$FOLDER/stages.jsonl") stored stages of $2 from $SAVED"
fi
