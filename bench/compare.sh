#!/usr/bin/env bash
# Runs nabla's and PyTorch's benchmark workloads side by side on this machine and writes the
# table of medians and ratios into BENCHMARKS.md.
#
#   bench/compare.sh [--rounds 3] [--repeat 10] [--threads 2]
#
# PyTorch is installed into .venv (pip, about 3 GB) when it is missing. The two sides run
# alternately, one whole pass per round, so that both see the same machine conditions; the
# reported time of a workload is the median over rounds of the per-round medians.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 repeat=10 threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "usage: bench/compare.sh [--rounds N] [--repeat N] [--threads N]" >&2; exit 2 ;;
  esac
done

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "installing PyTorch into .venv (about 3 GB)..." >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet torch numpy
fi

out=$(mktemp -d)
cargo bench -p nabla --bench ops --no-run >/dev/null 2>&1
for r in $(seq "$rounds"); do
  echo "round $r/$rounds: nabla" >&2
  cargo bench -q -p nabla --bench ops -- --threads "$threads" --repeat "$repeat" --json 2>/dev/null >"$out/nabla_$r.jsonl"
  echo "round $r/$rounds: pytorch" >&2
  .venv/bin/python bench/pytorch/ops.py --threads "$threads" --repeat "$repeat" --json >"$out/pytorch_$r.jsonl"
done
python3 bench/report.py --dir "$out" --threads "$threads" --rounds "$rounds" --repeat "$repeat" \
  --torch "$(.venv/bin/python -c 'import torch; print(torch.__version__)')" >BENCHMARKS.md
echo "wrote BENCHMARKS.md" >&2
