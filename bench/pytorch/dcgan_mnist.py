"""The DCGAN of `nabla train --model dcgan` in PyTorch, on the bundled MNIST: the reference for
its epoch time and, through `nabla gan-score --samples`, its sample quality.

Same recipe as nabla's `nabla_nn::models::dcgan` (layer for layer, parameter names included):
generator z(100) -> hidden (1024, no bias) -> bn_hidden, ReLU -> fc (no bias) -> 64x7x7 ->
bn0, ReLU -> deconv1 (4x4, stride 2, no bias) -> 32x14x14 -> bn1, ReLU -> deconv2 (4x4,
stride 2) -> 1x28x28 -> tanh; discriminator conv1 (1 -> 32, 4x4, stride 2) -> LeakyReLU(0.2)
-> conv2 (32 -> 64, no bias) -> bn2 -> LeakyReLU(0.2) -> hidden (3136 -> 1024, no bias) ->
bn_hidden, LeakyReLU(0.2) -> fc (1024 -> 1) logit; --hidden 0 drops both hidden layers. Weights N(0, 0.02^2), batch-norm scales N(1, 0.02^2),
biases 0. Real pixels in [0, 1] scaled to [-1, 1]; shuffled batches of 128; per step, G(z)
once, D on the real and (detached) fake batches separately with BCE-with-logits, then G's
non-saturating loss through the updated D; Adam lr 2e-4, betas (0.5, 0.999), one per network.
Prints one line per epoch (batch means of both losses, D(x), D(G(z)), seconds) and with
--samples-out writes --count samples of the generator in evaluation mode as [n, 784] float32
pixels in [0, 1] (.npy). --width and --hidden are nabla's --gan-width and --gan-hidden.

    /work/venv/bin/python bench/pytorch/dcgan_mnist.py --epochs 5 --threads 2 --samples-out torch.npy
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "mnist")
LATENT = 100


def pixels(split: str) -> torch.Tensor:
    """Images of `split` as [n, 1, 28, 28] float32 in [0, 1]."""
    with gzip.open(os.path.join(ROOT, f"{split}-images-idx3-ubyte.gz"), "rb") as f:
        raw = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)[16:]
    return raw.to(torch.float32).view(-1, 1, 28, 28) / 255.0


class Generator(nn.Module):
    def __init__(self, ch: int = 64, hidden: int = 1024) -> None:
        super().__init__()
        self.ch = ch
        self.hidden = nn.Linear(LATENT, hidden, bias=False) if hidden else None
        self.bn_hidden = nn.BatchNorm1d(hidden) if hidden else None
        self.fc = nn.Linear(hidden or LATENT, ch * 49, bias=False)
        self.bn0 = nn.BatchNorm2d(ch)
        self.deconv1 = nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch // 2)
        self.deconv2 = nn.ConvTranspose2d(ch // 2, 1, 4, 2, 1)

    def forward(self, z):
        if self.hidden is not None:
            z = F.relu(self.bn_hidden(self.hidden(z)))
        h = F.relu(self.bn0(self.fc(z).view(-1, self.ch, 7, 7)))
        h = F.relu(self.bn1(self.deconv1(h)))
        return torch.tanh(self.deconv2(h))


class Discriminator(nn.Module):
    def __init__(self, ch: int = 32, hidden: int = 1024) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, ch, 4, 2, 1)
        self.conv2 = nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * ch)
        self.hidden = nn.Linear(2 * ch * 49, hidden, bias=False) if hidden else None
        self.bn_hidden = nn.BatchNorm1d(hidden) if hidden else None
        self.fc = nn.Linear(hidden or 2 * ch * 49, 1)

    def forward(self, x):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2).flatten(1)
        if self.hidden is not None:
            h = F.leaky_relu(self.bn_hidden(self.hidden(h)), 0.2)
        return self.fc(h).view(-1)


def dcgan_init(module: nn.Module) -> None:
    for name, p in module.named_parameters():
        with torch.no_grad():
            if name.endswith("bias"):
                p.zero_()
            elif name.startswith("bn"):
                p.normal_(1.0, 0.02)
            else:
                p.normal_(0.0, 0.02)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=None, help="stop each epoch after N steps")
    ap.add_argument("--samples-out", default=None, help=".npy file for the samples")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--json", action="store_true", help="one JSON object per epoch")
    ap.add_argument("--width", type=int, default=64, help="nabla's --gan-width (D: half)")
    ap.add_argument("--hidden", type=int, default=1024, help="nabla's --gan-hidden (0: none)")
    ap.add_argument(
        "--freeze-d",
        action="store_true",
        help="turn off D's requires_grad for G's step, as nabla does (PyTorch's example "
        "computes D's weight gradients there too, then zeroes them)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = pixels("train").mul_(2.0).sub_(1.0)
    g, d = Generator(args.width, args.hidden), Discriminator(args.width // 2, args.hidden)
    dcgan_init(g)
    dcgan_init(d)
    g_opt = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        sums = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0}
        seen = 0
        for step, idx in enumerate(torch.randperm(len(train)).split(args.batch_size)):
            if args.max_steps is not None and step >= args.max_steps:
                break
            real = train[idx]
            n = real.shape[0]
            ones, zeros = torch.ones(n), torch.zeros(n)
            fake = g(torch.randn(n, LATENT))
            d_opt.zero_grad()
            real_logits = d(real)
            fake_logits = d(fake.detach())
            d_loss = F.binary_cross_entropy_with_logits(
                real_logits, ones
            ) + F.binary_cross_entropy_with_logits(fake_logits, zeros)
            d_loss.backward()
            d_opt.step()
            g_opt.zero_grad()
            if args.freeze_d:
                d.requires_grad_(False)
            g_loss = F.binary_cross_entropy_with_logits(d(fake), ones)
            g_loss.backward()
            if args.freeze_d:
                d.requires_grad_(True)
            g_opt.step()
            sums["d_loss"] += d_loss.item() * n
            sums["g_loss"] += g_loss.item() * n
            sums["d_real"] += torch.sigmoid(real_logits.detach()).mean().item() * n
            sums["d_fake"] += torch.sigmoid(fake_logits.detach()).mean().item() * n
            seen += n
        row = {"epoch": epoch, **{k: v / seen for k, v in sums.items()}}
        row["seconds"] = time.perf_counter() - t0
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(
                f"epoch {epoch}: D loss {row['d_loss']:.4f} | G loss {row['g_loss']:.4f} | "
                f"D(x) {row['d_real']:.3f} | D(G(z)) {row['d_fake']:.3f} | {row['seconds']:.1f}s",
                flush=True,
            )
    if args.samples_out:
        g.eval()
        with torch.no_grad():
            x = (g(torch.randn(args.count, LATENT)) + 1.0) / 2.0
        np.save(args.samples_out, x.view(args.count, 784).numpy().astype(np.float32))
        print(f"wrote {args.count} samples to {args.samples_out}")


if __name__ == "__main__":
    main()
