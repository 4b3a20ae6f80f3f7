"""The ``numpy`` engine against the straightforward vectorized NumPy that
``nndl bench`` lists as a peer, on the notebook's configuration ([784, 30,
10], mini-batch 10, eta 3.0), in one process, alternating: each round times
``--epochs`` epochs of each and keeps the medians; the report gives each
round and the median ratio of the rounds.

    python benchmarks/numpy_engine.py [--dtype float32] [--rounds 3] [--epochs 5]
        [--output benchmarks/results/numpy_engine.txt]

An epoch of nndl is what ``Network.SGD`` times (``EpochResult.seconds``: one
call to the engine for the whole shuffled epoch); an epoch of the peer is its
``epoch()``, its shuffle included.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from nndl import Network, data
from nndl.bench.peers import vectorized_numpy
from nndl.loop import train_range

SIZES, BATCH, ETA = [784, 30, 10], 10, 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5, help="epochs of each per round (default: 5)")
    parser.add_argument("--output", type=Path, help="also write the report here")
    args = parser.parse_args()

    mnist = data.load()
    X, labels = mnist.train.images, mnist.train.labels
    net = Network(SIZES, seed=0, dtype=args.dtype, engine="numpy")
    targets = np.eye(SIZES[-1], dtype=args.dtype)[labels]
    n_batches = -(-len(X) // BATCH)
    peer_epoch, _ = vectorized_numpy(X, labels, mnist.test.images, mnist.test.labels, SIZES, BATCH, ETA, args.dtype, 0)

    def nndl_epoch() -> float:
        order = net.rng.permutation(len(X))
        start = time.perf_counter()
        with np.errstate(over="raise", invalid="raise"):  # as Network.SGD trains
            train_range(net, X, targets, order, BATCH, ETA, 0, n_batches)
        return time.perf_counter() - start

    def timed_peer_epoch() -> float:
        start = time.perf_counter()
        with np.errstate(over="ignore"):  # its np.exp overflows to inf, harmlessly: no warnings
            peer_epoch()
        return time.perf_counter() - start

    lines = [
        f"python {' '.join(sys.argv)}",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
        f"load average at the start {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"{SIZES}, mini-batch {BATCH}, eta {ETA}, {args.dtype}; seconds per epoch, median of {args.epochs}",
    ]
    ratios = []
    for r in range(args.rounds):
        ours = statistics.median(nndl_epoch() for _ in range(args.epochs))
        theirs = statistics.median(timed_peer_epoch() for _ in range(args.epochs))
        ratios.append(ours / theirs)
        lines.append(f"round {r}: nndl numpy {ours:.4f}, vectorized NumPy {theirs:.4f}, ratio {ours / theirs:.3f}")
        print(lines[-1], flush=True)
    ratio = statistics.median(ratios)
    lines.append(f"median ratio {ratio:.3f}: nndl numpy takes {ratio:.0%} of the peer's time ({1 / ratio:.2f}x faster)")
    print(lines[-1])
    if args.output:
        args.output.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
