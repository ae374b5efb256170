"""PyTorch reference for the playground's step cost (the Rust side is
`cargo run --release -p nabla-playground --example step_cost`).

The same three networks as the example, the same work per step: a batch of 10
points, forward through Linear+tanh layers to one tanh output, loss
0.5 * mean((out - target)^2), backward, plain SGD update (lr 0.03). One thread.
Prints the mean time of one step over 200 epochs of 25 steps, after 5 warm-up
epochs, like the example.

    /work/main/.venv/bin/python bench/pytorch/playground_step.py
"""

import time

import torch

torch.set_num_threads(1)
torch.manual_seed(0)

CASES = [
    ("x1,x2 -> 4 -> 2 (default)", 2, [4, 2]),
    ("7 features -> 8 -> 8", 7, [8, 8]),
    ("7 features -> 6 x 8 (largest)", 7, [8] * 6),
]


def net(n_in, hidden):
    layers, prev = [], n_in
    for h in hidden + [1]:
        layers += [torch.nn.Linear(prev, h), torch.nn.Tanh()]
        prev = h
    return torch.nn.Sequential(*layers)


for name, n_in, hidden in CASES:
    model = net(n_in, hidden)
    opt = torch.optim.SGD(model.parameters(), lr=0.03)
    x = torch.randn(250, n_in)
    y = torch.sign(torch.randn(250, 1))

    def epoch():
        for start in range(0, 250, 10):
            out = model(x[start : start + 10])
            loss = 0.5 * (out - y[start : start + 10]).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    for _ in range(5):
        epoch()
    t = time.perf_counter()
    for _ in range(200):
        epoch()
    per_step = (time.perf_counter() - t) / 200 / 25
    print(f"{name:32} step {per_step * 1e6:6.1f} µs")
