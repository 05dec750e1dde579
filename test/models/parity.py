#!/usr/bin/env python3
"""One training step of an mfd model against torchvision's, run by test/models/parity_test.cpp.

  parity.py CASE_DIR...

Each CASE_DIR holds what the C++ side wrote: init.safetensors (the model's initial weights under
torchvision's names), inputs.safetensors (x, labels; metadata: model, width), result.safetensors
(logits, grad.<name> for every parameter, and every parameter and buffer after one SGD step).
This loads the initial weights into the torchvision model with the same modifications, runs the
same step (cross-entropy; SGD lr 0.1, momentum 0.9, weight decay 5e-4) on the same batch, and
compares, tensor by tensor, |ours - torch| / |torch| (norms). Float64 (metadata "dtype") must
agree to 1e-9. Float32 must agree to 1e-4, or to 3 times the spread where that is larger: how far
the same step moves in float64 when the input is perturbed by a relative 1e-6 (two draws), taken
per kind (logits, gradients, updated state). Float32 rounding flips ReLU inputs that lie near the
kink, which changes gradients by a finite amount that depends on the BLAS kernels of each side;
the spread measures that sensitivity (docs/design-notes.md, "How a tolerance is chosen"). Exits 1
when any tensor is outside its bound. Needs safetensors (the .venv that scripts/install-deps.sh
makes).
"""
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import torchvision_models  # noqa: E402

TOLERANCE = {"f32": 1e-4, "f64": 1e-9}
SPREAD_DELTA, SPREAD_DRAWS, SPREAD_FACTOR = 1e-6, 2, 3.0


def relative_error(ours, theirs, floor=1e-12):
    """|ours - theirs| / max(|theirs|, floor). The floor matters for tensors that are zero in
    exact arithmetic and rounding noise on both sides: the gradient of a BN bias whose output
    only reaches the loss through a following conv + training-mode BN, which removes any
    per-channel constant (MobileNetV2's projection BNs)."""
    ours, theirs = ours.double(), theirs.double()
    return ((ours - theirs).norm() / theirs.norm().clamp_min(floor)).item()


def one_step(case_dir, meta, x, labels, dtype):
    """The step in PyTorch from the stored initial weights: {"logits", "grad.<name>", <name>}."""
    name, width = meta["model"], float(meta["width"])
    model = torchvision_models.build(name, num_classes=int(meta["classes"]), width=width)
    if name == "mobilenet_v2":
        model.classifier[0].p = 0.0  # the C++ side runs without dropout too: masks cannot match
    model.load_state_dict(load_file(os.path.join(case_dir, "init.safetensors")), strict=True)
    model = model.double() if dtype == "f64" else model
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    logits = model(x.to(torch.float64 if dtype == "f64" else torch.float32))
    torch.nn.functional.cross_entropy(logits, labels).backward()
    result = {"logits": logits.detach()}
    result.update({"grad." + n: p.grad.detach().clone() for n, p in model.named_parameters()})
    opt.step()
    result.update(model.state_dict())
    return result


def kind(key):
    return "logits" if key == "logits" else "gradients" if key.startswith("grad.") else "state"


def errors(ours, theirs):
    """Relative error of every tensor. Floors: 1e-4 of the largest gradient norm G (for gradients)
    and 1e-6 of the largest parameter norm (for the updated parameters and buffers). A gradient
    entry is a sum of n terms of the network's gradient scale; where they cancel (densenet121's
    first batch-norm weight at initialisation: 5e-6 G), its rounding stays that of the terms,
    about sqrt(n) u G with random signs: 7e-15 G in float64 for the first batch norm's
    n = B H W = 4096, which the 1e-9 bound meets from a floor of 7e-6 G; 1e-4 G leaves a margin
    of 14 and still compares such a tensor to 1e-13 G."""
    grad_floor = 1e-4 * max(t.double().norm().item() for k, t in theirs.items() if kind(k) == "gradients")
    param_floor = 1e-6 * max(t.double().norm().item() for k, t in theirs.items()
                             if kind(k) == "state" and t.is_floating_point())
    out = {}
    for k, t in theirs.items():
        if k.endswith("num_batches_tracked"):
            out[k] = 0.0 if int(ours[k]) == int(t) else float("inf")
        else:
            out[k] = relative_error(ours[k], t, {"logits": 1e-12, "gradients": grad_floor, "state": param_floor}[kind(k)])
    return out


def bounds(case_dir, meta, x, labels, dtype):
    """The bound of each kind: TOLERANCE, or for float32 SPREAD_FACTOR times the float64 spread."""
    b = {k: TOLERANCE[dtype] for k in ("logits", "gradients", "state")}
    if dtype == "f64":
        return b
    exact = one_step(case_dir, meta, x, labels, "f64")
    generator = torch.Generator().manual_seed(100)
    for _ in range(SPREAD_DRAWS):
        signs = torch.randint(0, 2, x.shape, generator=generator).double() * 2 - 1
        moved = errors(one_step(case_dir, meta, x.double() * (1 + SPREAD_DELTA * signs), labels, "f64"), exact)
        for k, e in moved.items():
            b[kind(k)] = max(b[kind(k)], SPREAD_FACTOR * e)
    return b


def run_case(case_dir):
    inputs = load_file(os.path.join(case_dir, "inputs.safetensors"))
    with open(os.path.join(case_dir, "inputs.safetensors"), "rb") as f:
        import json
        n = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(n))["__metadata__"]
    name, width, dtype = meta["model"], float(meta["width"]), meta["dtype"]
    x, labels = inputs["x"], inputs["labels"].long()
    worst = errors(load_file(os.path.join(case_dir, "result.safetensors")), one_step(case_dir, meta, x, labels, dtype))
    bound = bounds(case_dir, meta, x, labels, dtype)
    bad = {k: v for k, v in worst.items() if not v <= bound[kind(k)]}
    top = max(worst, key=worst.get)
    print("%s width %g %s: %d tensors compared, largest relative error %.2e (%s), bounds %s%s"
          % (name, width, dtype, len(worst), worst[top], top,
             ", ".join("%s %.1e" % kv for kv in bound.items()), "" if not bad else "; FAILED: " +
             ", ".join("%s %.2e" % kv for kv in sorted(bad.items(), key=lambda kv: -kv[1])[:8])))
    return not bad


def main():
    torch.set_num_threads(2)
    ok = all([run_case(d) for d in sys.argv[1:]])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
