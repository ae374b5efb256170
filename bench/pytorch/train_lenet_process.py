"""The PyTorch side of the whole-process run: what
`nabla train --model lenet5 --data mnist --epochs 2 --batch-size 64 --optimizer momentum --lr 0.01 --threads 2 --quiet`
does, from a cold start, as a user would write it.

Reads data/mnist/*.gz, normalizes (mean 0.1307, std 0.3081), trains LeNet-5 for
2 epochs (batch 64, shuffled, SGD momentum 0.9, lr 0.01 annealed per epoch by a
cosine schedule as nabla's default), tracks the training loss and accuracy,
evaluates on the 10,000 test images after each epoch (batch 256), prints the
results and saves the weights. bench/timeproc.py times the whole process.

    .venv/bin/python bench/pytorch/train_lenet_process.py [--threads 2] [--epochs 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mnist  # noqa: E402
import models  # noqa: E402


def evaluate(net, x, y) -> tuple[float, float]:
    net.eval()
    loss, hits = 0.0, 0
    with torch.inference_mode():
        for i in range(0, x.shape[0], 256):
            out = net(x[i : i + 256])
            loss += F.cross_entropy(out, y[i : i + 256], reduction="sum").item()
            hits += (out.argmax(1) == y[i : i + 256]).sum().item()
    return loss / x.shape[0], hits / x.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", default=tempfile.gettempdir(), help="folder for lenet5.pt")
    args = parser.parse_args()
    started = time.perf_counter()
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = mnist.load("train")
    xt, yt = mnist.load("t10k")
    net = models.lenet5()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    train_started = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        loss_sum, hits = 0.0, 0
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], 64):
            idx = perm[i : i + 64]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            out = net(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * xb.shape[0]
            hits += (out.argmax(1) == yb).sum().item()
        sched.step()
        val_loss, val_acc = evaluate(net, xt, yt)
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {loss_sum / x.shape[0]:.4f}, "
              f"train acc {100 * hits / x.shape[0]:.2f}%, val loss {val_loss:.4f}, val acc {100 * val_acc:.2f}%")
    train_secs = time.perf_counter() - train_started
    torch.save(net.state_dict(), os.path.join(args.out, "lenet5.pt"))
    print(f"test accuracy {100 * val_acc:.2f}%, test loss {val_loss:.4f}")
    print(f"training took {train_secs:.1f}s; total {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
