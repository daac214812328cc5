#!/usr/bin/env bash
# What frontier.sh's steps read, made where missing (a fresh checkout has none of it): the RecBole
# atomic files from ../shared/data/amazon-beauty (or RAW), the item vectors (`itememb`, about
# 3 minutes on one core) and the history-text user vectors (`useremb_text`, about 8 minutes).
# lanes.sh runs it before its lanes start; files already there are left alone.
#
#   bash benchmarks/prepare_amazon_beauty.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
RAW=${RAW:-../shared/data/amazon-beauty}
DATA=dataset/amazon-beauty
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
[ -f $DATA/amazon-beauty.inter ] || $PY -m dataset_tools prepare amazon-beauty --raw "$RAW" --out dataset/
[ -f $DATA/amazon-beauty.itememb ] || $PY -m dataset_tools embed amazon-beauty --data dataset/ --extractor items
[ -f $DATA/amazon-beauty.useremb_text ] || \
    $PY -m dataset_tools embed amazon-beauty --data dataset/ --extractor text --suffix useremb_text
