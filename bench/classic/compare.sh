#!/usr/bin/env bash
# nabla's classical baselines against scikit-learn on the bundled MNIST (pixels in [0, 1],
# first N training images, all 10,000 test images), the two sides alternating on this machine:
#   RBF SVM, C = 10, gamma = "scale", 2 GiB kernel cache, tolerance 1e-3;
#   random forest, 100 trees, Gini, sqrt(784) = 28 features per split, bootstrap.
# Prints one line per run; BENCHMARKS.md ("Classical baselines") holds the table.
#
#   bench/classic/compare.sh                 # N = 10000 and 60000 (about 25 min on 2 cores)
#   SIZES=10000 bench/classic/compare.sh     # one size
# Needs scikit-learn: .venv/bin/pip install scikit-learn
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
SIZES=${SIZES:-"10000 60000"}
cargo build --release -p nabla-cli >&2
OUT=$(mktemp -d)
for n in $SIZES; do
  echo "== N = $n"
  target/release/nabla classic svm --train-size "$n" --c 10 --cache-mb 2048 --output "$OUT/svm.json" |
    grep -E "support vectors|test accuracy" | sed "s/^/nabla svm: /"
  "$PY" bench/classic/sklearn_mnist.py svm "$n" --c 10 --cache-mb 2048
  target/release/nabla classic forest --train-size "$n" --trees 100 --output "$OUT/forest.json" |
    grep -E "out-of-bag|test accuracy" | sed "s/^/nabla forest: /"
  "$PY" bench/classic/sklearn_mnist.py forest "$n" --trees 100 --jobs 2
done
rm -rf "$OUT"
