#!/usr/bin/env bash
# Runs nabla's and PyTorch's benchmark workloads side by side on this machine and writes
# the tables of medians, ratios and targets into BENCHMARKS.md (hand-written sections come
# from bench/sections/*.md; the history in bench/notes/*.md is linked, not copied).
#
#   bench/compare.sh [--rounds 3] [--repeat 10] [--bench-repeat N] [--threads 2] [--quick] [--omp-passive]
#
# Three groups, each run in every round with nabla and PyTorch alternating (the side that
# goes first swaps every round):
#   kernels     cargo bench -p nabla --bench ops      vs bench/pytorch/ops.py     (--repeat)
#   training    nabla bench --only NAME, one process per workload
#               vs bench/pytorch/train.py --only NAME                            (--bench-repeat;
#               default: each workload's own, 3 for epochs and steps, 20-50 for latency)
#   bf16        nabla bench --precision bf16 --only NAME
#               vs bench/pytorch/train.py --precision bf16 --only NAME (torch.autocast bfloat16)
#   process     nabla train --model lenet5 ... (2 epochs) vs bench/pytorch/train_lenet_process.py,
#               timed as whole processes by bench/timeproc.py
# --quick: 1 round, --repeat 3, --bench-repeat 1 (a smoke run, not for the record).
# --omp-passive: run PyTorch with OMP_WAIT_POLICY=PASSIVE. Only for a machine that other work
#   shares: there PyTorch's spinning OpenMP threads lose their time slices and run 10-100x
#   slower (LeNet-5 steps of 60-250 ms instead of 10 ms at load 6 on 2 cores); passive
#   waiting limits that. On an idle machine leave it off (the default is PyTorch at its best).
# About 7 minutes with the defaults on an idle 2-core machine (2026-12-06, bf16 rows included), 9-11 minutes with --rounds 5
# (2026-11-27); a --quick run took 3-5 minutes under load. PyTorch is installed into
# .venv (pip, about 3 GB) when it is missing. Run it on an idle machine: other load slows
# PyTorch's OpenMP threads far more than nabla's (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 repeat=10 bench_repeat="" threads=2
cmdline="bench/compare.sh $*"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --bench-repeat) bench_repeat="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --quick) rounds=1 repeat=3 bench_repeat=1; shift ;;
    --omp-passive) export OMP_WAIT_POLICY=PASSIVE; shift ;;
    *) echo "usage: bench/compare.sh [--rounds N] [--repeat N] [--bench-repeat N] [--threads N] [--quick] [--omp-passive]" >&2; exit 2 ;;
  esac
done

if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
  echo "installing PyTorch into .venv (about 3 GB)..." >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet torch torchvision numpy
fi
py=.venv/bin/python

echo "building..." >&2
cargo build --release -q -p nabla-cli
cargo bench -q -p nabla --bench ops --no-run 2>/dev/null
nabla_bin="$PWD/target/release/nabla"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Share of CPU time idle over 3 s (from /proc/stat: idle + iowait over all jiffies).
idle_before=$(python3 -c 'import time
def snap():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v), v[3] + v[4]
t0, i0 = snap(); time.sleep(3); t1, i1 = snap()
print(f"{100.0 * (i1 - i0) / max(t1 - t0, 1):.1f}")')
out=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')

bench_names="mlp_epoch lenet5_epoch resnet18_step_32 resnet18_step_224 latency_lenet5 latency_resnet18"
# Mixed precision: nabla --precision bf16 against PyTorch under torch.autocast(bfloat16).
bf16_names="mlp_epoch lenet5_epoch resnet18_step_32 resnet18_step_224 latency_resnet18"
rep_flag=()
[ -n "$bench_repeat" ] && rep_flag=(--repeat "$bench_repeat")

# One side's share of a round: run_side SIDE ROUND GROUP [NAME]
run_side() {
  local side=$1 r=$2 group=$3 name=${4:-}
  case "$side/$group" in
    # nabla does not use OpenMP; the variable only reaches PyTorch.
    nabla/ops) cargo bench -q -p nabla --bench ops -- --threads "$threads" --repeat "$repeat" --json 2>/dev/null ;;
    pytorch/ops) $py bench/pytorch/ops.py --threads "$threads" --repeat "$repeat" --json ;;
    nabla/train) "$nabla_bin" --threads "$threads" bench --only "$name" "${rep_flag[@]}" --json ;;
    pytorch/train) $py bench/pytorch/train.py --threads "$threads" --only "$name" "${rep_flag[@]}" --json ;;
    nabla/bf16) "$nabla_bin" --threads "$threads" bench --precision bf16 --only "$name" "${rep_flag[@]}" --json ;;
    pytorch/bf16) $py bench/pytorch/train.py --threads "$threads" --precision bf16 --only "$name" "${rep_flag[@]}" --json ;;
    nabla/process)
      rm -rf "$work/runs"
      python3 bench/timeproc.py --name lenet5_train_process --cwd "$work" --log "$out/nabla_process_$r.log" -- \
        "$nabla_bin" train --model lenet5 --data mnist --epochs 2 --batch-size 64 --optimizer momentum \
        --lr 0.01 --threads "$threads" --quiet ;;
    pytorch/process)
      python3 bench/timeproc.py --name lenet5_train_process --log "$out/pytorch_process_$r.log" -- \
        $py bench/pytorch/train_lenet_process.py --threads "$threads" --out "$work" ;;
  esac >>"$out/${side}_$r.jsonl"
}

for r in $(seq "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then sides="nabla pytorch"; else sides="pytorch nabla"; fi
  echo "round $r/$rounds ($(( SECONDS - started )) s so far): kernels" >&2
  for s in $sides; do run_side "$s" "$r" ops; done
  for name in $bench_names; do
    echo "round $r/$rounds: $name" >&2
    for s in $sides; do run_side "$s" "$r" train "$name"; done
  done
  for name in $bf16_names; do
    echo "round $r/$rounds: $name in bf16" >&2
    for s in $sides; do run_side "$s" "$r" bf16 "$name"; done
  done
  echo "round $r/$rounds: whole-process LeNet-5 training" >&2
  for s in $sides; do run_side "$s" "$r" process; done
done

python3 bench/report.py --dir "$out" --threads "$threads" --rounds "$rounds" --command "$cmdline" \
  --torch "$($py -c 'import torch; print(torch.__version__)')" \
  --load-before "$load_before" --load-after "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --idle-before "$idle_before" --date "$started_at" >BENCHMARKS.md
echo "wrote BENCHMARKS.md in $(( SECONDS - started )) s (raw results in $out)" >&2
