"""The PyTorch side of a convspark model spec (docs/PYTORCH.md), in one place.

  Residual          the nn.Module that mirrors convspark's `residual` layer
  FlatLinear        nn.Linear that reads any input as a vector, as convspark's `dense` does
  build_sequential  the nn.Sequential of a model spec given as JSON: the `convspark.model`
                    metadata of an exported safetensors file, or the "spec" field printed by
                    `java -cp bench/target/benchmarks.jar convspark.bench.KernelInfo`
                    (both are ModelSpec.render()); its state_dict() names are the ones
                    convspark's TorchModel reads and writes
  load_safetensors  ({name: tensor}, metadata) of a safetensors file, with torch only
  spec_of           the spec JSON of a .safetensors file's metadata or of a .json file

Used by scripts/make-torch-fixture.py (Residual) and bench/peers/torch_peer.py (--spec).
Needs torch only. Import it with the directory on sys.path, e.g.

    sys.path.insert(0, "bench/peers"); from convspark_torch import build_sequential
"""
import json
import struct

import torch
import torch.nn as nn

_DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
       "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class Residual(nn.Module):
    """The PyTorch module that mirrors convspark's `residual` layer spec (docs/PYTORCH.md):
    activation(body(x) + shortcut(x)); an empty shortcut is the identity. Its state_dict names
    are body.<j>.* and shortcut.<j>.*, as convspark's TorchModel reads and writes them."""

    def __init__(self, body, shortcut=(), activation=nn.ReLU()):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*shortcut)
        self.activation = activation if activation is not None else nn.Identity()

    def forward(self, x):
        return self.activation(self.body(x) + self.shortcut(x))


class FlatLinear(nn.Linear):
    """nn.Linear that reads any input as a vector in C,H,W order, as convspark's dense does."""

    def forward(self, x):
        return super().forward(x.flatten(1))


def build_sequential(spec, init=False):
    """The torch.nn.Sequential of a convspark model spec (a dict: ModelSpec.render() parsed).

    init=True draws conv and dense weights as the spec's `init` says, the way convspark does
    (he: N(0, 2/fan_in); xavier: U(-a, a), a = sqrt(6/(fan_in+fan_out)); torch: PyTorch's own
    default) and sets their biases to 0, as convspark does; batch norm starts at gamma 1,
    beta 0 either way. The random streams differ from convspark's (seed with
    torch.manual_seed). init=False keeps PyTorch's defaults (weights to be loaded anyway)."""
    i = spec["input"]
    x = torch.zeros(2, i["channels"], i["height"], i["width"])  # to infer shapes
    return _build_layers(spec["layers"], x, init)[0]


def _build_layers(specs, x, init):
    """(nn.Sequential of the layer specs, its output for x)."""
    layers = []
    for l in specs:
        t = l["type"]
        if t == "residual":
            body, _ = _build_layers(l["layers"], x, init)
            shortcut, _ = _build_layers(l.get("shortcut", []), x, init)
            a = l.get("activation", "relu")
            m = Residual(body, shortcut, None if a == "none" else _ACTIVATIONS[a]())
        elif t == "conv":
            m = nn.Conv2d(x.shape[1], l["filters"], l["kernel"], stride=l.get("stride", 1),
                          padding=l.get("padding", 0), groups=l.get("groups", 1),
                          bias=l.get("bias", True))
        elif t == "dense":
            m = FlatLinear(x[0].numel(), l["units"], bias=l.get("bias", True))
        elif t == "batchnorm":
            bn = nn.BatchNorm2d if x.dim() == 4 else nn.BatchNorm1d
            m = bn(x.shape[1], eps=l.get("epsilon", 1e-5), momentum=l.get("momentum", 0.1))
        elif t == "maxpool":
            k = l["kernel"]
            m = nn.MaxPool2d(k, stride=l.get("stride", k), padding=l.get("padding", 0))
        elif t == "avgpool":
            k = l["kernel"]
            m = nn.AvgPool2d(k, stride=l.get("stride", k))
        elif t == "dropout":
            m = nn.Dropout(l.get("rate", 0.5))
        elif t in _ACTIVATIONS:
            m = _ACTIVATIONS[t]()
        elif t == "flatten":
            m = nn.Flatten()
        elif t == "globalavgpool":
            m = nn.AdaptiveAvgPool2d(1)
        else:
            raise ValueError(f"layer type '{t}' has no PyTorch counterpart here")
        if init and t in ("conv", "dense"):
            _init(m, l.get("init", "he"))
        with torch.no_grad():
            x = m.eval()(x)
        layers.append(m)
    return nn.Sequential(*layers), x


def _init(m, scheme):
    if scheme == "he":
        nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
    elif scheme == "xavier":
        nn.init.xavier_uniform_(m.weight)
    elif scheme != "torch":   # torch: the module's own U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        raise ValueError(f"unknown init '{scheme}' (he, xavier, torch)")
    if m.bias is not None:
        nn.init.zeros_(m.bias)


def load_safetensors(path):
    """Returns ({name: tensor}, metadata) of a safetensors file, using only torch."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        buf = bytearray(f.read())
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        t = torch.frombuffer(buf[b:end], dtype=_DT[e["dtype"]]) if end > b \
            else torch.empty(0, dtype=_DT[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def spec_of(path):
    """The model spec (dict) in a .safetensors file's `convspark.model` metadata, or in a JSON
    file holding either the spec itself or an object with a "spec" field (KernelInfo's output)."""
    if path.endswith(".safetensors"):
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            meta = json.loads(f.read(n)).get("__metadata__", {})
        if "convspark.model" not in meta:
            raise ValueError(f"{path}: no convspark.model metadata (not exported by convspark)")
        return json.loads(meta["convspark.model"])
    with open(path) as f:
        d = json.load(f)
    d = d.get("spec", d)
    if "input" not in d or "layers" not in d:
        raise ValueError(f"{path}: expected a model spec with input and layers")
    return d
