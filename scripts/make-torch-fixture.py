#!/usr/bin/python3
"""Regenerates the PyTorch parity fixtures in driver/src/test/resources/torch-parity/.

Needs only PyTorch and numpy (Debian: `apt-get install -y python3-torch`, then run with
/usr/bin/python3); safetensors files are written by the small writer below, so the
`safetensors` package is not needed.

    /usr/bin/python3 scripts/make-torch-fixture.py [OUT_DIR]

For each model it writes, in its own directory:

  model.conf          the convspark model spec (HOCON) of the same network
  model.safetensors   its initial weights and batch-norm state, named as the state_dict of the
                      torch.nn.Sequential (what convspark's TorchModel reads and writes)
  inputs.safetensors  "x" a batch of 8 inputs (NCHW), "y" its labels (I64)
  expected.safetensors
      eval.logits                   logits in eval mode (running statistics, no dropout)
      train.logits                  logits of one train-mode forward pass
      train.loss                    CrossEntropyLoss(label_smoothing=0.1), mean over the batch
      train.grad.<name>             d(train.loss)/d(parameter) for every parameter
      train.state.<i>.running_mean  batch-norm running statistics after that one train-mode
      train.state.<i>.running_var   forward pass (momentum 0.1, unbiased batch variance)

Dropout cannot match PyTorch's random numbers, so in the train-mode pass every nn.Dropout is put
in eval mode (identity); the Java test builds its training network with dropout rate 0 to match.

The references are computed in float64 from the float32 weights and inputs (so they do not
depend on PyTorch's float32 kernels or thread count) and stored as F64; the script also runs
the same passes in float32 and prints how far PyTorch's own float32 results are from them.

Model "resnet" (directory resnet/) is a small residual network built from the Residual module
of bench/peers/convspark_torch.py, the PyTorch class that mirrors convspark's `residual` layer;
its inputs are F32. Model "grouped" (directory grouped/) has grouped, depthwise and pointwise
convolutions; its inputs are F32 too. Model "edges" (directory edges/) has kernels wider than
its 2x3 input (a 5x5 conv with padding 2, a padded 3x3 max-pool of stride 2); F32 inputs.

The inputs are stored as F16 (model "cnn") and BF16 (model "mixed"), their values rounded to
those types first, to exercise those readers; dtypes.safetensors holds special values of F16,
BF16 and F64 next to their float32 conversions, for the reader's unit test.
"""

import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "peers"))
from convspark_torch import Residual  # noqa: E402  (the PyTorch mirror of a `residual` layer)

SEED = 20240611
BATCH = 8
SMOOTHING = 0.1


# ----------------------------------------------------------------------------- safetensors

_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
}


def _raw(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret as int16
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} in order, header padded with spaces to a multiple of 8."""
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    blobs, off = [], 0
    for name, t in tensors.items():
        b = _raw(t)
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ----------------------------------------------------------------------------- models

def cnn():
    """conv, batch norm, relu, max-pool (floor mode: 15 -> 7), strided conv, dropout, dense."""
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),          # 0: 1x15x15 -> 4x15x15
        nn.BatchNorm2d(4),                      # 1
        nn.ReLU(),                              # 2
        nn.MaxPool2d(2),                        # 3: -> 4x7x7 (floor mode drops row/col 15)
        nn.Conv2d(4, 6, 3, stride=2, padding=1),  # 4: -> 6x4x4
        nn.BatchNorm2d(6),                      # 5
        nn.ReLU(),                              # 6
        nn.Dropout(0.3),                        # 7
        nn.Flatten(),                           # 8
        nn.Linear(6 * 4 * 4, 10),               # 9
    )
    conf = """model {
  input { channels = 1, height = 15, width = 15 }
  layers = [
    { type = conv, filters = 4, kernel = 3, padding = 1 }
    { type = batchnorm }
    { type = relu }
    { type = maxpool, kernel = 2 }
    { type = conv, filters = 6, kernel = 3, stride = 2, padding = 1 }
    { type = batchnorm }
    { type = relu }
    { type = dropout, rate = 0.3 }
    { type = flatten }
    { type = dense, units = 10 }
  ]
}
"""
    return model, conf, (1, 15, 15), torch.float16


def mixed():
    """strided conv without bias (floor mode: 10 -> 4), tanh, avg-pool, padded max-pool,
    sigmoid, global avg-pool, batch norm after a dense layer (BatchNorm1d), non-default BN
    momentum and epsilon."""
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, stride=2, bias=False),  # 0: 2x10x10 -> 3x4x4 (floor: 3.5 + 1)
        nn.Tanh(),                              # 1
        nn.AvgPool2d(2),                        # 2: -> 3x2x2
        nn.Conv2d(3, 5, 2, padding=1),          # 3: -> 5x3x3
        nn.Sigmoid(),                           # 4
        nn.MaxPool2d(3, stride=2, padding=1),   # 5: -> 5x2x2 (padding is -inf)
        nn.BatchNorm2d(5, eps=1e-3, momentum=0.2),  # 6
        nn.AdaptiveAvgPool2d(1),                # 7: global average pool -> 5x1x1
        nn.Flatten(),                           # 8
        nn.Linear(5, 6),                        # 9
        nn.BatchNorm1d(6),                      # 10
        nn.Tanh(),                              # 11
        nn.Dropout(0.5),                        # 12
        nn.Linear(6, 4, bias=False),            # 13
    )
    conf = """model {
  input { channels = 2, height = 10, width = 10 }
  layers = [
    { type = conv, filters = 3, kernel = 3, stride = 2, bias = false }
    { type = tanh }
    { type = avgpool, kernel = 2 }
    { type = conv, filters = 5, kernel = 2, padding = 1 }
    { type = sigmoid }
    { type = maxpool, kernel = 3, stride = 2, padding = 1 }
    { type = batchnorm, momentum = 0.2, epsilon = 0.001 }
    { type = globalavgpool }
    { type = flatten }
    { type = dense, units = 6 }
    { type = batchnorm }
    { type = tanh }
    { type = dropout, rate = 0.5 }
    { type = dense, units = 4, bias = false }
  ]
}
"""
    return model, conf, (2, 10, 10), torch.bfloat16


def resnet():
    """conv-bn-relu stem, a residual block with an identity shortcut, one with a projection
    shortcut (1x1 conv stride 2 + batch norm), global average pool, dense."""
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False),  # 0: 3x8x8 -> 4x8x8
        nn.BatchNorm2d(4),                      # 1
        nn.ReLU(),                              # 2
        Residual([                              # 3: identity shortcut
            nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)]),
        Residual([                              # 4: -> 6x4x4, projection shortcut
            nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
            nn.Conv2d(6, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6)],
            [nn.Conv2d(4, 6, 1, stride=2, bias=False), nn.BatchNorm2d(6)]),
        nn.AdaptiveAvgPool2d(1),                # 5
        nn.Flatten(),                           # 6
        nn.Linear(6, 5),                        # 7
    )
    conf = """model {
  input { channels = 3, height = 8, width = 8 }
  layers = [
    { type = conv, filters = 4, kernel = 3, padding = 1, bias = false }
    { type = batchnorm }
    { type = relu }
    { type = residual, layers = [
        { type = conv, filters = 4, kernel = 3, padding = 1, bias = false }
        { type = batchnorm }
        { type = relu }
        { type = conv, filters = 4, kernel = 3, padding = 1, bias = false }
        { type = batchnorm }
      ] }
    { type = residual, layers = [
        { type = conv, filters = 6, kernel = 3, stride = 2, padding = 1, bias = false }
        { type = batchnorm }
        { type = relu }
        { type = conv, filters = 6, kernel = 3, padding = 1, bias = false }
        { type = batchnorm }
      ], shortcut = [
        { type = conv, filters = 6, kernel = 1, stride = 2, bias = false }
        { type = batchnorm }
      ] }
    { type = globalavgpool }
    { type = flatten }
    { type = dense, units = 5 }
  ]
}
"""
    return model, conf, (3, 8, 8), torch.float32


def grouped():
    """grouped and depthwise convolutions (PyTorch's groups): a grouped 3x3 conv deep enough for
    convspark's batched strategy (16 channels in 2 groups: 72-deep columns), a depthwise 3x3
    stride-2 conv (16 groups of one channel: one GEMM per image and group, through the input's
    phases) and a pointwise 1x1 conv, as in a MobileNet block."""
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False),  # 0: 3x8x8 -> 16x8x8
        nn.BatchNorm2d(16),                     # 1
        nn.ReLU(),                              # 2
        nn.Conv2d(16, 16, 3, padding=1, groups=2),  # 3: two groups of 8 channels
        nn.ReLU(),                              # 4
        nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16, bias=False),  # 5: depthwise, -> 4x4
        nn.BatchNorm2d(16),                     # 6
        nn.Conv2d(16, 6, 1),                    # 7: pointwise
        nn.AdaptiveAvgPool2d(1),                # 8
        nn.Flatten(),                           # 9
        nn.Linear(6, 5),                        # 10
    )
    conf = """model {
  input { channels = 3, height = 8, width = 8 }
  layers = [
    { type = conv, filters = 16, kernel = 3, padding = 1, bias = false }
    { type = batchnorm }
    { type = relu }
    { type = conv, filters = 16, kernel = 3, padding = 1, groups = 2 }
    { type = relu }
    { type = conv, filters = 16, kernel = 3, stride = 2, padding = 1, groups = 16, bias = false }
    { type = batchnorm }
    { type = conv, filters = 6, kernel = 1 }
    { type = globalavgpool }
    { type = flatten }
    { type = dense, units = 5 }
  ]
}
"""
    return model, conf, (3, 8, 8), torch.float32


def edges():
    """a 5x5 "same" conv (padding 2) on a 2x3 input, on one channel, so that some kernel taps
    read nothing of the plane (row shifts past it), a grouped 3x3 conv on that map, a padded
    max-pool with a window wider than the map (-> 1x2), batch norm after a dense layer."""
    model = nn.Sequential(
        nn.Conv2d(1, 4, 5, padding=2),          # 0: 1x2x3 -> 4x2x3
        nn.BatchNorm2d(4),                      # 1
        nn.ReLU(),                              # 2
        nn.Conv2d(4, 4, 3, padding=1, groups=2),  # 3: -> 4x2x3
        nn.MaxPool2d(3, stride=2, padding=1),   # 4: -> 4x1x2
        nn.Flatten(),                           # 5
        nn.Linear(8, 3),                        # 6
        nn.BatchNorm1d(3),                      # 7
        nn.Tanh(),                              # 8
        nn.Linear(3, 3),                        # 9
    )
    conf = """model {
  input { channels = 1, height = 2, width = 3 }
  layers = [
    { type = conv, filters = 4, kernel = 5, padding = 2 }
    { type = batchnorm }
    { type = relu }
    { type = conv, filters = 4, kernel = 3, padding = 1, groups = 2 }
    { type = maxpool, kernel = 3, stride = 2, padding = 1 }
    { type = flatten }
    { type = dense, units = 3 }
    { type = batchnorm }
    { type = tanh }
    { type = dense, units = 3 }
  ]
}
"""
    return model, conf, (1, 2, 3), torch.float32


def randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
                m.num_batches_tracked.fill_(7)


def passes(model, x, y):
    """Eval logits, then one train-mode pass (dropout in eval mode): logits, loss, grads, state."""
    out = {}
    model.eval()
    with torch.no_grad():
        out["eval.logits"] = model(x)
    model.train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    model.zero_grad()
    logits = model(x)
    loss = nn.CrossEntropyLoss(label_smoothing=SMOOTHING)(logits, y)
    loss.backward()
    out["train.logits"] = logits.detach()
    out["train.loss"] = loss.detach()
    for name, p in model.named_parameters():
        out["train.grad." + name] = p.grad.detach().clone()
    for name, b in model.named_buffers():
        if name.endswith("running_mean") or name.endswith("running_var"):
            out["train.state." + name] = b.detach().clone()
    return out


def make(name, build, root):
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED + 1)
    model, conf, in_shape, x_dtype = build()
    randomise_bn(model, gen)
    x = (torch.randn((BATCH,) + in_shape, generator=gen) * 1.5).to(x_dtype)
    classes = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features
    y = torch.randint(0, classes, (BATCH,), generator=gen)

    d = root if name == "cnn" else os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.conf"), "w") as f:
        f.write(conf)
    save_safetensors(os.path.join(d, "model.safetensors"), model.state_dict(), {"format": "pt"})
    save_safetensors(os.path.join(d, "inputs.safetensors"), {"x": x, "y": y})

    ref64 = passes(_copy(model).double(), x.double(), y)
    got32 = passes(_copy(model), x.float(), y)
    save_safetensors(os.path.join(d, "expected.safetensors"), ref64)
    print(f"{d}: {len(ref64)} expected tensors; PyTorch float32 vs this float64 reference, "
          f"max|a-b| / S (S as in TorchParityTest):")
    for k, line in error_report(got32, ref64):
        print(f"  {k:34s} {line}")


def error_report(got, ref, grad_floor=0.1):
    """max|a-b| / S per tensor, S = max|b| (for gradients at least grad_floor * the largest
    gradient of the model), and in brackets without the floor (or "exact 0" for gradients
    that are zero in exact arithmetic)."""
    g = max(v.abs().max().item() for k, v in ref.items() if k.startswith("train.grad."))
    for k, b in ref.items():
        diff = (got[k].double() - b).abs().max().item()
        own = b.abs().max().item()
        scale = max(own, grad_floor * g) if k.startswith("train.grad.") else own
        raw = "exact 0" if own < 1e-12 * g else f"{diff / own:.2e}"
        yield k, f"{diff / scale:.2e}  [{raw}]"


def _copy(model):
    import copy
    return copy.deepcopy(model)


def dtypes(root):
    """Special values in F16, BF16 and F64 with their exact float32 conversions."""
    f16 = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1035156e-05, 5.9604645e-08,
                        -3.0517578e-05, float("inf"), float("-inf"), float("nan"), 0.1],
                       dtype=torch.float16)
    bf16 = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.3895314e38, 9.18355e-41, float("inf"),
                         float("-inf"), float("nan"), 0.1], dtype=torch.bfloat16)
    f64 = torch.tensor([0.0, -0.0, 1.0 / 3.0, 1e-50, 1e300, -1e300, 1.0000000596046448,
                        1.0000001788139343, float("nan"), 3.4028235677973366e38],
                       dtype=torch.float64)
    save_safetensors(os.path.join(root, "dtypes.safetensors"), {
        "f16": f16, "f16_as_f32": f16.float(),
        "bf16": bf16.reshape(2, 5), "bf16_as_f32": bf16.float().reshape(2, 5),
        "f64": f64, "f64_as_f32": f64.float(),
    }, {"what": "special values and their float32 conversions"})


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "driver", "src", "test", "resources", "torch-parity")
    root = os.path.normpath(root)
    os.makedirs(root, exist_ok=True)
    torch.set_num_threads(1)
    make("cnn", cnn, root)
    make("mixed", mixed, root)
    make("resnet", resnet, root)
    make("grouped", grouped, root)
    make("edges", edges, root)
    dtypes(root)


if __name__ == "__main__":
    main()
