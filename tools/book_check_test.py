#!/usr/bin/env python3
"""Shows that tools/book_check catches a number edited by hand.

Copies the chain-rule chapter of the book into a temporary folder, checks the copy (it must
pass), changes one printed gradient in it (df/dx = -4 -> -5) and checks again (it must fail,
naming the line), then changes a number inside a marker's tolerance (it must still pass).
Also checks the output matching itself on a few lines, and that the book's links resolve.

Run with `python3 tools/book_check_test.py` (after `cargo build --release -p nabla-cli`;
the chapter's command is `cargo run --release --example chain_rule`, a second).
"""

import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHECK = REPO / "tools" / "book_check"
CHAPTER = REPO / "book" / "src" / "01-chain-rule.md"

loader = importlib.machinery.SourceFileLoader("book_check", str(CHECK))
spec = importlib.util.spec_from_loader("book_check", loader)
book_check = importlib.util.module_from_spec(spec)
loader.exec_module(book_check)


def run_check(*args):
    proc = subprocess.run(
        [sys.executable, str(CHECK), *map(str, args)], cwd=REPO, capture_output=True, text=True
    )
    return proc.returncode, proc.stdout + proc.stderr


class EditedNumbers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = Path(tempfile.mkdtemp(prefix="book_check_test-"))
        cls.original = CHAPTER.read_text(encoding="utf-8")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def check_copy(self, text, name):
        copy = self.dir / name
        copy.write_text(text, encoding="utf-8")
        return run_check("--no-build", copy)

    def test_original_passes(self):
        code, out = self.check_copy(self.original, "original.md")
        self.assertEqual(code, 0, out)
        self.assertIn("0 failed", out)

    def test_edited_gradient_fails(self):
        self.assertIn("df/dx = -4\n", self.original)
        edited = self.original.replace("df/dx = -4\n", "df/dx = -5\n", 1)
        code, out = self.check_copy(edited, "edited.md")
        self.assertEqual(code, 1, out)
        self.assertIn("FAIL", out)
        self.assertIn("book:    df/dx = -5", out)
        self.assertIn("program: df/dx = -4", out)

    def test_edited_loss_fails_beyond_tolerance_and_passes_within(self):
        # The linear regression block carries tol=1e-4: 1.020398 -> 1.03 is 1% off.
        self.assertIn("J = 1.020398", self.original)
        far = self.original.replace("step  500: J = 1.020398", "step  500: J = 1.03", 1)
        code, out = self.check_copy(far, "far.md")
        self.assertEqual(code, 1, out)
        near = self.original.replace("step  500: J = 1.020398", "step  500: J = 1.02040", 1)
        code, out = self.check_copy(near, "near.md")
        self.assertEqual(code, 0, out)


class Matching(unittest.TestCase):
    def block(self, expected, **attrs):
        return book_check.Block("x.md", 1, "quick", attrs, ["true"], expected.splitlines())

    def test_numbers_words_and_order(self):
        out = "a 1.00 b\nnoise\nloss 0.5 | acc 97.1% | 6.6s\n"
        self.assertEqual(book_check.compare(self.block("a 1 b\nloss 0.5 | acc 97.1% | ~9s"), out), [])
        self.assertTrue(book_check.compare(self.block("loss 0.5 | acc 97.2% | ~9s"), out))
        self.assertEqual(
            book_check.compare(self.block("loss 0.5 | acc 97.2% | ~9s", abs="0.2"), out), []
        )
        # Out of order, or other words: not found.
        self.assertTrue(book_check.compare(self.block("loss 0.5 | acc 97.1% | ~1s\na 1 b"), out))
        self.assertTrue(book_check.compare(self.block("a 1 c"), out))

    def test_markdown_table_matches_printed_table(self):
        out = "| model | params |\n|---|---|\n| lenet5 | 61706 |\n"
        table = "| model   | params |\n|:--|--:|\n| **lenet5** | 61,706 |"
        self.assertEqual(book_check.compare(self.block(table), out), [])
        self.assertTrue(book_check.compare(self.block(table.replace("61,706", "61,707")), out))

    def test_marker_inside_code_block_is_not_a_marker(self):
        with tempfile.TemporaryDirectory() as d:
            page = Path(d) / "p.md"
            page.write_text("````md\n<!-- check: quick -->\n```sh\nfalse\n```\n````\n")
            self.assertEqual(book_check.parse_blocks(page), [])


class Links(unittest.TestCase):
    def test_book_links_resolve(self):
        code, out = run_check("--links")
        self.assertEqual(code, 0, out)

    def test_broken_link_is_found(self):
        with tempfile.TemporaryDirectory() as d:
            src = Path(d)
            (src / "SUMMARY.md").write_text("- [A](a.md)\n")
            (src / "a.md").write_text("![x](img/missing.png) [ok](a.md) `[no](code.md)`\n")
            problems = book_check.check_links(src)
            self.assertEqual(len(problems), 1, problems)
            self.assertIn("img/missing.png", problems[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
