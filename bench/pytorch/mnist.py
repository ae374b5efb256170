"""MNIST from data/mnist/*.gz as PyTorch tensors, normalized as nabla does.

`load(split)` returns (images [n, 1, 28, 28] float32 normalized with the
training set's mean 0.1307 and std 0.3081, labels [n] int64) for split
"train" (60,000) or "t10k" (10,000).
"""

from __future__ import annotations

import gzip
import os

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "mnist")
MEAN, STD = 0.1307, 0.3081


def _read(path: str, offset: int) -> torch.Tensor:
    with gzip.open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)[offset:]


def load(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [n, 1, 28, 28] (float32, normalized) and labels [n] (int64) of `split`."""
    images = _read(os.path.join(ROOT, f"{split}-images-idx3-ubyte.gz"), 16)
    labels = _read(os.path.join(ROOT, f"{split}-labels-idx1-ubyte.gz"), 8)
    # In place: one float copy of the images at most (188 MB for the training set).
    x = images.to(torch.float32).view(-1, 1, 28, 28)
    x.div_(255.0).sub_(MEAN).div_(STD)
    return x, labels.to(torch.int64)
