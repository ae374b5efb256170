"""Times each distinct convolution of ResNet-18 on its own in PyTorch: forward, backward and
forward under no_grad. The twin of `crates/nabla/examples/resnet_conv_layers.rs` (same
layers, shapes, order and printout).

    .venv/bin/python bench/pytorch/resnet_conv_layers.py [BATCH] [SIZE] [REPEAT]
"""
import os
import statistics
import sys
import time

import torch

# name, input channels, input side divided by this, output channels, kernel, stride
LAYERS = [
    ("stem 7x7/2 3->64", 3, 1, 64, 7, 2),
    # The stem of the 32×32 variant (resnet18_step_32): 3×3, stride 1, no max-pool after it.
    ("stem 3x3 3->64", 3, 1, 64, 3, 1),
    ("3x3 64 @56", 64, 4, 64, 3, 1),
    ("3x3/2 64->128", 64, 4, 128, 3, 2),
    ("1x1/2 64->128", 64, 4, 128, 1, 2),
    ("3x3 128 @28", 128, 8, 128, 3, 1),
    ("3x3/2 128->256", 128, 8, 256, 3, 2),
    ("1x1/2 128->256", 128, 8, 256, 1, 2),
    ("3x3 256 @14", 256, 16, 256, 3, 1),
    ("3x3/2 256->512", 256, 16, 512, 3, 2),
    ("1x1/2 256->512", 256, 16, 512, 1, 2),
    ("3x3 512 @7", 512, 32, 512, 3, 1),
]


def main():
    args = [int(a) for a in sys.argv[1:4]]
    batch, size, repeat = (args + [8, 224, 7][len(args):])[:3]
    only = os.environ.get("ONLY")
    torch.set_num_threads(2)
    print(f"ResNet-18 convolutions, batch {batch}, {size}×{size}, medians of {repeat} (ms):")
    for name, cin, div, cout, k, stride in LAYERS:
        if only and only not in name:
            continue
        side = max(size // div, 1)
        x = torch.randn(batch, cin, side, side, requires_grad=div > 1)
        w = (torch.randn(cout, cin, k, k) * 0.1).requires_grad_()
        conv = lambda: torch.nn.functional.conv2d(x, w, None, stride, k // 2)
        g = torch.randn_like(conv())
        fwd, bwd, infer = [], [], []
        for _ in range(max(repeat, 1)):
            t0 = time.perf_counter()
            y = conv()
            t1 = time.perf_counter()
            y.backward(g)
            bwd.append(time.perf_counter() - t1)
            fwd.append(t1 - t0)
            t2 = time.perf_counter()
            with torch.no_grad():
                conv()
            infer.append(time.perf_counter() - t2)
        f, b, i = (statistics.median(v) * 1e3 for v in (fwd, bwd, infer))
        print(f"{name:18} forward {f:8.2f}  backward {b:8.2f}  no-grad forward {i:8.2f}")


if __name__ == "__main__":
    main()
