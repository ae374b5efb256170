"""Builds BENCHMARKS.md from the JSON lines that bench/compare.sh collected, then appends
the hand-written sections kept in bench/sections/*.md (in file-name order: how to read the
tables, and the tables that other scripts measure) and an index of bench/notes/*.md, the
history of how the numbers came to be, which is linked and not copied.

Each workload's time is the median over rounds of the per-round medians; the ratio is
nabla time / PyTorch time (below 1: nabla is faster). Each group's table gives the target
for the ratio and whether this run met it.

    python3 bench/report.py --dir OUT --threads 2 --rounds 3 --command "bench/compare.sh" \
        --torch 2.15.0 [--load-before "..."] [--load-after "..."] > BENCHMARKS.md

After editing a section or a note, rewrite everything below the generated tables without
rerunning the benchmarks:

    python3 bench/report.py --refresh BENCHMARKS.md > /tmp/b.md && mv /tmp/b.md BENCHMARKS.md
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess

# (title, workloads, what the target bounds, bound, description)
#   "time": nabla/PyTorch time ratio ≤ bound; "gflops": nabla/PyTorch GFLOP/s ≥ bound; None: no target.
GROUPS = [
    ("Kernels (`cargo bench -p nabla --bench ops`, `bench/pytorch/ops.py`)",
     [("sgemm_256", None, None), ("sgemm_1024", "gflops", 0.9), ("sgemm_2048", None, None),
      ("maxpool_lenet", None, None), ("conv_lenet1", "time", 1.0), ("conv_lenet2", "time", 1.0),
      ("conv_resnet", "time", 1.0), ("conv_vgg", "time", 1.0), ("conv_dcgan", None, None),
      ("lstm", "time", 1.0)],
     "`sgemm_N`: an N×N×N f32 matrix product. `conv_*`: one conv2d forward plus backward (input, "
     "weight and bias gradients) for LeNet-5's conv1 (64×1×32×32, 6@5×5) and conv2 (64×6×14×14, "
     "16@5×5), a ResNet 3×3 64→64 layer at 56×56 (batch 8, padding 1, no bias), a VGG 3×3 "
     "256→256 layer at 28×28 (batch 8) and the DCGAN discriminator's 4×4 stride-2 32→64 layer at "
     "14×14 (batch 128, padding 1, no bias); GFLOP/s counts forward, input-gradient and weight-gradient "
     "products. `maxpool_lenet`: 2×2 max-pool forward+backward of 128×6×28×28. `lstm`: forward+"
     "backward of a 2-layer LSTM, batch 32, 100 steps, 256 inputs and hidden units. RSS here is of "
     "the whole ops process so far."),
    ("Training (`nabla bench --only NAME`, `bench/pytorch/train.py --only NAME`, one process each)",
     [("mlp_epoch", "time", 0.8), ("lenet5_epoch", "time", 0.67),
      ("resnet18_step_32", "time", 1.0), ("resnet18_step_224", "time", 1.0)],
     "`mlp_epoch`: one epoch of MLP 784-512-256-10 over MNIST's 60,000 training images, batch 128, "
     "SGD momentum 0.9 lr 0.01, shuffling, batching and normalization included (nabla: its "
     "DataLoader as `nabla train` uses it; PyTorch: normalized tensors preloaded, shuffled index "
     "batches). `lenet5_epoch`: the same with LeNet-5 at batch 64. `resnet18_step_32`: one "
     "training step (forward, cross-entropy, backward, SGD momentum) of ResNet-18 (3×3 stem, no "
     "max-pool) on a random 64×3×32×32 batch, 10 classes; `resnet18_step_224`: the standard "
     "ResNet-18 on 8×3×224×224, 1000 classes. Peak RSS: the process's VmHWM / ru_maxrss after "
     "the workload (PyTorch's includes the ~530 MiB that `import torch` alone reaches); target: nabla ≤ PyTorch."),
    ("Inference latency, batch 1 (`nabla bench`, `bench/pytorch/train.py`)",
     [("latency_lenet5", "time", 0.5), ("latency_resnet18", "time", 0.5)],
     "One forward pass in evaluation mode without gradient recording (PyTorch: "
     "`torch.inference_mode()`) of LeNet-5 on 1×1×28×28 and ResNet-18 on 1×3×224×224."),
    ("Mixed precision bf16 (`nabla bench --precision bf16`, `bench/pytorch/train.py --precision bf16`; "
     "`sgemm_1024_bf16` from the kernel group)",
     [("sgemm_1024_bf16", "time", 0.7), ("mlp_epoch_bf16", "time", 0.7), ("lenet5_epoch_bf16", "time", 0.7),
      ("resnet18_step_32_bf16", "time", 0.7), ("resnet18_step_224_bf16", "time", 0.7),
      ("latency_resnet18_bf16", "time", 0.7)],
     "The workloads above with the products in bf16: nabla with `--precision bf16` (`nabla::autocast`: "
     "matmul, linear, convolution and recurrent products on bf16 operands with f32 sums, everything "
     "else and the weights in f32), PyTorch with its forward passes and losses under "
     "`torch.autocast(\"cpu\", dtype=torch.bfloat16)` (oneDNN). `sgemm_1024_bf16`: a 1024³ product of "
     "f32 matrices in a bf16 autocast scope on both sides (PyTorch returns bf16, nabla f32)."),
    ("Whole process, as a user times it (`bench/timeproc.py`)",
     [("lenet5_train_process", "time", 0.67)],
     "`nabla train --model lenet5 --data mnist --epochs 2 --batch-size 64 --optimizer momentum "
     "--lr 0.01 --threads 2 --quiet` against `bench/pytorch/train_lenet_process.py --threads 2` "
     "(cold start: reads data/mnist/*.gz, 2 epochs with a test evaluation after each, cosine "
     "learning rate per epoch, weights saved). Wall time from start to exit; peak RSS of the "
     "process (wait4's ru_maxrss); target: nabla ≤ PyTorch."),
]
MEMORY_GROUPS = {1, 3, 4}  # groups whose workloads train, with the peak-memory target
HERE = os.path.dirname(os.path.abspath(__file__))
# Ends the generated tables: --refresh keeps what is above it and rewrites what is below.
MARKER = ("<!-- Generated above by bench/report.py from a bench/compare.sh run; below: "
          "bench/sections/*.md and the index of bench/notes/ (`bench/report.py --refresh`). -->")


def round_number(path: str) -> int:
    """The round of a `SIDE_N.jsonl` file (so that round 10 sorts after round 9)."""
    stem = os.path.basename(path).rsplit(".", 1)[0]
    try:
        return int(stem.rsplit("_", 1)[1])
    except (IndexError, ValueError):
        return 0


def load(pattern: str) -> dict[str, list[dict]]:
    """Each workload's records, in round order."""
    runs: dict[str, list[dict]] = {}
    for path in sorted(glob.glob(pattern), key=round_number):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    rec = json.loads(line)
                    runs.setdefault(rec["workload"], []).append(rec)
    return runs


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines()
                      if l.startswith("Model name")), "unknown CPU")
    except OSError:
        model = platform.processor() or "unknown CPU"
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, {platform.system()} {platform.release()}"


def med(recs: list[dict] | None, key: str) -> float | None:
    vals = [r[key] for r in recs or [] if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def fmt(v: float | None, digits: int = 2) -> str:
    return f"{v:.{digits}f}" if v is not None else "–"


def round_range(n: list[dict] | None, t: list[dict] | None) -> str:
    """The lowest and highest nabla/PyTorch time ratio of a single round (the two sides ran
    back to back in each round), showing how far the machine's noise moves the ratio."""
    if not n or not t or len(n) != len(t):
        return "–"
    ratios = [a["median_s"] / b["median_s"] for a, b in zip(n, t)
              if a.get("median_s") and b.get("median_s")]
    return f"{min(ratios):.2f}–{max(ratios):.2f}" if ratios else "–"


def verdict(value: float | None, bound: float, at_most: bool) -> str:
    if value is None:
        return "not measured"
    return "**met**" if (value <= bound if at_most else value >= bound) else "NOT met"


def table(group: int, names, nabla, torch, peak) -> list[str]:
    memory = group in MEMORY_GROUPS
    head = ("| workload | nabla ms | PyTorch ms | ratio (nabla/PyTorch time) | ratio in single rounds "
            "| target | met? |")
    rule = "|---|---:|---:|---:|---:|---|---|"
    if group == 0:
        head += " nabla GFLOP/s | PyTorch GFLOP/s | nabla % of peak | nabla RSS MiB |"
        rule += "---:|---:|---:|---:|"
    elif memory:
        head += " nabla peak MiB | PyTorch peak MiB | memory ≤ PyTorch? |"
        rule += "---:|---:|---|"
    else:
        head += " nabla examples/s | PyTorch examples/s |"
        rule += "---:|---:|"
    lines = [head, rule]
    for name, kind, bound in names:
        n, t = nabla.get(name), torch.get(name)
        n_s, t_s = med(n, "median_s"), med(t, "median_s")
        ratio = n_s / t_s if (n_s and t_s) else None
        row = (f"| {name} | {fmt(n_s and n_s * 1e3, 3)} | {fmt(t_s and t_s * 1e3, 3)} | {fmt(ratio)} "
               f"| {round_range(n, t)} |")
        n_gf, t_gf = med(n, "gflops"), med(t, "gflops")
        if kind == "time":
            row += f" ≤ {bound} | {verdict(ratio, bound, True)} |"
        elif kind == "gflops":
            gf_ratio = n_gf / t_gf if (n_gf and t_gf) else None
            row += f" GFLOP/s ≥ {bound}× PyTorch's ({fmt(gf_ratio)}×) | {verdict(gf_ratio, bound, False)} |"
        else:
            row += " – | – |"
        if group == 0:
            pct = f"{100 * n_gf / peak:.0f}%" if (n_gf and peak) else "–"
            row += f" {fmt(n_gf, 1)} | {fmt(t_gf, 1)} | {pct} | {fmt(med(n, 'peak_rss_mb'), 0)} |"
        elif memory:
            n_m, t_m = med(n, "peak_rss_mb"), med(t, "peak_rss_mb")
            ok = verdict(n_m / t_m if (n_m and t_m) else None, 1.0, True)
            row += f" {fmt(n_m, 0)} | {fmt(t_m, 0)} | {ok} |"
        else:
            row += f" {fmt(med(n, 'examples_per_s'), 1)} | {fmt(med(t, 'examples_per_s'), 1)} |"
        lines.append(row)
    return lines


def bf16_summary(nabla: dict[str, list[dict]]) -> list[str]:
    """nabla's bf16 runs against its own f32 runs: the issue's targets on the training step
    (≤ 0.6× the f32 time) and the GEMM (≥ 1.8× the f32 GFLOP/s), and peak memory (≤ f32's)."""
    paths = {r.get("bf16_path") for recs in nabla.values() for r in recs if r.get("bf16_path")}
    lines = [f"nabla's bf16 products ran on: **{', '.join(sorted(paths)) or 'not recorded'}**.", "",
             "| nabla bf16 against nabla f32 | bf16 | f32 | ratio | target | met? | bf16 peak MiB | f32 peak MiB |",
             "|---|---:|---:|---:|---|---|---:|---:|"]
    for name in ["sgemm_1024", "mlp_epoch", "lenet5_epoch", "resnet18_step_32", "resnet18_step_224",
                 "latency_resnet18"]:
        b, f = nabla.get(name + "_bf16"), nabla.get(name)
        if name == "sgemm_1024":
            bg, fg = med(b, "gflops"), med(f, "gflops")
            ratio = bg / fg if (bg and fg) else None
            lines.append(f"| {name} GFLOP/s | {fmt(bg, 1)} | {fmt(fg, 1)} | {fmt(ratio)}× | ≥ 1.8× "
                         f"| {verdict(ratio, 1.8, False)} | – | – |")
            continue
        bs, fs = med(b, "median_s"), med(f, "median_s")
        ratio = bs / fs if (bs and fs) else None
        target, ok = ("≤ 0.6", verdict(ratio, 0.6, True)) if name.startswith("resnet18_step") else ("–", "–")
        lines.append(f"| {name} ms | {fmt(bs and bs * 1e3, 1)} | {fmt(fs and fs * 1e3, 1)} | {fmt(ratio)} "
                     f"| {target} | {ok} | {fmt(med(b, 'peak_rss_mb'), 0)} | {fmt(med(f, 'peak_rss_mb'), 0)} |")
    return lines + [""]


FMA_LANES = {"AVX-512": 16, "AVX2": 8}  # f32 lanes of each `peak_fma` path


def fma_peak(recs: list[dict] | None, threads: int) -> tuple[float | None, str | None]:
    """The machine's f32 peak from the `peak_fma` records, and the line that states it.

    The peak counts only when every record names the path that ran (`path`, AVX-512 or
    AVX2) and the same one: records without it come from a build that counted 16 lanes
    whether or not its AVX-512 chains ran, so their GFLOP/s may be a raw flop count."""
    if not recs:
        return None, None
    paths = {r.get("path") for r in recs}
    gflops = med(recs, "gflops")
    if len(paths) != 1 or next(iter(paths)) not in FMA_LANES or not gflops:
        return None, ("Peak: not measured: the `peak_fma` records name no single FMA path that "
                      "ran, so their flops are unknown and the kernel table has no % of peak.")
    path = paths.pop()
    return gflops, (f"Peak: **{gflops:.0f} GFLOP/s** f32 on {threads} threads ({path} FMA chains), "
                    f"measured by the `peak_fma` workload (12 independent {path} FMA chains per "
                    f"thread, {FMA_LANES[path]} lanes, 2 flops per FMA: cores × clock × FMA width "
                    "as the machine actually runs it, turbo included).")


def title(path: str) -> str:
    """The first heading of a Markdown file, without its #s (the file name if it has none)."""
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return os.path.basename(path)


def appendix(sections: str, notes: str) -> list[str]:
    """The marker, each section in file-name order, and a list of links to the notes."""
    out = [MARKER, ""]
    for path in sorted(glob.glob(os.path.join(sections, "*.md"))):
        with open(path) as f:
            out += [f.read().rstrip(), ""]
    paths = sorted(glob.glob(os.path.join(notes, "*.md")))
    if paths:
        out += ["## History: how these numbers came to be (`bench/notes/`)", "",
                "Profiles, the changes each one led to, and the runs before and after them, one "
                "file per topic. They are kept as written, with the numbers of their dates; the "
                "tables above are the current ones.", ""]
        out += [f"- [{title(p)}](bench/notes/{os.path.basename(p)})" for p in paths]
        out.append("")
    return out


def refresh(path: str, sections: str, notes: str) -> str:
    """`path`'s generated part (up to the marker) with the appendix written anew."""
    with open(path) as f:
        text = f.read()
    if MARKER not in text:
        raise SystemExit(f"{path} has no marker line ending its generated tables; regenerate it "
                         "with bench/compare.sh")
    head = text[:text.index(MARKER)].rstrip().split("\n")
    return "\n".join(head + [""] + appendix(sections, notes)).rstrip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--refresh", metavar="BENCHMARKS.md",
                    help="keep this file's generated tables, rewrite its sections and index")
    ap.add_argument("--dir")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--command", help="the command that produced the data")
    ap.add_argument("--torch", default="?")
    ap.add_argument("--load-before", default="?")
    ap.add_argument("--load-after", default="?")
    ap.add_argument("--idle-before", type=float, default=None,
                    help="percent of CPU time idle in the seconds before the run (/proc/stat)")
    ap.add_argument("--date", default=None,
                    help="when the run started, as 'YYYY-MM-DD HH:MM UTC' (default: now)")
    ap.add_argument("--sections", default=os.path.join(HERE, "sections"))
    ap.add_argument("--notes", default=os.path.join(HERE, "notes"))
    a = ap.parse_args()
    if a.refresh:
        print(refresh(a.refresh, a.sections, a.notes))
        return
    missing = [f"--{k}" for k in ("dir", "threads", "rounds", "command") if getattr(a, k) is None]
    if missing:
        ap.error(f"{', '.join(missing)} needed (or --refresh FILE)")
    nabla = load(os.path.join(a.dir, "nabla_*.jsonl"))
    torch = load(os.path.join(a.dir, "pytorch_*.jsonl"))
    peak, peak_line = fma_peak(nabla.get("peak_fma"), a.threads)
    now = a.date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = ["# Benchmarks: nabla vs PyTorch on the CPU", "",
           f"Machine: {machine()}. Date: {now}. Threads: {a.threads} (both sides). PyTorch {a.torch}. "
           f"Load average (1, 5, 15 min) before the run: {a.load_before}; after: {a.load_after}."
           + (f" CPU idle in the 3 s before the run: {a.idle_before:.1f}%." if a.idle_before is not None else ""), "",
           f"Produced by `{a.command}` ({a.rounds} round{'s' if a.rounds != 1 else ''}). In every round each workload runs once on "
           "each side, nabla and PyTorch alternating, the side that goes first swapping every round; "
           "a workload's time is the median over rounds of the per-round medians. Ratio = nabla time / "
           "PyTorch time (below 1.00: nabla is faster); targets are judged on the ratio of "
           "medians. The single-round column gives the lowest and highest ratio of one round's "
           "back-to-back pair: how far this machine's noise moves it.", ""]
    cores = os.cpu_count() or 1
    # The idle share, when measured, decides: on some VMs the load average stays near 1.5
    # with the CPUs idle (kernel threads are counted).
    if a.idle_before is not None:
        busy = a.idle_before < 90.0
    else:
        try:
            busy = float(a.load_before.split()[0]) > 0.5 * cores
        except (ValueError, IndexError):
            busy = False
    if busy:
        seen = (f"{a.idle_before:.0f}% idle" if a.idle_before is not None else f"load {a.load_before}")
        out += [f"**Warning: the machine was busy with other work** ({seen} on {cores} cores): "
                "both sides lose time slices at random, PyTorch's spinning OpenMP threads far more than "
                "nabla's, so the ratios below are not the idle machine's. Rerun `bench/compare.sh` on an "
                "idle machine for the record.", ""]
    if "OMP_WAIT_POLICY" in os.environ:
        out += [f"PyTorch ran with OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']} (`--omp-passive`).", ""]
    if peak_line:
        out += [peak_line, ""]
    met = total = 0
    for g, (title, names, desc) in enumerate(GROUPS):
        rows = table(g, names, nabla, torch, peak)
        met += sum(r.count("**met**") for r in rows[2:])
        total += sum(r.count("**met**") + r.count("NOT met") for r in rows[2:])
        out += [f"## {title}", ""] + rows + ["", desc, ""]
        if names[0][0] == "sgemm_1024_bf16":
            out += bf16_summary(nabla)
    out.insert(out.index("## " + GROUPS[0][0]), f"Targets met in this run (time and peak-memory targets): **{met} of {total}**.\n")
    print("\n".join(out + appendix(a.sections, a.notes)).rstrip())


if __name__ == "__main__":
    main()
