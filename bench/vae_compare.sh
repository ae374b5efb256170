#!/usr/bin/env bash
# nabla's VAE (`nabla train --model vae`) against PyTorch's VAE example on the same recipe
# (bench/pytorch/vae_mnist.py: 784-400-20, Adam 1e-3, batch 128, BCE + KL per image, all
# 60,000 training images, so nabla runs with --val-split 0), one after the other with the
# same threads, ROUNDS times, the order flipped each round. Prints each run's 10-epoch time
# (training and test passes) and last test loss, then the medians and their ratio.
#
#   bench/vae_compare.sh [--epochs N] [--threads T] [--rounds R]   # defaults 10, 2, 3
#
# Needs target/release/nabla (cargo build --release; or NABLA=path) and $PYTHON with torch
# (default .venv/bin/python). Run it on an idle machine: timings taken while other work
# shares the cores say little (PyTorch's OpenMP threads spin-wait for a busy core).
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=10
THREADS=2
ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) EPOCHS=${2:?--epochs needs a number}; shift 2 ;;
    --threads) THREADS=${2:?--threads needs a number}; shift 2 ;;
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "vae_compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$EPOCHS" "$THREADS" "$ROUNDS"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "vae_compare.sh: '$v' is not a positive whole number" >&2; exit 2; }
done
NABLA=${NABLA:-${CARGO_TARGET_DIR:-target}/release/nabla}
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$NABLA" ] || { echo "vae_compare.sh: no nabla binary at $NABLA (cargo build --release)" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# One side's run: prints "SECONDS TEST_LOSS".
nabla_side() {
  rm -rf runs/vae-compare
  "$NABLA" --threads "$THREADS" train --model vae --epochs "$EPOCHS" --val-split 0 \
    --out vae-compare --quiet > /dev/null
  # metrics.csv: epoch,train_loss,train_acc,val_loss,val_acc,val_topk,lr,seconds
  awk -F, 'NR > 1 { s += $8; loss = $4 } END { printf "%.2f %.4f\n", s, loss }' runs/vae-compare/metrics.csv
}
torch_side() {
  "$PYTHON" bench/pytorch/vae_mnist.py --epochs "$EPOCHS" --threads "$THREADS" --json |
    "$PYTHON" -c 'import json, sys
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
print("%.2f %.4f" % (sum(r["train_seconds"] + r["test_seconds"] for r in rows), rows[-1]["test_loss"]))'
}

echo "== VAE, $EPOCHS epochs, batch 128, $THREADS threads each, $ROUNDS rounds; $(uptime)"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="nabla torch"; else order="torch nabla"; fi
  for side in $order; do
    line=$("${side}_side")
    echo "$side $line" | tee -a "$TMP/all"
  done
done
"$PYTHON" - "$TMP/all" <<'EOF'
import statistics, sys
runs = {"nabla": [], "torch": []}
for line in open(sys.argv[1]):
    side, seconds, loss = line.split()
    runs[side].append((float(seconds), float(loss)))
n = statistics.median(s for s, _ in runs["nabla"])
t = statistics.median(s for s, _ in runs["torch"])
print(f"median seconds: nabla {n:.2f}, PyTorch {t:.2f}; nabla/PyTorch time {n / t:.2f}")
print(f"last test loss: nabla {runs['nabla'][-1][1]:.4f}, PyTorch {runs['torch'][-1][1]:.4f}")
EOF
echo "== done; $(uptime)"
