"""One measurement in a fresh process: ``python -m nndl.bench.worker SPEC``.

The process does what a user's script would -- imports, loads MNIST, trains
epoch after epoch, evaluating on the test set after each, exits -- and
prints one JSON line with the time each part took.  Times are wall-clock
seconds; ``imports`` counts from the moment the runner started the process
(``spawned`` in the spec), so it holds starting Python too.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import tempfile
import time
from typing import cast

from .jobs import ETA, SIZES, Job


def measure(job: Job) -> dict:
    """Run ``job`` and say how long each part took."""
    if job.cold:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="nndl-bench-")
    if job.kind == "train":
        return _nndl_train(job)
    _import(job)
    imports = time.time() - job.spawned
    import numpy as np

    from ..data import load

    t = time.perf_counter()
    data = load()
    images, labels = data.train.images[: job.n], data.train.y[: job.n]
    sizes = (SIZES[0], job.hidden, SIZES[-1])
    if job.kind == "peer":
        from .peers import PEERS

        build = PEERS[job.name][0]
        X_test, y_test = data.test.X(job.dtype), data.test.y
        epoch, evaluate = build(
            data.train.X(job.dtype)[: job.n], labels, X_test, y_test, sizes, job.batch, ETA, job.dtype, 0
        )
    else:
        from .. import engines
        from ..loop import train_epoch
        from ..network import Network

        net = Network(sizes, seed=0, dtype=job.dtype, engine=job.name)
        targets = np.eye(sizes[-1], dtype=job.dtype)[labels]
        score = engines.evaluator(net, images, job.batch)

        def epoch() -> None:
            train_epoch(net, images, targets, job.batch, ETA)

        def evaluate() -> int:
            return score(data.test.images, data.test.y)[0]

    data_s = time.perf_counter() - t
    epochs, evals, correct = [], [], 0
    for _ in range(job.epochs):
        t = time.perf_counter()
        epoch()
        epochs.append(time.perf_counter() - t)
        if job.evaluate:
            t = time.perf_counter()
            correct = evaluate()
            evals.append(time.perf_counter() - t)
    return {
        "imports": imports,
        "data": data_s,
        "epochs": epochs,
        "evals": evals,
        "accuracy": correct / len(data.test),
        "peak_mb": peak_mb(),
        "end": time.time() - job.spawned,
    }


def _import(job: Job) -> None:
    """Import the libraries the job trains with, so start-up counts them."""
    import importlib

    if job.kind == "peer":
        from .peers import PEERS

        module = PEERS[job.name][1]
        if module:
            importlib.import_module(module)
        return
    from .. import loop, network  # noqa: F401

    if job.name in ("numba", "auto") and importlib.util.find_spec("numba"):
        import numba  # noqa: F401
    if job.name == "torch":
        import torch  # noqa: F401


def _nndl_train(job: Job) -> dict:
    """``nndl train`` with its defaults, step by step as the command runs
    it, with the time of each step: imports, data, engine load (choosing
    and importing the engine, then the first epoch's time beyond a usual
    one), training and evaluation."""
    import statistics

    from .. import cli, engines  # noqa: F401 (what the command imports)
    from ..train import TrainConfig, on_engine

    imports = time.time() - job.spawned
    from ..data import load

    config = TrainConfig(epochs=job.epochs)
    t = time.perf_counter()
    data = load()
    data_s = time.perf_counter() - t
    t = time.perf_counter()
    net = on_engine(None, config)
    engines.select(net, data.train.images, config.batch_size)  # chooses (and loads) the engine, as SGD does first
    engine_s = time.perf_counter() - t
    t = time.perf_counter()
    history = net.SGD(
        data.train, config.epochs, config.batch_size, cast(float, config.eta), test_data=data.test, log=None
    )
    sgd_s = time.perf_counter() - t
    epochs = [e.seconds for e in history]
    usual = statistics.median(epochs[1:] or epochs)
    first = max(epochs[0] - usual, 0.0)
    return {
        "imports": imports,
        "data": data_s,
        "engine": engine_s + first,
        "training": sum(epochs) - first,
        "evaluation": sgd_s - sum(epochs),
        "epochs": epochs,
        "accuracy": history[-1].accuracy,
        "peak_mb": peak_mb(),
        "end": time.time() - job.spawned,
    }


def peak_mb() -> float:
    """This process's peak resident memory in MB since it became Python:
    Linux's ``VmHWM``, else ``ru_maxrss`` (which on Linux also counts what
    the process held before it started Python)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return usage / 2**20 if sys.platform == "darwin" else usage / 1024  # bytes on macOS, KiB elsewhere


if __name__ == "__main__":
    print(json.dumps(measure(Job(**json.loads(sys.argv[1])))))
    if json.loads(sys.argv[1])["kind"] == "train":
        gc.freeze()  # as the nndl command ends (nndl.cli.command)
