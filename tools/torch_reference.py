"""Generate PyTorch reference values for nabla's forward/backward tests.

Every case runs one PyTorch op in float32 on small seeded random inputs and
records the output together with the gradient of ``sum(output * proj)`` with
respect to every differentiable input, where ``proj`` is a random normal
tensor of the output's shape (a random projection, so that every output
element contributes to the gradient with a different weight).  A Rust test
then replays each case with nabla and compares both values.

The result is written to ``crates/nabla/testdata/torch_reference.json``::

    {"generated_by": "tools/torch_reference.py", "torch_version": "...",
     "cases": [{"name", "op", "params", "inputs", "proj", "output", "grads"}]}

Each tensor is ``{"shape": [...], "data": [flat row-major values]}``; inputs
additionally carry ``"dtype"`` ("f32" or "i64") and ``"requires_grad"``, and
``grads`` holds one entry per input (``null`` for inputs without gradient).

Inputs are kept away from points where an op's derivative is discontinuous
or undefined (kinks, ties, bounds, non-positive arguments of log/sqrt/...),
so that finite-precision differences cannot flip a branch.

Regenerate from the repository root with::

    .venv/bin/python tools/torch_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_PATH = REPO_ROOT / "crates" / "nabla" / "testdata" / "torch_reference.json"

# Significant digits kept for every float; float32 needs at most 9.
SIG_DIGITS = 9

CASES: list[dict] = []
_NAMES: set[str] = set()


# ---------------------------------------------------------------------------
# Input generators
# ---------------------------------------------------------------------------


def randn(*shape: int) -> torch.Tensor:
    """Standard normal float32 tensor."""
    return torch.randn(tuple(shape), dtype=torch.float32)


def uniform(shape: Sequence[int], lo: float, hi: float) -> torch.Tensor:
    """Uniform float32 tensor in [lo, hi)."""
    return torch.rand(*shape, dtype=torch.float32) * (hi - lo) + lo


def randn_avoiding(
    shape: Sequence[int], points: Sequence[float] = (0.0,), margin: float = 0.05
) -> torch.Tensor:
    """Normal tensor whose values all lie at least `margin` away from `points`.

    Offending entries are redrawn until none is left, which keeps the
    generator deterministic under the global seed.
    """
    x = torch.randn(*shape, dtype=torch.float32)
    while True:
        bad = torch.zeros_like(x, dtype=torch.bool)
        for p in points:
            bad |= (x - p).abs() < margin
        count = int(bad.sum())
        if count == 0:
            return x
        x[bad] = torch.randn(count, dtype=torch.float32)


def distinct(*shapes: Sequence[int], lo: float = -2.0, hi: float = 2.0) -> list[torch.Tensor]:
    """Tensors of the given shapes whose values are all pairwise distinct.

    The values are an evenly spaced grid over [lo, hi) in random order, so any
    two values (within one tensor or across tensors) differ by at least
    (hi - lo) / total_count.  Used for max/min/pooling where ties would make
    the gradient ambiguous.
    """
    sizes = [int(torch.Size(s).numel()) for s in shapes]
    total = sum(sizes)
    grid = torch.arange(total, dtype=torch.float32) * ((hi - lo) / total) + lo
    values = grid[torch.randperm(total)]
    return [chunk.reshape(s) for chunk, s in zip(values.split(sizes), shapes)]


def randint(high: int, shape: Sequence[int]) -> torch.Tensor:
    """int64 tensor with values in [0, high)."""
    return torch.randint(0, high, tuple(shape), dtype=torch.int64)


# ---------------------------------------------------------------------------
# Serialization and case recording
# ---------------------------------------------------------------------------


def encode(t: torch.Tensor) -> dict:
    """Shape and flat row-major data of a tensor, floats rounded to 9 digits."""
    t = t.detach().contiguous().cpu()
    flat = t.reshape(-1).tolist()
    if t.is_floating_point():
        data = [float(f"{v:.{SIG_DIGITS}g}") for v in flat]
    else:
        data = [int(v) for v in flat]
    return {"shape": list(t.shape), "data": data}


def add_case(
    name: str,
    op: str,
    params: dict,
    inputs: Sequence[torch.Tensor],
    fn: Callable[..., torch.Tensor],
    grad: bool = True,
) -> None:
    """Run `fn(*inputs)` and record its output and input gradients.

    Float inputs require grad when `grad` is true; integer inputs never do.
    The gradients are those of ``sum(output * proj)`` for a random ``proj``.
    """
    assert name not in _NAMES, f"duplicate case name {name}"
    _NAMES.add(name)

    leaves = []
    for x in inputs:
        x = x.detach().clone()
        if grad and x.is_floating_point():
            x.requires_grad_(True)
        leaves.append(x)

    out = fn(*leaves)
    proj = randn(*out.shape)
    if grad:
        (out * proj).sum().backward()

    grads = []
    for x in leaves:
        if not x.requires_grad:
            grads.append(None)
        elif x.grad is None:  # input did not influence the output
            grads.append(encode(torch.zeros_like(x)))
        else:
            grads.append(encode(x.grad))

    CASES.append(
        {
            "name": name,
            "op": op,
            "params": params,
            "inputs": [
                {
                    "dtype": "f32" if x.is_floating_point() else "i64",
                    "requires_grad": x.requires_grad,
                    **encode(x),
                }
                for x in leaves
            ],
            "proj": encode(proj),
            # Integer outputs (argmax) are stored as float values.
            "output": encode(out.detach().to(torch.float32)),
            "grads": grads,
        }
    )


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


def elementwise_cases() -> None:
    shape = (3, 4)
    # name -> (torch function, input generator)
    unary: dict[str, tuple[Callable, Callable[[], torch.Tensor]]] = {
        "neg": (torch.neg, lambda: randn(*shape)),
        "exp": (torch.exp, lambda: randn(*shape)),
        "log": (torch.log, lambda: uniform(shape, 0.5, 2.0)),
        "sqrt": (torch.sqrt, lambda: uniform(shape, 0.5, 2.0)),
        "abs": (torch.abs, lambda: randn_avoiding(shape)),
        "recip": (torch.reciprocal, lambda: uniform(shape, 0.5, 2.0)),
        "sqr": (lambda x: x * x, lambda: randn(*shape)),
        "erf": (torch.erf, lambda: randn(*shape)),
        "sigmoid": (torch.sigmoid, lambda: randn(*shape)),
        "tanh": (torch.tanh, lambda: randn(*shape)),
        "relu": (torch.relu, lambda: randn_avoiding(shape)),
        "gelu": (lambda x: F.gelu(x, approximate="none"), lambda: randn(*shape)),
        "softplus": (lambda x: F.softplus(x, beta=1.0, threshold=20.0), lambda: randn(*shape)),
        "silu": (F.silu, lambda: randn(*shape)),
    }
    for op, (fn, gen) in unary.items():
        add_case(op, op, {}, [gen()], fn)

    # A wide-range softplus case so that the linear branch above the threshold
    # is exercised; inputs stay at least 1.2 away from the threshold at 20.
    add_case(
        "softplus_large",
        "softplus",
        {},
        [randn_avoiding(shape, points=(20.0 / 12.0,), margin=0.1) * 12.0],
        lambda x: F.softplus(x, beta=1.0, threshold=20.0),
    )

    add_case("step", "step", {}, [randn_avoiding(shape)], lambda x: (x > 0).to(torch.float32), grad=False)

    add_case("powf", "powf", {"e": 2.5}, [uniform(shape, 0.5, 2.0)], lambda x: x**2.5)
    add_case(
        "clamp",
        "clamp",
        {"min": -0.5, "max": 0.5},
        [randn_avoiding(shape, points=(-0.5, 0.5))],
        lambda x: torch.clamp(x, -0.5, 0.5),
    )
    add_case(
        "leaky_relu",
        "leaky_relu",
        {"slope": 0.1},
        [randn_avoiding(shape)],
        lambda x: F.leaky_relu(x, negative_slope=0.1),
    )
    add_case("elu", "elu", {"alpha": 1.0}, [randn_avoiding(shape)], lambda x: F.elu(x, alpha=1.0))
    add_case(
        "gaussian",
        "gaussian",
        {"sigma": 0.8},
        [randn(*shape)],
        lambda x: torch.exp(-(x**2) / 0.8**2),
    )


def binary_cases() -> None:
    # (suffix, lhs shape, rhs shape): same shape and several broadcasts.
    shape_pairs = [
        ("same", (3, 4), (3, 4)),
        ("bcast_col", (2, 3, 4), (3, 1)),
        ("bcast_outer", (3, 1), (1, 4)),
        ("bcast_lhs", (4,), (2, 3, 4)),
    ]
    ops: dict[str, tuple[Callable, Callable, Callable]] = {
        # op -> (fn, lhs generator, rhs generator)
        "add": (torch.add, lambda s: randn(*s), lambda s: randn(*s)),
        "sub": (torch.sub, lambda s: randn(*s), lambda s: randn(*s)),
        "mul": (torch.mul, lambda s: randn(*s), lambda s: randn(*s)),
        # |divisor| in [0.5, 2] with a random sign.
        "div": (
            torch.div,
            lambda s: randn(*s),
            lambda s: uniform(s, 0.5, 2.0) * torch.where(torch.rand(*s) < 0.5, -1.0, 1.0),
        ),
        "pow": (torch.pow, lambda s: uniform(s, 0.5, 2.0), lambda s: randn(*s)),
    }
    for op, (fn, gen_a, gen_b) in ops.items():
        for suffix, sa, sb in shape_pairs:
            add_case(f"{op}_{suffix}", op, {}, [gen_a(sa), gen_b(sb)], fn)

    # maximum/minimum: all values distinct so no broadcast pair ties.
    for op, fn in (("maximum", torch.maximum), ("minimum", torch.minimum)):
        for suffix, sa, sb in shape_pairs:
            a, b = distinct(sa, sb)
            add_case(f"{op}_{suffix}", op, {}, [a, b], fn)


def matmul_cases() -> None:
    shape_pairs = [
        ("2d", (3, 4), (4, 5)),
        ("batched", (2, 3, 4), (4, 2)),
        ("broadcast", (2, 1, 3, 4), (3, 4, 2)),
        ("vec_mat", (4,), (4, 3)),
        ("mat_vec", (3, 4), (4,)),
    ]
    for suffix, sa, sb in shape_pairs:
        add_case(f"matmul_{suffix}", "matmul", {}, [randn(*sa), randn(*sb)], torch.matmul)

    for suffix, x_shape in (("2d", (5, 4)), ("3d", (2, 3, 4))):
        add_case(
            f"linear_{suffix}",
            "linear",
            {},
            [randn(*x_shape), randn(3, 4), randn(3)],
            F.linear,
        )


def reduction_cases() -> None:
    shape = (2, 3, 4)
    dims_variants = [([1], False), ([0, 2], True), ([2], True), ([0, 1, 2], False)]
    for op, fn in (("sum", torch.sum), ("mean", torch.mean)):
        for dims, keepdim in dims_variants:
            name = f"{op}_d{''.join(map(str, dims))}_{'keep' if keepdim else 'drop'}"
            add_case(
                name,
                op,
                {"dims": dims, "keepdim": keepdim},
                [randn(*shape)],
                lambda x, d=dims, k=keepdim, f=fn: f(x, dim=d, keepdim=k),
            )

    for dims, unbiased in (([1], True), ([0, 2], False), ([2], True), ([0, 1, 2], True)):
        name = f"var_d{''.join(map(str, dims))}_{'unbiased' if unbiased else 'biased'}"
        add_case(
            name,
            "var",
            {"dims": dims, "unbiased": unbiased},
            [randn(*shape)],
            lambda x, d=dims, u=unbiased: torch.var(x, dim=d, correction=1 if u else 0),
        )

    for op, fn in (("max", torch.amax), ("min", torch.amin)):
        for dims, keepdim in dims_variants:
            name = f"{op}_d{''.join(map(str, dims))}_{'keep' if keepdim else 'drop'}"
            (x,) = distinct(shape)
            add_case(
                name,
                op,
                {"dims": dims, "keepdim": keepdim},
                [x],
                lambda x, d=dims, k=keepdim, f=fn: f(x, dim=d, keepdim=k),
            )

    for dims in ([2], [0, 1], [0, 1, 2]):
        add_case(
            f"logsumexp_d{''.join(map(str, dims))}",
            "logsumexp",
            {"dims": dims, "keepdim": False},
            [randn(*shape)],
            lambda x, d=dims: torch.logsumexp(x, dim=d, keepdim=False),
        )

    for dim in (0, 1, 2):
        (x,) = distinct(shape)
        add_case(
            f"argmax_d{dim}",
            "argmax",
            {"dim": dim},
            [x],
            lambda x, d=dim: torch.argmax(x, dim=d),
            grad=False,
        )


def pad_tuple(pads: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """Convert natural-order [[before, after], ...] for the trailing dims into
    F.pad's flat tuple, which starts with the last dimension."""
    flat: list[int] = []
    for before, after in reversed(pads):
        flat += [before, after]
    return tuple(flat)


def shape_cases() -> None:
    add_case("reshape_flat", "reshape", {"shape": [12, 2]}, [randn(2, 3, 4)], lambda x: x.reshape(12, 2))
    add_case("reshape_4d", "reshape", {"shape": [2, 2, 3, 2]}, [randn(4, 6)], lambda x: x.reshape(2, 2, 3, 2))

    for perm in ([1, 0, 2], [2, 0, 1], [0, 2, 1]):
        add_case(
            f"permute_{''.join(map(str, perm))}",
            "permute",
            {"perm": perm},
            [randn(2, 3, 4)],
            lambda x, p=perm: x.permute(*p),
        )

    add_case("cat_d0", "cat", {"dim": 0}, [randn(2, 3), randn(1, 3)], lambda *xs: torch.cat(xs, 0))
    add_case(
        "cat_d1_three",
        "cat",
        {"dim": 1},
        [randn(2, 1, 4), randn(2, 3, 4), randn(2, 2, 4)],
        lambda *xs: torch.cat(xs, 1),
    )
    add_case("cat_d2", "cat", {"dim": 2}, [randn(2, 3, 2), randn(2, 3, 3)], lambda *xs: torch.cat(xs, 2))

    add_case("stack_d0", "stack", {"dim": 0}, [randn(2, 3), randn(2, 3)], lambda *xs: torch.stack(xs, 0))
    add_case(
        "stack_d1_three",
        "stack",
        {"dim": 1},
        [randn(2, 3), randn(2, 3), randn(2, 3)],
        lambda *xs: torch.stack(xs, 1),
    )
    add_case("stack_d2", "stack", {"dim": 2}, [randn(2, 3), randn(2, 3)], lambda *xs: torch.stack(xs, 2))

    pad_variants = [
        ("last", (2, 3, 4), [[1, 2]], 0.0),
        ("two_dims", (2, 3, 4), [[0, 1], [2, 1]], 0.5),
        ("spatial", (1, 2, 3, 3), [[1, 1], [1, 1]], -1.0),
    ]
    for suffix, shape, pads, value in pad_variants:
        add_case(
            f"pad_{suffix}",
            "pad",
            {"pads": pads, "value": value},
            [randn(*shape)],
            lambda x, p=pad_tuple(pads), v=value: F.pad(x, p, mode="constant", value=v),
        )


def indexing_cases() -> None:
    add_case(
        "index_select_d0",
        "index_select",
        {"dim": 0},
        [randn(5, 3), torch.tensor([4, 0, 2, 0], dtype=torch.int64)],
        lambda x, i: torch.index_select(x, 0, i),
    )
    add_case(
        "index_select_d1",
        "index_select",
        {"dim": 1},
        [randn(2, 4, 3), torch.tensor([1, 3, 1, 1, 0], dtype=torch.int64)],
        lambda x, i: torch.index_select(x, 1, i),
    )

    # gather: index has the input's rank; repeats come from randint.
    add_case(
        "gather_d1",
        "gather",
        {"dim": 1},
        [randn(3, 5), randint(5, (3, 4))],
        lambda x, i: torch.gather(x, 1, i),
    )
    add_case(
        "gather_d0",
        "gather",
        {"dim": 0},
        [randn(4, 2, 3), randint(4, (6, 2, 3))],
        lambda x, i: torch.gather(x, 0, i),
    )

    # scatter_add: more source rows than target rows, so indices must repeat.
    add_case(
        "scatter_add_d0",
        "scatter_add",
        {"dim": 0},
        [randn(3, 4), randint(3, (5, 4)), randn(5, 4)],
        lambda s, i, src: torch.scatter_add(s, 0, i, src),
    )
    add_case(
        "scatter_add_d1",
        "scatter_add",
        {"dim": 1},
        [randn(2, 3, 4), randint(3, (2, 5, 4)), randn(2, 5, 4)],
        lambda s, i, src: torch.scatter_add(s, 1, i, src),
    )

    add_case(
        "embedding_1d",
        "embedding",
        {},
        [randn(6, 4), torch.tensor([1, 5, 1, 0, 3, 1], dtype=torch.int64)],
        lambda w, i: F.embedding(i, w),
    )
    add_case(
        "embedding_2d",
        "embedding",
        {},
        [randn(5, 3), torch.tensor([[0, 4, 4], [2, 0, 4]], dtype=torch.int64)],
        lambda w, i: F.embedding(i, w),
    )


def softmax_cases() -> None:
    for op, fn in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
        for dim in (2, 1):
            add_case(
                f"{op}_d{dim}",
                op,
                {"dim": dim},
                [randn(2, 3, 4) * 2.0],
                lambda x, d=dim, f=fn: f(x, dim=d),
            )

    for s in (0.0, 0.1):
        add_case(
            f"cross_entropy_ls{s:g}",
            "cross_entropy",
            {"label_smoothing": s},
            [randn(5, 4), torch.tensor([0, 3, 1, 3, 2], dtype=torch.int64)],
            lambda z, t, s=s: F.cross_entropy(z, t, label_smoothing=s),
        )


def conv_cases() -> None:
    def conv1d(name, x_shape, cout, k, stride=1, padding=0, dilation=1, groups=1):
        cin = x_shape[1]
        params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        add_case(
            name,
            "conv1d",
            params,
            [randn(*x_shape), randn(cout, cin // groups, k), randn(cout)],
            lambda x, w, b: F.conv1d(x, w, b, stride, padding, dilation, groups),
        )

    conv1d("conv1d_plain", (2, 3, 8), 4, 3)
    conv1d("conv1d_stride_pad", (2, 3, 9), 4, 3, stride=2, padding=1)
    conv1d("conv1d_dilation_groups", (1, 4, 10), 6, 3, padding=2, dilation=2, groups=2)

    def conv2d(name, x_shape, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True):
        cin = x_shape[1]
        params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        inputs = [randn(*x_shape), randn(cout, cin // groups, k, k)]
        if bias:
            inputs.append(randn(cout))
        add_case(
            name,
            "conv2d",
            params,
            inputs,
            lambda x, w, b=None: F.conv2d(x, w, b, stride, padding, dilation, groups),
        )

    conv2d("conv2d_plain", (2, 3, 6, 6), 4, 3)
    conv2d("conv2d_stride2_pad1", (2, 3, 7, 7), 4, 3, stride=2, padding=1)
    conv2d("conv2d_dilation2", (1, 2, 8, 8), 3, 3, padding=1, dilation=2)
    conv2d("conv2d_groups2", (1, 4, 5, 5), 6, 3, padding=1, groups=2)
    conv2d("conv2d_lenet5x5", (2, 3, 10, 10), 6, 5)
    conv2d("conv2d_nobias", (2, 3, 5, 5), 4, 3, padding=1, bias=False)

    def conv_transpose2d(name, x_shape, cout, k, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        cin = x_shape[1]
        params = {
            "stride": stride,
            "padding": padding,
            "output_padding": output_padding,
            "dilation": dilation,
            "groups": groups,
        }
        add_case(
            name,
            "conv_transpose2d",
            params,
            [randn(*x_shape), randn(cin, cout // groups, k, k), randn(cout)],
            lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
        )

    conv_transpose2d("conv_transpose2d_stride2", (2, 3, 4, 4), 2, 3, stride=2, padding=1, output_padding=1)
    conv_transpose2d("conv_transpose2d_groups2", (1, 4, 4, 4), 6, 3, padding=1, groups=2)


def pool_cases() -> None:
    for k, s, p, ceil in ((2, 2, 0, False), (3, 2, 1, False), (3, 2, 0, True)):
        (x,) = distinct((2, 2, 7, 7))
        add_case(
            f"max_pool2d_k{k}s{s}p{p}{'_ceil' if ceil else ''}",
            "max_pool2d",
            {"kernel": k, "stride": s, "padding": p, "ceil_mode": ceil},
            [x],
            lambda x, k=k, s=s, p=p, c=ceil: F.max_pool2d(x, k, s, p, ceil_mode=c),
        )

    for k, s, p, ceil, count_pad in (
        (2, 2, 0, False, True),
        (3, 2, 1, False, True),
        (3, 2, 1, False, False),
        (3, 2, 0, True, True),
    ):
        name = f"avg_pool2d_k{k}s{s}p{p}{'_ceil' if ceil else ''}{'' if count_pad else '_nocountpad'}"
        add_case(
            name,
            "avg_pool2d",
            {"kernel": k, "stride": s, "padding": p, "ceil_mode": ceil, "count_include_pad": count_pad},
            [randn(2, 2, 6, 6)],
            lambda x, k=k, s=s, p=p, c=ceil, cp=count_pad: F.avg_pool2d(
                x, k, s, p, ceil_mode=c, count_include_pad=cp
            ),
        )

    for (h, w), out in (((7, 7), [3, 3]), ((5, 6), [2, 4]), ((4, 4), [1, 1])):
        add_case(
            f"adaptive_avg_pool2d_{h}x{w}_to_{out[0]}x{out[1]}",
            "adaptive_avg_pool2d",
            {"output": out},
            [randn(2, 2, h, w)],
            lambda x, o=tuple(out): F.adaptive_avg_pool2d(x, o),
        )


def normalization_cases() -> None:
    for name, size, alpha, beta, k in (
        ("local_response_norm_alexnet", 5, 1e-4, 0.75, 2.0),
        ("local_response_norm_strong", 3, 0.1, 0.75, 1.0),
    ):
        add_case(
            name,
            "local_response_norm",
            {"size": size, "alpha": alpha, "beta": beta, "k": k},
            [randn(2, 6, 3, 3)],
            lambda x, n=size, a=alpha, b=beta, kk=k: F.local_response_norm(x, n, alpha=a, beta=b, k=kk),
        )

    eps = 1e-5
    for suffix, x_shape in (("4d", (4, 3, 3, 3)), ("2d", (6, 4))):
        c = x_shape[1]
        add_case(
            f"batch_norm_train_{suffix}",
            "batch_norm_train",
            {"eps": eps},
            [randn(*x_shape), randn(c), randn(c)],
            lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=eps),
        )


def main() -> None:
    torch.manual_seed(0)
    elementwise_cases()
    binary_cases()
    matmul_cases()
    reduction_cases()
    shape_cases()
    indexing_cases()
    softmax_cases()
    conv_cases()
    pool_cases()
    normalization_cases()

    # One case per line: compact, yet readable in diffs.
    header = {"generated_by": "tools/torch_reference.py", "torch_version": torch.__version__}
    head = json.dumps(header, separators=(", ", ": "))[:-1]
    body = ",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False) for c in CASES)
    OUTPUT_PATH.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT_PATH.write_text(f'{head}, "cases": [\n{body}\n]}}\n')

    size_kb = OUTPUT_PATH.stat().st_size / 1024
    print(f"wrote {len(CASES)} cases to {OUTPUT_PATH.relative_to(REPO_ROOT)} ({size_kb:.0f} KiB)")


if __name__ == "__main__":
    main()
