#!/usr/bin/env bash
# scripts/gpu-check.sh [--no-gpu] [LOG_DIR]: the one prepared command for a GPU machine that has
# the NVIDIA driver, PyTorch with CUDA (its pip install brings cuDNN 9 and cuBLAS 13) and none of
# this project's build dependencies. Run it from the root of a copy of the working tree that
# holds build/gpu-bundle (made by `make gpu-bundle` on a build machine and copied along); it
# unpacks build/gpu-bundle/mfd-gpu-bundle.tar.xz into build/gpu-bundle/.
#
#   step          budget  what
#   environment     ~40   GPU (nvidia-smi), driver; finds libcudnn.so.9, libcublas.so.13 and, if
#                         there, libnccl.so.2 (PyTorch's pip packages first, so that both sides
#                         load the same ones; then CUDA_HOME, ldconfig) and sets LD_LIBRARY_PATH;
#                         creates a cuDNN and a cuBLAS handle (mfd_info); PyTorch's and our
#                         library versions
#   tests            130  the bundle's mfd_tests, CUDA instances included, except the tests of
#                         scripts/gpu-bundle.list that need what only a build machine has
#   memcheck          70  compute-sanitizer memcheck over the CUDA conv2d, pooling and MFD tests
#                         (cuDNN algorithms from heuristics: MFD_CUDNN_ALGO=heuristic); UNSUPPORTED,
#                         not failed, where the machine refuses the sanitizer (gVisor does)
#   benchmarks        60  every "cuda/..." case of bench_conv, bench_mfd, bench_models, short; each
#                         program an equal share of what is left, a cut one keeping its finished cases
#   compare          130  bench/compare_gpu.py: the same workloads in PyTorch eager, ratios
#   summary               one table: each step's status, time and headline figure
# The budgets add up to 430 s with the environment, under the 440 s total (GPU_CHECK_BUDGET), a
# margin under a 9-minute limit; a step gets at most what is left of the total.
#
# Stops at once, saying what is missing, when the bundle, the GPU, cuDNN or cuBLAS is; a failing
# step is reported and the next one runs; the exit status is the number of failed steps. Nothing
# is lost on a timeout: every step writes its results as it goes (bench.json after each program,
# compare_gpu.json after each group). With LOG_DIR (relative to the caller's directory): the
# console in LOG_DIR/gpu-check.log, and tests.log, memcheck.log, bench.json, compare_gpu.json.
#
# --no-gpu: the plumbing alone, for a machine without a GPU (CI runs it on the real bundle):
# unpacking, the library search, the test step (CUDA instances skipping, zero failures), the
# summary and the exit status; the steps that need a GPU are reported as not run.
set -euo pipefail

NO_GPU=0
if [ "${1:-}" = "--no-gpu" ]; then NO_GPU=1; shift; fi
if [ $# -ge 1 ]; then LOG_DIR=$(realpath -m "$1"); else LOG_DIR=$(mktemp -d /tmp/gpu-check.XXXXXX); fi
cd "$(dirname "$0")/.."
BUNDLE=build/gpu-bundle
BIN=$BUNDLE/bin
LIST=scripts/gpu-bundle.list
START=$(date +%s)
TOTAL_BUDGET=${GPU_CHECK_BUDGET:-440}  # seconds for everything; each step also has its own

die() { echo "gpu-check: $*" >&2; exit 1; }

mkdir -p "$LOG_DIR"
exec > >(tee "$LOG_DIR/gpu-check.log") 2>&1
TEE_PID=$!
# At exit, close our side of the pipe and wait for tee, so that the summary is in the log.
trap 'exec >&- 2>&-; wait "$TEE_PID" 2>/dev/null || true' EXIT
echo "gpu-check: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(hostname), logs in $LOG_DIR$([ "$NO_GPU" = 1 ] && echo ', --no-gpu: plumbing only')"
# The bundle says which commit it was built from (`make gpu-bundle` writes it), so a run can be tied
# to the code even where the copy has no .git or the GPU machine no git.
echo "bundle built from: $(cat "$BUNDLE/SOURCE" 2>/dev/null || echo 'unknown (no build/gpu-bundle/SOURCE: an old bundle?)')"

# --- 1. environment: fail loudly on anything missing ----------------------------------------------
echo
echo "== 1. environment"
[ -f "$LIST" ] || die "no $LIST: run from a copy of the working tree"
PROGRAMS=$(sed -n 's/^programs: *//p' "$LIST")
SKIP_TESTS=$(sed -n 's/^skip-tests: *//p' "$LIST" | tr ' ' ':')
# `make gpu-bundle` leaves the programs packed (build/gpu-bundle/mfd-gpu-bundle.tar.xz).
if [ -f "$BUNDLE/mfd-gpu-bundle.tar.xz" ] && { [ ! -x "$BIN/mfd_tests" ] || [ "$BUNDLE/mfd-gpu-bundle.tar.xz" -nt "$BIN/mfd_tests" ]; }; then
  command -v xz >/dev/null || die "xz is needed to unpack $BUNDLE/mfd-gpu-bundle.tar.xz"
  tar -C "$BUNDLE" -xJf "$BUNDLE/mfd-gpu-bundle.tar.xz" || die "cannot unpack $BUNDLE/mfd-gpu-bundle.tar.xz"
  touch "$BIN"/*
  echo "unpacked $BUNDLE/mfd-gpu-bundle.tar.xz ($(du -sm "$BUNDLE/bin" | cut -f1) MiB of programs)"
fi
for p in $PROGRAMS; do
  [ -x "$BIN/$p" ] || die "no $BIN/$p: run \`make gpu-bundle\` on the build machine and copy build/gpu-bundle here"
done
if [ "$NO_GPU" = 0 ]; then
  command -v nvidia-smi >/dev/null || die "nvidia-smi not found: no NVIDIA driver on this machine (or use --no-gpu)"
  nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv \
    || die "nvidia-smi cannot query the GPU"
fi

PY=${PYTHON:-/opt/torch/.venv/bin/python3}
[ -x "$PY" ] || PY=$(command -v python3 || true)
[ -n "$PY" ] || die "no python3 (expected /opt/torch/.venv/bin/python3; set PYTHON=...)"

# The directory holding $1 (e.g. libcudnn.so.9): PyTorch's nvidia-* pip packages, then the CUDA
# toolkit, then the loader's cache.
find_lib_dir() {
  local name=$1 site dir
  for site in $("$PY" -c 'import site, sys; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
    [ -d "$site/nvidia" ] || continue
    dir=$(find -L "$site/nvidia" -name "$name" -printf '%h\n' 2>/dev/null | head -n1)
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
# NCCL (loaded at run time) for the data-parallel path's world of one; without it that test skips.
if NCCL_DIR=$(find_lib_dir libnccl.so.2); then
  export LD_LIBRARY_PATH="$NCCL_DIR:$LD_LIBRARY_PATH"
  echo "NCCL from $NCCL_DIR"
else
  echo "gpu-check: libnccl.so.2 not found: the NCCL instance of the data-parallel step will skip"
fi
missing=$(cd "$BIN" && ldd $PROGRAMS | grep -E '^[^[:space:]].*:$|not found' | grep -B1 'not found' || true)
[ -z "$missing" ] || die "the bundle's programs miss shared libraries: $missing"
echo "ours:    $("$BIN/mfd_info" | paste -sd '|' | sed 's/|/ | /g')"
TORCH_OK=0
if [ "$NO_GPU" = 0 ]; then
  info=$("$BIN/mfd_info" --json 2>&1) || die "mfd_info --json failed (exit $?): $info"
  echo "$info" | grep -q '"cuda_available": true' || die "our programs cannot use the GPU: $info"
  echo "$info" | grep -q '"library_probe": "ok"' || die "cuDNN or cuBLAS cannot start: $info"
  TORCH_OK=1
  "$PY" -c 'import torch, sys
ok = torch.cuda.is_available()
print("PyTorch: %s (CUDA %s), cuDNN %s, cuBLAS from CUDA %s, GPU: %s" % (torch.__version__, torch.version.cuda,
      torch.backends.cudnn.version(), torch.version.cuda, torch.cuda.get_device_name() if ok else "none seen"))
sys.exit(0 if ok else 1)' || { TORCH_OK=0; echo "gpu-check: PyTorch with CUDA is not usable from $PY; the comparison step will fail"; }
fi
command -v compute-sanitizer >/dev/null || PATH=$PATH:${CUDA_HOME:-/usr/local/cuda}/bin
echo "CPU: $(nproc) cores; $(command -v compute-sanitizer || echo 'no compute-sanitizer'); environment took $(($(date +%s) - START)) s"

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
    124) status="TIMEOUT (${budget} s)" ;;
    137) status="KILLED (time or memory)" ;;
    *) status="FAILED (exit $rc)" ;;
  esac
  [ "$rc" -eq 0 ] || FAILED=$((FAILED + 1))
  STATUS+=("$status"); SECONDS_TAKEN+=($(($(date +%s) - t0))); NOTES+=("")
}
set_note() { NOTES[${#NOTES[@]} - 1]=$1; }
# set_status STATUS COUNTS_AS_FAILURE(0|1): overrides the last step's status after a closer look.
set_status() {
  local was_failure=0
  [ "${STATUS[${#STATUS[@]} - 1]}" = ok ] || was_failure=1
  STATUS[${#STATUS[@]} - 1]=$1
  FAILED=$((FAILED - was_failure + $2))
}
# not_run NAME WHY: a step that cannot run here; a failure, except under --no-gpu where it is expected.
not_run() {
  STEPS+=("$1"); SECONDS_TAKEN+=(0); NOTES+=("")
  if [ "$NO_GPU" = 1 ]; then STATUS+=("not run (--no-gpu)"); else STATUS+=("FAILED ($2)"); FAILED=$((FAILED + 1)); fi
}

# --- 2. tests ---------------------------------------------------------------------------------------
echo
echo "== 2. tests (the bundle's mfd_tests, CUDA instances included)"
# What a GPU machine lacks is hidden from the tests here too (scripts/gpu-bundle.list), so that
# --no-gpu in CI finds a test that needs it and is not listed.
export MFD_BIN_DIR=$BIN MFD_FASHION_MNIST_DIR=/nonexistent/fashion-mnist MFD_TEST_VENV_PYTHON=/nonexistent/python \
       MFD_TEST_SYSTEM_PYTHON=/nonexistent/python3
run_step tests 130 "$LOG_DIR/tests.log" 40 "$BIN/mfd_tests" --gtest_filter="-$SKIP_TESTS"
cuda_ok=$(grep -cE '^\[       OK \] .*/cuda' "$LOG_DIR/tests.log" || true)
set_note "$(grep -E '^tests: ' "$LOG_DIR/tests.log" | tail -n1); CUDA: $cuda_ok ok, $(grep -cE '^\[  FAILED  \] .*/cuda.* \(' "$LOG_DIR/tests.log" || true) failed"
# On a GPU, a test step in which no CUDA instance passed verified nothing, whatever its exit status.
if [ "$NO_GPU" = 0 ] && [ "$cuda_ok" -eq 0 ] && [ "${STATUS[${#STATUS[@]} - 1]}" = ok ]; then
  set_status "FAILED (no CUDA test passed)" 1
fi

# --- 3. memcheck --------------------------------------------------------------------------------------
echo
echo "== 3. compute-sanitizer memcheck (the CUDA conv2d, pooling and MFD tests)"
if [ "$NO_GPU" = 1 ]; then
  not_run memcheck "no GPU"
elif command -v compute-sanitizer >/dev/null; then
  run_step memcheck 70 "$LOG_DIR/memcheck.log" 30 env MFD_CUDNN_ALGO=heuristic compute-sanitizer --tool memcheck \
    --error-exitcode 99 --print-limit 30 "$BIN/mfd_tests" \
    --gtest_filter='Devices/Conv2dTest.*/cuda:Devices/PoolingTest.*/cuda:Devices/MfdLossTest.*/cuda'
  set_note "$(grep -E 'ERROR SUMMARY' "$LOG_DIR/memcheck.log" | tail -n1); $(grep -E '^tests: ' "$LOG_DIR/memcheck.log" | tail -n1)"
  # Some sandboxed GPU machines (gVisor) refuse compute-sanitizer outright: that says nothing of our
  # code, so it is reported as such and not counted as a failure.
  if grep -q 'Device not supported' "$LOG_DIR/memcheck.log"; then
    set_status "UNSUPPORTED (sanitizer refused the device)" 0
  fi
else
  not_run memcheck "no compute-sanitizer"
fi

# --- 4. CUDA benchmarks -----------------------------------------------------------------------------
echo
echo "== 4. CUDA benchmarks (every cuda/ case, short)"
# shellcheck disable=SC2317  # run through bash -c, under timeout
# Each program gets an equal share of what is left of the step's budget (BENCH_DEADLINE), so
# that a slow first program (cuDNN measuring every new shape) cannot starve the others.
bench_all() {
  local b status=0 left=3 share
  for b in bench_conv bench_mfd bench_models; do
    share=$(( (BENCH_DEADLINE - $(date +%s)) / left )); left=$((left - 1))
    timeout -k 5 "$((share > 5 ? share : 5))" "$BIN/$b" --benchmark_filter='^cuda/' --benchmark_min_time=0.05 \
      --benchmark_out_format=json --benchmark_out="$LOG_DIR/bench.$b.json" || status=$?
    # Merged into bench.json ({program: report}) after each program: a timeout keeps the finished ones.
    "$PY" - "$LOG_DIR" "$b" <<'PYEOF' || status=1
import json, os, sys
d, b = sys.argv[1], sys.argv[2]
path, part = os.path.join(d, "bench.json"), os.path.join(d, "bench.%s.json" % b)
out = json.load(open(path)) if os.path.exists(path) else {}
if os.path.exists(part):
    text = open(part).read()
    try:
        out[b] = json.loads(text)
    except ValueError:  # cut by its time share: keep the cases it finished
        try:
            out[b] = json.loads(text[:text.rfind("}") + 1] + "]}")
        except ValueError:
            out[b] = {"benchmarks": []}
        out[b]["cut_by_time_share"] = True
    os.remove(part)
with open(path + ".part", "w") as f:
    json.dump(out, f, indent=1)
os.replace(path + ".part", path)
errors = [(c["name"], c.get("error_message", "")) for c in out.get(b, {}).get("benchmarks", []) if c.get("error_occurred")]
mallocs = [c["name"] for c in out.get(b, {}).get("benchmarks", []) if c.get("device_mallocs", 0) > 0]
print("bench %s: %d cases%s, %d failed, %d with cudaMalloc in the timed loop" % (
    b, len(out.get(b, {}).get("benchmarks", [])), " (cut by its time share)" if out.get(b, {}).get("cut_by_time_share") else "",
    len(errors), len(mallocs)))
for name, message in errors[:10]:
    print("  failed: %s: %s" % (name, message))
for name in mallocs[:10]:
    print("  cudaMalloc while timed: " + name)
sys.exit(1 if errors else 0)
PYEOF
  done
  return "$status"
}
export -f bench_all
export BIN LOG_DIR PY
if [ "$NO_GPU" = 1 ]; then
  not_run benchmarks "no GPU"
else
  BENCH_DEADLINE=$(( $(date +%s) + 55 )); export BENCH_DEADLINE
  run_step benchmarks 60 "$LOG_DIR/bench.log" 0 bash -c bench_all
  set_note "$(grep -E '^bench ' "$LOG_DIR/bench.log" | sed 's/ in the timed loop//' | paste -sd ';' | sed 's/;/; /g')"
  rm -f "$LOG_DIR/bench.log"  # shown in full above (gpu-check.log); the figures are in bench.json
fi

# --- 5. comparison with PyTorch -----------------------------------------------------------------------
echo
echo "== 5. bench/compare_gpu.py (PyTorch eager, same GPU, TF32 off on both sides)"
if [ "$NO_GPU" = 1 ]; then
  not_run compare "no GPU"
elif [ "$TORCH_OK" = 1 ]; then
  run_step compare 130 "$LOG_DIR/compare.log" 0 env PYTHONUNBUFFERED=1 "$PY" bench/compare_gpu.py --bin "$BIN" \
    --min-time 0.1 --models resnet50,mobilenet_v2 --json "$LOG_DIR/compare_gpu.json"
  set_note "$(grep -E '^  conv batch 128' "$LOG_DIR/compare.log" | sed 's/^ *//' | tail -n1)"
else
  not_run compare "no PyTorch with CUDA"
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
