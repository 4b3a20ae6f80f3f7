"""What ``nndl bench`` measures: one :class:`Job` per implementation and
configuration, each run in a fresh process (:mod:`nndl.bench.worker`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

#: Training images in an epoch of the notebook's run.
FULL = 50_000
#: The notebook's configuration, and its number of epochs.
SIZES, BATCH, ETA, EPOCHS = (784, 30, 10), 10, 3.0, 10


@dataclass
class Job:
    """One measurement: an nndl engine (``kind`` "nndl"), a peer ("peer"),
    or ``nndl train``'s own path ("train"), on one configuration."""

    label: str
    kind: str
    name: str  # engine or peer name
    dtype: str = "float64"
    hidden: int = 30
    batch: int = BATCH
    n: int = FULL
    epochs: int = EPOCHS
    cold: bool = False  # compile without Numba's cache
    evaluate: bool = True  # on the test set after each epoch, as nndl train does
    spawned: float = 0.0  # time.time() when the process was started

    def spec(self) -> str:
        return json.dumps(asdict(self))

    @property
    def whole(self) -> bool:
        """Whether the job is a whole run of the notebook's configuration
        (else its whole-run time is estimated from its parts)."""
        return self.n == FULL and self.epochs == EPOCHS and self.evaluate


def flops_per_example(sizes: Sequence[int]) -> int:
    """Dense floating-point operations to train on one example: per layer,
    ``2 n_in n_out`` each for ``w a``, ``delta a^T`` and ``w^T delta``,
    the last not needed for the first layer."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return sum(6 * i * o for i, o in pairs) - 2 * pairs[0][0] * pairs[0][1]


def peer_jobs(quick: bool) -> list[Job]:
    """Every implementation on the notebook's configuration: whole runs
    where they take seconds, a subset of the images otherwise."""
    n_small = 300 if quick else 5000
    n_mid = 300 if quick else 10_000
    full = n_mid if quick else FULL
    epochs = 2 if quick else EPOCHS
    few = 2 if quick else 3
    jobs = [
        Job("nndl auto (default)", "nndl", "auto", "float32", n=full, epochs=epochs),
        Job("nndl auto", "nndl", "auto", "float64", n=full, epochs=epochs),
        Job("nndl numba, cold compile", "nndl", "numba", "float32", epochs=2, n=n_mid, cold=True, evaluate=False),
        Job("nndl numpy", "nndl", "numpy", n=full, epochs=epochs),
        Job("nndl numpy", "nndl", "numpy", "float32", n=full, epochs=epochs),
        Job("nndl reference", "nndl", "reference", n=full, epochs=few),
        Job("nndl torch (cpu)", "nndl", "torch", epochs=few, n=n_mid),
        Job("book's algorithm, np.vectorize sigmoid", "peer", "book", epochs=few, n=n_small // 2),
        Job("book's algorithm, np.exp sigmoid", "peer", "book-exp", epochs=few, n=n_small),
        Job("vectorized NumPy", "peer", "numpy", n=full, epochs=epochs),
        Job("vectorized NumPy", "peer", "numpy", "float32", n=full, epochs=epochs),
        Job("scikit-learn MLPClassifier", "peer", "sklearn", epochs=few, n=n_mid),
        Job("PyTorch CPU", "peer", "torch", "float32", epochs=few, n=n_mid),
        Job("PyTorch CPU", "peer", "torch", epochs=few, n=n_mid),
        Job("JAX lax.scan", "peer", "jax", "float32", n=full, epochs=epochs),
        Job("JAX lax.scan", "peer", "jax", n=full, epochs=epochs),
    ]
    if quick:  # each implementation once
        once: dict[str, Job] = {}
        for j in jobs:
            if not j.cold:
                once.setdefault(j.label, j)
        jobs = list(once.values())
    return jobs


def sweep_jobs(quick: bool) -> list[Job]:
    """nndl's engines over mini-batch x hidden, in float32, without evaluation."""
    batches, hiddens = ((10, 100), (30,)) if quick else ((10, 100, 1000), (30, 100, 1000))
    n = 300 if quick else FULL
    jobs = []
    for h in hiddens:
        for m in batches:
            for engine in ("numba", "numpy"):
                jobs.append(
                    Job(f"{engine} m={m} H={h}", "nndl", engine, "float32", h, m, n, 2 if quick else 3, evaluate=False)
                )
    return jobs
