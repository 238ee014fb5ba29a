#!/usr/bin/env bash
# GIOROM's sparsity sweep on the jelly file of examples/giorom_jelly.yaml: GIOROM (with its kernel
# reconstruction) and the sparse GNS + kNN baseline trained and evaluated at sampling ratios of
# 2, 5 and 20 % (10 % is examples/giorom/compare_specs.sh's run). The radius of the sampled graph
# and the reconstruction bandwidth scale with the sampled particles' spacing,
# 0.0133 m x sqrt(0.1 / ratio): radius = 3 spacings, bandwidth = 1 spacing (the 10 % specs' rule).
# Usage: bash examples/giorom/sparsity_sweep.sh [DATA_FILE] [RUNS_DIR] [SEED] (one CPU thread
# each; SEED default 0).
# Results: RUNS_DIR/sweep_<pct>_{giorom,gns_sparse}/eval/metrics.json (docs/giorom.md).
set -euo pipefail
data=${1:-data/giorom_jelly.h5}
runs=${2:-runs}
seed=${3:-0}
export OMP_NUM_THREADS=1
[ -f "$data" ] || sciml generate --spec examples/giorom_jelly.yaml --out "$data"
for ratio in 0.02 0.05 0.2; do
    spacing=$(python -c "print(f'{0.0133 * (0.1 / $ratio) ** 0.5:.4g}')")
    radius=$(python -c "print(f'{3 * $spacing:.4g}')")
    pct=$(python -c "print(round(100 * $ratio))")
    common=(--set "seed=$seed" --set "data.path=$data" --set "data.options.sampling.ratio=$ratio"
            --set "model.radius=$radius" --quiet --overwrite)
    sciml train examples/giorom_jelly.yaml "${common[@]}" \
        --set "model.reconstruction.bandwidth=$spacing" --out "$runs/sweep_${pct}_giorom"
    sciml evaluate "$runs/sweep_${pct}_giorom"
    sciml train examples/giorom_jelly_gns_sparse.yaml "${common[@]}" \
        --out "$runs/sweep_${pct}_gns_sparse"
    sciml evaluate "$runs/sweep_${pct}_gns_sparse"
done
