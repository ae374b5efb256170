#!/usr/bin/env bash
# Wall time of nabla's DQN and PPO on CartPole-v1 against a PyTorch implementation of
# CleanRL's dqn.py and ppo.py (bench/rl_cleanrl.py: same algorithms, same default
# hyperparameters, Gymnasium's CartPole-v1), the two sides alternating on this machine,
# one process each, timed whole by bench/timeproc.py (start-up and imports included).
# Prints a markdown table; the target is nabla <= 0.3x the PyTorch time.
#
#   bench/rl_compare.sh [--threads T] [--steps N] [--seed S]   # defaults 1, 500000, 1
#
# Both sides get T threads (1 by default: CleanRL runs its envs and network in one
# process). The PyTorch side runs in $PYTHON (default .venv/bin/python); when that lacks
# torch or gymnasium, they are installed into .venv with pip (about 3 GB with PyTorch's
# default wheels) before anything runs.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=1
STEPS=500000
SEED=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS=${2:?--threads needs a number}; shift 2 ;;
    --steps) STEPS=${2:?--steps needs a number}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rl_compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$THREADS" "$STEPS" "$SEED"; do
  [[ "$v" =~ ^[0-9]+$ ]] || { echo "rl_compare.sh: '$v' is not a whole number" >&2; exit 2; }
done
PY=${PYTHON:-.venv/bin/python}
if ! "$PY" -c "import torch, gymnasium" 2>/dev/null; then
  if [ -n "${PYTHON:-}" ]; then
    echo "rl_compare.sh: $PY lacks torch or gymnasium (pip install torch gymnasium into it, or unset PYTHON)" >&2
    exit 2
  fi
  echo "rl_compare.sh: installing torch and gymnasium into .venv (pip)..." >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet torch gymnasium numpy
fi
cargo build --release -p nabla-cli >&2
TARGET=${CARGO_TARGET_DIR:-target}
[[ "$TARGET" = /* ]] || TARGET=$(pwd)/$TARGET
NABLA=$TARGET/release/nabla
ROOT=$(pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# field JSON KEY FORMAT: one field of a JSON line, formatted (e.g. field "$line" median_s .1f)
field() { "$PY" -c 'import json,sys; print(format(json.loads(sys.argv[1])[sys.argv[2]], sys.argv[3]))' "$@"; }

rows=()
for algo in dqn ppo; do
  echo "== $algo: nabla" >&2
  n_json=$("$PY" bench/timeproc.py --name "nabla-$algo" --log "$WORK/nabla-$algo.log" --cwd "$WORK" -- \
    "$NABLA" --threads "$THREADS" rl train --algo "$algo" --env cartpole --steps "$STEPS" \
    --seed "$SEED" --out "bench-$algo")
  n_ret=$(grep -o 'mean return of the last 100: [-0-9.]*' "$WORK/nabla-$algo.log" | tail -1 | awk '{print $NF}')
  echo "== $algo: PyTorch" >&2
  p_json=$("$PY" bench/timeproc.py --name "pytorch-$algo" --log "$WORK/pytorch-$algo.log" -- \
    "$PY" "$ROOT/bench/rl_cleanrl.py" --algo "$algo" --steps "$STEPS" --seed "$SEED" --threads "$THREADS")
  p_ret=$(field "$(tail -1 "$WORK/pytorch-$algo.log")" final_return .2f)
  n_s=$(field "$n_json" median_s .1f)
  p_s=$(field "$p_json" median_s .1f)
  ratio=$("$PY" -c "print(f'{$n_s / $p_s:.2f}')")
  met=$("$PY" -c "print('yes' if $n_s / $p_s <= 0.3 else 'no')")
  rows+=("| ${algo^^} | $n_s | $p_s | ${ratio}x | $n_ret | $p_ret | <= 0.3x | $met |")
done

echo "CartPole-v1, $STEPS steps, seed $SEED, $THREADS thread(s) each; $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo
echo "| algorithm | nabla s | PyTorch s | ratio | nabla final return | PyTorch final return | target | met? |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "(final return: mean of the last 100 training episodes; times are whole processes)"
