#!/usr/bin/env bash
# scripts/gpu-check-plumbing.sh [LOG_DIR]: CI's proof, on a machine without a GPU, that the GPU run
# will not fail for a reason of its own. Against the real `make gpu-bundle` output it runs
# `scripts/gpu-check.sh --no-gpu` with a stand-in for PyTorch's pip layout (a python3 whose
# site-packages hold nvidia/cudnn/lib and nvidia/cu13/lib, linking to this machine's CUDA
# libraries), then checks what that run must show: the libraries found in that layout first,
# the bundle's tests passing with the CUDA instances skipped, the GPU steps reported as not run,
# the summary in gpu-check.log, and exit status 0.
set -euo pipefail
cd "$(dirname "$0")/.."
LOG_DIR=$(realpath -m "${1:-build/gpu-check-plumbing}")
CUDA_LIB=${CUDA_HOME:-/usr/local/cuda}/lib64
[ -f build/gpu-bundle/mfd-gpu-bundle.tar.xz ] || { echo "plumbing: no bundle: run make gpu-bundle first" >&2; exit 1; }

fake=$(mktemp -d /tmp/gpu-check-plumbing.XXXXXX)
trap 'rm -rf "$fake"' EXIT
site=$fake/site-packages
# CUDA 13's wheels (nvidia-cublas 13.x) put their libraries in nvidia/cu13/lib, cuDNN's in
# nvidia/cudnn/lib.
mkdir -p "$site/nvidia/cudnn/lib" "$site/nvidia/cu13/lib"
ln -s "$CUDA_LIB"/libcudnn*.so.9 "$site/nvidia/cudnn/lib/"
ln -s "$CUDA_LIB"/libcublas.so.13 "$CUDA_LIB"/libcublasLt.so.13 "$site/nvidia/cu13/lib/"
# A python3 that answers gpu-check.sh's one question, where its site-packages are.
cat > "$fake/python3" <<PY
#!/bin/sh
echo "$site"
PY
chmod +x "$fake/python3"

rm -rf "$LOG_DIR"
status=0
PYTHON=$fake/python3 scripts/gpu-check.sh --no-gpu "$LOG_DIR" > /dev/null 2>&1 || status=$?
log=$LOG_DIR/gpu-check.log
cat "$log"
fail() { echo "plumbing: FAILED: $*" >&2; exit 1; }
[ "$status" -eq 0 ] || fail "gpu-check.sh --no-gpu exited with $status"
grep -q "cuDNN from $site/nvidia/cudnn/lib; cuBLAS from $site/nvidia/cu13/lib" "$log" \
  || fail "the libraries were not taken from the pip layout first"
grep -qE '^tests +ok .*tests: [0-9]+ passed, 0 failed, [0-9]+ skipped' "$log" || fail "the bundle's tests did not all pass"
grep -qE '^\[       OK \] .*/cuda' "$LOG_DIR/tests.log" && fail "a CUDA instance passed without a GPU"
grep -qE '^\[  SKIPPED \] .*/cuda' "$LOG_DIR/tests.log" || fail "no CUDA instance skipped: the bundle's tests ran none"
grep -qE '^tests +ok .*CUDA: 0 ok, 0 failed' "$log" || fail "the summary counts CUDA instances that cannot have run"
for step in memcheck benchmarks compare; do
  grep -qE "^$step +not run \(--no-gpu\)" "$log" || fail "step $step not reported as not run"
done
grep -q '^gpu-check: 0 step(s) failed' "$log" || fail "the summary's last line is not in gpu-check.log"
grep -qE '^bundle built from: .*, built 20' "$log" || fail "the bundle does not say which commit it was built from"
echo "plumbing: ok ($(grep -E '^== summary' "$log"))"
