"""PyTorch's VAE example (pytorch/examples, vae/main.py) on the bundled MNIST: the reference
for `nabla train --model vae`.

Same recipe: 784-400-20, ReLU, Adam lr 1e-3, batch 128, shuffled training set, loss = binary
cross-entropy summed over pixels + KL(q(z|x) || N(0, I)) summed over latent dimensions,
reported per image; pixels in [0, 1], not binarized; the test pass samples z as the example
does. Prints one line per epoch: train loss, test loss, seconds of the training pass and of
the test pass.

    /work/venv/bin/python bench/pytorch/vae_mnist.py --epochs 10 --threads 2
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time

import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "mnist")


def pixels(split: str) -> torch.Tensor:
    """Images of `split` as [n, 784] float32 in [0, 1]."""
    with gzip.open(os.path.join(ROOT, f"{split}-images-idx3-ubyte.gz"), "rb") as f:
        raw = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)[16:]
    return raw.to(torch.float32).view(-1, 784) / 255.0


class VAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="one JSON object per epoch")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, test = pixels("train"), pixels("t10k")
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        total = 0.0
        for idx in torch.randperm(len(train)).split(128):
            x = train[idx]
            opt.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            total += loss.item()
            opt.step()
        t1 = time.perf_counter()
        model.eval()
        test_total = 0.0
        with torch.no_grad():
            for x in test.split(128):
                recon, mu, logvar = model(x)
                test_total += loss_function(recon, x, mu, logvar).item()
        t2 = time.perf_counter()
        row = {
            "epoch": epoch,
            "train_loss": total / len(train),
            "test_loss": test_total / len(test),
            "train_seconds": t1 - t0,
            "test_seconds": t2 - t1,
        }
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(
                f"epoch {epoch}: train loss {row['train_loss']:.4f}, test loss {row['test_loss']:.4f}, "
                f"train {row['train_seconds']:.2f}s, test {row['test_seconds']:.2f}s",
                flush=True,
            )


if __name__ == "__main__":
    main()
