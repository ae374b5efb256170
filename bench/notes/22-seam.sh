#!/bin/bash
# The kernel seam's cost, side by side: alternates two `nabla` binaries (OLD before the
# change, NEW after) over the training and latency workloads, ROUNDS rounds, the order
# flipped every round, and prints each workload's median time per binary and their ratio.
#
#   OLD=/path/to/old/nabla NEW=target/release/nabla ROUNDS=4 bench/notes/22-seam.sh
#
# Run it on an idle machine: the ratio means something only when nothing else runs.
set -eu
OLD=${OLD:?the binary before the change}
NEW=${NEW:-target/release/nabla}
ROUNDS=${ROUNDS:-4}
WORKLOADS=${WORKLOADS:-mlp_epoch lenet5_epoch resnet18_step_32 resnet18_step_224 latency_lenet5 latency_resnet18}
out=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  order="old new"
  [ $((round % 2)) = 0 ] && order="new old"
  for w in $WORKLOADS; do
    for b in $order; do
      bin=$OLD
      [ "$b" = new ] && bin=$NEW
      line=$("$bin" --threads 2 bench --only "$w" --json 2>/dev/null | tail -1)
      echo "$round $b $w $line" | tee -a "$out"
    done
  done
done
python3 - "$out" <<'EOF'
import json, statistics, sys
times = {}
for line in open(sys.argv[1]):
    rnd, binary, w, js = line.split(' ', 3)
    rec = json.loads(js)
    rec = rec[0] if isinstance(rec, list) else rec
    t = rec.get('median_s', rec.get('seconds'))
    times.setdefault(w, {}).setdefault(binary, []).append(t)
print('| workload | old (median) | new (median) | new/old | per-round new/old |')
print('|---|---|---|---|---|')
for w, d in times.items():
    o, n = statistics.median(d['old']), statistics.median(d['new'])
    rounds = ' '.join(f'{b / a:.3f}' for a, b in zip(d['old'], d['new']))
    print(f'| {w} | {o:.4g} s | {n:.4g} s | {n / o:.3f} | {rounds} |')
EOF
