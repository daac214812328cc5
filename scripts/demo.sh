#!/usr/bin/env bash
# The main job end to end on the embedded default, the synthetic toy-beauty dataset:
#   toy raw data -> prepare -> HSU staged LLM pipeline (packaged SmolLM2, in-process llama.cpp)
#   -> user and item semantic vectors -> SASRec vs SASRecHSUGA under one protocol -> results/demo/,
#   ending with one side-by-side table of the two.
# Knobs (environment): DATA (default dataset), HSU_USERS (users sent to the LLM, default 12),
# EPOCHS (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
PY=.venv/bin/python
DATA=${DATA:-dataset}
export HF_HUB_OFFLINE=1

$PY -m dataset_tools toy --out "$DATA/raw/toy-beauty"
$PY -m dataset_tools prepare toy-beauty --raw "$DATA/raw/toy-beauty" --out "$DATA"
# HSU: staged interest editing with the packaged SmolLM2 on a sample of users (resumable).
$PY -m dataset_tools hsu toy-beauty --data "$DATA" --run demo --limit-users "${HSU_USERS:-12}"
$PY -m dataset_tools report toy-beauty --data "$DATA" --run demo
# User vectors: HSU interests for the sampled users, history text for every user.
$PY -m dataset_tools embed toy-beauty --data "$DATA" --extractor hsu --run demo --suffix useremb
$PY -m dataset_tools embed toy-beauty --data "$DATA" --extractor text --suffix useremb_text
# Item vectors: the semantic view of the dual-view backbone (LLM-ESR, HSUGA).
$PY -m dataset_tools embed toy-beauty --data "$DATA" --extractor items
# Same loss (CE: HSUGA models take their RecBole backbone's) and the same training rows.
for model in SASRec SASRecHSUGA; do
    $PY run_recbole_hsuga.py --model=$model --dataset=toy-beauty --data_path="$DATA/" --epochs="${EPOCHS:-5}" \
        --results_dir=results/demo
done
# One side-by-side table (and two figures) of the models it trained.
$PY -m recbole_hsuga.report --runs results/demo --baseline SASRec --name demo-toy-beauty --out results/demo
grep '^|' results/demo/demo-toy-beauty.md
echo "Result files: results/demo/*.json, one row per metric in results/demo/summary.csv;" \
     "the comparison: results/demo/demo-toy-beauty.md"
