"""Where the benchmark scripts keep what they measured: each run appends
its report to ``benchmarks/results/NAME.txt``, after the command that made
it and the date."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def record(name: str, report: str) -> Path:
    """Append ``report`` to ``results/NAME.txt`` under ``$ python
    benchmarks/SCRIPT ARGS`` and the UTC date; return the file's path."""
    out = Path(__file__).with_name("results") / f"{name}.txt"
    out.parent.mkdir(exist_ok=True)
    command = " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    with open(out, "a") as f:
        f.write(f"$ {command}\n# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n{report}\n\n")
    return out
