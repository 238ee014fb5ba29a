#!/usr/bin/env bash
# GIOROM vs a dense GNS vs a sparse GNS + kNN interpolation, each trained and evaluated from its
# spec through `sciml train/evaluate` on the same file; then inference timings (medians) and
# sizes. Results: RUNS_DIR/<specs>/eval/metrics.md and RUNS_DIR/<specs>_compare_timing.json.
# Usage: bash examples/giorom/compare_specs.sh [DATA_FILE] [RUNS_DIR] [SPECS] (one CPU thread
# each); SPECS = giorom_jelly (default) or giorom_water, the prefix of the three example specs.
set -euo pipefail
data=${1:-data/giorom_jelly.h5}
runs=${2:-runs}
specs=${3:-giorom_jelly}
export OMP_NUM_THREADS=1
[ -f "$data" ] || sciml generate --spec "examples/$specs.yaml" --out "$data"
for name in "$specs" "${specs}_gns_sparse" "${specs}_gns_dense"; do
    sciml train "examples/$name.yaml" --set "data.path=$data" --out "$runs/$name" --quiet --overwrite
    sciml evaluate "$runs/$name"
done
python examples/giorom/time_runs.py "$runs/$specs" "$runs/${specs}_gns_dense" \
    "$runs/${specs}_gns_sparse" --frames 20 --repeats 5 --out "$runs/${specs}_compare_timing.json"
