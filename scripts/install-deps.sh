#!/usr/bin/env bash
# Installs, with apt, only the packages mfd needs that are missing. Idempotent: a second run
# installs nothing. As a non-root user it prints the exact command to run instead.
#   scripts/install-deps.sh           install what is missing
#   scripts/install-deps.sh --check   only report what is missing (exit 1 if anything is)
set -euo pipefail

packages=(
  g++ make
  libopenblas-openmp-dev  # OpenBLAS on OpenMP threads, so BLAS threads do not fight ours
  libdnnl-dev             # oneDNN: the CPU's windowed convolutions (the library PyTorch uses)
  libgtest-dev            # GoogleTest
  libbenchmark-dev        # Google Benchmark
  libstb-dev              # stb_image (JPEG/PNG decoding), stb_image_write (plots)
  zlib1g-dev              # gzipped IDX files (Fashion-MNIST)
  libopenmpi-dev openmpi-bin  # data-parallel runs: mpirun and MPI_Allreduce (make MPI=0 leaves it out)
  dataset-fashion-mnist   # the real data set of the CPU tests and the quick start
  ccache                  # fast rebuilds
  python3-torch python3-torchvision  # the CPU peer of the benchmarks and parity tests
  python3-venv            # a --system-site-packages venv for pip-only packages (safetensors)
  python3-pil             # scripts/prepare-facescrub.py crops the face boxes
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: missing: ${missing[*]}"
  if [ "${1:-}" = "--check" ]; then exit 1; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  echo "install-deps: installed ${missing[*]}"
fi

# PyPI packages for the PyTorch parity tests, in .venv beside the sources: Debian's Python
# refuses system-wide pip installs, and --system-site-packages keeps Debian's torch visible.
venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
if ! "$venv/bin/python" -c "import safetensors, torch, torchvision" 2>/dev/null; then
  if [ "${1:-}" = "--check" ]; then echo "install-deps: $venv lacks safetensors"; exit 1; fi
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install -q safetensors
  echo "install-deps: made $venv with safetensors"
fi
