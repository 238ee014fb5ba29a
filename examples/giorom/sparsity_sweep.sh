#!/usr/bin/env bash
# GIOROM's sparsity sweep: GIOROM (with its kernel reconstruction) and the sparse GNS + kNN
# baseline trained and evaluated at several sampling ratios on one particle file. The radius of
# the sampled graph and the reconstruction bandwidth scale with the sampled particles' spacing,
# SPACING x sqrt(AT / ratio): radius = 3 spacings, bandwidth = 1 spacing (the base specs' rule).
#
# Usage: bash examples/giorom/sparsity_sweep.sh [DATA_FILE] [RUNS_DIR] [SEED] [options]
#   (one CPU thread each; SEED default 0). Options, defaults = the 1600-particle jelly sweep:
#   --specs PREFIX   examples/PREFIX.yaml (GIOROM) and examples/PREFIX_gns_sparse.yaml
#                    (default giorom_jelly)
#   --spacing M      the sampled particles' spacing (m) at ratio AT (default 0.0133)
#   --at RATIO       the ratio at which SPACING holds (default 0.1)
#   --ratios "R ..." the ratios to train (default "0.02 0.05 0.2"; 10 % is compare_specs.sh's)
# e.g. the 5184-particle plasticine sweep of docs/giorom.md:
#   bash examples/giorom/sparsity_sweep.sh /tmp/giorom6/plasticine_5k.h5 RUNS 0 \
#       --specs giorom_plasticine_5k --spacing 0.0107 --at 0.05 --ratios "0.02 0.1 0.2"
# Results: RUNS_DIR/sweep_<pct>_{giorom,gns_sparse}/eval/metrics.json (docs/giorom.md).
set -euo pipefail
data=${1:-data/giorom_jelly.h5}
runs=${2:-runs}
seed=${3:-0}
shift $(($# < 3 ? $# : 3))
specs=giorom_jelly
spacing0=0.0133
at=0.1
ratios="0.02 0.05 0.2"
while [ $# -gt 0 ]; do
    case "$1" in
        --specs) specs=$2 ;;
        --spacing) spacing0=$2 ;;
        --at) at=$2 ;;
        --ratios) ratios=$2 ;;
        *) echo "sparsity_sweep.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
export OMP_NUM_THREADS=1
[ -f "$data" ] || sciml generate --spec "examples/$specs.yaml" --out "$data"
for ratio in $ratios; do
    spacing=$(python -c "print(f'{$spacing0 * ($at / $ratio) ** 0.5:.4g}')")
    radius=$(python -c "print(f'{3 * $spacing:.4g}')")
    pct=$(python -c "print(round(100 * $ratio))")
    common=(--set "seed=$seed" --set "data.path=$data" --set "data.options.sampling.ratio=$ratio"
            --set "model.radius=$radius" --quiet --overwrite)
    sciml train "examples/$specs.yaml" "${common[@]}" \
        --set "model.reconstruction.bandwidth=$spacing" --out "$runs/sweep_${pct}_giorom"
    sciml evaluate "$runs/sweep_${pct}_giorom"
    sciml train "examples/${specs}_gns_sparse.yaml" "${common[@]}" \
        --out "$runs/sweep_${pct}_gns_sparse"
    sciml evaluate "$runs/sweep_${pct}_gns_sparse"
done
