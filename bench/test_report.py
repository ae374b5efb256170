"""Tests of bench/report.py: python3 -m unittest bench/test_report.py (from the repository root)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.py")


def write(path, records):
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


class ReportTest(unittest.TestCase):
    def run_report(self, nabla, torch, extra=(), refresh_after=None):
        """The report of these records, with two sections and two notes; with
        `refresh_after(sections_dir)`, also the output of `--refresh` on it after that edit."""
        with tempfile.TemporaryDirectory() as d:
            sections, notes = os.path.join(d, "sections"), os.path.join(d, "notes")
            os.mkdir(sections)
            os.mkdir(notes)
            for folder, name, text in [(sections, "20-b.md", "## Second section\n"),
                                       (sections, "10-a.md", "## First section\n"),
                                       (notes, "10-y.md", "## Later history\nits long text\n"),
                                       (notes, "00-x.md", "## Early history\n")]:
                with open(os.path.join(folder, name), "w") as f:
                    f.write(text)
            for r, recs in enumerate(nabla, 1):
                write(os.path.join(d, f"nabla_{r}.jsonl"), recs)
            for r, recs in enumerate(torch, 1):
                write(os.path.join(d, f"pytorch_{r}.jsonl"), recs)
            dirs = ["--sections", sections, "--notes", notes]
            out = subprocess.run(
                [sys.executable, REPORT, "--dir", d, "--threads", "2", "--rounds", str(len(nabla)),
                 "--command", "bench/compare.sh --quick", "--load-before", "0.10 0.20 0.30",
                 *dirs, *extra], capture_output=True, text=True, check=True).stdout
            if refresh_after is None:
                return out
            path = os.path.join(d, "BENCHMARKS.md")
            with open(path, "w") as f:
                f.write(out)
            refresh_after(sections)
            return out, subprocess.run([sys.executable, REPORT, "--refresh", path, *dirs],
                                       capture_output=True, text=True, check=True).stdout

    def test_medians_ratios_targets_memory_and_notes(self):
        rec = lambda w, s, m=None: {"workload": w, "median_s": s, "peak_rss_mb": m}
        nabla = [[rec("lenet5_epoch", 2.0, 100), rec("mlp_epoch", 1.0, 100)],
                 [rec("lenet5_epoch", 3.0, 120), rec("mlp_epoch", 9.0, 100)],
                 [rec("lenet5_epoch", 2.0, 100), rec("mlp_epoch", 1.0, 100)]]
        torch = [[rec("lenet5_epoch", 4.0, 90), rec("mlp_epoch", 1.0, 500)]] * 3
        out = self.run_report(nabla, torch)
        # medians over rounds: lenet5 2.0 s vs 4.0 s = 0.50 ≤ 0.67; mlp 1.0 vs 1.0 = 1.00 > 0.8
        # single rounds: lenet5 2/4, 3/4, 2/4; mlp 1/1, 9/1, 1/1
        self.assertIn("| lenet5_epoch | 2000.000 | 4000.000 | 0.50 | 0.50–0.75 | ≤ 0.67 | **met** | 100 | 90 | NOT met |", out)
        self.assertIn("| mlp_epoch | 1000.000 | 1000.000 | 1.00 | 1.00–9.00 | ≤ 0.8 | NOT met | 100 | 500 | **met** |", out)
        self.assertIn("| resnet18_step_32 | – | – | – | – | ≤ 1.0 | not measured |", out)
        self.assertIn("Targets met in this run (time and peak-memory targets): **2 of 4**.", out)
        self.assertIn("`bench/compare.sh --quick` (3 rounds)", out)
        self.assertNotIn("Warning", out)

    def test_sections_follow_the_tables_and_notes_are_linked_not_copied(self):
        recs = [[{"workload": "mlp_epoch", "median_s": 1.0}]]
        out = self.run_report(recs, recs)
        self.assertLess(out.index("## Whole process"), out.index("<!-- Generated above"))
        self.assertLess(out.index("<!-- Generated above"), out.index("## First section"))
        self.assertLess(out.index("## First section"), out.index("## Second section"))
        self.assertIn("- [Early history](bench/notes/00-x.md)\n- [Later history](bench/notes/10-y.md)", out)
        self.assertNotIn("its long text", out)

    def test_refresh_keeps_the_tables_and_rewrites_the_sections(self):
        recs = [[{"workload": "mlp_epoch", "median_s": 1.0}]]

        def edit(sections):
            with open(os.path.join(sections, "10-a.md"), "w") as f:
                f.write("## First section, edited\n")

        before, after = self.run_report(recs, recs, refresh_after=edit)
        cut = before.index("<!-- Generated above")
        self.assertEqual(after[:cut], before[:cut])
        self.assertIn("## First section, edited", after)
        self.assertEqual(after.replace(", edited", ""), before)
        with tempfile.NamedTemporaryFile("w", suffix=".md") as f:
            f.write("# Benchmarks without the marker\n")
            f.flush()
            res = subprocess.run([sys.executable, REPORT, "--refresh", f.name],
                                 capture_output=True, text=True)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("has no marker line", res.stderr)

    def test_bf16_rows_and_nabla_against_its_own_f32(self):
        rec = lambda w, s, m=None, **kw: {"workload": w, "median_s": s, "peak_rss_mb": m, **kw}
        nabla = [[rec("resnet18_step_32", 1.0, 800), rec("resnet18_step_32_bf16", 0.5, 700, bf16_path="AMX"),
                  rec("sgemm_1024", 0.01, gflops=200.0), rec("sgemm_1024_bf16", 0.004, gflops=500.0)]]
        torch = [[rec("resnet18_step_32_bf16", 1.0, 900), rec("sgemm_1024_bf16", 0.002, gflops=1000.0)]]
        out = self.run_report(nabla, torch)
        self.assertIn("| resnet18_step_32_bf16 | 500.000 | 1000.000 | 0.50 | 0.50–0.50 | ≤ 0.7 | **met** | 700 | 900 | **met** |", out)
        self.assertIn("| sgemm_1024_bf16 | 4.000 | 2.000 | 2.00 | 2.00–2.00 | ≤ 0.7 | NOT met |", out)
        self.assertIn("nabla's bf16 products ran on: **AMX**.", out)
        self.assertIn("| sgemm_1024 GFLOP/s | 500.0 | 200.0 | 2.50× | ≥ 1.8× | **met** | – | – |", out)
        self.assertIn("| resnet18_step_32 ms | 500.0 | 1000.0 | 0.50 | ≤ 0.6 | **met** | 700 | 800 |", out)

    def test_rounds_pair_in_numeric_order(self):
        # Round 10 is the last round, not the second: pairs are (1, 1), ..., (10, 10).
        nabla = [[{"workload": "mlp_epoch", "median_s": 1.0}]] * 9 + [[{"workload": "mlp_epoch", "median_s": 5.0}]]
        torch = [[{"workload": "mlp_epoch", "median_s": 2.0}]] * 9 + [[{"workload": "mlp_epoch", "median_s": 10.0}]]
        out = self.run_report(nabla, torch)
        self.assertIn("| mlp_epoch | 1000.000 | 2000.000 | 0.50 | 0.50–0.50 |", out)

    def test_date_is_the_given_start_of_the_run(self):
        rec = {"workload": "mlp_epoch", "median_s": 1.0}
        out = self.run_report([[rec]], [[rec]], extra=("--date", "2026-01-02 03:04 UTC"))
        self.assertIn("Date: 2026-01-02 03:04 UTC.", out)

    def test_busy_warning_follows_the_idle_share_when_measured(self):
        recs = [[{"workload": "mlp_epoch", "median_s": 1.0, "peak_rss_mb": 1}]]
        busy = self.run_report(recs, recs, ["--load-before", "1.8 1.7 1.7", "--idle-before", "42"])
        self.assertIn("Warning: the machine was busy with other work** (42% idle", busy)
        idle = self.run_report(recs, recs, ["--load-before", "1.8 1.7 1.7", "--idle-before", "99.5"])
        self.assertNotIn("Warning", idle)
        self.assertIn("CPU idle in the 3 s before the run: 99.5%.", idle)
        by_load = self.run_report(recs, recs, ["--load-before", "1.8 1.7 1.7"])
        self.assertIn("Warning", by_load)

    def test_peak_names_the_fma_path_that_ran(self):
        fma = lambda g, **kw: [[{"workload": "peak_fma", "median_s": 0.1, "gflops": g, **kw},
                                {"workload": "sgemm_1024", "median_s": 0.02, "gflops": g / 2}]]
        avx2 = self.run_report(fma(190.0, path="AVX2"), [[]])
        self.assertIn("Peak: **190 GFLOP/s** f32 on 2 threads (AVX2 FMA chains), measured by the "
                      "`peak_fma` workload (12 independent AVX2 FMA chains per thread, 8 lanes,", avx2)
        self.assertIn("| 95.0 | – | 50% |", avx2)
        avx512 = self.run_report(fma(446.0, path="AVX-512"), [[]])
        self.assertIn("Peak: **446 GFLOP/s** f32 on 2 threads (AVX-512 FMA chains)", avx512)
        self.assertIn("16 lanes", avx512)

    def test_peak_is_not_measured_when_its_flops_are_unknown(self):
        # A record without the path may count AVX-512 lanes whose chains never ran: the
        # raw count over a near-zero time, as once printed "Peak: **307200000 GFLOP/s**".
        for recs in ([{"workload": "peak_fma", "median_s": 5e-8, "gflops": 307200000.0}],
                     [{"workload": "peak_fma", "median_s": 5e-8, "gflops": None}]):
            out = self.run_report([recs], [[]])
            self.assertIn("Peak: not measured", out)
            self.assertNotIn("GFLOP/s** f32", out)


if __name__ == "__main__":
    unittest.main()
