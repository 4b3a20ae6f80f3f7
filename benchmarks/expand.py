"""What expanded data (:mod:`nndl.expand`) costs and what it buys.

Cost: the seconds to distort MNIST's 50,000 training digits once (one
epoch's worth), compiled (Numba) and with NumPy alone, beside the seconds
one epoch of SGD takes on them, measured in the same run.

Effect: the same network trained with and without expansion, scored on
MNIST's test digits and, with ``--handwriting``, on
``benchmarks/handwriting.py``'s digits (which needs its fonts and
scikit-learn, and takes minutes per model).  By default the notebook's run
(784 30 10, 10 epochs, mini-batch 10, eta 3.0, seed 0); ``--hidden`` and
``--epochs`` change it, and ``--scaled`` starts the weights as N(0, 1/n_in)
(chapter 3's initialisation, as nndl's default model does) rather than
N(0, 1).

Run::

    python benchmarks/expand.py [--hidden 30] [--epochs 10] [--scaled] [--handwriting]

It appends its result, with the command that produced it, to
``benchmarks/results/expand.txt``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import record  # benchmarks/_results.py, beside this script

import nndl
from nndl import Network
from nndl import expand as E


def seconds(f, repeat: int) -> float:
    """The median time of ``repeat`` calls of ``f``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cost_lines(data, repeat: int) -> list[str]:
    images = data.train.images
    E.epoch_images(images[:10], 0, 0)  # compile
    compiled = seconds(lambda: E.epoch_images(images, 0, 0), repeat)
    params = E.draw_distortions(len(images), np.random.default_rng(0))
    out = np.zeros_like(images)
    plain = seconds(lambda: E.distort_numpy(images, params, out), 1)
    lines = [
        f"  distort 50,000 digits, Numba ({E.numba.get_num_threads() if E.numba else 0} threads): {compiled:.3f} s",
        f"  distort 50,000 digits, NumPy alone: {plain:.2f} s",
    ]
    expanded = E.epoch_images(images, 0, 0)
    for hidden in (30, 100):
        net = Network([784, hidden, 10], seed=0, dtype=np.float32)
        net.SGD(data.train.head(1000), 1, 10, 3.0, log=None)  # compile
        for name, x in (("plain", images), ("expanded", expanded)):
            epoch = seconds(lambda x=x, net=net: net.SGD((x, data.train.labels), 1, 10, 3.0, log=None), repeat)
            lines.append(f"  one epoch of SGD, 784 {hidden} 10, mini-batch 10, on {name} digits: {epoch:.3f} s")
    lines.append(
        f"  nonzero pixels per digit: {np.count_nonzero(images) / len(images):.0f} plain, "
        f"{np.count_nonzero(expanded) / len(images):.0f} expanded"
    )
    return lines


def effect_lines(data, hidden: int, epochs: int, scaled: bool, handwriting: bool) -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for expanded in (False, True):
            net = Network([784, hidden, 10], seed=0, dtype=np.float32)
            if scaled:
                net.weights = [w / np.float32(np.sqrt(w.shape[1])) for w in net.weights]
            if expanded:
                E.sgd(net, data.train, epochs, 10, 3.0, seed=0, log=None)
            else:
                net.SGD(data.train, epochs, 10, 3.0, log=None)
            name = "expanded" if expanded else "plain"
            score = net.evaluate(data.test)
            init = "N(0, 1/n_in)" if scaled else "N(0, 1)"
            line = f"  784 {hidden} 10, {init}, {epochs} epochs, {name:8}: MNIST test {score} / 10000"
            if handwriting:
                model = net.save(Path(tmp) / f"{name}.npz")
                line += ", handwriting " + ", ".join(f"{k} {v}" for k, v in read_handwriting(model).items())
            lines.append(line)
    return lines


def read_handwriting(model: Path) -> dict[str, str]:
    bench = Path(__file__).with_name("handwriting.py")
    r = subprocess.run([sys.executable, str(bench), "--model", str(model)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"benchmarks/handwriting.py failed: {r.stderr.strip()}")
    return {s: f"{p} %" for s, p in re.findall(r"^  (\S+) +all +: .*\( *([\d.]+) %\)", r.stdout, re.M)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=30, help="hidden neurons of the compared networks (default: 30)")
    p.add_argument("--epochs", type=int, default=10, help="epochs of the compared runs (default: 10)")
    p.add_argument("--repeat", type=int, default=5, help="timings are the median of this many (default: 5)")
    p.add_argument("--scaled", action="store_true", help="start the weights as N(0, 1/n_in) rather than N(0, 1)")
    p.add_argument("--handwriting", action="store_true", help="also score both on benchmarks/handwriting.py")
    args = p.parse_args()
    data = nndl.load()
    lines = ["expanded data, cost:", *cost_lines(data, args.repeat), "expanded data, effect:"]
    lines += effect_lines(data, args.hidden, args.epochs, args.scaled, args.handwriting)
    report = "\n".join(lines)
    print(report)
    record("expand", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
