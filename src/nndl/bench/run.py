"""``nndl bench``: training speed of nndl's engines and of what users would
pick instead, measured in one run on one machine.

Every measurement runs in a fresh Python process (``python -m
nndl.bench.run --worker SPEC``), which reports as one JSON line:

* ``startup`` -- starting Python and importing nndl and the library that
  trains (measured from outside, as the process's time before loading data);
* ``load`` -- loading MNIST and converting it to that library's format;
* ``warmup`` -- the first epoch's extra time over the median (compilation,
  caches);
* ``epochs`` -- seconds of each epoch; the table shows the median of all
  but the first;
* ``peak_mb`` -- the process's peak resident memory (``ru_maxrss``).

Slow peers train on a subset and their times are scaled to 50,000 images
(the table says so).  Achieved GFLOP/s counts the dense arithmetic of
forward pass, backpropagation and gradients, ``6 n_in n_out`` per example
and layer (less the first layer's unneeded ``delta^0``), whatever a
library actually does, and is compared with the float32 matrix-multiply
peak measured at the start of the run.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Training images in an epoch of the notebook's run.
FULL = 50_000
#: The notebook's configuration.
SIZES, BATCH, ETA = (784, 30, 10), 10, 3.0


@dataclass
class Job:
    """One measurement: an nndl engine or a peer on one configuration."""

    label: str
    kind: str  # "nndl", "peer" or "train"
    name: str  # engine or peer name
    dtype: str = "float64"
    hidden: int = 30
    batch: int = BATCH
    n: int = FULL
    epochs: int = 5
    cold: bool = False  # compile without Numba's cache

    def spec(self) -> str:
        return json.dumps(self.__dict__)


def flops_per_example(sizes) -> int:
    """Dense floating-point operations to train on one example: per layer,
    ``2 n_in n_out`` each for ``w a``, ``delta a^T`` and ``w^T delta``,
    the last not needed for the first layer."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return sum(6 * i * o for i, o in pairs) - 2 * pairs[0][0] * pairs[0][1]


def matmul_peak(dtype, size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of NumPy's (BLAS's) best ``size x size`` matrix product."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size)).astype(dtype) for _ in range(2))
    out = a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


# -- the worker: one measurement in a fresh process --------------------------


def _worker(job: Job) -> dict:
    if job.cold:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="nndl-bench-")
    # the libraries the job trains with, imported now so start-up counts them
    if job.kind == "peer":
        from . import peers

        build, module, _ = peers.PEERS[job.name]
        if module:
            importlib.import_module(module)
    else:
        from ..loop import train_epoch
        from ..network import Network

        if job.name in ("numba", "auto") and importlib.util.find_spec("numba"):
            import numba  # noqa: F401
        if job.name == "torch":
            import torch  # noqa: F401
    if job.kind == "train":
        return _train_worker(job.epochs)

    t = time.perf_counter()
    from ..data import load

    data = load()
    images, labels = data.train.images[: job.n], data.train.y[: job.n]
    sizes = (SIZES[0], job.hidden, SIZES[-1])
    if job.kind == "peer":
        epoch = build(data.train.X(job.dtype)[: job.n], labels, sizes, job.batch, ETA, job.dtype, 0)
    else:
        net = Network(sizes, seed=0, dtype=job.dtype, engine=job.name)
        targets = np.eye(sizes[-1], dtype=job.dtype)[labels]

        def epoch():
            train_epoch(net, images, targets, job.batch, ETA)

    load_s = time.perf_counter() - t
    times = []
    for _ in range(job.epochs):
        t = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t)
    return {"load": load_s, "epochs": times, "peak_mb": _peak_mb()}


def _train_worker(epochs: int) -> dict:
    """``nndl train`` with its defaults, as the command runs it."""
    from ..train import TrainConfig, train

    t = time.perf_counter()
    _, history = train(TrainConfig(epochs=epochs), log=None)
    return {
        "load": 0.0,
        "total": time.perf_counter() - t,
        "epochs": [e.seconds for e in history],
        "accuracy": history[-1].accuracy,
        "peak_mb": _peak_mb(),
    }


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _run(job: Job, timeout: float = 900) -> dict:
    """Run ``job`` in a fresh process; its ``startup`` is the process's time
    before loading data: the interpreter, nndl and the library it uses."""
    t = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "nndl.bench.run", "--worker", job.spec()],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    result = json.loads(r.stdout.strip().splitlines()[-1])
    work = result["load"] + result.get("total", sum(result["epochs"]))
    result["startup"] = time.perf_counter() - t - work
    return result


# -- the run: jobs, table, report ---------------------------------------------


def peer_jobs(quick: bool) -> list[Job]:
    """Every implementation on the notebook's configuration."""
    n_small = 300 if quick else 5000
    n_mid = 300 if quick else 10_000
    epochs = 2 if quick else 5
    few = 2 if quick else 3
    jobs = [
        Job("nndl auto (default)", "nndl", "auto", "float32", epochs=epochs, n=n_mid if quick else FULL),
        Job("nndl auto", "nndl", "auto", "float64", epochs=epochs, n=n_mid if quick else FULL),
        Job("nndl numba, cold compile", "nndl", "numba", "float32", epochs=2, n=n_mid, cold=True),
        Job("nndl numpy", "nndl", "numpy", epochs=epochs, n=n_mid if quick else FULL),
        Job("nndl numpy", "nndl", "numpy", "float32", epochs=epochs, n=n_mid if quick else FULL),
        Job("nndl reference", "nndl", "reference", epochs=few, n=n_mid if quick else FULL),
        Job("nndl torch (cpu)", "nndl", "torch", epochs=few, n=n_mid),
        Job("book's algorithm, np.vectorize sigmoid", "peer", "book", epochs=few, n=n_small // 2),
        Job("book's algorithm, np.exp sigmoid", "peer", "book-exp", epochs=few, n=n_small),
        Job("vectorized NumPy", "peer", "numpy", epochs=few, n=n_mid if quick else FULL),
        Job("vectorized NumPy", "peer", "numpy", "float32", epochs=few, n=n_mid if quick else FULL),
        Job("scikit-learn MLPClassifier", "peer", "sklearn", epochs=few, n=n_mid),
        Job("PyTorch CPU", "peer", "torch", "float32", epochs=few, n=n_mid),
        Job("PyTorch CPU", "peer", "torch", epochs=few, n=n_mid),
        Job("JAX lax.scan", "peer", "jax", "float32", epochs=few, n=n_mid if quick else FULL),
        Job("JAX lax.scan", "peer", "jax", epochs=few, n=n_mid if quick else FULL),
    ]
    if quick:  # each implementation once
        seen: set = set()
        jobs = [j for j in jobs if not j.cold and not (j.label in seen or seen.add(j.label))]
    return jobs


def sweep_jobs(quick: bool) -> list[Job]:
    """nndl's engines over mini-batch x hidden, in float32."""
    batches, hiddens = ((10, 100), (30,)) if quick else ((10, 100, 1000), (30, 100, 1000))
    n = 300 if quick else FULL
    jobs = []
    for h in hiddens:
        for m in batches:
            for engine in ("numba", "numpy"):
                jobs.append(Job(f"{engine} m={m} H={h}", "nndl", engine, "float32", h, m, n, 2 if quick else 3))
    return jobs


def _installed(job: Job) -> str | None:
    """None if the job can run here, else the command that installs what it needs."""
    from . import peers

    if job.kind == "peer":
        _, module, command = peers.PEERS[job.name]
    else:
        module, command = {"numba": ("numba", 'pip install "nndl[fast]"'), "torch": ("torch", "pip install torch")}.get(
            job.name, (None, None)
        )
    if module and importlib.util.find_spec(module) is None:
        return command
    return None


def _median_epoch(result: dict, job: Job) -> float:
    times = result["epochs"][1:] or result["epochs"]
    return statistics.median(times) * FULL / job.n


def run(quick: bool = False, only: list[str] | None = None, say: Callable[[str], None] = print) -> str:
    """Run the benchmark and return its report (Markdown).  ``only`` keeps
    the implementations named (nndl engines and peers, e.g. ``numba``,
    ``book``, ``jax``)."""
    say("measuring the matrix-multiply peak ...")
    size = 1024 if quick else 2048
    peak32, peak64 = matmul_peak(np.float32, size), matmul_peak(np.float64, size)
    rows, sweep = [], []
    default = None
    for job in peer_jobs(quick):
        if only and job.name not in only:
            continue
        missing = _installed(job)
        if missing:
            rows.append((job, None, f"skipped: not installed ({missing})"))
            continue
        say(f"{job.label} ({job.dtype}) ...")
        result = _run(job)
        rows.append((job, result, result.get("error")))
        if job.label.endswith("(default)") and "error" not in result:
            default = _median_epoch(result, job)
    say("nndl train (defaults) ...")
    whole = _run(Job("nndl train", "train", "auto", epochs=1 if quick else 10))
    for job in sweep_jobs(quick):
        if _installed(job) or (only and job.name not in only and "auto" not in only):
            continue
        say(f"sweep {job.label} ...")
        sweep.append((job, _run(job)))
    return report(rows, sweep, whole, default, (peak32, peak64, size), quick)


def report(rows, sweep, whole, default, peaks, quick) -> str:
    """The Markdown tables of a run."""
    peak32, peak64, size = peaks
    per_epoch = FULL * flops_per_example(SIZES) / 1e9
    lines = [
        "| implementation | dtype | s / epoch | x nndl default | GFLOP/s | % f32 peak | warm-up s | start-up s "
        "| load s | peak MB | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for job, result, problem in rows:
        if problem:
            lines.append(f"| {job.label} | {job.dtype} | | | | | | | | | {problem} |")
            continue
        s = _median_epoch(result, job)
        ratio = s / default if default else float("nan")
        gflops = per_epoch / s
        warmup = max(result["epochs"][0] - statistics.median(result["epochs"][1:] or result["epochs"]), 0)
        note = f"{job.n:,} images, scaled to {FULL:,}" if job.n < FULL else ""
        if job.cold:
            note = "compiles from scratch (no cache)"
        lines.append(
            f"| {job.label} | {job.dtype} | {s:.3f} | {ratio:.1f} | {gflops:.1f} | {100 * gflops / peak32:.1f} "
            f"| {warmup:.2f} | {result['startup']:.2f} | {result['load']:.2f} | {result['peak_mb']:.0f} "
            f"| {note} |"
        )
    out = ["## The notebook's configuration: [784, 30, 10], mini-batch 10, eta 3.0", "", *lines, ""]
    out += _speedups(rows)
    if "error" in whole:
        out += [f"`nndl train` with defaults failed: {whole['error']}", ""]
    else:
        out += [
            f"`nndl train` with defaults ({_count(len(whole['epochs']), 'epoch')}, float32, evaluated on the test "
            f"set after each): {whole['total']:.2f} s in all after {whole['startup']:.2f} s of start-up, median "
            f"{statistics.median(whole['epochs']):.3f} s per epoch, final accuracy {100 * whole['accuracy']:.2f} %, "
            f"peak memory {whole['peak_mb']:.0f} MB.",
            "",
        ]
    out += [
        "## nndl over mini-batch size m and hidden layer H (float32)",
        "",
        "| m | H | numba s / epoch | numpy s / epoch | auto picks | GFLOP/s (auto) | % f32 peak |",
        "|---:|---:|---:|---:|---|---:|---:|",
    ]
    by_config: dict = {}
    for job, result in sweep:
        by_config.setdefault((job.batch, job.hidden), {})[job.name] = (job, result)
    from ..engines import prefers_numba

    for (m, h), engines in sorted(by_config.items()):
        cells, times = [], {}
        for name in ("numba", "numpy"):
            job, result = engines.get(name, (None, {"error": "not run"}))
            if "error" in result:
                cells.append(result["error"])
            else:
                times[name] = _median_epoch(result, job)
                cells.append(f"{times[name]:.3f}")
        pick = "numba" if prefers_numba((784, h, 10), m) and "numba" in times else "numpy"
        if pick in times:
            gflops = FULL * flops_per_example((784, h, 10)) / 1e9 / times[pick]
            tail = f"{pick} | {gflops:.1f} | {100 * gflops / peak32:.1f}"
        else:
            tail = f"{pick} | | "
        out.append(f"| {m} | {h} | {cells[0]} | {cells[1]} | {tail} |")
    out += [
        "",
        f"Matrix-multiply peak measured in this run (NumPy, {size} x {size}): float32 {peak32:.1f} GFLOP/s, "
        f"float64 {peak64:.1f} GFLOP/s.  The notebook's epoch is {per_epoch:.2f} GFLOP.",
    ]
    if quick:
        out += ["", "A --quick run: tiny subsets, few epochs; the numbers only show that everything runs."]
    return "\n".join(out) + "\n"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _speedups(rows) -> list[str]:
    """nndl's ``auto`` engine against each peer of the same precision (or,
    for a peer measured only in float64, against that)."""
    times = {}
    for job, result, problem in rows:
        if not problem:
            times.setdefault((job.label.replace(" (default)", ""), job.dtype), _median_epoch(result, job))
    out = []
    for dtype in ("float64", "float32"):
        ours = times.get(("nndl auto", dtype))
        if ours is None:
            continue
        parts = []
        for label in (
            "vectorized NumPy",
            "JAX lax.scan",
            "PyTorch CPU",
            "scikit-learn MLPClassifier",
            "book's algorithm, np.vectorize sigmoid",
            "book's algorithm, np.exp sigmoid",
        ):
            if (label, dtype) in times:
                parts.append(f"{times[label, dtype] / ours:.1f}x faster than {label}")
            elif (label, "float64") in times:
                parts.append(f"{times[label, 'float64'] / ours:.1f}x faster than {label} (float64)")
        if parts:
            out.append(f"- {dtype}: nndl takes {ours:.3f} s per epoch, " + ", ".join(parts) + ".")
    return out + [""] if out else []


def machine() -> str:
    """The machine and the versions of what was measured."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for package in ("numpy", "numba", "torch", "scikit-learn", "jax"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs available, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; " + ", ".join(versions)
    )


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    print(json.dumps(_worker(Job(**json.loads(sys.argv[2])))))
