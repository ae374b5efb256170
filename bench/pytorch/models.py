"""The nabla zoo models the benchmarks train, built in PyTorch with the same
layers and shapes (crates/nabla-nn/src/models)."""

from __future__ import annotations

import torch
from torch import nn


def mlp() -> nn.Module:
    """MLP 784-512-256-10 with ReLU (nabla's `mlp`)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 512),
        nn.ReLU(),
        nn.Linear(512, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )


def lenet5() -> nn.Module:
    """LeNet-5 with ReLU and max-pooling for 28x28 inputs padded to 32x32 (nabla's `lenet5`)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def resnet18(image_size: int, classes: int) -> nn.Module:
    """torchvision's ResNet-18; for images up to 64 pixels a 3x3 stride-1 stem without
    max-pooling, as nabla's `resnet18` builds it."""
    import torchvision

    net = torchvision.models.resnet18(num_classes=classes)
    if image_size <= 64:
        net.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    return net
