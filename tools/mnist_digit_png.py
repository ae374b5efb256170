#!/usr/bin/env python3
"""Writes one image of the bundled MNIST test set as a grey 28x28 PNG (Python stdlib only).

Usage: tools/mnist_digit_png.py INDEX OUTPUT.png   (INDEX 0..9999 of data/mnist/t10k-images)

The book feeds the PNG to `nabla viz activations` and `nabla predict`, which read image files.
"""

import gzip
import struct
import sys
import zlib
from pathlib import Path

IMAGES = Path(__file__).resolve().parent.parent / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"


def digit(index):
    """The index-th test image: 28 rows of 28 bytes (0 = background)."""
    with gzip.open(IMAGES, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            raise SystemExit(f"{IMAGES}: not an IDX image file (magic {magic})")
        if not 0 <= index < count:
            raise SystemExit(f"index {index} is outside 0..{count - 1}")
        f.seek(16 + index * rows * cols)
        data = f.read(rows * cols)
    return [data[r * cols:(r + 1) * cols] for r in range(rows)]


def png(rows):
    """A greyscale 8-bit PNG of the rows."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def main():
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        raise SystemExit(__doc__)
    Path(sys.argv[2]).write_bytes(png(digit(int(sys.argv[1]))))
    print(f"wrote {sys.argv[2]} (test image {sys.argv[1]})")


if __name__ == "__main__":
    main()
