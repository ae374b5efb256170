#!/usr/bin/env python3
"""Checks nabla's ONNX import and export against onnxruntime.

  zoo      every model of `nabla zoo`, trained one step by `nabla train` (so that batch norm
           statistics move), exported by `nabla export --format onnx`, checked by
           onnx.checker (full_check) and run by onnxruntime against `nabla predict` of the
           run, each at the smallest input it takes (see ZOO).
  import   torchvision's resnet18, googlenet (no aux, transform_input), alexnet, vgg11_bn,
           mobilenet_v2, squeezenet1_1 and mobilenet_v3_small, a 2-layer bidirectional LSTM,
           a 2-layer bidirectional GRU, a ReLU RNN and a character GRU (int64 codes,
           Embedding), exported with torch.onnx.export (random weights, no downloads), run
           by `nabla predict --model M.onnx` and by onnxruntime.
  finetune torchvision's resnet18 imported by `nabla train --init resnet18.onnx` and
           fine-tuned on bundled MNIST digits: the loss falls (see check_finetune).

Each comparison runs 4 seeded inputs of batch 2; outputs must agree to 1e-4 relative
(max |nabla - ort| / max |ort| per seed). Needs onnx and onnxruntime, and torch and
torchvision for import and finetune (pip). Usage:
  python tools/onnx_check.py [--nabla target/release/nabla] [--checks zoo import finetune]
                             [--only NAME ...] [--work DIR] [--opset N]
NAME is a zoo model, a torchvision model or 'finetune' (alexnet, googlenet, resnet18 and
vgg11_bn name both a zoo model and a torchvision one: `--checks import` picks the latter).
Exit status 1 when any comparison fails.
"""
import argparse
import os
import subprocess
import sys
import shutil
import tempfile

import numpy as np

TOL = 1e-4


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12))


SEEDS = 4  # seeded inputs per model, batch 2 each


def seeded_batch(make):
    """The inputs of the SEEDS seeds, `make(rng)` each, stacked into one batch: nabla and
    onnxruntime each load a model once and run every seed's rows in one call (inference
    treats rows independently)."""
    return np.concatenate([make(np.random.default_rng(seed)) for seed in range(SEEDS)])


def worst_seed_err(got, want):
    """The largest relative error over the seeds' parts of a stacked batch's outputs."""
    return max(rel_err(g, w) for g, w in zip(np.split(got, SEEDS), np.split(want, SEEDS)))


def ort_run(path, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def nabla_predict(nabla, model, x, work):
    xin, yout = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
    np.save(xin, x)
    subprocess.run([nabla, "predict", "--model", model, xin, "--output", yout],
                   check=True, stdout=subprocess.DEVNULL)
    return np.load(yout)


def torch_models():
    """(name, module, input shape of one example) for the import check."""
    import torch
    import torchvision.models as tvm

    class BiLstm(torch.nn.Module):
        """A 2-layer bidirectional LSTM over [batch, time, features] and a linear head."""

        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(12, 16, num_layers=2, bidirectional=True, batch_first=True)
            self.head = torch.nn.Linear(32, 5)

        def forward(self, x):
            return self.head(self.lstm(x)[0])

    class CharGru(torch.nn.Module):
        """Character codes [batch, time] (int64) through an embedding, a GRU and a head."""

        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(CODES["char_gru"], 8)
            self.gru = torch.nn.GRU(8, 16, batch_first=True)
            self.head = torch.nn.Linear(16, CODES["char_gru"])

        def forward(self, x):
            return self.head(self.gru(self.embed(x))[0])

    class Recurrent(torch.nn.Module):
        """A recurrent layer over [time, batch, features] and a linear head."""

        def __init__(self, layer):
            super().__init__()
            self.rnn = layer
            self.head = torch.nn.Linear(layer.hidden_size * (2 if layer.bidirectional else 1), 5)

        def forward(self, x):
            return self.head(self.rnn(x)[0])

    return [
        ("gru", lambda: Recurrent(torch.nn.GRU(12, 16, num_layers=2, bidirectional=True)), (7, 12)),
        ("rnn_relu", lambda: Recurrent(torch.nn.RNN(12, 16, nonlinearity="relu")), (7, 12)),
        ("resnet18", lambda: tvm.resnet18(), (3, 224, 224)),
        ("googlenet", lambda: tvm.googlenet(aux_logits=False, transform_input=True, init_weights=True), (3, 224, 224)),
        ("alexnet", lambda: tvm.alexnet(), (3, 224, 224)),
        ("vgg11_bn", lambda: tvm.vgg11_bn(), (3, 224, 224)),
        ("mobilenet_v2", lambda: tvm.mobilenet_v2(), (3, 224, 224)),
        ("squeezenet1_1", lambda: tvm.squeezenet1_1(), (3, 224, 224)),
        ("mobilenet_v3_small", lambda: tvm.mobilenet_v3_small(), (3, 224, 224)),
        ("bilstm", BiLstm, (7, 12)),
        ("char_gru", CharGru, (7,)),
    ]


# Models whose input is integer codes below this vocabulary size (int64 in the file).
CODES = {"char_gru": 11}


def torch_inputs(name, shape):
    """A maker of one seed's inputs (batch 2) for the torch model `name`."""
    if name in CODES:
        return lambda r: r.integers(0, CODES[name], (2, *shape)).astype(np.int64)
    return lambda r: r.standard_normal((2, *shape)).astype(np.float32)


def export_torch(name, make, shape, work, opset):
    import torch

    torch.manual_seed(0)
    model = make().eval()
    # Batch norm statistics other than 0/1, so that folding or not folding them matters.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    path = os.path.join(work, f"{name}.onnx")
    x = torch.from_numpy(torch_inputs(name, shape)(np.random.default_rng(0))[:1])
    torch.onnx.export(model, (x,), path, dynamo=False, opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    return path


TORCH_NAMES = ["resnet18", "googlenet", "alexnet", "vgg11_bn", "mobilenet_v2", "squeezenet1_1",
               "mobilenet_v3_small", "bilstm",
               "gru", "rnn_relu", "char_gru"]


def check_import(args, work):
    failures = []
    if args.only and not set(args.only) & set(TORCH_NAMES):
        return failures  # torch is then not needed
    for name, make, shape in torch_models():
        if args.only and name not in args.only:
            continue
        path = export_torch(name, make, shape, work, args.opset)
        x = seeded_batch(torch_inputs(name, shape))
        worst = worst_seed_err(nabla_predict(args.nabla, path, x, work), ort_run(path, x))
        ok = worst <= TOL
        print(f"import {name:18s} opset {args.opset}: max relative error {worst:.2e} {'ok' if ok else 'FAIL'}",
              flush=True)
        if not ok:
            failures.append(name)
    return failures


def mnist_rgb(count, root):
    """The first `count` digits of MNIST's bundled test set as torchvision's ImageNet
    models take images: 3×32×32 (zero-padded, grey repeated over RGB), normalized."""
    import gzip

    with gzip.open(os.path.join(root, "data", "mnist", "t10k-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:count]
    with gzip.open(os.path.join(root, "data", "mnist", "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:count].astype(np.int64)
    x = np.zeros((count, 3, 32, 32), np.float32)
    x[:, :, 2:30, 2:30] = ((images / 255.0 - 0.1307) / 0.3081)[:, None]
    return x, labels


FINETUNE_ARGS = ["--epochs", "3", "--batch-size", "32", "--optimizer", "momentum",
                 "--lr", "0.02", "--schedule", "constant", "--test-split", "0.2", "--seed", "0"]


def check_finetune(args, work):
    """Fine-tunes torchvision's resnet18 (10 classes, random weights: nothing is downloaded),
    imported from ONNX, on 640 MNIST digits as 3×32×32 images (512 train, 128 held out)
    with `nabla train --init resnet18.onnx`: the training loss must fall each epoch and the
    held-out accuracy end above chance; `nabla eval` then reloads the run from the file."""
    if args.only and "finetune" not in args.only:
        return []
    import torch
    import torchvision.models as tvm

    torch.manual_seed(0)
    path = os.path.join(work, "resnet18_c10.onnx")
    torch.onnx.export(tvm.resnet18(num_classes=10).eval(), (torch.randn(1, 3, 32, 32),), path,
                      dynamo=False, opset_version=args.opset, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    x, y = mnist_rgb(640, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    feats, labels = os.path.join(work, "ft_x.npy"), os.path.join(work, "ft_y.npy")
    np.save(feats, x)
    np.save(labels, y)
    cmd = [args.nabla, "train", "--init", path, "--data", f"npy:{feats},{labels}", *FINETUNE_ARGS,
           "--quiet", "--out", "finetune"]
    shutil.rmtree(os.path.join(work, "runs", "finetune"), ignore_errors=True)
    print(" ".join(cmd), flush=True)
    print(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=work).stdout, flush=True)
    import csv

    with open(os.path.join(work, "runs", "finetune", "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["train_loss"]) for r in rows]
    acc = float(rows[-1]["val_acc"])
    ok = all(b < a for a, b in zip(losses, losses[1:])) and acc > 0.2
    print(f"finetune resnet18: train loss per epoch {['%.3f' % v for v in losses]}, "
          f"held-out accuracy {acc:.1%} {'ok' if ok else 'FAIL'}", flush=True)
    ev = subprocess.run([args.nabla, "eval", "--weights", os.path.join("runs", "finetune")],
                        check=True, capture_output=True, text=True, cwd=work).stdout
    top1 = next((l for l in ev.splitlines() if l.startswith("top-1")), "")
    same = top1.endswith(f"{100 * acc:.2f}%")
    print(f"nabla eval of the fine-tuned run (rebuilt from the .onnx file): {top1} "
          f"{'ok' if same else 'FAIL: differs from training'}", flush=True)
    return [] if ok and same else ["finetune"]


# Every zoo model and the example shape it is checked at: the smallest input each takes
# (AlexNet needs 63×63; VGG and GoogLeNet reach 1×1 at 32×32, and VGG's adaptive pooling then
# grows it to 7×7), and ResNet-18 also at 72×72, where it has ImageNet's 7×7 stem and
# max-pool instead of the small-image 3×3 stem. "text" trains a character model on a short
# text, sequences of TEXT_LEN codes.
ZOO = [
    ("mlp", "mnist"), ("lenet5", "mnist"), ("lenet5_classic", "mnist"), ("row-lstm", "mnist"),
    ("alexnet", (3, 63, 63)), ("alexnet_paper", (3, 63, 63)),
    ("vgg11", (3, 32, 32)), ("vgg11_lrn", (3, 32, 32)), ("vgg13", (3, 32, 32)), ("vgg16_c", (3, 32, 32)),
    ("vgg16", (3, 32, 32)), ("vgg19", (3, 32, 32)), ("vgg11_bn", (3, 32, 32)), ("vgg13_bn", (3, 32, 32)),
    ("vgg16_bn", (3, 32, 32)), ("vgg19_bn", (3, 32, 32)),
    ("googlenet", (3, 32, 32)), ("googlenet_paper", (3, 32, 32)),
    ("resnet18", (3, 32, 32)), ("resnet18", (3, 72, 72)), ("resnet34", (3, 32, 32)),
    ("resnet50", (3, 32, 32)), ("resnet101", (3, 32, 32)), ("resnet152", (3, 32, 32)),
    ("char-lstm", "text"), ("char-gru", "text"), ("char-rnn", "text"),
]
TEXT_LEN = 16
TEXT = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n" * 8


def zoo_data(data, work, rng):
    """The dataset spec for `nabla train`, the example shape and a maker of seeded inputs."""
    if data == "mnist":
        return "mnist", (1, 28, 28), lambda r: r.standard_normal((2, 1, 28, 28)).astype(np.float32)
    if data == "text":
        path = os.path.join(work, "z_text.txt")
        with open(path, "w") as f:
            f.write(TEXT)
        vocab = len(set(TEXT))
        # Character codes as floats: the exported graph casts them to int64 for its Gather.
        return f"text:{path}", (TEXT_LEN,), lambda r: r.integers(0, vocab, (2, TEXT_LEN)).astype(np.float32)
    feats, labels = os.path.join(work, f"z_x{data[1]}.npy"), os.path.join(work, "z_y.npy")
    np.save(feats, rng.standard_normal((10, *data)).astype(np.float32))
    np.save(labels, rng.integers(0, 10, 10).astype(np.int64))
    return f"npy:{feats},{labels}", data, lambda r: r.standard_normal((2, *data)).astype(np.float32)


def check_zoo(args, work):
    """Trains each zoo model one step (so that batch norm statistics move), exports it with
    `nabla export`, checks it with onnx.checker and compares onnxruntime with nabla."""
    import onnx

    failures = []
    rng = np.random.default_rng(0)
    for name, data in ZOO:
        if args.only and name not in args.only:
            continue
        spec, shape, inputs = zoo_data(data, work, rng)
        run = f"zoo-{name}-{shape[-1]}"
        subprocess.run([args.nabla, "train", "--model", name, "--data", spec, "--max-steps", "1",
                        "--epochs", "1", "--batch-size", "4", "--train-size", "8", "--quiet",
                        "--seq-len", str(TEXT_LEN), "--out", run],
                       check=True, cwd=work, stdout=subprocess.DEVNULL)
        path = os.path.join(work, f"{run}.onnx")
        res = subprocess.run([args.nabla, "export", "--weights", os.path.join("runs", run),
                              "--out", path, "--opset", str(args.opset)],
                             cwd=work, capture_output=True, text=True)
        if res.returncode != 0:
            print(f"export {name:15s} {shape}: NOT EXPORTABLE: {res.stderr.strip().splitlines()[-1]}")
            failures.append(f"export {name}")
            continue
        # full_check runs shape inference too; models over 2 GB cannot be checked in memory.
        onnx.checker.check_model(path, full_check=True)
        x = seeded_batch(inputs)
        xin, yout = os.path.join(work, "x.npy"), os.path.join(work, "y.npy")
        np.save(xin, x)
        subprocess.run([args.nabla, "predict", "--weights", os.path.join("runs", run), xin,
                        "--output", yout], check=True, cwd=work, stdout=subprocess.DEVNULL)
        worst = worst_seed_err(np.load(yout), ort_run(path, x))
        ok = worst <= TOL
        print(f"export {name:15s} {shape}: checker ok, max relative error {worst:.2e} {'ok' if ok else 'FAIL'}",
              flush=True)
        if not ok:
            failures.append(f"export {name}")
        if not args.keep:
            os.remove(path)
            shutil.rmtree(os.path.join(work, "runs", run), ignore_errors=True)
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nabla", default=os.environ.get("NABLA", "target/release/nabla"))
    ap.add_argument("--only", nargs="*", default=[],
                    help="model names (zoo or torchvision), or 'finetune', to check")
    ap.add_argument("--checks", nargs="*", choices=["zoo", "import", "finetune"],
                    default=["zoo", "import", "finetune"], help="which checks to run (default: all)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--work", default=None, help="folder for the files (default: a temporary one)")
    ap.add_argument("--keep", action="store_true",
                    help="keep each zoo model's run folder and .onnx file (the large VGGs take 0.5 GB each)")
    args = ap.parse_args()
    # The checks run in a work folder: the binary is named by its absolute path.
    args.nabla = os.path.abspath(args.nabla)
    work = args.work or tempfile.mkdtemp(prefix="onnx_check_")
    os.makedirs(work, exist_ok=True)
    checks = {"zoo": check_zoo, "import": check_import, "finetune": check_finetune}
    failures = [f for name in args.checks for f in checks[name](args, work)]
    if failures:
        print("FAILED:", ", ".join(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
