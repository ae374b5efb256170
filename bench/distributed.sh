#!/usr/bin/env bash
# Data-parallel scaling on this machine: one epoch of LeNet-5 on MNIST (60,000 images,
# global batch 128, Adam) as
#   A: 1 process  x 1 thread  (batch 128)
#   B: 2 MPI ranks x 1 thread (batch 64 per rank)
#   C: 1 process  x 2 threads (batch 128), for reference
# run alternately REPEATS times (default 3). Prints each run's epoch line (time includes the
# test-set pass, which the ranks share) and, for B, the all-reduce timing of rank 0; then
# the median epoch time of each and the speed-up A/B.
# Needs `cargo build --release -p nabla-cli --features distributed` and Open MPI.
set -euo pipefail
cd "$(dirname "$0")/.."
exe=$PWD/target/release/nabla
repeats=${REPEATS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$work"
secs() { sed -n 's/^epoch.*| \([0-9.]*\)s$/\1/p'; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
for i in $(seq 1 "$repeats"); do
  echo "== round $i (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  printf 'A 1x1: '
  "$exe" --threads 1 train --epochs 1 --quiet --out "a$i" | grep '^epoch' | tee -a a.txt
  printf 'B 2x1: '
  mpirun -np 2 --bind-to none "$exe" --threads 1 train --distributed mpi --batch-size 64 \
    --epochs 1 --quiet --out "b$i" | grep -E '^epoch|all-reduce' | tee -a b.txt
  printf 'C 1x2: '
  "$exe" --threads 2 train --epochs 1 --quiet --out "c$i" | grep '^epoch' | tee -a c.txt
done
a=$(secs <a.txt | median) b=$(secs <b.txt | median) c=$(secs <c.txt | median)
echo "median epoch s: A 1x1 $a | B 2x1 $b | C 1x2 $c | speed-up A/B $(awk "BEGIN {printf \"%.2f\", $a / $b}")"
