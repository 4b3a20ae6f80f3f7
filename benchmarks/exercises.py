"""The chapter's exercises on the MNIST network, measured with nndl
(``docs/guide/exercises.md`` quotes these numbers).

- No hidden layer: ``nndl train --sizes 784 10`` (eta 3.0, mini-batch 10),
  the test accuracy after 1, 3 and 10 epochs, for seeds 0 to ``--seeds - 1``.
- Online learning: ``nndl train --batch-size 1`` against ``nndl train``
  (mini-batch 10), both seed 0, at eta 3.0 and at eta 0.3 for mini-batch 1
  (the same step per example as mini-batch 10 at eta 3.0): the median over
  ``--repeat`` runs of each run's median seconds per epoch, and the accuracy
  after 10 epochs (the same every run: the same seed); and the seconds per
  epoch of mini-batches of 1 and 10 on the plain NumPy engine.
- The 4-bit output layer: :func:`nndl.exercises.binary_layer` on the
  network ``nndl train`` trains, its bit accuracy on the 10,000 test digits.

Run::

    python benchmarks/exercises.py [--repeat 3] [--seeds 5]

It appends its result, with the command that produced it, to
``benchmarks/results/exercises.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

from _results import record  # benchmarks/_results.py, beside this script

import nndl
from nndl.exercises import binary_layer, bit_accuracy


def run(**settings):
    return nndl.train(nndl.TrainConfig(**settings), log=None)


def no_hidden_layer(seeds: int) -> list[str]:
    lines = ["No hidden layer: nndl train --sizes 784 10 --seed S (10 epochs, mini-batch 10, eta 3.0)"]
    for seed in range(seeds):
        history = run(sizes=(784, 10), seed=seed)[1]
        after = ", ".join(f"{n} epochs {100 * history.accuracy[n - 1]:.2f} %" for n in (1, 3, 10))
        lines.append(f"  seed {seed}: {after}")
    return lines


def online(repeat: int) -> list[str]:
    lines = [f"Online learning against mini-batches of 10, seed 0, 10 epochs, median of {repeat} runs"]
    for batch, eta in ((10, 3.0), (1, 3.0), (1, 0.3)):
        times, accuracy = [], None
        for _ in range(repeat):
            history = run(batch_size=batch, eta=eta)[1]
            times.append(statistics.median(e.seconds for e in history))
            accuracy = history.accuracy
        assert accuracy is not None
        lines.append(
            f"  nndl train --batch-size {batch} --eta {eta}: {statistics.median(times):.3f} s per epoch "
            f"(runs: {', '.join(f'{t:.3f}' for t in times)}), after 1 epoch {100 * accuracy[0]:.2f} %, "
            f"after 10 {100 * accuracy[-1]:.2f} %, best {100 * max(accuracy):.2f} %"
        )
    lines.append("  the same steps on the plain NumPy engine (one NumPy call per layer per mini-batch), 2 epochs:")
    for batch in (10, 1):
        times = [
            statistics.median(e.seconds for e in run(batch_size=batch, engine="numpy", epochs=2)[1])
            for _ in range(repeat)
        ]
        lines.append(
            f"  nndl train --batch-size {batch} --engine numpy --epochs 2: {statistics.median(times):.3f} s per epoch"
        )
    return lines


def binary() -> list[str]:
    net, history = run()
    data = nndl.load()
    bits, digits = bit_accuracy(binary_layer(net), data.test)
    return [
        "The 4-bit output layer on nndl train's network (784 30 10, seed 0)",
        f"  the network: {net.evaluate(data.test)} / 10000 by its most active output",
        f"  with binary_layer: {100 * bits:.2f} % of the 40,000 bits right,"
        f" all four bits right for {100 * digits:.2f} %",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per setting for the times (default 3)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the network without a hidden layer")
    args = parser.parse_args()
    run(epochs=1)  # loads the compiled engine once, outside every timing
    lines = [f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, nndl {nndl.__version__}"]
    lines += no_hidden_layer(args.seeds) + online(args.repeat) + binary()
    report = "\n".join(lines)
    print(report)
    print("appended to", record("exercises", report))


if __name__ == "__main__":
    main()
