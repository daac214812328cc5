#!/usr/bin/env bash
# The convergence run sets of amazon-beauty, in the order their results are needed.
# Each command skips runs whose result file exists and continues unfinished runs from their
# training state, so this script can be stopped at any time and started again (next session).
#
#   bash benchmarks/queue.sh            # two runs side by side (a 2-core machine)
#   JOBS=4 bash benchmarks/queue.sh
#
# The SASRec runs on sequence rows are shared: train_rows.py writes them and
# model_comparison.py reuses them as its baseline (--baseline_runs).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
JOBS=${JOBS:-2}
COMMON=(--loss_type=CE --train_batch_size=256 --stopping_step=20 --epochs=200)
# The last two variants: issue 12's teacher-freshness check (HSUGA with its teacher table
# refreshed every 30 training steps, about 3 times per epoch, instead of once per epoch) and
# the dual-view backbone without self-distillation (how much of LLM-ESR's gain is its SD term).
VARIANTS="SASRec,SASRecLLMESR,SASRecHSUGA+semantic_suffix=useremb_text,SASRecHSUGA+hsuga_backbone=id_only+semantic_suffix=useremb_text,SASRecGRASP,SASRecHSUGA+semantic_suffix=useremb_text+gaa_teacher_refresh_steps=30,SASRecLLMESR+gaa=False"
SEQUENCE_SASREC=benchmarks/results/raw/train-rows-amazon-beauty/sequence

# 1. LLM-enhanced backbones and GRASP against SASRec (issues 12 and 13), seed 42 first:
#    the backbone question first, then the paper's loss (see the reading notes: under CE the
#    dual-view backbone of seed 42 stayed below SASRec), then the other variants.
$PY benchmarks/model_comparison.py --name=llm-enhanced --variants="SASRec,SASRecLLMESR,SASRecHSUGA+semantic_suffix=useremb_text" \
    --seeds=42 --jobs="$JOBS" --baseline_runs=$SEQUENCE_SASREC \
    --notes=benchmarks/notes/compare-llm-enhanced-amazon-beauty.md --train_rows=sequence "${COMMON[@]}"
$PY benchmarks/model_comparison.py --name=loss-bpr --variants="SASRec,SASRecLLMESR" --seeds=42 --jobs="$JOBS" \
    --train_rows=sequence --loss_type=BPR --train_batch_size=256 --stopping_step=20 --epochs=200
$PY benchmarks/model_comparison.py --name=llm-enhanced --variants="$VARIANTS" --seeds=42 --jobs="$JOBS" \
    --baseline_runs=$SEQUENCE_SASREC --notes=benchmarks/notes/compare-llm-enhanced-amazon-beauty.md \
    --train_rows=sequence "${COMMON[@]}"
# 2. The SASRec baselines of seeds 43 and 44 on sequence rows (issue 11's sequence side).
$PY benchmarks/train_rows.py --runs=SASRec:43,44 --modes=sequence --jobs="$JOBS" \
    --notes=benchmarks/notes/train-rows-amazon-beauty.md "${COMMON[@]}"
# 3. Seeds 43 and 44 of the comparison.
$PY benchmarks/model_comparison.py --name=llm-enhanced --variants="$VARIANTS" --seeds=42,43,44 --jobs="$JOBS" \
    --baseline_runs=$SEQUENCE_SASREC --notes=benchmarks/notes/compare-llm-enhanced-amazon-beauty.md \
    --train_rows=sequence "${COMMON[@]}"
# 4. Prefix rows against sequence rows (issue 11), then GRU4Rec and BERT4Rec.
$PY benchmarks/train_rows.py --runs=SASRec:42,43,44 --runs=GRU4Rec:42 --runs=BERT4Rec:42 --jobs="$JOBS" \
    --notes=benchmarks/notes/train-rows-amazon-beauty.md "${COMMON[@]}"
