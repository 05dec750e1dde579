#!/usr/bin/env bash
# scripts/data-parallel-bench.sh [BIN_DIR]: one training epoch of a network on Fashion-MNIST, the
# same global batch run three ways on this machine's cores: 1 process x 1 thread, 1 process x all
# threads, and N processes x 1 thread (mpirun, N = the cores); prints images/s, the time each run
# spent in collectives (rank 0's allreduce_seconds in metrics.jsonl: its waits for the slower
# process included) and the bytes all-reduced a step. docs/benchmarks.md records the figures.
#   MODEL (resnet50), WIDTH (0.25), BATCH (32), LIMIT (1024 images), LAMBDA (1) change the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-bin}
MODEL=${MODEL:-resnet50} WIDTH=${WIDTH:-0.25} BATCH=${BATCH:-32} LIMIT=${LIMIT:-1024} LAMBDA=${LAMBDA:-1}
CORES=$(nproc)
OUT=$(mktemp -d /tmp/data-parallel-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
command -v mpirun >/dev/null || { echo "data-parallel-bench: mpirun not found (openmpi-bin)" >&2; exit 1; }
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ARGS="$MODEL fashionmnist --width $WIDTH --batch $BATCH --limit-train $LIMIT --limit-test $BATCH --epochs 1 \
  --lambda $LAMBDA --device cpu --workers 1 --force"

field() {
  python3 -c "import json, sys; v = json.loads(open(sys.argv[1]).readline()).get(sys.argv[2])
print('n/a' if v is None else '%.2f' % v)" "$1" "$2"
}

echo "$($BIN/mfd_info | grep '^CPU:')"
echo "$MODEL width $WIDTH, global batch $BATCH, $LIMIT Fashion-MNIST images, lambda $LAMBDA, $(date -u '+%Y-%m-%d')"
printf '%-26s %10s %12s %14s %16s\n' run images/s "epoch s" "collectives s" "MiB a step"
for run in "1x1:1:1" "1x$CORES:1:$CORES" "${CORES}x1:$CORES:1"; do
  IFS=: read -r name procs threads <<< "$run"
  dir=$OUT/$name
  if [ "$procs" = 1 ]; then
    OMP_NUM_THREADS=$threads "$BIN/train" $ARGS --out "$dir" > "$dir.log" 2>&1
  else
    OMP_NUM_THREADS=$threads mpirun -np "$procs" "$BIN/train" $ARGS --out "$dir" > "$dir.log" 2>&1
  fi || { echo "data-parallel-bench: the $name run failed:" >&2; tail "$dir.log" >&2; exit 1; }
  m=$dir/metrics.jsonl
  printf '%-26s %10s %12s %14s %16s\n' "$procs process(es) x $threads thread(s)" "$(field "$m" images_per_s)" \
    "$(field "$m" epoch_seconds)" "$(field "$m" allreduce_seconds)" "$(field "$m" allreduce_mib_per_step)"
done
