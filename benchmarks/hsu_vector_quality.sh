#!/usr/bin/env bash
# HSU vectors against history-text vectors for the users of an HSU run (issue 27, item 4): the run's
# final interest texts are encoded with the encoder of the history-text vectors, then
# benchmarks/user_vector_quality.py compares both files over the run's users (semantic next-item
# retrieval HR@50 / NDCG@50 and neighbour share@10 among those users, per group, paired tests).
#
#   DATASET=amazon-beauty MODEL=qwen2.5-coder-1.5b bash benchmarks/hsu_vector_quality.sh
#
# It reads a copy of the run (the committed stage records where the run folder is missing), so it
# runs safely beside a slice still writing the run, and reports on the users whose every stage is
# stored (COMPLETE_ONLY=0: also users cut short, with the interests of their last stored stage).
# Writes benchmarks/results/user-vectors-hsu-<RUN>-<DATASET>.{md,json} and copies the run's
# report (operations, failures) beside its stage records in benchmarks/results/raw/hsu-<DATASET>/<RUN>/.
# DATA_ROOT (default dataset) and RESULTS (default benchmarks/results) move its inputs and outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DATASET=${DATASET:?set DATASET (amazon-beauty, movielens-100k, ...)}
MODEL=${MODEL:?set MODEL (the packaged model alias of the run, e.g. qwen2.5-coder-1.5b)}
RUN_GIVEN=${RUN:-}
RUN=${RUN:-staged-llamacpp-batch-$MODEL}
BASE=${BASE:-useremb_text}
COMPLETE_ONLY=${COMPLETE_ONLY:-1}
K=${K:-10}  # neighbours per user, among the users compared
export OMP_NUM_THREADS=${THREADS:-1}
DATA=${DATA_ROOT:-dataset}/$DATASET
RESULTS=${RESULTS:-benchmarks/results}
SAVED=$RESULTS/raw/hsu-$DATASET/$RUN
for needed in "$DATASET.inter" "$DATASET.item_text.jsonl" "$DATASET.itememb" "$DATASET.$BASE"; do
    [ -f "$DATA/$needed" ] || { echo "hsu_vector_quality.sh: $DATA/$needed missing (prepare and embed the dataset first)" >&2; exit 2; }
done
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/hsu-vector-quality.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/$DATASET/hsu/$RUN"
for file in "$DATA/$DATASET".*; do  # the prepared files, read in place
    [ -f "$file" ] && ln -s "$(realpath "$file")" "$SCRATCH/$DATASET/"
done
if [ -f "$DATA/hsu/$RUN/stages.jsonl" ]; then
    cp "$DATA/hsu/$RUN/stages.jsonl" "$DATA/hsu/$RUN/run.json" "$SCRATCH/$DATASET/hsu/$RUN/"
elif [ -f "$SAVED/stages.jsonl.gz" ]; then
    gunzip -c "$SAVED/stages.jsonl.gz" > "$SCRATCH/$DATASET/hsu/$RUN/stages.jsonl"
    cp "$SAVED/run.json" "$SCRATCH/$DATASET/hsu/$RUN/"
else
    echo "hsu_vector_quality.sh: no HSU run $RUN of $DATASET (neither $DATA/hsu/$RUN nor $SAVED)" >&2; exit 2
fi
# The copy's trajectories and report, from its stage records alone (no model is loaded).
$PY -m dataset_tools hsu "$DATASET" --data "$SCRATCH" --run "$RUN" --rebuild
FOLDER=$SCRATCH/$DATASET/hsu/$RUN
if [ "$COMPLETE_ONLY" = 1 ]; then
    $PY - "$FOLDER/trajectories.jsonl" <<'EOF'
import json, os, sys
path = sys.argv[1]
rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
kept = [row for row in rows if row.get("complete")]
with open(path + ".tmp", "w", encoding="utf-8") as out:
    out.writelines(json.dumps(row) + "\n" for row in kept)
os.replace(path + ".tmp", path)
print(f"{len(kept)} of {len(rows)} users of the run have every stage stored; the others are left out")
EOF
fi
SUFFIX=useremb_hsu
$PY -m dataset_tools embed "$DATASET" --data "$SCRATCH" --extractor hsu --run "$RUN" --suffix $SUFFIX --no-progress
OUT=$RESULTS/user-vectors-hsu-$RUN-$DATASET
mkdir -p "$RESULTS"
BENCHMARK_COMMAND="DATASET=$DATASET MODEL=$MODEL${RUN_GIVEN:+ RUN=$RUN} BASE=$BASE K=$K COMPLETE_ONLY=$COMPLETE_ONLY bash benchmarks/hsu_vector_quality.sh" \
$PY benchmarks/user_vector_quality.py --data "$SCRATCH" --dataset "$DATASET" --vectors "$BASE" --vectors $SUFFIX --k "$K" \
    --out "$OUT.md" --json "$OUT.json"
mkdir -p "$SAVED"
cp "$FOLDER/report.json" "$SAVED/report.json"
echo "wrote $OUT.md, $OUT.json and $SAVED/report.json"
