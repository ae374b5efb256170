"""Times a whole process as a user would: wall-clock seconds from start to exit and
its peak resident memory (the child's ru_maxrss from wait4).

    python3 bench/timeproc.py --name NAME [--log FILE] [--cwd DIR] -- COMMAND ARGS...

Prints one JSON line {"workload": NAME, "median_s": wall seconds, "min_s": same,
"peak_rss_mb": MiB, "repeat": 1}; the command's output goes to --log (default:
discarded). Exits with the command's status when it fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--log", default=os.devnull)
    parser.add_argument("--cwd", default=None)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        parser.error("give the command to time after --")
    with open(args.log, "w") as log:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=args.cwd)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"timeproc: {' '.join(cmd)} exited with {code} (output in {args.log})", file=sys.stderr)
        sys.exit(code if code > 0 else 1)
    print(json.dumps({"workload": args.name, "median_s": wall, "min_s": wall,
                      "peak_rss_mb": usage.ru_maxrss / 1024.0, "repeat": 1}), flush=True)


if __name__ == "__main__":
    main()
