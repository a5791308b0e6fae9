#!/usr/bin/python3
"""PyTorch (CPU) peer of convspark for scripts/bench.sh: conf/fashion-mnist.conf's network
(or, with --spec, any convspark model spec, e.g. the residual net of scripts/bench-resnet.sh).

  conv 32 3x3 pad 1 -> batchnorm -> maxpool 2 -> relu -> conv 64 3x3 pad 1 -> batchnorm ->
  maxpool 2 -> relu -> dropout 0.2 -> flatten -> dense 128 -> relu -> dropout 0.25 -> dense 10

float32, conv/dense weights He-normal N(0, 2/fan_in) (kaiming_normal_, fan_in, relu) as
convspark's default init, biases 0, BatchNorm2d eps 1e-5 momentum 0.1, SGD Nesterov momentum
0.9 with weight_decay 1e-3 on conv/dense weights only (= convspark l2 5e-4), CrossEntropyLoss
with label_smoothing 0.1.

--spec PATH (throughput and ddp modes) trains the network of a convspark model spec instead:
PATH is a JSON file holding the spec (ModelSpec.render(), e.g. the "spec" field that
`java -Dconvspark.bench.conf=CONF -cp bench/target/benchmarks.jar convspark.bench.KernelInfo`
prints) or a .safetensors file exported by convspark; the nn.Sequential comes from
bench/peers/convspark_torch.py (Residual blocks included), conv/dense weights drawn as the
spec's `init` says, biases 0; inputs of the spec's input shape, labels over its classes.

  torch_peer.py throughput --threads N --seconds S [--procs P]
      batch-64 training steps (forward, loss, backward, SGD step) on random data, images/s
      measured after a warm-up of 0.3 x S over S seconds. --procs P runs P processes of N
      threads each at once (data-parallel like convspark's threads) and sums their rates.
  torch_peer.py ddp --procs P [--threads 1] [--seconds S] [--batch 64]
      PyTorch DistributedDataParallel (gloo backend, TCP on 127.0.0.1): P processes of N threads,
      batch 64 each (global batch P x 64), the same network, loss and optimizer; images/s of the
      whole group over S seconds after a warm-up of about 0.3 x S. glibc's malloc is kept from
      returning memory to the OS (MALLOC_TRIM_THRESHOLD_/MALLOC_MMAP_THRESHOLD_, set for the
      workers unless already set): page faults otherwise dominate on these VMs.
  torch_peer.py loss --steps N [--lr 0.05] [--seed 42]
      the loss sanity check: N steps of batch 64 on the first N x 64 training images in file
      order, loss of step 1 and mean loss of the last 20 steps (at most half of them).
Ends with a line "RESULT {json}".
"""
import argparse
import ctypes
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn

DATA = "/usr/share/datasets/fashion-mnist"


def net():
    m = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32, eps=1e-5, momentum=0.1),
        nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64, eps=1e-5, momentum=0.1),
        nn.MaxPool2d(2), nn.ReLU(),
        nn.Dropout(0.2), nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25),
        nn.Linear(128, 10))
    for mod in m.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(mod.bias)
    return m


def model(a):
    """(nn.Module, input shape C,H,W, classes): --spec's network, else net()."""
    if not a.spec:
        return net(), (1, 28, 28), 10
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from convspark_torch import build_sequential, spec_of
    spec = spec_of(a.spec)
    m = build_sequential(spec, init=True)
    i = spec["input"]
    shape = (i["channels"], i["height"], i["width"])
    with torch.no_grad():
        classes = m.eval()(torch.zeros((2,) + shape)).shape[1]
    return m, shape, classes


def optimizer(m, lr):
    weights = [mod.weight for mod in m.modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
    ids = {id(p) for p in weights}
    others = [p for p in m.parameters() if id(p) not in ids]
    return torch.optim.SGD([{"params": weights, "weight_decay": 1e-3},
                            {"params": others, "weight_decay": 0.0}],
                           lr=lr, momentum=0.9, nesterov=True)


def blas_info():
    """Which BLAS / oneDNN libraries this process mapped, and OpenBLAS's kernel."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1] if "/" in line else ""
            if any(k in p for k in ("blas", "dnnl", "mkl")):
                libs.add(os.path.realpath(p))
    core = "?"
    for p in sorted(libs):
        if "openblas" in p:
            try:
                lib = ctypes.CDLL(p)
                lib.openblas_get_corename.restype = ctypes.c_char_p
                core = lib.openblas_get_corename().decode()
                break
            except (OSError, AttributeError):
                pass
    return {"torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available(),
            "libs": sorted(libs), "openblas_core": core,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "")}


def conv_ops(m, x, y, lossf, opt):
    """Names of the conv kernels PyTorch dispatches to for one training step."""
    with torch.autograd.profiler.profile() as prof:
        opt.zero_grad(set_to_none=True)
        lossf(m(x), y).backward()
        opt.step()
    names = sorted({e.key for e in prof.key_averages() if "conv" in e.key.lower()})
    return [n for n in names if n.startswith(("aten::mkldnn", "aten::_slow", "aten::thnn",
                                               "aten::slow", "aten::_nnpack", "aten::mkldnn_"))] or names


def throughput(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    b = a.batch
    m, shape, classes = model(a)
    m = m.train()
    opt = optimizer(m, 0.01)
    lossf = nn.CrossEntropyLoss(label_smoothing=0.1)
    g = torch.Generator().manual_seed(a.seed)
    x = torch.rand((b,) + shape, generator=g) * 2 - 1
    y = torch.randint(0, classes, (b,), generator=g)
    ops = conv_ops(m, x, y, lossf, opt)
    if a.barrier:   # --procs: start measuring when every copy is ready
        open(os.path.join(a.barrier, str(os.getpid())), "w").close()
        deadline = time.time() + 300
        while len(os.listdir(a.barrier)) < a.barrier_count and time.time() < deadline:
            time.sleep(0.005)
    start = time.perf_counter()
    warm, end = start + 0.3 * a.seconds, start + 1.3 * a.seconds
    images, first, last = 0, None, None
    while True:
        now = time.perf_counter()
        if now > end:
            break
        opt.zero_grad(set_to_none=True)
        lossf(m(x), y).backward()
        opt.step()
        t = time.perf_counter()
        if t > warm:
            if first is None:
                first = max(now, warm)
            images += b
            last = t
    ips = images / (last - first)
    info = blas_info()
    print(f"images/s {ips:.1f} (threads {torch.get_num_threads()}, batch {b}, "
          f"{sum(p.numel() for p in m.parameters())} params, torch {info['torch']}, conv {ops}, "
          f"OpenBLAS core {info['openblas_core']})", flush=True)
    print("RESULT " + json.dumps({"peer": "pytorch", "threads": torch.get_num_threads(),
                                  "batch": b, "images_per_second": ips, "conv_ops": ops,
                                  "params": sum(p.numel() for p in m.parameters()), **info}),
          flush=True)


def parallel(a):
    """--procs P: P copies of this program, N threads each, started together."""
    barrier = tempfile.mkdtemp(prefix="torch-peer-")
    cmd = [sys.executable, os.path.abspath(__file__), "throughput", "--threads", str(a.threads),
           "--seconds", str(a.seconds), "--batch", str(a.batch), "--barrier", barrier,
           "--barrier-count", str(a.procs)] + (["--spec", a.spec] if a.spec else [])
    procs = [subprocess.Popen(cmd + ["--seed", str(a.seed + i)], stdout=subprocess.PIPE, text=True)
             for i in range(a.procs)]
    results = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            sys.exit(f"torch_peer: a copy failed with exit code {p.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1][len("RESULT "):]))
    shutil.rmtree(barrier, ignore_errors=True)
    total = sum(r["images_per_second"] for r in results)
    r = dict(results[0])
    r.update({"procs": a.procs, "images_per_second": total,
              "per_process": [round(x["images_per_second"], 1) for x in results]})
    print(f"images/s {total:.1f} ({a.procs} processes x {a.threads} thread(s), batch {a.batch} "
          f"each: {r['per_process']})", flush=True)
    print("RESULT " + json.dumps(r), flush=True)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ddp(a):
    """--procs P worker processes joined in one gloo process group on loopback."""
    env = dict(os.environ)
    env.setdefault("MALLOC_TRIM_THRESHOLD_", str(1 << 30))
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(1 << 30))
    env["MASTER_ADDR"], env["MASTER_PORT"] = "127.0.0.1", str(free_port())
    cmd = [sys.executable, os.path.abspath(__file__), "ddp-worker", "--procs", str(a.procs),
           "--threads", str(a.threads), "--seconds", str(a.seconds), "--batch", str(a.batch),
           "--seed", str(a.seed)] + (["--spec", a.spec] if a.spec else [])
    procs = [subprocess.Popen(cmd + ["--rank", str(r)], stdout=subprocess.PIPE, text=True, env=env)
             for r in range(a.procs)]
    outs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=a.seconds * 4 + 300)
            if p.returncode != 0:
                sys.exit(f"torch_peer: a DDP worker failed with exit code {p.returncode}")
            outs.append(out)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    r = json.loads(outs[0].strip().splitlines()[-1][len("RESULT "):])
    print(f"images/s {r['images_per_second']:.1f} (DDP gloo, {a.procs} processes x {a.threads} "
          f"thread(s), batch {a.batch} each, {r['steps']} steps)", flush=True)
    print("RESULT " + json.dumps(r), flush=True)


def ddp_worker(a):
    import datetime
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", rank=a.rank, world_size=a.procs,
                            timeout=datetime.timedelta(seconds=300))
    torch.manual_seed(a.seed)
    inner, shape, classes = model(a)
    inner = inner.train()
    m = DistributedDataParallel(inner)
    opt = optimizer(inner, 0.01)
    lossf = nn.CrossEntropyLoss(label_smoothing=0.1)
    g = torch.Generator().manual_seed(a.seed + 1 + a.rank)
    b = a.batch
    x = torch.rand((b,) + shape, generator=g) * 2 - 1
    y = torch.randint(0, classes, (b,), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        lossf(m(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(3):
        step()
    per_step = (time.perf_counter() - t0) / 3
    # Rank 0's estimate decides how many steps everyone runs (the same on every rank).
    plan = torch.tensor([max(3, int(0.3 * a.seconds / per_step)), max(5, int(a.seconds / per_step))])
    dist.broadcast(plan, 0)
    for _ in range(int(plan[0])):
        step()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(int(plan[1])):
        step()
    dist.barrier()
    secs = time.perf_counter() - t0
    ips = a.procs * b * int(plan[1]) / secs
    if a.rank == 0:
        print("RESULT " + json.dumps({"peer": "pytorch-ddp", "backend": "gloo", "procs": a.procs,
                                      "threads": torch.get_num_threads(), "batch": b,
                                      "steps": int(plan[1]), "seconds": secs,
                                      "images_per_second": ips,
                                      "params": sum(p.numel() for p in inner.parameters()),
                                      **blas_info()}), flush=True)
    dist.destroy_process_group()


def load(split, limit=0):
    with gzip.open(f"{DATA}/{split}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    with gzip.open(f"{DATA}/{split}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    x = x.astype(np.float32) / np.float32(255)
    if limit:
        x, y = x[:limit], y[:limit]
    return x, y


def loss(a):
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    x, y = load("train")
    xd = x.astype(np.float64)
    mean, std = xd.mean(), xd.std()
    x = ((x - np.float32(mean)) * np.float32(1 / std)).astype(np.float32)
    m = net().train()
    opt = optimizer(m, a.lr)
    lossf = nn.CrossEntropyLoss(label_smoothing=0.1)
    b, losses = 64, []
    t0 = time.perf_counter()
    for s in range(a.steps):
        off = (s * b) % (len(y) - b + 1)
        xb, yb = torch.from_numpy(x[off:off + b]), torch.from_numpy(y[off:off + b])
        opt.zero_grad(set_to_none=True)
        l = lossf(m(xb), yb)
        l.backward()
        opt.step()
        losses.append(l.item())
    secs = time.perf_counter() - t0
    tail = max(1, min(20, a.steps // 2))
    last = sum(losses[-tail:]) / tail
    n = sum(p.numel() for p in m.parameters())
    print(f"pytorch: {n} params; loss step 1 {losses[0]:.4f}; mean loss of steps "
          f"{a.steps - tail + 1}-{a.steps} {last:.4f} (lr {a.lr:.3g}, {secs:.1f} s)", flush=True)
    print("RESULT " + json.dumps({"peer": "pytorch", "steps": a.steps, "params": n,
                                  "first_loss": losses[0], "last_loss": last, "last_n": tail,
                                  "lr": a.lr, "seconds": secs, **blas_info()}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["throughput", "loss", "ddp", "ddp-worker"])
    p.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--spec", default="", help="a convspark model spec (JSON or exported "
                   ".safetensors) to train instead of conf/fashion-mnist.conf's network")
    p.add_argument("--barrier", default="", help=argparse.SUPPRESS)
    p.add_argument("--barrier-count", type=int, default=0, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.spec and a.mode == "loss":
        p.error("--spec applies to throughput and ddp, not loss")
    if a.mode == "loss":
        loss(a)
    elif a.mode == "ddp":
        ddp(a)
    elif a.mode == "ddp-worker":
        ddp_worker(a)
    elif a.procs > 1:
        parallel(a)
    else:
        throughput(a)


if __name__ == "__main__":
    main()
