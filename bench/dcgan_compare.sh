#!/usr/bin/env bash
# nabla's DCGAN against the same DCGAN in PyTorch (bench/pytorch/dcgan_mnist.py), one after
# the other on this machine with the same threads, epochs and batch; then both generators'
# samples scored by the same nabla LeNet-5 (`nabla gan-score`: classifier score and Frechet
# distance of its features to the test set), beside the real test set's own score.
#
#   bench/dcgan_compare.sh [--epochs N] [--threads T] [--batch-size B] [--count C]
#                          [--width W] [--hidden H] [--name NAME] [--together]
#   # defaults 5, 2, 128, 10000, 64, 1024, dcgan-cmp
#
# --width is nabla's --gan-width (PyTorch's --width): the generator's 7x7 channels;
# --hidden is nabla's --gan-hidden (PyTorch's --hidden): units of each network's hidden
# fully connected layer, 0 for none.
#
# --together trains the two at the same time (each with T threads; use T = 1 on a 2-core
# machine that others share: both sides then see the same load, and PyTorch's OpenMP
# threads cannot spin-wait on a core another process holds).
#
# Needs target/release/nabla (cargo build --release; or NABLA=path) and $PYTHON with torch
# (default .venv/bin/python). Writes runs/NAME-lenet5 (the classifier: LeNet-5 trained
# for 15 epochs, `nabla train --epochs 15`, when it is not there), runs/NAME-nabla and
# runs/NAME-torch.npy (the samples of PyTorch's generator). Epoch times: each side's per-epoch lines.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=5
THREADS=2
COUNT=10000
NAME=dcgan-cmp
BATCH=128
WIDTH=64
HIDDEN=1024
TOGETHER=0
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) EPOCHS=${2:?--epochs needs a number}; shift 2 ;;
    --threads) THREADS=${2:?--threads needs a number}; shift 2 ;;
    --count) COUNT=${2:?--count needs a number}; shift 2 ;;
    --batch-size) BATCH=${2:?--batch-size needs a number}; shift 2 ;;
    --width) WIDTH=${2:?--width needs a number}; shift 2 ;;
    --hidden) HIDDEN=${2:?--hidden needs a number}; shift 2 ;;
    --together) TOGETHER=1; shift ;;
    --name) NAME=${2:?--name needs a name}; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "dcgan_compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$EPOCHS" "$THREADS" "$BATCH" "$COUNT" "$WIDTH" "$HIDDEN"; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "dcgan_compare.sh: '$v' is not a whole number" >&2; exit 2; }
done
NABLA=${NABLA:-${CARGO_TARGET_DIR:-target}/release/nabla}
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p runs
uptime
if [ ! -f "runs/$NAME-lenet5/model.safetensors" ]; then
  "$NABLA" --threads "$THREADS" train --epochs 15 --out "$NAME-lenet5" --quiet | tail -2
fi
rm -rf "runs/$NAME-nabla"
nabla_side() {
  "$NABLA" --threads "$THREADS" train --model dcgan --epochs "$EPOCHS" --batch-size "$BATCH" \
    --gan-width "$WIDTH" --gan-hidden "$HIDDEN" --out "$NAME-nabla" --quiet | sed 's/^/nabla: /'
}
torch_side() {
  "$PYTHON" bench/pytorch/dcgan_mnist.py --epochs "$EPOCHS" --threads "$THREADS" \
    --batch-size "$BATCH" --width "$WIDTH" --hidden "$HIDDEN" --count "$COUNT" --samples-out "runs/$NAME-torch.npy" | sed 's/^/PyTorch: /'
}
echo "== $EPOCHS epochs, batch $BATCH, width $WIDTH, hidden $HIDDEN, $THREADS threads each$([ $TOGETHER = 1 ] && echo ', both at once')"
if [ "$TOGETHER" = 1 ]; then
  nabla_side &
  torch_side &
  wait
else
  nabla_side
  uptime
  torch_side
fi
uptime
echo "== the real test set (reference)"
"$NABLA" gan-score --classifier "runs/$NAME-lenet5" --count "$COUNT"
echo "== nabla's samples"
"$NABLA" gan-score --classifier "runs/$NAME-lenet5" --weights "runs/$NAME-nabla" --count "$COUNT"
echo "== PyTorch's samples"
"$NABLA" gan-score --classifier "runs/$NAME-lenet5" --samples "runs/$NAME-torch.npy"
