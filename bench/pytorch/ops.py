"""PyTorch reference timings for the workloads of `nabla bench`.

Runs each named workload on the CPU in float32 with a fixed number of
intra-op threads (and one inter-op thread), does 2 untimed warm-up
iterations, then times `--repeat` iterations with time.perf_counter and
reports the median and minimum seconds per iteration plus GFLOP/s where the
workload has a defined FLOP count (computed from the median).

Usage (from the repository root)::

    .venv/bin/python bench/pytorch/ops.py --threads 2 --repeat 10
    .venv/bin/python bench/pytorch/ops.py --threads 2 --repeat 10 --json
    .venv/bin/python bench/pytorch/ops.py --only sgemm_1024 --only conv_vgg

With --json, one object per line is printed:
{"workload", "median_s", "min_s", "gflops" (or null), "repeat", "threads"}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

WARMUP = 2


@dataclass
class Workload:
    """A prepared benchmark: `prepare` runs untimed before every iteration,
    `run` is the timed body, and `flops` is the work of one iteration."""

    run: Callable[[], object]
    flops: float | None
    prepare: Callable[[], None] = lambda: None


def sgemm(n: int) -> Callable[[], Workload]:
    """C = A @ B for square n x n matrices, writing into a preallocated C."""

    def build() -> Workload:
        a = torch.randn(n, n)
        b = torch.randn(n, n)
        c = torch.empty(n, n)
        return Workload(run=lambda: torch.matmul(a, b, out=c), flops=2.0 * n**3)

    return build


def sgemm_bf16(n: int) -> Callable[[], Workload]:
    """C = A @ B for square n x n f32 matrices under torch.autocast("cpu", bfloat16): the
    operands are cast to bf16 on every call and the product comes back in bf16."""

    def build() -> Workload:
        a = torch.randn(n, n)
        b = torch.randn(n, n)

        def run() -> object:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return torch.matmul(a, b)

        return Workload(run=run, flops=2.0 * n**3)

    return build


def conv(
    x_shape: tuple[int, int, int, int],
    w_shape: tuple[int, int, int, int],
    bias: bool,
    stride: int = 1,
    padding: int = 0,
    groups: int = 1,
) -> Callable[[], Workload]:
    """conv2d forward + backward with gradients for x, w (and b)."""

    def build() -> Workload:
        x = torch.randn(*x_shape, requires_grad=True)
        w = torch.randn(*w_shape, requires_grad=True)
        b = torch.randn(w_shape[0], requires_grad=True) if bias else None
        leaves = [t for t in (x, w, b) if t is not None]

        with torch.no_grad():
            y_shape = F.conv2d(x, w, b, stride, padding, 1, groups).shape
        g = torch.randn(y_shape)

        def prepare() -> None:
            for t in leaves:
                t.grad = None

        def run() -> None:
            y = F.conv2d(x, w, b, stride, padding, 1, groups)
            y.backward(g)

        # Forward, grad-input and grad-weight each cost one convolution:
        # 2 * N * Cout * Hout * Wout * (Cin / groups) * kh * kw.
        n, cout, hout, wout = y_shape
        _, cin_per_group, kh, kw = w_shape
        flops = 3 * 2.0 * n * cout * hout * wout * cin_per_group * kh * kw
        return Workload(run=run, flops=flops, prepare=prepare)

    return build


def maxpool() -> Workload:
    """max_pool2d(2) forward + backward after LeNet's first convolution (batch 128)."""
    x = torch.randn(128, 6, 28, 28, requires_grad=True)
    g = torch.randn(128, 6, 14, 14)

    def prepare() -> None:
        x.grad = None

    def run() -> None:
        F.max_pool2d(x, 2).backward(g)

    return Workload(run=run, flops=None, prepare=prepare)


def lstm() -> Workload:
    """nn.LSTM(256, 256, num_layers=2) forward + backward on [100, 32, 256] (time-major)."""
    layer = torch.nn.LSTM(256, 256, num_layers=2)
    x = torch.randn(100, 32, 256, requires_grad=True)
    g = torch.randn(100, 32, 256)
    t, b, h = 100, 32, 256
    flops = 3.0 * 2 * 2.0 * 2.0 * (t * b * h * 4 * h)

    def prepare() -> None:
        x.grad = None
        layer.zero_grad(set_to_none=True)

    def run() -> None:
        out, _ = layer(x)
        out.backward(g)

    return Workload(run=run, flops=flops, prepare=prepare)


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "sgemm_256": sgemm(256),
    "sgemm_1024": sgemm(1024),
    "sgemm_1024_bf16": sgemm_bf16(1024),
    "sgemm_2048": sgemm(2048),
    "maxpool_lenet": maxpool,
    "conv_lenet1": conv((64, 1, 32, 32), (6, 1, 5, 5), bias=True),
    "conv_lenet2": conv((64, 6, 14, 14), (16, 6, 5, 5), bias=True),
    "conv_resnet": conv((8, 64, 56, 56), (64, 64, 3, 3), bias=False, padding=1),
    "conv_vgg": conv((8, 256, 28, 28), (256, 256, 3, 3), bias=True, padding=1),
    "conv_dcgan": conv((128, 32, 14, 14), (64, 32, 4, 4), bias=False, stride=2, padding=1),
    "lstm": lstm,
}


def time_workload(workload: Workload, repeat: int) -> list[float]:
    """Seconds per iteration for `repeat` timed runs after the warm-up."""
    for _ in range(WARMUP):
        workload.prepare()
        workload.run()
    times = []
    for _ in range(repeat):
        workload.prepare()
        start = time.perf_counter()
        workload.run()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    parser.add_argument("--repeat", type=int, default=10, help="timed iterations (default 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(WORKLOADS),
        metavar="NAME",
        help="run only this workload (may be repeated); one of: " + ", ".join(WORKLOADS),
    )
    args = parser.parse_args()
    if args.threads < 1 or args.repeat < 1:
        parser.error("--threads and --repeat must be at least 1")

    # Inter-op threads must be set before any parallel work starts.
    torch.set_num_interop_threads(1)
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)

    names = args.only or list(WORKLOADS)
    for name in names:
        workload = WORKLOADS[name]()
        times = time_workload(workload, args.repeat)
        median = statistics.median(times)
        gflops = workload.flops / median / 1e9 if workload.flops is not None else None
        if args.json:
            record = {
                "workload": name,
                "median_s": median,
                "min_s": min(times),
                "gflops": gflops,
                "repeat": args.repeat,
                "threads": args.threads,
            }
            print(json.dumps(record), flush=True)
        else:
            rate = f"{gflops:8.1f} GFLOP/s" if gflops is not None else ""
            print(f"{name:<12} median {median:.6f} s  min {min(times):.6f} s  {rate}", flush=True)


if __name__ == "__main__":
    main()
