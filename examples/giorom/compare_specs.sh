#!/usr/bin/env bash
# GIOROM vs a dense GNS vs a sparse GNS + kNN interpolation, each trained and evaluated from its
# spec through `sciml train/evaluate` on the same jelly file; then inference timings (medians)
# and sizes. Results: runs/giorom_jelly*/eval/metrics.md and runs/giorom_compare_timing.json.
# Usage: bash examples/giorom/compare_specs.sh [DATA_FILE] [RUNS_DIR] (one CPU thread each).
set -euo pipefail
data=${1:-data/giorom_jelly.h5}
runs=${2:-runs}
export OMP_NUM_THREADS=1
[ -f "$data" ] || sciml generate --spec examples/giorom_jelly.yaml --out "$data"
for name in giorom_jelly giorom_jelly_gns_sparse giorom_jelly_gns_dense; do
    sciml train "examples/$name.yaml" --set "data.path=$data" --out "$runs/$name" --quiet --overwrite
    sciml evaluate "$runs/$name"
done
python examples/giorom/time_runs.py "$runs/giorom_jelly" "$runs/giorom_jelly_gns_dense" \
    "$runs/giorom_jelly_gns_sparse" --frames 20 --repeats 5 --out "$runs/giorom_compare_timing.json"
