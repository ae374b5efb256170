"""Checks that nabla's checkpoints and PyTorch's are interchangeable (safetensors).

1. Loads a model trained by `nabla train` (LeNet-5) into the same architecture written in
   PyTorch with `load_state_dict(strict=True)` and measures its test accuracy on the bundled
   MNIST; it must equal what `nabla eval` reports.
2. Writes a PyTorch-initialized LeNet-5 as safetensors plus its logits on the first 8 MNIST
   test images to crates/nabla-nn/testdata/, which the Rust test
   `crates/nabla-nn/tests/pytorch_checkpoint.rs` loads and compares (no PyTorch needed there).

    .venv/bin/pip install safetensors
    .venv/bin/python tools/pytorch_checkpoints.py [runs/lenet5-mnist/model.safetensors]
"""
import gzip
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent


class LeNet5(nn.Module):
    """nabla's `lenet5`: conv1 pads 28x28 inputs to LeNet's 32x32."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def mnist_test():
    with gzip.open(ROOT / "data/mnist/t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(ROOT / "data/mnist/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    x = (torch.from_numpy(images.astype(np.float32) / 255.0) - 0.1307) / 0.3081
    return x, torch.from_numpy(labels.astype(np.int64))


def main():
    torch.manual_seed(0)
    x, y = mnist_test()
    if len(sys.argv) > 1:
        model = LeNet5()
        model.load_state_dict(load_file(sys.argv[1]), strict=True)
        with torch.no_grad():
            acc = (model(x).argmax(1) == y).float().mean().item()
        print(f"{sys.argv[1]} loaded into PyTorch (strict): test accuracy {100 * acc:.2f}%")
    model = LeNet5()
    out = ROOT / "crates/nabla-nn/testdata"
    save_file(model.state_dict(), str(out / "pytorch_lenet5.safetensors"))
    with torch.no_grad():
        logits = model(x[:8])
    (out / "pytorch_lenet5_logits.json").write_text(json.dumps({"generated_by": "tools/pytorch_checkpoints.py", "torch": torch.__version__, "logits": logits.tolist()}))
    print(f"wrote {out}/pytorch_lenet5.safetensors and its logits on 8 test images")


if __name__ == "__main__":
    main()
