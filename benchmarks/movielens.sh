#!/usr/bin/env bash
# The second dataset: MovieLens-100K from RecBole's own package (943 users, 1,682 items, every
# rating an interaction), prepared and embedded offline. The same question as amazon-beauty's
# frontier steps 5-6, per dataset: SASRec, GAA on it (ID-only HSUGA), LLM-ESR's dual view and
# HSUGA on it, 3 seeds, selected on validation `unseen` NDCG@10. User vectors are history text
# (`useremb_text`) until HSU has run over every user. Resumable like frontier.sh.
#
#   bash benchmarks/movielens.sh            # prepare + embed if missing, then the run set
#
# Every model keeps the defaults of properties/overall.yaml (sequence rows over windows of 50
# that cover the whole history, 1,024 prefix rows' worth of windows per batch) and
# properties/dataset/movielens-100k.yaml: the same loss, rows, window and budget rule for all.
# Stop it by killing its process group (kill -- -PGID).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
JOBS=${JOBS:-2}
DATA=dataset/movielens-100k
export OMP_NUM_THREADS=1
[ -f $DATA/movielens-100k.inter ] || $PY -m dataset_tools prepare movielens-100k --raw recbole:ml-100k --out dataset/
[ -f $DATA/movielens-100k.itememb ] || $PY -m dataset_tools embed movielens-100k --data dataset/ --extractor items
[ -f $DATA/movielens-100k.useremb_text ] || \
    $PY -m dataset_tools embed movielens-100k --data dataset/ --extractor text --suffix useremb_text
GAA="SASRecHSUGA+hsuga_backbone=id_only+semantic_suffix=useremb_text"
$PY benchmarks/model_comparison.py --name=select-unseen --dataset=movielens-100k \
    --variants="SASRec,$GAA,SASRecLLMESR,SASRecHSUGA+semantic_suffix=useremb_text" \
    --pairs="$GAA:SASRec,SASRecHSUGA+semantic_suffix=useremb_text:SASRecLLMESR" \
    --seeds=42,43,44 --jobs=$JOBS --stopping_step=20 --epochs=200 --eval_protocol=unseen \
    --notes=benchmarks/notes/select-unseen-movielens-100k.md
