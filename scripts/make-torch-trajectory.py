#!/usr/bin/python3
"""Regenerates the PyTorch training-trajectory fixtures in
driver/src/test/resources/torch-trajectory/ (TorchTrajectoryTest).

Needs only PyTorch and numpy (Debian: `apt-get install -y python3-torch`, then run with
/usr/bin/python3); safetensors files are written by make-torch-fixture.py's writer.

    /usr/bin/python3 scripts/make-torch-trajectory.py [OUT_DIR]

One small CNN (conv without bias, batch norm, relu, max-pool, dense, relu, dense; no dropout),
one fixed initial state and one fixed sequence of K = 12 mini-batches of 8 samples, trained for
K steps under several optimizer settings. Each setting is a convspark config (model + train
keys, as a user would write it) and the PyTorch run that the documented semantics of those keys
correspond to:

  train.base-lr / base-batch / global-batch / scaling   -> the rate, scaled (ScalingRule)
  train.warmup-epochs, schedule (cosine, step)          -> the rate of every step (LrSchedule)
  train.optimizer.type = sgd, momentum, nesterov        -> torch.optim.SGD (dampening 0)
  train.optimizer.type = adam, beta1, beta2, epsilon    -> torch.optim.Adam
  train.optimizer.weight-decay = d                      -> torch.optim.AdamW(weight_decay=d) on
                                                           conv/dense weights only
  train.l2 = d / 2                                      -> weight_decay = d (coupled, added to the
                                                           gradient; torch.optim.Adam's for adam)
                                                           on conv/dense weights only
  train.l1 = a                                          -> grad += a * sign(w), conv/dense weights
  train.clip-grad-norm = c                              -> clip_grad_norm_(c) before the
                                                           regularisation is added
  train.label-smoothing = e                             -> CrossEntropyLoss(label_smoothing=e)
  train.workers = 2 (blocks of 16 and 15 samples, local batch 4: partitions of 4 + 4 samples,
      and 4 + 3 at the last step of an epoch)       -> batch norm over each partition's samples,
      loss = sum over both / the step's global count (8 or 7), running statistics folded from
      the count-weighted averages of the partitions' batch means and unbiased variances
      (Network.updateRunningStats)

Files:

  model.conf            the model block (every setting's config includes it)
  model.safetensors     initial weights and batch-norm state (state_dict names, F32)
  batches.safetensors   "x" [K, 8, 1, 6, 6] F32 and "y" [K, 8] I64: the batch of every step
  <setting>.conf        the convspark config of the setting (model and train keys)
  <setting>.safetensors
      loss              [K] the mean (smoothed) loss of every step, before its update (so
                        loss[s] checks the parameters after s steps)
      lr                [K] the learning rate PyTorch used at every step
      step<s>.<name>    every parameter and batch-norm running statistic after s steps,
                        s in RECORD
    metadata: partitions (each step's partitions' sample counts: "8;8;..." or "4,4;...;4,3"),
      steps_per_epoch, record (the recorded steps).

The references are computed in float64 from the float32 initial state and inputs, and stored
as F64. The script also runs every setting in float32 and prints how far PyTorch's own float32
trajectory is from the reference, in TorchTrajectoryTest's measure (max|a-b| / max|b| per
tensor), to compare the test's tolerance with.
"""

import copy
import importlib.util
import math
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("make_torch_fixture",
                                               os.path.join(HERE, "make-torch-fixture.py"))
_fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixture)
save_safetensors = _fixture.save_safetensors
randomise_bn = _fixture.randomise_bn

SEED = 20240612
K = 12
BATCH = 8
STEPS_PER_EPOCH = 4
RECORD = (1, 12)
SHAPE = (1, 6, 6)
CLASSES = 4

MODEL_CONF = """model {
  input { channels = 1, height = 6, width = 6 }
  layers = [
    { type = conv, filters = 4, kernel = 3, padding = 1, bias = false }
    { type = batchnorm }
    { type = relu }
    { type = maxpool, kernel = 2 }
    { type = flatten }
    { type = dense, units = 6 }
    { type = relu }
    { type = dense, units = 4 }
  ]
}
"""


def build():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False),  # 0: 1x6x6 -> 4x6x6
        nn.BatchNorm2d(4),                          # 1
        nn.ReLU(),                                  # 2
        nn.MaxPool2d(2),                            # 3: -> 4x3x3
        nn.Flatten(),                               # 4
        nn.Linear(36, 6),                           # 5
        nn.ReLU(),                                  # 6
        nn.Linear(6, CLASSES),                      # 7
    )


def weight_names(model):
    """convspark regularises (and AdamW-decays) the conv and dense weights only."""
    return {n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))
            for n in [n + ".weight"]}


def two_workers(step):
    """Blocks of 16 and 15 samples, local batch 4: the last step of an epoch has 4 + 3."""
    return (4, 3) if step % STEPS_PER_EPOCH == STEPS_PER_EPOCH - 1 else (4, 4)


def parts_of(st, step):
    return st["parts"](step) if "parts" in st else (BATCH,)


# ----------------------------------------------------------------------------- settings
#
# Each: the convspark train keys (HOCON) and the equivalent PyTorch settings. epochs = 3 and
# global-batch = 8 with 4 steps per epoch (the Java test gives the Updater 4 steps per epoch).

SETTINGS = {
    "sgd": dict(
        conf="optimizer { type = sgd, momentum = 0 }\nbase-lr = 0.1",
        opt="sgd", lr=0.1, momentum=0.0),
    "sgd-momentum-l2": dict(
        conf="optimizer { type = sgd, momentum = 0.9 }\nbase-lr = 0.05\nl2 = 0.025",
        opt="sgd", lr=0.05, momentum=0.9, weight_decay=0.05),
    "sgd-nesterov": dict(
        conf="optimizer { type = sgd, momentum = 0.8, nesterov = true }\nbase-lr = 0.05",
        opt="sgd", lr=0.05, momentum=0.8, nesterov=True),
    "sgd-l1": dict(
        conf="optimizer { type = sgd, momentum = 0.9 }\nbase-lr = 0.05\nl1 = 0.01",
        opt="sgd", lr=0.05, momentum=0.9, l1=0.01),
    "sgd-label-smoothing": dict(
        conf="optimizer { type = sgd, momentum = 0.9 }\nbase-lr = 0.05\nlabel-smoothing = 0.1",
        opt="sgd", lr=0.05, momentum=0.9, smoothing=0.1),
    "sgd-clip-l2": dict(
        conf="optimizer { type = sgd, momentum = 0.9 }\nbase-lr = 0.05\nl2 = 0.025\n"
             "clip-grad-norm = 0.3",
        opt="sgd", lr=0.05, momentum=0.9, weight_decay=0.05, clip=0.3),
    # base-lr 0.005 tuned for a batch of 2, global batch 8: linear scaling x4 -> 0.02, reached by
    # linear warmup over 1 epoch (4 steps), then cosine to min-lr 0.002 at the end of epoch 3
    "sgd-warmup-cosine": dict(
        conf="optimizer { type = sgd, momentum = 0.9 }\nbase-lr = 0.005\nbase-batch = 2\n"
             "scaling = linear\nwarmup-epochs = 1\nschedule = cosine\nmin-lr = 0.002",
        opt="sgd", momentum=0.9,
        schedule=dict(base=0.005, k=4.0, scaling="linear", warmup=1.0, decay="cosine",
                      total=3, min_lr=0.002)),
    # base-lr 0.1 tuned for a batch of 16, global batch 8: linear scaling x0.5 -> 0.05, which the
    # warmup holds (nothing to warm up to); then x0.5 every epoch
    "sgd-halved-step-decay": dict(
        conf="optimizer { type = sgd, momentum = 0.9, nesterov = true }\nbase-lr = 0.1\n"
             "base-batch = 16\nwarmup-epochs = 0.5\nschedule = step\nstep-every-epochs = 1\n"
             "step-gamma = 0.5",
        opt="sgd", momentum=0.9, nesterov=True,
        schedule=dict(base=0.1, k=0.5, scaling="linear", warmup=0.5, decay="step", every=1.0,
                      gamma=0.5)),
    "sgd-two-workers": dict(
        conf="optimizer { type = sgd, momentum = 0.9 }\nbase-lr = 0.05\nworkers = 2",
        opt="sgd", lr=0.05, momentum=0.9, parts=two_workers),
    "adam": dict(
        conf="optimizer { type = adam, beta1 = 0.8, beta2 = 0.99, epsilon = 1e-6 }\n"
             "base-lr = 0.01",
        opt="adam", lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    # sqrt scaling: base-lr 0.005 for a batch of 2, x sqrt(4) = 0.01
    "adam-l2-sqrt": dict(
        conf="optimizer { type = adam }\nbase-lr = 0.005\nbase-batch = 2\nscaling = sqrt\n"
             "l2 = 0.05",
        opt="adam", lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
    "adamw": dict(
        conf="optimizer { type = adam, weight-decay = 0.5 }\nbase-lr = 0.01",
        opt="adamw", lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5),
}


def schedule_lr(s, step):
    """LrSchedule.lr as documented (convspark-defaults.conf, train.warmup-epochs/schedule)."""
    target = s["base"] * (s["k"] if s["scaling"] == "linear" else math.sqrt(s["k"]))
    epoch = step / STEPS_PER_EPOCH
    if epoch < s["warmup"]:
        start = min(s["base"], target)
        return start + (target - start) * epoch / s["warmup"]
    if s["decay"] == "step":
        return target * s["gamma"] ** math.floor(epoch / s["every"])
    assert s["decay"] == "cosine"
    t = min(1.0, (epoch - s["warmup"]) / (s["total"] - s["warmup"]))
    return s["min_lr"] + (target - s["min_lr"]) * 0.5 * (1 + math.cos(math.pi * t))


def make_optimizer(model, st):
    weights = weight_names(model)
    w = [p for n, p in model.named_parameters() if n in weights]
    other = [p for n, p in model.named_parameters() if n not in weights]
    wd = st.get("weight_decay", 0.0)
    groups = [{"params": w, "weight_decay": wd}, {"params": other, "weight_decay": 0.0}]
    lr = st.get("lr", 1.0)
    if st["opt"] == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=st["momentum"],
                               nesterov=st.get("nesterov", False))
    if st["opt"] == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=st["betas"], eps=st["eps"])
    if st["opt"] == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=st["betas"], eps=st["eps"])
    raise ValueError(st["opt"])


def bn_modules(model):
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def train_step(model, opt, st, x, y, lr, parts):
    """One convspark step on the first sum(parts) samples of (x, y), partitioned as parts:
    returns the mean loss before the update."""
    n = sum(parts)
    x, y = x[:n], y[:n]
    loss_fn = nn.CrossEntropyLoss(reduction="sum", label_smoothing=st.get("smoothing", 0.0))
    model.train()
    opt.zero_grad()
    bns = bn_modules(model)
    if len(parts) == 1:
        loss = loss_fn(model(x), y) / n  # PyTorch's own batch norm, momentum 0.1
        loss.backward()
    else:
        # each partition normalises with its own batch statistics; the running statistics take
        # the count-weighted average of the partitions' batch means and unbiased variances
        old = [(b.running_mean.clone(), b.running_var.clone(), b.momentum) for b in bns]
        acc = [(torch.zeros_like(b.running_mean), torch.zeros_like(b.running_var)) for b in bns]
        loss = 0
        start = 0
        for p in parts:
            for b in bns:
                b.momentum = 1.0  # running = this batch's statistics
            # backward per partition: the next forward updates the running statistics in place
            part = loss_fn(model(x[start:start + p]), y[start:start + p]) / n
            part.backward()
            loss = loss + part.detach()
            for b, a in zip(bns, acc):
                a[0].add_(p * b.running_mean)
                a[1].add_(p * b.running_var)
            start += p
        with torch.no_grad():
            for b, (m0, v0, mom), (am, av) in zip(bns, old, acc):
                b.momentum = mom
                b.running_mean.copy_((1 - mom) * m0 + mom * am / n)
                b.running_var.copy_((1 - mom) * v0 + mom * av / n)
    if st.get("clip"):
        torch.nn.utils.clip_grad_norm_(model.parameters(), st["clip"])
    if st.get("l1"):
        weights = weight_names(model)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in weights:
                    p.grad.add_(st["l1"] * torch.sign(p))
    for g in opt.param_groups:
        g["lr"] = lr
    opt.step()
    return loss.detach()


def snapshot(model):
    out = {}
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        out[name] = t.detach().clone()
    return out


def run(model, st, xs, ys, dtype):
    model = copy.deepcopy(model).to(dtype)
    opt = make_optimizer(model, st)
    losses, lrs, snaps = [], [], {}
    clipped = 0
    for s in range(K):
        lr = schedule_lr(st["schedule"], s) if "schedule" in st else st["lr"]
        loss = train_step(model, opt, st, xs[s].to(dtype), ys[s], lr, parts_of(st, s))
        if st.get("clip"):
            norm = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in model.parameters()))
            clipped += norm >= st["clip"] * (1 - 1e-6)
        losses.append(float(loss))
        lrs.append(lr)
        if s + 1 in RECORD:
            snaps[s + 1] = snapshot(model)
    return losses, lrs, snaps, clipped


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "driver", "src", "test", "resources", "torch-trajectory")
    root = os.path.normpath(root)
    os.makedirs(root, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED + 1)
    model = build()
    randomise_bn(model, gen)
    xs = torch.randn((K, BATCH) + SHAPE, generator=gen)
    ys = torch.randint(0, CLASSES, (K, BATCH), generator=gen)

    with open(os.path.join(root, "model.conf"), "w") as f:
        f.write(MODEL_CONF)
    save_safetensors(os.path.join(root, "model.safetensors"), model.state_dict(),
                     {"format": "pt"})
    save_safetensors(os.path.join(root, "batches.safetensors"), {"x": xs, "y": ys})

    print(f"{root}: PyTorch float32 vs the float64 reference, worst max|a-b| / max|b| over the "
          f"tensors after step {', '.join(map(str, RECORD))}:")
    for name, st in SETTINGS.items():
        losses, lrs, snaps, clipped = run(model, st, xs, ys, torch.float64)
        out = {"loss": torch.tensor(losses, dtype=torch.float64),
               "lr": torch.tensor(lrs, dtype=torch.float64)}
        for s, snap in snaps.items():
            for k, v in snap.items():
                out[f"step{s}.{k}"] = v
        parts = [parts_of(st, s) for s in range(K)]
        save_safetensors(os.path.join(root, name + ".safetensors"), out, {
            "partitions": ";".join(",".join(map(str, p)) for p in parts),
            "steps_per_epoch": str(STEPS_PER_EPOCH),
            "record": ",".join(map(str, RECORD))})
        extra_keys = "".join(f"\n  {k} = {v}" for k, v in
                             (("base-batch", BATCH), ("workers", len(parts[0])))
                             if k not in st["conf"])
        with open(os.path.join(root, name + ".conf"), "w") as f:
            f.write(f"# {name}: made by scripts/make-torch-trajectory.py\n"
                    f"include \"model.conf\"\n"
                    f"train {{\n  epochs = {K // STEPS_PER_EPOCH}\n  global-batch = {BATCH}"
                    f"{extra_keys}\n  "
                    + st["conf"].replace("\n", "\n  ")
                    + "\n}\n")

        l32, _, s32, _ = run(model, st, xs, ys, torch.float32)
        worst = {s: max((s32[s][k].double() - v).abs().max().item()
                        / max(v.abs().max().item(), 1e-300) for k, v in snaps[s].items())
                 for s in RECORD}
        extra = f"  ({clipped} of {K} steps clipped)" if st.get("clip") else ""
        print(f"  {name:22s} " + "  ".join(f"step {s}: {worst[s]:.2e}" for s in RECORD)
              + f"  loss {losses[0]:.4f} -> {losses[-1]:.4f}{extra}")


if __name__ == "__main__":
    main()
