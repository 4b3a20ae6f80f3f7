"""Grids of training runs over the chapter's knobs, on this machine or a Dask cluster.

The chapter invites experiments: eta = 0.001 learns almost nothing, eta =
100 too; 100 hidden neurons beat 30.  :func:`sweep` trains one network per
point of a grid (every combination of learning rate, hidden-layer size and
seed) and returns a row per run; :func:`write_csv` and :func:`plot` turn the
rows into a table and a picture of accuracy against eta.

The runs are independent, so they are handed to joblib: to worker
processes on this machine (``jobs``), or, given the address of a Dask
scheduler, to its workers through ``dask.distributed``.  Each run loads its
data itself (the bundled MNIST is in every worker's nndl), so nothing big
travels over the network but the settings and the rows.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, cast

from .data import Dataset, check_limit, load
from .errors import ConfigError, NNDLError, require
from .files import atomic_write, check_output
from .loop import DivergedError
from .train import TrainConfig, train

if TYPE_CHECKING:
    from distributed import Client

#: The most runs one sweep may hold, and the most local worker processes.
MAX_RUNS = 10_000
MAX_JOBS = 256
#: How long to try to reach a Dask scheduler before giving up.
DASK_TIMEOUT = "10s"

#: The columns of a sweep's table, in order.
COLUMNS = [
    "eta",
    "hidden",
    "epochs",
    "batch_size",
    "seed",
    "train_size",
    "final_accuracy",
    "best_accuracy",
    "best_epoch",
    "seconds",
    "status",
]


def grid(
    etas: Sequence[float],
    hidden: Sequence[int],
    epochs: int = 10,
    seeds: Sequence[int] = (0,),
    batch_size: int = 10,
    data: str | None = None,
) -> list[TrainConfig]:
    """One :class:`TrainConfig` per combination of ``etas``, ``hidden``
    (the width of the one hidden layer) and ``seeds``, each checked.

    The input and output layers are as wide as the images and the classes
    of the data set at ``data`` (None: the bundled MNIST).
    """
    for name, values in (("eta", etas), ("hidden", hidden), ("seed", seeds)):
        if len(values) == 0:
            raise ConfigError(f"{name} needs at least one value, got none")
    n_runs = len(etas) * len(hidden) * len(seeds)
    if n_runs > MAX_RUNS:
        raise ConfigError(f"the grid holds {n_runs:,} runs; at most {MAX_RUNS:,} are allowed")
    for h in hidden:
        if not (isinstance(h, int) and h >= 1):
            raise ConfigError(f"hidden sizes must be positive integers, got {h!r}")
    shape = load(data)
    configs = [
        TrainConfig(
            sizes=(shape.n_inputs, h, shape.n_classes),
            epochs=epochs,
            batch_size=batch_size,
            eta=eta,
            seed=seed,
            data=data,
        )
        for h in hidden
        for eta in etas
        for seed in seeds
    ]
    for c in configs:
        c.validate()
    return configs


def run(config: TrainConfig, limit_train: int | None = None) -> dict:
    """Train the network ``config`` describes and return its row of the table.

    It trains on the first ``limit_train`` training images (all of them
    for None) and scores on the test images after every epoch.  A run whose
    weights stop being finite is recorded with status ``diverged`` rather
    than ending the sweep.
    """
    data = load(config.data)
    if limit_train is not None:
        data = Dataset(data.train.head(limit_train), data.validation, data.test, data.name)
    row = {
        "eta": config.eta,
        "hidden": config.sizes[1],
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "train_size": len(data.train),
    }
    t0 = time.perf_counter()
    try:
        _, history = train(config, data=data, log=None)
    except DivergedError:
        scores = {"final_accuracy": math.nan, "best_accuracy": math.nan, "best_epoch": -1, "status": "diverged"}
    else:
        accuracy = history.accuracy
        best = max(range(len(accuracy)), key=lambda j: cast(float, accuracy[j]))
        scores = {"final_accuracy": accuracy[-1], "best_accuracy": accuracy[best], "best_epoch": best, "status": "ok"}
    return {**row, **scores, "seconds": round(time.perf_counter() - t0, 3)}


def sweep(
    configs: Sequence[TrainConfig],
    *,
    jobs: int = 1,
    dask: str | None = None,
    limit_train: int | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict]:
    """Run every config and return their rows, in the order of ``configs``.

    With ``dask`` (a scheduler address such as ``tcp://10.0.0.5:8786``) the
    runs go to that cluster's workers; otherwise to ``jobs`` processes here
    (``-1``: one per CPU).  ``log`` receives a line as the sweep starts and
    one as each run finishes, in whatever order they finish.
    """
    joblib = require("joblib", "nndl sweep", "sweep")
    if not (isinstance(jobs, int) and (jobs == -1 or 1 <= jobs <= MAX_JOBS)):
        raise ConfigError(f"jobs must be -1 (one per CPU) or an integer from 1 to {MAX_JOBS}, got {jobs!r}")
    check_limit(limit_train)
    tasks = [joblib.delayed(_indexed_run)(i, c, limit_train) for i, c in enumerate(configs)]
    rows: list[dict | None] = [None] * len(tasks)

    def collect(results: Iterable[tuple[int, dict]]) -> None:
        for done, (i, row) in enumerate(results, 1):
            rows[i] = row
            if log is not None:
                log(f"[{done}/{len(tasks)}] {row_line(row)}")

    if dask is None:
        if log is not None:
            log(f"Sweeping {len(tasks)} runs, {jobs if jobs > 0 else 'one per CPU'} at a time")
        collect(joblib.Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks))
    else:
        distributed = require("dask.distributed", "nndl sweep --dask", "dask")
        with _client(distributed, dask) as client, joblib.parallel_config(backend="dask", client=client):
            if log is not None:
                log(f"Sweeping {len(tasks)} runs on the Dask cluster at {dask}")
            collect(joblib.Parallel(n_jobs=-1, return_as="generator_unordered")(tasks))
    return cast(list[dict], rows)  # every run has given its row


def row_line(row: dict) -> str:
    """One run's settings and result on one line."""
    note = "" if row["status"] == "ok" else f", {row['status']}"
    return (
        f"eta {row['eta']:g}, hidden {row['hidden']}, seed {row['seed']}: "
        f"{100 * row['final_accuracy']:.2f} % (best {100 * row['best_accuracy']:.2f} %), {row['seconds']:.1f} s{note}"
    )


def _indexed_run(i: int, config: TrainConfig, limit_train: int | None) -> tuple[int, dict]:
    return i, run(config, limit_train)


def _client(distributed: ModuleType, address: str) -> Client:
    """A client of the scheduler at ``address``, or a one-line error."""
    from distributed.comm import registry
    from distributed.comm.addressing import parse_address

    scheme, _ = parse_address(address)
    if scheme not in registry.backends:
        raise ConfigError(f"dask must be a scheduler address such as tcp://HOST:8786, got {address!r}")
    try:
        return distributed.Client(address, timeout=DASK_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise NNDLError(f"cannot reach the Dask scheduler at {address!r}: {e}") from None


def write_csv(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """Write the rows as a CSV table (columns :data:`COLUMNS`), atomically."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write(path, lambda f: f.write(text.getvalue().encode()))


def plot(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """Draw final test accuracy against eta (log scale), one line per hidden
    size, the mean over seeds with their range shaded; write it atomically
    (the format follows ``path``'s suffix: .png, .svg, .pdf)."""
    fmt = _plot_format(path)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for h in sorted({r["hidden"] for r in rows}):
        etas = sorted({r["eta"] for r in rows if r["hidden"] == h})
        runs = [[100 * r["final_accuracy"] for r in rows if r["hidden"] == h and r["eta"] == e] for e in etas]
        ax.plot(etas, [sum(a) / len(a) for a in runs], marker="o", label=f"{h} hidden neurons")
        ax.fill_between(etas, [min(a) for a in runs], [max(a) for a in runs], alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate eta")
    ax.set_ylabel("test accuracy after the last epoch (%)")
    epochs = sorted({r["epochs"] for r in rows})
    ax.set_title(f"Accuracy against eta ({', '.join(map(str, epochs))} epochs)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt))


def check_outputs(out: str | os.PathLike, plot_path: str | os.PathLike | None = None) -> None:
    """Check that the table (and the plot) can be written, before any run
    starts: a sweep is too long to lose at the end."""
    check_output(out)
    if plot_path is not None:
        check_output(plot_path)
        _plot_format(plot_path)


def _plot_format(path: str | os.PathLike) -> str:
    """The image format ``path``'s suffix names (png when it has none)."""
    require("matplotlib", "nndl sweep --plot", "plots")
    from matplotlib.figure import Figure

    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    known = Figure().canvas.get_supported_filetypes()
    if fmt not in known:
        raise ConfigError(f"plot must end in one of {', '.join('.' + k for k in sorted(known))}, got {str(path)!r}")
    return fmt
