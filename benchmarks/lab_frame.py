"""What the lab's painter spends on each frame: the pictures alone, and with
each layer's gradient sizes and the map of the hidden layer, for the
notebook's network after three epochs, on one BLAS thread as the painter draws.

    python benchmarks/lab_frame.py [--repeats 60]

The painter draws a frame from a copy of the parameters once per epoch, in
its own low-priority thread, so this is an upper bound on what a frame can
take from training (it takes nothing while a core is free).  Appends the
report to ``benchmarks/results/lab_frame.txt``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from _results import record  # benchmarks/_results.py, beside this script
from threadpoolctl import threadpool_limits

import nndl
from nndl.gradients import probe
from nndl.inputs import as_float
from nndl.serve.lab import map_index
from nndl.serve.painter import Painter


def timed(work, repeats: int) -> tuple[float, float]:
    """Median and fastest milliseconds of ``work()`` over ``repeats`` calls, after one more."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times)), 1000 * min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60, help="timed calls of each (default 60)")
    args = parser.parse_args()
    data = nndl.load()
    net, history = nndl.train(nndl.TrainConfig(epochs=3), data=data, log=None)
    predicted = net.predict(data.test.images)
    plain = Painter(data.test, 5000)
    inputs = as_float(data.test.images[map_index(len(data.test))], net.dtype)
    full = Painter(data.test, 5000, probe=probe(data.train, 10, dtype=net.dtype), map_inputs=inputs)
    cases = [
        ("frame: weights, confusion, answers", lambda: plain.frame(net, 1, predicted)),
        ("frame with gradient sizes and the hidden map", lambda: full.frame(net, 1, predicted)),
        ("gradient sizes alone (100 digits)", lambda: full.gradient_sizes(net)),
        ("hidden map alone (500 digits, PCA)", lambda: full.hidden_map(net)),
    ]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    epoch = float(np.median([e.seconds for e in history]))
    lines = [
        f"Load average at the start: {load}; an epoch of the notebook's run trains in {epoch:.3f} s here "
        "(median of 3).",
        "",
        "| work | median ms | fastest ms |",
        "|---|---:|---:|",
    ]
    with threadpool_limits(1, user_api="blas"):
        for name, work in cases:
            median, fastest = timed(work, args.repeats)
            lines.append(f"| {name} | {median:.2f} | {fastest:.2f} |")
    report = "\n".join(lines)
    print(report)
    print(f"Appended to {record('lab_frame', report)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
