#!/usr/bin/env bash
# The CUDA checks CI cannot run, for a GPU machine that has torch but not sciml's other
# dependencies: put their wheels in .whl/ (git-ignored; e.g. `pip download --no-deps
# --only-binary=:all: --python-version 3.12 -d .whl neuraloperator tensorly tensorly-torch
# pydantic pydantic_core annotated-types typing-inspection meshio pyamg cholespy`), then run
#   bash benchmarks/device_check.sh      # OUT=<folder> keeps the tables
# It runs the CUDA-only tests, every task and family end to end on CUDA, and the GPU timings.
OUT=${OUT:-/tmp/device_check}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
mkdir -p /tmp/site/wandb && : > /tmp/site/wandb/__init__.py   # neuraloperator imports wandb at import; unused
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 DDE_BACKEND=pytorch
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
echo "=== 1. CUDA-only tests"
timeout 120 python3 -m pytest -q -p no:cacheprovider -k cuda --continue-on-collection-errors tests 2>&1 | tail -12
echo "=== 2. every task and family end to end on CUDA"
timeout 200 python3 benchmarks/device_end_to_end.py --device cuda 2>"$OUT/e2e_err.txt" | tee "$OUT/e2e.md"
tail -30 "$OUT/e2e_err.txt"
echo "=== 3. timings on the GPU"
timeout 120 python3 benchmarks/gpu_timings.py --device cuda 2>&1 | tee "$OUT/timings.md"
