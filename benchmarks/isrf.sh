#!/usr/bin/env bash
# Issue 26's run set: ISRF (CPU-sized T5 built from properties/model/ISRF.yaml), its two ablations
# (without the group graph, without semantic item vectors) and SASRec on the same rows, window and
# stopping rule, 3 seeds, one protocol for all; the NextId probe (nothing trained) is in
# benchmarks/results/next-id-amazon-beauty.md. Resumable like frontier.sh: finished runs are
# skipped, unfinished ones continue from their training state.
#
#   DATASET=movielens-100k SEEDS=42 bash benchmarks/isrf.sh    # the smaller dataset, one seed first
#   bash benchmarks/isrf.sh                                    # amazon-beauty, 3 seeds
#
# Needs <dataset>.itememb and <dataset>.useremb_text (README, User vectors), or ISRF's own reasoning
# texts: `dataset_tools reason --kind items|users` then embed them and pass
# --item_semantic_suffix / --semantic_suffix through VARIANT_SETTINGS.
# Cost measured on movielens-100k (1 torch thread, HSU decoding on both cores beside it): a
# training step of 64 rows with 192 prompt tokens 0.83 s, a full-sort pass (30 beams) 1.9 s per
# 64 users; an epoch (1,519 steps) took 25-28 minutes there. amazon-beauty's prompts are
# shorter (median 4 training items) but it has 24x the users to validate. LightGCN's backward
# has since cut an amazon-beauty step to 0.47x (benchmarks/results/isrf-graph-backward-amazon-beauty.md):
# 1.23 s per step, 0.7 CPU-hours per epoch of prefix rows (benchmarks/results/isrf-cost-amazon-beauty.md).
# On MovieLens, whose group graph is 24x smaller and whose cost is the T5 over long prompts, it is
# 0.97x (benchmarks/results/isrf-graph-backward-movielens-100k.md). Every model here now trains on
# segment rows (ISRF's released sampler: one random segment per user per epoch), 22,363 rows an
# epoch on amazon-beauty against 131,413 prefix rows, so about 0.17x the steps of those figures.
# Stop it by killing its process group (kill -- -PGID), not with pkill -f.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SEEDS=${SEEDS:-42,43,44}
DATASET=${DATASET:-amazon-beauty}
VARIANT_SETTINGS=${VARIANT_SETTINGS:-}
# the reading notes under the report: the paper's Table 1 beside it, every protocol difference named
NOTES=benchmarks/notes/isrf-$DATASET.md
[ -f "$NOTES" ] || NOTES=
# Every model on the release's rows (one random segment of each user's training items per epoch,
# recbole_hsuga/data/segment_loader.py), ISRF's batch of 64 and window of 20 (the released user
# prompts read 20 items), early stopping on validation NDCG@10 under `unseen` with patience 5 (the
# released value) for all.
# One segment per user makes an epoch as large as the release's on its own datasets (Beauty, Sports,
# Toys: 19-35k users); MovieLens-100K has 943 users with long histories, whose one-segment epochs of
# 15 batches let the patience of 5 stop SASRec while it still improved (validation 0.071 at epoch
# 27, rising), so there an epoch draws 24 segments per user (22,632 rows, about amazon-beauty's).
case $DATASET in
    movielens-100k) SEGMENTS=${SEGMENTS:-24} ;;
    *) SEGMENTS=${SEGMENTS:-1} ;;
esac
COMMON=(--train_rows=segment --train_segments_per_user="$SEGMENTS" --train_batch_size=64 --MAX_ITEM_LIST_LENGTH=20 --stopping_step=5 --epochs=200
        --eval_protocol=unseen)
$PY benchmarks/model_comparison.py --name=isrf --dataset="$DATASET" \
    --variants="SASRec,ISRF$VARIANT_SETTINGS,ISRF+isrf_group=False$VARIANT_SETTINGS,ISRF+isrf_semantic=none$VARIANT_SETTINGS" \
    --pairs="ISRF$VARIANT_SETTINGS:SASRec,ISRF$VARIANT_SETTINGS:ISRF+isrf_group=False$VARIANT_SETTINGS,ISRF$VARIANT_SETTINGS:ISRF+isrf_semantic=none$VARIANT_SETTINGS" \
    --seeds="$SEEDS" --jobs="${JOBS:-2}" "${COMMON[@]}" ${NOTES:+--notes="$NOTES"}
