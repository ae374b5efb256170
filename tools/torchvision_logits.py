"""Writes torchvision models with random weights, an input and their logits, for the test
that nabla's zoo reproduces them (crates/nabla-nn/tests/torchvision.rs).

For each model: ``<dir>/<name>.safetensors`` holds every ``state_dict()`` entry as it is
(batch-norm buffers included), ``<dir>/<name>.io.safetensors`` holds ``input``
([2, 3, 224, 224]) and ``logits`` (evaluation mode). Weights are redrawn so that activations
stay of order 1 through the depth (and batch-norm statistics are not the trivial 0 and 1),
otherwise small numerical differences could hide behind vanishing activations.

    .venv/bin/pip install torchvision
    .venv/bin/python tools/torchvision_logits.py /tmp/nabla-torchvision
    NABLA_TORCHVISION_DIR=/tmp/nabla-torchvision \\
        cargo test --release -p nabla-nn --test torchvision -- --ignored

No file is downloaded; about 1 GB is written (VGG-11 alone is 0.5 GB).
"""

import json
import math
import os
import struct
import sys

import torch
import torchvision.models as m

MODELS = {
    "alexnet": lambda: m.alexnet(),
    "vgg11": lambda: m.vgg11(),
    "vgg11_bn": lambda: m.vgg11_bn(),
    "googlenet": lambda: m.googlenet(aux_logits=True, init_weights=True),
    # As torchvision's pretrained GoogLeNet: no auxiliary heads, the input re-normalized.
    "googlenet_transform_input": lambda: m.googlenet(
        aux_logits=False, transform_input=True, init_weights=True
    ),
    "resnet18": lambda: m.resnet18(),
    "resnet50": lambda: m.resnet50(),
}

DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def save(path, tensors):
    """A safetensors file, written by hand (the `safetensors` package is not needed)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {
            "dtype": DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def randomize(net, gen):
    """He-scaled weights, small biases, non-trivial batch-norm parameters and statistics."""
    for mod in net.modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = mod.weight[0].numel()
            mod.weight.data = torch.randn(mod.weight.shape, generator=gen) * math.sqrt(1.0 / fan_in)
            if mod.bias is not None:
                mod.bias.data = torch.randn(mod.bias.shape, generator=gen) * 0.1
        elif isinstance(mod, torch.nn.BatchNorm2d):
            c = mod.num_features
            mod.weight.data = torch.rand(c, generator=gen) + 0.5
            mod.bias.data = torch.randn(c, generator=gen) * 0.1
            mod.running_mean.data = torch.randn(c, generator=gen) * 0.1
            mod.running_var.data = torch.rand(c, generator=gen) + 0.5
            mod.num_batches_tracked.data = torch.tensor(7)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/nabla-torchvision"
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for name, build in MODELS.items():
        gen = torch.Generator().manual_seed(0)
        net = build()
        randomize(net, gen)
        net.eval()
        x = torch.randn((2, 3, 224, 224), generator=gen)
        with torch.no_grad():
            logits = net(x)
        save(os.path.join(out, f"{name}.safetensors"), net.state_dict())
        save(os.path.join(out, f"{name}.io.safetensors"), {"input": x, "logits": logits})
        print(f"{name}: logits {tuple(logits.shape)}, max |logit| {logits.abs().max():.4g}")


if __name__ == "__main__":
    main()
