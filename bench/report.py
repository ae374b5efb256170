"""Builds BENCHMARKS.md from the JSON lines that bench/compare.sh collected.

Each workload's time is the median over rounds of the per-round medians; the ratio is
nabla time / PyTorch time (below 1: nabla is faster).
"""
import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess


def load(pattern):
    runs = {}
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    rec = json.loads(line)
                    runs.setdefault(rec["workload"], []).append(rec)
    return runs


def machine():
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "unknown CPU")
    except OSError:
        model = platform.processor() or "unknown CPU"
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--repeat", type=int, required=True)
    ap.add_argument("--torch", default="?")
    a = ap.parse_args()
    nabla = load(os.path.join(a.dir, "nabla_*.jsonl"))
    torch = load(os.path.join(a.dir, "pytorch_*.jsonl"))

    def med(recs, key):
        vals = [r[key] for r in recs if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    peak = med(nabla.get("peak_fma", []), "gflops")
    print("# Benchmarks: nabla vs PyTorch on the CPU\n")
    print(f"Machine: {machine()}. Date: {datetime.date.today().isoformat()}. "
          f"Threads: {a.threads} (both sides). PyTorch {a.torch}.\n")
    print(f"Produced by `bench/compare.sh --rounds {a.rounds} --repeat {a.repeat} --threads {a.threads}`: "
          "`cargo bench -p nabla --bench ops` and `bench/pytorch/ops.py` run alternately, one pass each per "
          "round; times are medians over rounds of per-round medians. Ratio = nabla time / PyTorch time "
          "(below 1.00: nabla is faster).\n")
    if peak:
        print(f"Peak: **{peak:.0f} GFLOP/s** f32 on {a.threads} threads, measured by the `peak_fma` workload "
              "(12 independent AVX-512 FMA chains per thread, 2 flops per lane; this is cores × clock × FMA width "
              "as the machine actually runs it, turbo included).\n")
    print("| workload | nabla ms | PyTorch ms | ratio | nabla GFLOP/s | PyTorch GFLOP/s | nabla % of peak | nabla peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, recs in nabla.items():
        if name == "peak_fma":
            continue
        n_ms = med(recs, "median_s") * 1e3
        t = torch.get(name)
        t_ms = med(t, "median_s") * 1e3 if t else None
        n_gf, t_gf = med(recs, "gflops"), med(t, "gflops") if t else None
        ratio = f"{n_ms / t_ms:.2f}" if t_ms else "–"
        pct = f"{100 * n_gf / peak:.0f}%" if (n_gf and peak) else "–"
        rss = med(recs, "peak_rss_mb")
        fmt = lambda v, p=2: f"{v:.{p}f}" if v is not None else "–"
        print(f"| {name} | {fmt(n_ms, 3)} | {fmt(t_ms, 3)} | {ratio} | {fmt(n_gf, 1)} | {fmt(t_gf, 1)} | {pct} | {fmt(rss, 0)} |")
    print("\nWorkloads: `sgemm_N` is an N×N×N f32 matrix product; `conv_*` is one conv2d forward plus "
          "backward (input, weight and bias gradients) for LeNet-5's conv1 (64×1×32×32, 6@5×5) and conv2 "
          "(64×6×14×14, 16@5×5), a ResNet 3×3 64→64 layer at 56×56 (batch 8, padding 1, no bias) and a VGG "
          "3×3 256→256 layer at 28×28 (batch 8); GFLOP/s counts forward, input-gradient and "
          "weight-gradient products.")


if __name__ == "__main__":
    main()
