#!/usr/bin/python3
"""Side-by-side CPU comparison with PyTorch: runs our Google Benchmark programs (bin/bench_conv:
conv2d forward+backward; bin/bench_mfd: MFD loss forward+backward; bin/bench_models: whole
networks, forward and forward+backward; their CPU cases, not the "cuda/..." ones, which
bench/compare_gpu.py compares) and the same cases in
PyTorch, in the same run and on the same threads, and prints the time ratio ours / PyTorch for
each (below 1 means we are faster). Ours: median of 3 repetitions; PyTorch: median of --repeats;
each side's best of two alternating rounds. The PyTorch MFD is the obvious version written with torch
ops and autograd.

  bench/compare_cpu.py [--threads 2] [--bin bin] [--repeats 20] [--only conv|mfd|models|step|memory]
                      [--batch 16|64] [--models REGEX]   (the training steps' batch and networks)

--only memory compares peak host memory instead: each side in its own process builds resnet50
(32x32, batch 64, 10 classes), reads its resident memory, resets the kernel's peak counter, runs 3
training steps (forward with the 5 stage outputs, cross-entropy + MFD, backward, SGD) and reports
the peak minus the memory before (bin/bench_memory for ours). Caches count, as a user's machine
sees them.

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

import torch_workloads  # beside this script


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


def torch_mfd_case(torch, name, repeats):
    m = re.search(r"b(\d+)_d(\d+)_h(\d+)", name)
    b, d, h = map(int, m.groups())
    x = torch.rand(b, d, h, h, requires_grad=True)

    def step():
        x.grad = None
        torch_workloads.mfd(torch, x).backward()
    return time_ms(step, max(3, repeats // 4))


def torch_model_case(torch, name, repeats):
    """model_fwd/<model>/w<width> or model_fwd_bwd/...; None where torchvision has no such width."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures"))
    import torchvision_models
    kind, model_name, tag = name.split("/")[:3]
    try:
        model = torchvision_models.build(model_name, width=float(tag[1:]))
    except ValueError:
        return None
    x = torch.randn(16, 3, 32, 32)
    labels = torch.arange(16) % 10
    step = torch_workloads.model_step(torch, model, x, labels, kind)
    return time_ms(step, max(3, repeats // 4))


def torch_train_step_case(torch, name, repeats):
    """train_step/<model>/w1.00/lambda<L>[/n<B>]: forward with stage taps, CE + L * MFD, backward,
    SGD; batch 16 unless named."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures"))
    import torchvision_models
    _, model_name, _, tag = name.split("/")[:4]
    lam = float(tag[len("lambda"):])
    batch = int(re.search(r"/n(\d+)", name).group(1)) if re.search(r"/n(\d+)", name) else 16
    model = torchvision_models.build(model_name)
    x = torch.randn(batch, 3, 32, 32)
    labels = torch.arange(batch) % 10
    step = torch_workloads.train_step(torch, model, model_name, x, labels, lam)
    return time_ms(step, 3)


def run_ours(bench, threads, bench_filter):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([bench, "--benchmark_format=json", "--benchmark_filter=" + bench_filter,
                          "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True, env=env).stdout
    # The median of 3 repetitions, in ms, keyed by the case name (which ends in /real_time).
    return {b["run_name"]: b["real_time"] for b in json.loads(out)["benchmarks"]
            if b.get("aggregate_name") == "median"}


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


def compare(title, bench, bench_filter, torch_case, torch, args):
    """Two rounds of (all our cases in one process, then all of PyTorch's); each side's time of a
    case is its best round, since a shared machine's noise only ever adds time."""
    ours, theirs = {}, {}
    for _ in range(2):
        for case, ms in run_ours(bench, args.threads, bench_filter).items():
            ours[case] = min(ms, ours.get(case, ms))
        for case in ours:
            ms = torch_case(torch, case, args.repeats)
            if ms is not None:
                theirs[case] = min(ms, theirs.get(case, ms))
    label = ((lambda case: "/".join(p for p in case.split("/")[:-1] if not p.startswith("min_time")))
             if "model" in bench_filter or "step" in bench_filter else (lambda case: case.split("/")[1]))
    print("\n%-40s %10s %10s %8s" % (title, "ours ms", "torch ms", "ratio"))
    for case in ours:
        if case in theirs:
            print("%-40s %10.2f %10.2f %8.2f" % (label(case), ours[case], theirs[case], ours[case] / theirs[case]))
        else:
            print("%-40s %10.2f %10s %8s" % (label(case), ours[case], "n/a", "n/a"))
    rows = [(case, ours[case], theirs[case], ours[case] / theirs[case]) for case in ours if case in theirs]
    ratios = [r[3] for r in rows]
    total_ours, total_theirs = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print("total: ours %.1f ms, torch %.1f ms, ratio %.2f; median ratio %.2f, worst %.2f"
          % (total_ours, total_theirs, total_ours / total_theirs, statistics.median(ratios), max(ratios)))
    return ours


TORCH_MEMORY = r"""
import os, sys, json
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.join(sys.argv[1], "..", "test", "fixtures"))
import torch, torch_workloads, torchvision_models
torch.set_num_threads(int(sys.argv[2]))
torch.manual_seed(0)
name, batch, steps = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
model = torchvision_models.build(name)
x, labels = torch.randn(batch, 3, 32, 32), torch.arange(batch) % 10
step = torch_workloads.train_step(torch, model, name, x, labels, 1.0)
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return float(line.split()[1]) / 1024
before = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
for _ in range(steps):
    step()
peak = status("VmHWM")
print(json.dumps({"rss_before_mib": before, "peak_mib": peak, "step_peak_mib": peak - before}))
"""


def compare_memory(args, model="resnet50", batch=64, steps=3):
    """Peak memory of `steps` training steps, each side in its own process (see the docstring)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    ours = json.loads(subprocess.run([os.path.join(args.bin, "bench_memory"), model, str(batch), str(steps), "1"],
                                     check=True, capture_output=True, text=True, env=env).stdout)
    here = os.path.dirname(os.path.abspath(__file__))
    theirs = json.loads(subprocess.run([sys.executable, "-c", TORCH_MEMORY, here, str(args.threads), model, str(batch),
                                        str(steps)], check=True, capture_output=True, text=True, env=env).stdout)
    print("\npeak memory of %d training steps, %s, batch %d, 32x32, MFD on every stage (MiB above the memory "
          "before the steps)" % (steps, model, batch))
    print("%-10s %12s %12s %12s" % ("", "before", "peak", "step peak"))
    for label, r in (("ours", ours), ("torch", theirs)):
        print("%-10s %12.0f %12.0f %12.0f" % (label, r["rss_before_mib"], r["peak_mib"], r["step_peak_mib"]))
    print("ratio ours / torch (step peak): %.2f" % (ours["step_peak_mib"] / theirs["step_peak_mib"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bin", default="bin")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--only", choices=["conv", "mfd", "models", "step", "memory"])
    ap.add_argument("--batch", type=int, choices=[16, 64], default=16, help="the training steps' batch")
    ap.add_argument("--models", default="[^/]+", help="the training steps' networks, a regular expression")
    args = ap.parse_args()
    # PyTorch's OpenMP threads would otherwise spin after each op and steal the cores from our
    # benchmark process, which runs right after it.
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    import torch
    torch.set_num_threads(args.threads)
    check_blas(torch)
    print("threads: %d (ours: OMP_NUM_THREADS=%d)" % (args.threads, args.threads))
    if args.only == "memory":
        compare_memory(args)
        return
    if args.only in (None, "conv"):
        compare("conv2d fwd+bwd, batch 16", os.path.join(args.bin, "bench_conv"), "^conv_fwd_bwd/",
                torch_conv_case, torch, args)
    if args.only in (None, "models"):
        compare("model, batch 16, 32x32 (ms per batch)", os.path.join(args.bin, "bench_models"), "^model_",
                torch_model_case, torch, args)
    if args.only in (None, "step"):
        step_filter = "^train_step/(%s)/w1.00/lambda[0-9]+/%s" % (args.models, "n64" if args.batch == 64 else "min_time")
        compare("training step, batch %d, +/- MFD (ms)" % args.batch, os.path.join(args.bin, "bench_models"),
                step_filter, torch_train_step_case, torch, args)
    if args.only in (None, "mfd"):
        bench = os.path.join(args.bin, "bench_mfd")
        ours = compare("MFD loss fwd+bwd (one stage)", bench, "^mfd_fwd_bwd/", torch_mfd_case, torch, args)
        print("\nGEMM rate of MFD's two products vs plain GEMMs of the same sizes (bin/bench_mfd):")
        for name, ms in ours.items():
            shape = name.split("/")[1]
            b, d, h = map(int, re.search(r"b(\d+)_d(\d+)_h(\d+)", shape).groups())
            flops = d * d * b * h * h
            plain = next(iter(run_ours(bench, args.threads, "^gemms_same_size/" + shape + "/").values()))
            print("  %-20s MFD %6.1f GFLOP/s (3 d^2 n), plain GEMMs %6.1f GFLOP/s (4 d^2 n): %3.0f%%"
                  % (shape, 3 * flops / ms / 1e6, 4 * flops / plain / 1e6, 100 * (3 * flops / ms) / (4 * flops / plain)))


if __name__ == "__main__":
    main()
