"""scikit-learn's SVC (RBF) and RandomForestClassifier on the bundled MNIST.

The reference side of `bench/classic/compare.sh`: reads data/mnist/*.gz (the same files nabla
embeds), scales pixels to [0, 1], trains on the first N training images and tests on all
10,000 test images. Prints one line per model:

    sklearn svm n=10000 fit_s=41.2 predict_s=20.1 acc=0.9659

Usage: python sklearn_mnist.py svm|forest|svm-binary N [--c 10] [--trees 100] [--jobs 2]
"""
import argparse
import gzip
import os
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.svm import SVC

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "data", "mnist")


def idx(name, offset):
    with gzip.open(os.path.join(ROOT, name), "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def mnist(split):
    x = idx(f"{split}-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255.0
    y = idx(f"{split}-labels-idx1-ubyte.gz", 8).astype(np.int64)
    return x, y


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model", choices=["svm", "forest", "svm-binary"])
    p.add_argument("n", type=int)
    p.add_argument("--c", type=float, default=10.0)
    p.add_argument("--trees", type=int, default=100)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--cache-mb", type=float, default=1000.0)
    a = p.parse_args()
    xtr, ytr = mnist("train")
    xte, yte = mnist("t10k")
    xtr, ytr = xtr[: a.n], ytr[: a.n]
    if a.model == "svm-binary":
        # Digits 4 and 9 only: the binary problem the Rust crates were timed on.
        tr, te = (ytr == 4) | (ytr == 9), (yte == 4) | (yte == 9)
        xtr, ytr, xte, yte = xtr[tr], ytr[tr], xte[te], yte[te]
    if a.model == "forest":
        m = RandomForestClassifier(n_estimators=a.trees, n_jobs=a.jobs, random_state=0)
    else:
        # gamma="scale" is 1 / (n_features * X.var()), as nabla computes it.
        m = SVC(C=a.c, kernel="rbf", gamma="scale", cache_size=a.cache_mb)
    t0 = time.perf_counter()
    m.fit(xtr, ytr)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc = float((m.predict(xte) == yte).mean())
    predict_s = time.perf_counter() - t0
    print(f"sklearn {a.model} n={len(ytr)} fit_s={fit_s:.2f} predict_s={predict_s:.2f} acc={acc:.4f}")


if __name__ == "__main__":
    main()
