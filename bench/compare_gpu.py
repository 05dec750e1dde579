#!/usr/bin/env python3
"""Side-by-side GPU comparison with PyTorch eager: runs the CUDA cases ("cuda/...") of our Google
Benchmark programs (bench_conv: conv2d forward + backward, every ResNet50 convolution shape at
batch 128 and the first bottlenecks at batch 16; bench_models: a whole training step of a network
at batch 128, 32x32, 100 classes, without and with MFD on the 5 stages, and forward / forward +
backward; bench_mfd: the MFD loss forward + backward) and the same workloads in PyTorch on the
same GPU, in the same run, and prints the time ratio ours / PyTorch for each (below 1: we are
faster), with the median and the worst ratio of each group; for the convolutions against the
targets (median <= 1.1, worst <= 1.3).

Both sides: cuDNN autotuning (torch.backends.cudnn.benchmark = True; ours chooses by measurement
too), TF32 off for convolutions unless --tf32 (ours: MFD_TF32=1); matrix products always full float32 on both sides, each timed
iteration ending in a device synchronisation, the per-iteration mean of a timed loop after
warm-up, median of 3 repetitions, each side's best of --rounds alternating rounds. It prints the
GPU, PyTorch's and our cuDNN / cuBLAS versions (ours from the benchmark's JSON context) first.

  bench/compare_gpu.py [--bin build/gpu-bundle/bin] [--tf32] [--only conv,step,mfd,models]
                       [--models resnet50,...] [--min-time 0.2] [--rounds 1] [--json FILE]

Run with the python3 that has PyTorch with CUDA (on the GPU machine: /opt/torch/.venv/bin/python3);
scripts/gpu-check.sh runs it.
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

HERE = os.path.dirname(os.path.abspath(__file__))
GROUPS = ["conv", "step", "mfd", "models"]


def run_ours(bench, bench_filter, args):
    """Our cases matching the filter: {case: (median ms, error or None)}, plus the JSON context."""
    env = dict(os.environ, MFD_TF32="1" if args.tf32 else "0")
    cmd = [bench, "--benchmark_format=json", "--benchmark_filter=" + bench_filter,
           "--benchmark_min_time=%g" % args.min_time, "--benchmark_repetitions=3",
           "--benchmark_report_aggregates_only=true"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        sys.exit("compare_gpu: %s exited with %d (its stderr is above)" % (" ".join(cmd), proc.returncode))
    report = json.loads(proc.stdout)
    cases = {}
    for b in report["benchmarks"]:
        name = b["run_name"]
        if b.get("error_occurred"):
            cases[name] = (None, b.get("error_message", "error"))
        elif b.get("aggregate_name") == "median":
            cases[name] = (b["real_time"], None)
    return cases, report.get("context", {})


def time_ms(torch, fn, min_time):
    """Per-iteration mean of a loop of synchronised iterations lasting about min_time, after
    warm-up (autotuning, allocator); median of 3 repetitions, as Google Benchmark reports ours."""
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    iters = max(3, int(min_time / max(time.perf_counter() - t0, 1e-6)))
    reps = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
            torch.cuda.synchronize()
        reps.append((time.perf_counter() - t0) * 1e3 / iters)
    return statistics.median(reps)


def torch_conv_case(torch, name, args):
    n, c, h, k, r, s = map(int, re.search(r"n(\d+)_c(\d+)_h(\d+)_k(\d+)_r(\d+)_s(\d+)", name).groups())
    dev = "cuda"
    x = torch.randn(n, c, h, h, device=dev, requires_grad=True)
    w = (0.1 * torch.randn(k, c, r, r, device=dev)).requires_grad_()
    dy = torch.randn_like(torch.nn.functional.conv2d(x.detach(), w.detach(), stride=s, padding=r // 2))

    def step():
        x.grad = None
        w.grad = None
        torch.nn.functional.conv2d(x, w, stride=s, padding=r // 2).backward(dy)
    return time_ms(torch, step, args.min_time)


def torch_mfd_case(torch, name, args):
    b, d, h = map(int, re.search(r"b(\d+)_d(\d+)_h(\d+)", name).groups())
    x = torch.rand(b, d, h, h, device="cuda", requires_grad=True)

    def step():
        x.grad = None
        torch_workloads.mfd(torch, x).backward()
    return time_ms(torch, step, args.min_time)


def build_model(name, classes):
    sys.path.insert(0, os.path.join(HERE, "..", "test", "fixtures"))
    import torchvision_models
    return torchvision_models.build(name, num_classes=classes).cuda()


def torch_model_case(torch, name, args):
    """cuda/model_fwd/<model>/w1.00/n128 or cuda/model_fwd_bwd/...: 100 classes."""
    kind, model_name, _, batch = name.split("/")[1:5]
    n = int(batch[1:])
    model = build_model(model_name, 100)
    x = torch.randn(n, 3, 32, 32, device="cuda")
    labels = torch.arange(n, device="cuda") % 100
    step = torch_workloads.model_step(torch, model, x, labels, kind)
    return time_ms(torch, step, args.min_time)


def torch_train_step_case(torch, name, args):
    """cuda/train_step/<model>/w1.00/lambda<L>/n128: forward with stage taps, CE + L * MFD, backward, SGD."""
    _, _, model_name, _, tag, batch = name.split("/")[:6]
    lam, n = float(tag[len("lambda"):]), int(batch[1:])
    model = build_model(model_name, 100)
    x = torch.randn(n, 3, 32, 32, device="cuda")
    labels = torch.arange(n, device="cuda") % 100
    step = torch_workloads.train_step(torch, model, model_name, x, labels, lam)
    return time_ms(torch, step, args.min_time)


def label(case):
    """cuda/conv_fwd_bwd/layer1.0.conv1/n128_c64_h32_k64_r1_s1 -> layer1.0.conv1 n128 (64->64 32x32 1/1)."""
    parts = case.split("/")
    m = re.search(r"n(\d+)_c(\d+)_h(\d+)_k(\d+)_r(\d+)_s(\d+)", case)
    if parts[1] == "conv_fwd_bwd" and m:
        n, c, h, k, r, s = m.groups()
        return "%s n%s (%s->%s %sx%s %s/%s)" % (parts[2], n, c, k, h, h, r, s)
    return "/".join(p for p in parts[1:] if not p.startswith(("real_time", "min_time")))


def compare(title, bench, bench_filter, torch_case, torch, args, results):
    """--rounds rounds of (all our cases in one process, then all of PyTorch's); each side's time
    of a case is its best round. Prints the table and returns the rows."""
    ours, errors, theirs, context, order = {}, {}, {}, {}, []
    for _ in range(args.rounds):
        cases, context = run_ours(bench, bench_filter, args)
        order += [case for case in cases if case not in order]
        for case, (ms, err) in cases.items():
            if err is not None:
                errors[case] = err
            else:
                ours[case] = min(ms, ours.get(case, ms))
        for case in cases:
            if case in errors:
                continue
            try:
                ms = torch_case(torch, case, args)
            except Exception as e:  # a case PyTorch cannot run (memory, a missing model) is reported, not fatal
                print("  torch %s: %s" % (case, str(e).splitlines()[0] if str(e) else type(e).__name__))
                continue
            theirs[case] = min(ms, theirs.get(case, ms))
        torch.cuda.empty_cache()
    print("\n%-46s %10s %10s %7s" % (title, "ours ms", "torch ms", "ratio"))
    rows = []
    for case in order:
        if case in errors:
            print("%-46s %10s %10s %7s  ours failed: %s" % (label(case), "error", "", "", errors[case][:120]))
        elif case in theirs:
            ratio = ours[case] / theirs[case]
            rows.append((case, ours[case], theirs[case], ratio))
            print("%-46s %10.3f %10.3f %7.2f" % (label(case), ours[case], theirs[case], ratio))
        else:
            print("%-46s %10.3f %10s %7s" % (label(case), ours[case], "n/a", "n/a"))
    if rows:
        ratios = [r[3] for r in rows]
        worst = max(rows, key=lambda r: r[3])
        print("%s: %d cases, total ours %.1f ms, torch %.1f ms (%.2f); median ratio %.2f, worst %.2f (%s)"
              % (title, len(rows), sum(r[1] for r in rows), sum(r[2] for r in rows),
                 sum(r[1] for r in rows) / sum(r[2] for r in rows), statistics.median(ratios), worst[3], label(worst[0])))
    results.append({"group": title, "filter": bench_filter, "errors": errors,
                    "cases": [{"case": c, "ours_ms": o, "torch_ms": t, "ratio": r} for c, o, t, r in rows]})
    sys.stdout.flush()
    return rows, context


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="bin", help="folder of bench_conv, bench_models, bench_mfd (default bin)")
    ap.add_argument("--tf32", action="store_true", help="TF32 convolutions on both sides (default off)")
    ap.add_argument("--only", default=",".join(GROUPS), help="groups, comma-separated: " + ", ".join(GROUPS))
    ap.add_argument("--models", default="resnet18,resnet50,resnext50_32x4d,densenet121,mobilenet_v2",
                    help="networks for the step and models groups")
    ap.add_argument("--step-models", default="resnet50", help="networks for the training-step group (default resnet50)")
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per timed loop, both sides (default 0.2)")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds; each side's best counts (default 1)")
    ap.add_argument("--json", help="also write every figure to this file")
    args = ap.parse_args()
    groups = args.only.split(",")
    for g in groups:
        if g not in GROUPS:
            sys.exit("compare_gpu: unknown group '%s' (valid: %s)" % (g, ", ".join(GROUPS)))
    for name in ["bench_conv", "bench_models", "bench_mfd", "mfd_info"]:
        if not os.access(os.path.join(args.bin, name), os.X_OK):
            sys.exit("compare_gpu: no %s in %s (make bench, or make gpu-bundle and --bin build/gpu-bundle/bin)"
                     % (name, args.bin))
    import torch
    if not torch.cuda.is_available():
        sys.exit("compare_gpu: PyTorch sees no CUDA device (torch %s, built for CUDA %s)" % (torch.__version__, torch.version.cuda))
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # ours: cuBLAS always full float32
    info_cmd = [os.path.join(args.bin, "mfd_info"), "--json"]
    info = json.loads(subprocess.run(info_cmd, check=True, capture_output=True, text=True).stdout)
    versions = subprocess.run(info_cmd[:1], check=True, capture_output=True, text=True).stdout
    print("GPU: %s; PyTorch %s (CUDA %s), its cuDNN %s; TF32 %s on both sides"
          % (torch.cuda.get_device_name(), torch.__version__, torch.version.cuda, torch.backends.cudnn.version(),
             "on" if args.tf32 else "off"))
    print("ours (mfd_info): " + " | ".join(line for line in versions.splitlines() if line.startswith("libraries")))
    if torch.backends.cudnn.version() != info["cudnn_version"]:
        print("note: the two sides load different cuDNN versions (%s vs %s): the ratios compare libraries too"
              % (torch.backends.cudnn.version(), info["cudnn_version"]))
    if not info["cuda_available"]:
        sys.exit("compare_gpu: our programs see no GPU: " + info["why_not"])
    context = {}
    models = "|".join(re.escape(m) for m in args.models.split(","))
    step_models = "|".join(re.escape(m) for m in args.step_models.split(","))
    results, summary = [], []
    b = lambda name: os.path.join(args.bin, name)

    def save():
        """The figures so far, rewritten after each group: a run cut short keeps what it finished."""
        if args.json:
            with open(args.json + ".part", "w") as f:
                json.dump({"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
                           "torch_cudnn": torch.backends.cudnn.version(), "ours": info, "ours_context": context,
                           "tf32": args.tf32, "summary": summary, "groups": results}, f, indent=1)
            os.replace(args.json + ".part", args.json)

    if "conv" in groups:
        rows, context = compare("conv2d fwd+bwd, ResNet50 shapes, batch 128", b("bench_conv"), "^cuda/conv_fwd_bwd/.*/n128_",
                          torch_conv_case, torch, args, results)
        if rows:
            ratios = [r[3] for r in rows]
            med, worst = statistics.median(ratios), max(ratios)
            summary.append("conv batch 128: median ratio %.2f (target <= 1.1: %s), worst %.2f (target <= 1.3: %s)"
                           % (med, "met" if med <= 1.1 else "MISSED", worst, "met" if worst <= 1.3 else "MISSED"))
        save()
        compare("conv2d fwd+bwd, first bottlenecks, batch 16", b("bench_conv"), "^cuda/conv_fwd_bwd/.*/n16_",
                torch_conv_case, torch, args, results)
        save()
    if "step" in groups:
        rows, _ = compare("training step, batch 128, 100 classes, +/- MFD", b("bench_models"),
                          "^cuda/train_step/(%s)/" % step_models, torch_train_step_case, torch, args, results)
        for case, o, t, r in rows:
            summary.append("%s: ours %.1f ms, torch %.1f ms, ratio %.2f" % ("/".join(case.split("/")[2:5]), o, t, r))
        save()
    if "mfd" in groups:
        compare("MFD loss fwd+bwd (one stage)", b("bench_mfd"), "^cuda/mfd_fwd_bwd/", torch_mfd_case, torch, args, results)
        save()
    if "models" in groups:
        compare("model fwd, fwd+bwd, batch 128, 100 classes", b("bench_models"), "^cuda/model_fwd(_bwd)?/(%s)/" % models,
                torch_model_case, torch, args, results)
        save()
    print("\nsummary (ratio = ours / PyTorch):")
    for line in summary:
        print("  " + line)


if __name__ == "__main__":
    main()
