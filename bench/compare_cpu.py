#!/usr/bin/python3
"""Side-by-side CPU comparison with PyTorch: runs bin/bench_conv (Google Benchmark) and the same
conv2d forward+backward cases in PyTorch, in the same run and on the same threads, and prints
the time ratio ours / PyTorch for each (below 1 means we are faster).

  bench/compare_cpu.py [--threads 2] [--bench bin/bench_conv] [--repeats 20]

Uses Debian's python3-torch (run with /usr/bin/python3). Refuses to compare against the netlib
reference BLAS, which makes PyTorch's matrix products about 25x slower here.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time


def loaded_blas():
    """Real paths of the BLAS / oneDNN libraries mapped into this process."""
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if re.search(r"blas|mkl|dnnl", os.path.basename(path)):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def check_blas(torch):
    a = torch.randn(64, 64)
    (a @ a).sum().item()  # makes sure the BLAS is loaded
    libs = loaded_blas()
    print("PyTorch %s, BLAS libraries loaded: %s" % (torch.__version__, ", ".join(libs) or "none found"))
    if any("/blas/libblas" in p or "/blas/libcblas" in p for p in libs) and not any("openblas" in p for p in libs):
        sys.exit("compare_cpu: PyTorch loaded the netlib reference BLAS, which is ~25x slower; "
                 "install libopenblas-openmp-dev (scripts/install-deps.sh) so that Debian's "
                 "alternatives give PyTorch OpenBLAS, then rerun")


def run_ours(bench, threads, bench_filter):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([bench, "--benchmark_format=json", "--benchmark_filter=" + bench_filter],
                         check=True, capture_output=True, text=True, env=env).stdout
    return {b["name"]: b["real_time"] for b in json.loads(out)["benchmarks"]}  # milliseconds


def time_ms(fn, repeats):
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def torch_conv_case(torch, name, repeats):
    m = re.search(r"n(\d+)_c(\d+)_h(\d+)_k(\d+)_r(\d+)_s(\d+)", name)
    n, c, h, k, r, s = map(int, m.groups())
    x = torch.randn(n, c, h, h, requires_grad=True)
    w = torch.randn(k, c, r, r, requires_grad=True)
    y = torch.nn.functional.conv2d(x, w, stride=s, padding=r // 2)
    dy = torch.randn_like(y)

    def step():
        x.grad = None
        w.grad = None
        torch.nn.functional.conv2d(x, w, stride=s, padding=r // 2).backward(dy)
    return time_ms(step, repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bench", default="bin/bench_conv")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    check_blas(torch)
    print("threads: %d (ours: OMP_NUM_THREADS=%d)" % (args.threads, args.threads))
    ours = run_ours(args.bench, args.threads, "conv_fwd_bwd")
    rows = []
    for name, ms in ours.items():
        theirs = torch_conv_case(torch, name, args.repeats)
        rows.append((name, ms, theirs, ms / theirs))
    print("\n%-58s %10s %10s %8s" % ("conv2d forward+backward, batch 16", "ours ms", "torch ms", "ratio"))
    for name, ms, theirs, ratio in rows:
        print("%-58s %10.2f %10.2f %8.2f" % (name.replace("conv_fwd_bwd/", "").replace("/real_time", ""), ms, theirs, ratio))
    total_ours, total_theirs = sum(r[1] for r in rows), sum(r[2] for r in rows)
    ratios = [r[3] for r in rows]
    print("\ntotal: ours %.1f ms, torch %.1f ms, ratio %.2f; median ratio %.2f, worst %.2f"
          % (total_ours, total_theirs, total_ours / total_theirs, statistics.median(ratios), max(ratios)))


if __name__ == "__main__":
    main()
