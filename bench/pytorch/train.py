"""PyTorch reference timings for the workloads of `nabla bench` (crates/nabla-cli/src/commands/bench.rs).

Same names, shapes, batch sizes and optimizer (SGD, momentum 0.9, lr 0.01),
float32 on the CPU with `--threads` intra-op threads, written the fastest
idiomatic way: the MNIST workloads read data/mnist/*.gz once into normalized
tensors (untimed), and an epoch indexes them with shuffled batches; the
ResNet-18 steps reuse one random batch; latency runs in eval mode under
torch.inference_mode().

Usage (from the repository root)::

    .venv/bin/python bench/pytorch/train.py --threads 2 --json --only lenet5_epoch

With --json, one object per line: {"workload", "median_s", "min_s",
"examples_per_s", "repeat", "threads", "peak_rss_mb"}; peak_rss_mb is the
process's peak resident memory so far (run one workload per process to compare
it per workload).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from typing import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mnist  # noqa: E402
import models  # noqa: E402

Body = Callable[[], int]


def sgd(net: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)


# Set by --precision bf16: forward passes and losses run under
# torch.autocast("cpu", dtype=torch.bfloat16), as a user who knows autocast trains.
AUTOCAST = False


def autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=AUTOCAST)


def step(net, opt, x, y) -> None:
    opt.zero_grad(set_to_none=True)
    with autocast():
        loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()


def mnist_epoch(build: Callable[[], torch.nn.Module], batch: int) -> Body:
    x, y = mnist.load("train")
    net = build()
    net.train()
    opt = sgd(net)

    def body() -> int:
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], batch):
            idx = perm[i : i + batch]
            step(net, opt, x[idx], y[idx])
        return x.shape[0]

    return body


def train_step(image: int, batch: int, classes: int) -> Body:
    net = models.resnet18(image, classes)
    net.train()
    opt = sgd(net)
    x = torch.randn(batch, 3, image, image)
    y = torch.randint(0, classes, (batch,))

    def body() -> int:
        step(net, opt, x, y)
        return batch

    return body


def latency(net: torch.nn.Module, shape: tuple[int, ...]) -> Body:
    net.eval()
    x = torch.randn(*shape)

    def body() -> int:
        with torch.inference_mode(), autocast():
            net(x)
        return 1

    return body


# name: (warm-up iterations, default repeat, setup)
WORKLOADS: dict[str, tuple[int, int, Callable[[], Body]]] = {
    "mlp_epoch": (0, 3, lambda: mnist_epoch(models.mlp, 128)),
    "lenet5_epoch": (0, 3, lambda: mnist_epoch(models.lenet5, 64)),
    "resnet18_step_32": (1, 3, lambda: train_step(32, 64, 10)),
    "resnet18_step_224": (1, 3, lambda: train_step(224, 8, 1000)),
    "latency_lenet5": (5, 50, lambda: latency(models.lenet5(), (1, 1, 28, 28))),
    "latency_resnet18": (2, 20, lambda: latency(models.resnet18(224, 1000), (1, 3, 224, 224))),
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    parser.add_argument("--repeat", type=int, help="timed iterations (default per workload)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument("--only", action="append", choices=list(WORKLOADS), metavar="NAME",
                        help="run only this workload (may be repeated); one of: " + ", ".join(WORKLOADS))
    parser.add_argument("--precision", choices=["f32", "bf16"], default="f32",
                        help="bf16: autocast to bfloat16 (workloads are reported as NAME_bf16)")
    args = parser.parse_args()
    global AUTOCAST
    AUTOCAST = args.precision == "bf16"
    suffix = "_bf16" if AUTOCAST else ""
    if args.threads < 1 or (args.repeat is not None and args.repeat < 1):
        parser.error("--threads and --repeat must be at least 1")
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    for name in args.only or list(WORKLOADS):
        torch.manual_seed(0)
        warmup, default_repeat, setup = WORKLOADS[name]
        body = setup()
        for _ in range(warmup):
            body()
        times = []
        for _ in range(args.repeat or default_repeat):
            start = time.perf_counter()
            examples = body()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        record = {
            "workload": name + suffix,
            "median_s": median,
            "min_s": min(times),
            "examples_per_s": examples / median,
            "repeat": len(times),
            "threads": args.threads,
            "peak_rss_mb": peak_rss_mb(),
        }
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            print(f"{name + suffix:<23} median {1e3 * median:10.3f} ms  min {1e3 * min(times):10.3f} ms  "
                  f"{record['examples_per_s']:10.1f} examples/s  peak RSS {record['peak_rss_mb']:.0f} MiB",
                  flush=True)


if __name__ == "__main__":
    main()
