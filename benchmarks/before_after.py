"""``nndl train`` from start to exit on two source trees, alternately.

A change's cost in speed, measured in one run on one machine: each pair runs
the same command once with ``PYTHONPATH`` on the first tree's ``src`` and
once on the second's (in alternating order, so drift in the machine's load
falls on both), after a warm-up of each (Numba's cache).  Reports the
medians and their ratio; appends to ``benchmarks/results/before_after.txt``.

    python benchmarks/before_after.py BEFORE_TREE AFTER_TREE [--pairs 7] [-- ARGS...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _results import record


def once(tree: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nndl", "train", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("args", nargs="*", help="arguments of nndl train (after --)")
    options = parser.parse_args()
    trees = [options.before.resolve(), options.after.resolve()]
    for tree in trees:
        once(tree, options.args)  # warm-up: Numba's cache, the data cache
    times: list[list[float]] = [[], []]
    for k in range(options.pairs):
        for i in (0, 1) if k % 2 == 0 else (1, 0):
            times[i].append(once(trees[i], options.args))
    before, after = (statistics.median(t) for t in times)
    lines = [
        f"nndl train {' '.join(options.args)}".rstrip() + f", {options.pairs} pairs, start to exit",
        f"before ({trees[0]}): median {before:.3f} s  ({', '.join(f'{t:.2f}' for t in times[0])})",
        f"after  ({trees[1]}): median {after:.3f} s  ({', '.join(f'{t:.2f}' for t in times[1])})",
        f"after / before: {after / before:.3f}",
    ]
    report = "\n".join(lines)
    print(report)
    record("before_after", report)


if __name__ == "__main__":
    main()
