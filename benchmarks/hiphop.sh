#!/usr/bin/env bash
# Issue 25's run set (amazon-beauty by default): HIPHOP, its four ablations and the session baselines of its
# paper (RecBole's SRGNN, GCSAN, NARM, STAMP, CORE) plus SASRec, one protocol for all. Resumable like
# frontier.sh: finished runs are skipped, unfinished ones continue from their training state.
#
#   bash benchmarks/hiphop.sh            # 3 seeds, two runs side by side (2 cores; JOBS=1 for one)
#   SEEDS=42 bash benchmarks/hiphop.sh   # one seed first
#   DATASET=movielens-100k bash benchmarks/hiphop.sh   # the second dataset (needs its .itememb)
#
# Needs dataset/amazon-beauty/amazon-beauty.itememb (README, User vectors: `embed --extractor items`).
# Cost measured before the run set: a HIPHOP training step of 512 rows 0.86 s and a bank refresh
# 13 s with two other training runs on the 2 cores, so roughly 4 minutes per epoch; at 20-30 epochs
# per run, the five HIPHOP variants were about 8 core-hours per seed (the RecBole baselines far less).
# Sparse overlaps and attention on real positions since cut a step from 0.77x to 0.56x of SASRec's
# (benchmarks/results/hiphop-step-cost-amazon-beauty.md): about 6 core-hours per seed.
# Run SEEDS=42 first; the other seeds resume in later sessions.
# Stop it by killing its process group (kill -- -PGID), not with pkill -f.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SEEDS=${SEEDS:-42,43,44}
DATASET=${DATASET:-amazon-beauty}
# Every model on prefix rows (the session models have no other), CE over all items, HIPHOP's batch
# of 512 and a window of 50 (the frontier papers' value; HIPHOP's own data has no window), early
# stopping on validation NDCG@10 under `unseen` with patience 10 for all (HIPHOP's epoch is ~4x
# SASRec's; the released code stops after 3).
COMMON=(--train_rows=prefix --loss_type=CE --train_batch_size=512 --MAX_ITEM_LIST_LENGTH=50 --stopping_step=10
        --epochs=200 --eval_protocol=unseen)
$PY benchmarks/model_comparison.py --name=hiphop --dataset="$DATASET" \
    --variants="SRGNN,HIPHOP,HIPHOP+hiphop_semantic=none,HIPHOP+hiphop_intents=1,HIPHOP+hiphop_inter_session=False,HIPHOP+hiphop_contrastive_weight=0.0,GCSAN,NARM,STAMP,CORE,SASRec" \
    --pairs="HIPHOP:SASRec,HIPHOP:HIPHOP+hiphop_semantic=none" \
    --seeds="$SEEDS" --jobs="${JOBS:-2}" "${COMMON[@]}"
