#!/usr/bin/env python3
"""One training step of an mfd model against torchvision's, run by test/models/parity_test.cpp.

  parity.py CASE_DIR...

Each CASE_DIR holds what the C++ side wrote: init.safetensors (the model's initial weights under
torchvision's names), inputs.safetensors (x, labels; metadata: model, width), result.safetensors
(logits, grad.<name> for every parameter, and every parameter and buffer after one SGD step).
This loads the initial weights into the torchvision model with the same modifications, runs the
same step (cross-entropy; SGD lr 0.1, momentum 0.9, weight decay 5e-4) on the same batch, and
compares, tensor by tensor, |ours - torch| / |torch| (norms), which must stay under 1e-4 in
float32 and 1e-9 in float64 (metadata "dtype"). Exits 1 when any does not. Needs safetensors (the .venv that scripts/install-deps.sh makes).
"""
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import torchvision_models  # noqa: E402

TOLERANCE = {"f32": 1e-4, "f64": 1e-9}


def relative_error(ours, theirs, floor=1e-12):
    """|ours - theirs| / max(|theirs|, floor). The floor matters for tensors that are zero in
    exact arithmetic and rounding noise on both sides: the gradient of a BN bias whose output
    only reaches the loss through a following conv + training-mode BN, which removes any
    per-channel constant (MobileNetV2's projection BNs)."""
    ours, theirs = ours.double(), theirs.double()
    return ((ours - theirs).norm() / theirs.norm().clamp_min(floor)).item()


def run_case(case_dir):
    inputs = load_file(os.path.join(case_dir, "inputs.safetensors"))
    with open(os.path.join(case_dir, "inputs.safetensors"), "rb") as f:
        import json
        n = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(n))["__metadata__"]
    name, width = meta["model"], float(meta["width"])
    model = torchvision_models.build(name, num_classes=int(meta["classes"]), width=width)
    if name == "mobilenet_v2":
        model.classifier[0].p = 0.0  # the C++ side runs without dropout too: masks cannot match
    model.load_state_dict(load_file(os.path.join(case_dir, "init.safetensors")), strict=True)
    dtype = meta["dtype"]
    model = model.double() if dtype == "f64" else model
    model.train()
    x, labels = inputs["x"].to(torch.float64 if dtype == "f64" else torch.float32), inputs["labels"].long()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    logits = model(x)
    torch.nn.functional.cross_entropy(logits, labels).backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    opt.step()

    ours = load_file(os.path.join(case_dir, "result.safetensors"))
    worst = {"logits": relative_error(ours["logits"], logits.detach())}
    # Floors: 1e-6 of the largest gradient norm (for gradients) and of the largest parameter
    # norm (for the updated parameters and buffers).
    grad_floor = 1e-6 * max(g.double().norm().item() for g in grads.values())
    state = model.state_dict()
    param_floor = 1e-6 * max(t.double().norm().item() for t in state.values() if t.is_floating_point())
    for n, g in grads.items():
        worst["grad." + n] = relative_error(ours["grad." + n], g, grad_floor)
    for n, t in state.items():
        if n.endswith("num_batches_tracked"):
            worst[n] = 0.0 if int(ours[n]) == int(t) else float("inf")
        else:
            worst[n] = relative_error(ours[n], t, param_floor)
    bad = {k: v for k, v in worst.items() if not v <= TOLERANCE[dtype]}
    top = max(worst, key=worst.get)
    print("%s width %g %s: %d tensors compared, largest relative error %.2e (%s)%s"
          % (name, width, dtype, len(worst), worst[top], top, "" if not bad else "; FAILED: " +
             ", ".join("%s %.2e" % kv for kv in sorted(bad.items(), key=lambda kv: -kv[1])[:8])))
    return not bad


def main():
    torch.set_num_threads(2)
    ok = all([run_case(d) for d in sys.argv[1:]])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
