"""The PyTorch side of the benchmark comparisons, shared by compare_cpu.py and compare_gpu.py:
the obvious MFD written with torch ops and autograd, the modules whose outputs are mfd's stage
outputs, and the step functions of the model and training-step cases.

zero_grad() is called with PyTorch's default: set_to_none=False in Debian's 1.13 (the CPU
peer), True in 2.x (the GPU machine's)."""


def mfd(torch, x):
    """MFD of one stage output x (B, D, H, W): centred over the batch at each position."""
    d = x.shape[1]
    y = (x - x.mean(0, keepdim=True)).transpose(0, 1).reshape(d, -1)
    s = y @ y.t()
    norm = s.diagonal().clamp_min(1e-12).sqrt()
    f = s / (norm[:, None] * norm[None, :])
    return ((f - torch.diag(f.diagonal())) ** 2).sum() / (d * (d - 1))


def stage_modules(model, name):
    """The modules whose outputs are mfd's 5 stage outputs (models/*.cpp); for densenet121 the
    last one is norm5, whose output torchvision passes through a functional ReLU."""
    if name.startswith("res"):
        return [model.maxpool, model.layer1, model.layer2, model.layer3, model.layer4]
    if name == "densenet121":
        f = model.features
        return [f.pool0, f.denseblock1, f.denseblock2, f.denseblock3, f.norm5]
    return [model.features[i] for i in (1, 3, 6, 13, 18)]


def model_step(torch, model, x, labels, kind):
    """kind "model_fwd": the forward in evaluation mode without gradients; otherwise the forward
    and backward of cross-entropy in training mode."""
    if kind == "model_fwd":
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    else:
        model.train()

        def step():
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(x), labels).backward()
    return step


def train_step(torch, model, model_name, x, labels, lam):
    """One training step: forward with the stage outputs tapped, cross-entropy + lam * MFD of each
    stage, backward, SGD (lr 0.01, momentum 0.9, weight decay 5e-4)."""
    model.train()
    taps = []
    for m in stage_modules(model, model_name):
        m.register_forward_hook(lambda mod, inp, out: taps.append(out))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        taps.clear()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        if lam > 0:
            stages = taps[:4] + [torch.relu(taps[4])] if model_name == "densenet121" else taps
            loss = loss + lam * sum(mfd(torch, s) for s in stages)
        loss.backward()
        opt.step()
    return step
