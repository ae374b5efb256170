#!/bin/bash
# Alternates main's and this branch's nabla binaries, 3 rounds each, on two workloads.
set -u
MAIN=/tmp/nabla-main
MINE=/tmp/w22/nabla-22
for round in 1 2 3; do
  for w in lenet5_epoch mlp_epoch; do
    for b in main mine; do
      bin=$MAIN; [ $b = mine ] && bin=$MINE
      line=$(nice $bin --threads 2 bench --only $w --json 2>/dev/null | tail -1)
      echo "$round $b $w $line"
    done
  done
done
