#!/usr/bin/env bash
# Issue 24's run sets on amazon-beauty: the recipe that brings SASRec to the published frontier,
# then every model on it. Resumable like queue.sh: finished runs are skipped, unfinished ones
# continue from their training state, so stop it at any time and start it again.
#
#   bash benchmarks/frontier.sh                  # two runs side by side (a 2-core machine)
#   bash benchmarks/frontier.sh --from-step=2    # skip the run sets before step 2
#
# Stop it by killing its process group (kill -- -PGID), not with pkill -f, which also hits other runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
# The same protocol as the LLM-enhanced comparison (256 sequence rows per batch, CE, patience 20,
# cap 200), so its converged SASRec runs are the full-softmax baseline here.
COMMON=(--train_rows=sequence --loss_type=CE --train_batch_size=256 --train_batch_unit=rows --stopping_step=20
        --epochs=200)
SEQUENCE_SASREC=benchmarks/results/raw/train-rows-amazon-beauty/sequence
# Step 1 (seed 42): eSASRec's Beauty recipe (RecTools SASRec: sampled softmax over 256 uniform
# negatives drawn per position, 1 block, 1 head, dropout 0.2, max length 50), and the same with one
# set of 256 negatives shared by the batch, which costs 0.32x a full-softmax step where per-position
# negatives cost 1.0x (benchmarks/results/softmax-step-cost-amazon-beauty-SASRec.md).
ESASREC="SASRec+softmax_negatives=256+n_layers=1+n_heads=1+hidden_dropout_prob=0.2+attn_dropout_prob=0.2+MAX_ITEM_LIST_LENGTH=50"
[ "${1:-}" = "--from-step=2" ] || $PY benchmarks/model_comparison.py --name=frontier-recipe \
    --variants="SASRec,$ESASREC@42,$ESASREC+softmax_negatives_per=batch@42" \
    --seeds=42 --jobs=2 --baseline_runs=$SEQUENCE_SASREC --notes=benchmarks/notes/frontier-amazon-beauty.md "${COMMON[@]}"
# Step 2 (seed 42): the same recipes read under the `unseen` protocol too (history items masked, as
# S3-Rec, FMLP-Rec, BSARec and RecTools evaluate), which the runs of step 1 did not record, so the
# baseline is trained again here; plus sampled softmax alone on the default SASRec architecture.
$PY benchmarks/model_comparison.py --name=frontier-unseen \
    --variants="SASRec@42,$ESASREC@42,SASRec+softmax_negatives=256@42,$ESASREC+softmax_negatives_per=batch@42" \
    --seeds=42 --jobs=2 --notes=benchmarks/notes/frontier-amazon-beauty.md "${COMMON[@]}"
