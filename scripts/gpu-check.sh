#!/usr/bin/env bash
# scripts/gpu-check.sh [LOG_DIR]: the one prepared command for a GPU machine that has the NVIDIA
# driver, PyTorch with CUDA (its pip install brings cuDNN 9 and cuBLAS 13) and none of this
# project's build dependencies. Run it from the root of a copy of the working tree that holds
# build/gpu-bundle (`make gpu-bundle` here; the device tool carries it: carry build/gpu-bundle);
# it unpacks build/gpu-bundle/mfd-gpu-bundle.tar.xz into build/gpu-bundle/{bin,lib} first.
#
#   1. environment   GPU (nvidia-smi), driver; finds libcudnn.so.9 and libcublas.so.13 (PyTorch's
#                    pip packages first, so that both sides load the same ones; then CUDA_HOME,
#                    ldconfig) and sets LD_LIBRARY_PATH; PyTorch's and our library versions
#   2. tests         every test of the bundle's mfd_tests (the CUDA instances run) except those
#                    that need Debian's Fashion-MNIST, the .venv or /usr/bin/python3's packages
#   3. memcheck      compute-sanitizer --tool memcheck over the CUDA conv2d and MFD tests
#   4. benchmarks    every "cuda/..." case of bench_conv, bench_models, bench_mfd, short
#   5. compare       bench/compare_gpu.py: the same workloads in PyTorch eager, ratios
#   6. summary       one table: each step's status, time and headline figure
#
# Stops at once, saying what is missing, when the bundle, the GPU, cuDNN or cuBLAS is; a failing
# step is reported and the next one runs; the exit status is the number of failed steps. Each
# step has a time budget and the whole stays under 8 minutes (about 4-5 expected on an H200).
# With LOG_DIR: the console in LOG_DIR/gpu-check.log, and tests.log, memcheck.log, bench.json,
# compare_gpu.json beside it (5 files, each cut at 16 MiB).
set -euo pipefail

cd "$(dirname "$0")/.."
BUNDLE=build/gpu-bundle
BIN=$BUNDLE/bin
START=$(date +%s)
TOTAL_BUDGET=${GPU_CHECK_BUDGET:-460}  # seconds for everything; each step also has its own

die() { echo "gpu-check: $*" >&2; exit 1; }

if [ $# -ge 1 ]; then
  LOG_DIR=$1
  mkdir -p "$LOG_DIR"
  exec > >(tee "$LOG_DIR/gpu-check.log") 2>&1
else
  LOG_DIR=$(mktemp -d /tmp/gpu-check.XXXXXX)
fi
echo "gpu-check: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(hostname), logs in $LOG_DIR"
echo "source: $(git rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"

# --- 1. environment: fail loudly on anything missing ----------------------------------------------
echo
echo "== 1. environment"
# `make gpu-bundle` leaves the programs packed (build/gpu-bundle/mfd-gpu-bundle.tar.xz).
if [ -f "$BUNDLE/mfd-gpu-bundle.tar.xz" ] && { [ ! -x "$BIN/mfd_tests" ] || [ "$BUNDLE/mfd-gpu-bundle.tar.xz" -nt "$BIN/mfd_tests" ]; }; then
  command -v xz >/dev/null || die "xz is needed to unpack $BUNDLE/mfd-gpu-bundle.tar.xz"
  tar -C "$BUNDLE" -xJf "$BUNDLE/mfd-gpu-bundle.tar.xz" || die "cannot unpack $BUNDLE/mfd-gpu-bundle.tar.xz"
  touch "$BIN"/*
  echo "unpacked $BUNDLE/mfd-gpu-bundle.tar.xz ($(du -sm "$BUNDLE/bin" | cut -f1) MiB of programs)"
fi
for p in mfd_tests train mfd_info bench_conv bench_models bench_mfd; do
  [ -x "$BIN/$p" ] || die "no $BIN/$p: run \`make gpu-bundle\` on the build machine and carry build/gpu-bundle"
done
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: no NVIDIA driver on this machine"
nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv \
  || die "nvidia-smi cannot query the GPU"

PY=${PYTHON:-/opt/torch/.venv/bin/python3}
[ -x "$PY" ] || PY=$(command -v python3 || true)
[ -n "$PY" ] || die "no python3 (expected /opt/torch/.venv/bin/python3; set PYTHON=...)"

# The directory holding $1 (e.g. libcudnn.so.9): PyTorch's nvidia-* pip packages, then the CUDA
# toolkit, then the loader's cache.
find_lib_dir() {
  local name=$1 site dir
  for site in $("$PY" -c 'import site, sys; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
    [ -d "$site/nvidia" ] || continue
    dir=$(find "$site/nvidia" -name "$name" -printf '%h\n' 2>/dev/null | head -n1)
    [ -n "$dir" ] && { echo "$dir"; return 0; }
  done
  for dir in "${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -e "$dir/$name" ] && { echo "$dir"; return 0; }
  done
  dir=$(ldconfig -p 2>/dev/null | awk -v n="$name" '$1 == n {print $NF; exit}')
  [ -n "$dir" ] && { dirname "$dir"; return 0; }
  return 1
}
CUDNN_DIR=$(find_lib_dir libcudnn.so.9) || die "libcudnn.so.9 not found (looked in $PY's site-packages/nvidia, /usr/local/cuda, ldconfig); install nvidia-cudnn-cu13 or set LD_LIBRARY_PATH"
CUBLAS_DIR=$(find_lib_dir libcublas.so.13) || die "libcublas.so.13 not found (looked in $PY's site-packages/nvidia, /usr/local/cuda, ldconfig); install nvidia-cublas or set LD_LIBRARY_PATH"
CUBLASLT_DIR=$(find_lib_dir libcublasLt.so.13) || die "libcublasLt.so.13 (which libcublas.so.13 needs) not found"
export LD_LIBRARY_PATH="$CUDNN_DIR:$CUBLAS_DIR:$CUBLASLT_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "cuDNN from $CUDNN_DIR; cuBLAS from $CUBLAS_DIR"
missing=$(ldd "$BIN/mfd_tests" "$BIN/bench_conv" | grep 'not found' || true)
[ -z "$missing" ] || die "the bundle's programs miss shared libraries: $missing"
echo "ours:    $("$BIN/mfd_info" | paste -sd '|' | sed 's/|/ | /g')"
"$BIN/mfd_info" --json | grep -q '"cuda_available": true' \
  || die "our programs cannot use the GPU: $("$BIN/mfd_info" --json)"
TORCH_OK=1
"$PY" -c 'import torch, sys
ok = torch.cuda.is_available()
print("PyTorch: %s (CUDA %s), cuDNN %s, cuBLAS from CUDA %s, GPU: %s" % (torch.__version__, torch.version.cuda,
      torch.backends.cudnn.version(), torch.version.cuda, torch.cuda.get_device_name() if ok else "none seen"))
sys.exit(0 if ok else 1)' || { TORCH_OK=0; echo "gpu-check: PyTorch with CUDA is not usable from $PY; the comparison step will fail"; }
command -v compute-sanitizer >/dev/null || PATH=$PATH:${CUDA_HOME:-/usr/local/cuda}/bin
echo "CPU: $(nproc) cores; $(command -v compute-sanitizer || echo 'no compute-sanitizer')"

# --- steps: each under its own budget and the remaining total -------------------------------------
STEPS=() STATUS=() SECONDS_TAKEN=() NOTES=()
FAILED=0
# run_step NAME BUDGET_S LOG LINES CMD...: runs CMD (a program, not a shell function) under
# timeout with its output in LOG (cut at 16 MiB), then shows LOG's last LINES lines (0: all).
run_step() {
  local name=$1 budget=$2 log=$3 lines=$4; shift 4
  local now left t0 rc=0 status
  now=$(date +%s); left=$((TOTAL_BUDGET - (now - START)))
  [ "$budget" -le "$left" ] || budget=$left
  STEPS+=("$name")
  if [ "$budget" -lt 15 ]; then
    STATUS+=("SKIPPED"); SECONDS_TAKEN+=(0); NOTES+=("no time left in the ${TOTAL_BUDGET} s budget")
    FAILED=$((FAILED + 1)); return 0
  fi
  echo "(budget ${budget} s) $*"
  t0=$(date +%s)
  timeout -k 10 "$budget" "$@" > "$log" 2>&1 || rc=$?
  truncate -s '<16M' "$log"
  if [ "$lines" -eq 0 ]; then cat "$log"; else tail -n "$lines" "$log"; fi
  case $rc in
    0) status=ok ;;
    124|137) status="TIMEOUT (${budget} s)" ;;
    *) status="FAILED (exit $rc)" ;;
  esac
  [ "$rc" -eq 0 ] || FAILED=$((FAILED + 1))
  STATUS+=("$status"); SECONDS_TAKEN+=($(($(date +%s) - t0))); NOTES+=("")
}
set_note() { NOTES[${#NOTES[@]} - 1]=$1; }

# --- 2. tests ---------------------------------------------------------------------------------------
echo
echo "== 2. tests (the bundle's mfd_tests, CUDA instances included)"
# Need data or tools that this machine lacks: Debian's Fashion-MNIST (quickstart, training runs),
# the .venv with safetensors (parity), /usr/bin/python3 with PIL (FaceScrub preparation).
NEEDS_DATA='QuickstartEndToEnd.*:AnalyzeTest.*:TrainTest.ARun*:TrainTest.Resume*:TrainTest.ANonFinite*:TorchvisionParity.*:PrepareFaceScrub.*'
export MFD_BIN_DIR=$BIN  # where the tests find bin/train
run_step tests 150 "$LOG_DIR/tests.log" 40 "$BIN/mfd_tests" --gtest_filter="-$NEEDS_DATA"
set_note "$(grep -E '^tests: ' "$LOG_DIR/tests.log" | tail -n1); CUDA: $(grep -cE '^\[       OK \] .*(/cuda|Cuda)' "$LOG_DIR/tests.log" || true) ok, $(grep -cE '^\[  FAILED  \] .*(/cuda|Cuda).* \(' "$LOG_DIR/tests.log" || true) failed"

# --- 3. memcheck --------------------------------------------------------------------------------------
echo
echo "== 3. compute-sanitizer memcheck (the CUDA conv2d and MFD tests)"
if command -v compute-sanitizer >/dev/null; then
  run_step memcheck 100 "$LOG_DIR/memcheck.log" 30 compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 30 \
    "$BIN/mfd_tests" --gtest_filter='Devices/Conv2dTest.*/cuda:Devices/MfdLossTest.*/cuda'
  set_note "$(grep -E 'ERROR SUMMARY' "$LOG_DIR/memcheck.log" | tail -n1); $(grep -E '^tests: ' "$LOG_DIR/memcheck.log" | tail -n1)"
else
  STEPS+=(memcheck); STATUS+=("FAILED (no compute-sanitizer)"); SECONDS_TAKEN+=(0); NOTES+=(""); FAILED=$((FAILED + 1))
fi

# --- 4. CUDA benchmarks -----------------------------------------------------------------------------
echo
echo "== 4. CUDA benchmarks (every cuda/ case, short)"
# shellcheck disable=SC2317  # run through bash -c, under timeout
bench_all() {
  local b status=0
  for b in bench_conv bench_mfd bench_models; do
    "$BIN/$b" --benchmark_filter='^cuda/' --benchmark_min_time=0.05 \
      --benchmark_out_format=json --benchmark_out="$LOG_DIR/bench.$b.json" || status=$?
  done
  # One file: {program: report}.
  "$PY" - "$LOG_DIR" <<'PYEOF' || status=1
import json, os, sys
d = sys.argv[1]
out = {}
for b in ("bench_conv", "bench_mfd", "bench_models"):
    p = os.path.join(d, "bench.%s.json" % b)
    if os.path.exists(p):
        with open(p) as f:
            out[b] = json.load(f)
        os.remove(p)
with open(os.path.join(d, "bench.json"), "w") as f:
    json.dump(out, f, indent=1)
errors = [(b["name"], b.get("error_message", "")) for r in out.values() for b in r.get("benchmarks", []) if b.get("error_occurred")]
mallocs = [b["name"] for r in out.values() for b in r.get("benchmarks", []) if b.get("device_mallocs", 0) > 0]
print("bench: %d cases, %d failed, %d with cudaMalloc in the timed loop" % (
    sum(len(r.get("benchmarks", [])) for r in out.values()), len(errors), len(mallocs)))
for name, message in errors[:10]:
    print("  failed: %s: %s" % (name, message))
for name in mallocs[:10]:
    print("  cudaMalloc while timed: " + name)
sys.exit(1 if errors else 0)
PYEOF
  return "$status"
}
export -f bench_all
export BIN LOG_DIR PY
run_step benchmarks 75 "$LOG_DIR/bench.log" 0 bash -c bench_all
set_note "$(grep -E '^bench: ' "$LOG_DIR/bench.log" | tail -n1)"
rm -f "$LOG_DIR/bench.log"  # shown in full above (gpu-check.log); the figures are in bench.json

# --- 5. comparison with PyTorch -----------------------------------------------------------------------
echo
echo "== 5. bench/compare_gpu.py (PyTorch eager, same GPU, TF32 off on both sides)"
if [ "$TORCH_OK" = 1 ]; then
  run_step compare 180 "$LOG_DIR/compare.log" 0 env PYTHONUNBUFFERED=1 "$PY" bench/compare_gpu.py --bin "$BIN" \
    --min-time 0.1 --rounds 2 --models resnet50,mobilenet_v2 --json "$LOG_DIR/compare_gpu.json"
  set_note "$(grep -E '^  conv batch 128' "$LOG_DIR/compare.log" | sed 's/^ *//' | tail -n1)"
else
  STEPS+=(compare); STATUS+=("FAILED (no PyTorch with CUDA)"); SECONDS_TAKEN+=(0); NOTES+=(""); FAILED=$((FAILED + 1))
fi

# --- 6. summary -----------------------------------------------------------------------------------------
echo
echo "== summary ($(($(date +%s) - START)) s in all; logs in $LOG_DIR)"
printf '%-11s %-30s %7s  %s\n' step status seconds note
for i in "${!STEPS[@]}"; do
  printf '%-11s %-30s %7s  %s\n' "${STEPS[$i]}" "${STATUS[$i]}" "${SECONDS_TAKEN[$i]}" "${NOTES[$i]}"
done
[ -f "$LOG_DIR/compare.log" ] && sed -n '/^summary (ratio/,$p' "$LOG_DIR/compare.log"
rm -f "$LOG_DIR/compare.log"  # its whole output is in gpu-check.log (console) and compare_gpu.json
echo "gpu-check: $FAILED step(s) failed"
exit "$FAILED"
