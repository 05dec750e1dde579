#!/usr/bin/env bash
# The reduced-scale results committed under docs/results/: trains what is missing of the small
# table2 and table5 grids (about 2 hours on 2 cores, one thread per run, the two grids side by
# side; seeds in passes so that every cell has a seed before any has three), then renders the
# tables, figures and feature maps. Rerunning skips finished runs.
#   scripts/small-results.sh [RUNS_DIR] [OUT_DIR]     (defaults: runs, docs/results)
set -euo pipefail
runs=${1:-runs}
out=${2:-docs/results}
bin=${BIN:-bin}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p "$out" "$runs"

train_grid() {
  for seed in 0 1 2; do
    "$bin/reproduce" "$1" --scale small --seeds "$seed" --runs "$runs"
  done
}
train_grid table2 > "$runs/small-table2.log" 2>&1 &
train_grid table5 > "$runs/small-table5.log" 2>&1
wait

for grid in table1 table2 table3 table4 table5; do
  "$bin/report" "$grid" "$runs" --scale small --out "$out/$grid-small.md" --plot "$out/$grid-small.png" > /dev/null
done
# Figures 4 and 5 at small scale: stage 0 and stage 1 of test image 0, without and with MFD.
for lambda in 0 1; do
  for stage in 0 1; do
    "$bin/analyze" feature-maps "$runs/resnet50-fashionmnist-softmax-lambda$lambda-seed0-small" --stage "$stage" \
      --image 0 --channels 64 --threshold 0.9 --out "$out/feature-maps-stage$stage-lambda$lambda.png"
  done
done > "$out/feature-maps.txt"
"$bin/analyze" correlations "$runs/resnet50-fashionmnist-softmax-lambda0-seed0-small" \
  "$runs/resnet50-fashionmnist-softmax-lambda1-seed0-small" > "$out/correlations-seed0.md"
echo "wrote $out"
