"""``nndl bench``: training speed of nndl's engines and of what users would
pick instead, measured in one run on one machine.

Every measurement runs in a fresh Python process (:mod:`nndl.bench.worker`),
as a user's script would: start Python, import, load MNIST, train, evaluate,
exit.  The runner times the whole process from start to exit and its peak
memory; the worker reports its parts.  ``nndl train`` itself is also run as
a command, a warm-up and then :data:`COMMAND_RUNS` times, for the median of
what a user waits.  :mod:`nndl.bench.report` turns it all into Markdown.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

from .jobs import Job, peer_jobs, sweep_jobs
from .report import Report, render

#: Timed runs of the ``nndl train`` command (after one warm-up).
COMMAND_RUNS = 5


def matmul_peak(dtype: DTypeLike, size: int = 2048, repeats: int = 5) -> float:
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


#: ``python -c`` this, then ``nndl``'s arguments: the ``nndl`` command as
#: ``python -m nndl`` runs it, writing its peak memory on stderr as it ends.
#: (The kernel's own account of a child, ``ru_maxrss``, also holds the
#: memory of the process that started it, before it became Python.)
COMMAND = (
    "import runpy, sys\n"
    "from nndl.bench.worker import peak_mb\n"
    "sys.argv[0] = 'nndl'\n"
    "try:\n"
    "    runpy.run_module('nndl', run_name='__main__', alter_sys=True)\n"
    "finally:\n"
    "    sys.stderr.write(f'\\npeak MB: {peak_mb()}\\n')\n"
)


def spawn(args: list[str], timeout: float) -> dict:
    """Run ``args`` (``args[0]`` the program's path) as a new process, as a
    shell would: its wall time from start to exit, its exit status and what
    it printed.  A process still running after ``timeout`` seconds is killed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        actions = [(os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        t = time.perf_counter()
        pid = os.posix_spawn(args[0], args, os.environ, file_actions=actions)
        killer = threading.Timer(timeout, os.kill, (pid, signal.SIGKILL))
        killer.start()
        try:
            _, status = os.waitpid(pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        return {
            "wall": wall,
            "status": os.waitstatus_to_exitcode(status),
            "out": out.read().decode(errors="replace"),
            "err": err.read().decode(errors="replace"),
        }


def _failure(done: dict) -> str:
    last = (done["err"].strip().splitlines() or [f"exit status {done['status']}"])[-1]
    return last[:200]


def run_job(job: Job, timeout: float = 900, python: str | None = None) -> dict:
    """Run ``job`` in a fresh process of ``python`` (None: this one); add the
    whole process's wall time (``wall``) to what the worker reports."""
    job.spawned = time.time()
    done = spawn([python or sys.executable, "-m", "nndl.bench.worker", job.spec()], timeout)
    if done["status"] != 0:
        return {"error": _failure(done)}
    result = json.loads(done["out"].strip().splitlines()[-1])
    result["wall"] = done["wall"]
    return result


def run_command(args: list[str], runs: int = COMMAND_RUNS, timeout: float = 300) -> dict:
    """``nndl`` with ``args`` run as a user runs the command: once to warm up,
    then ``runs`` times; the median wall time from start to exit, the largest
    peak memory, and the last line it printed."""
    walls, peaks, last = [], [], ""
    for i in range(runs + 1):
        done = spawn([sys.executable, "-c", COMMAND, *args], timeout)
        if done["status"] != 0:
            return {"error": _failure(done)}
        if i:  # the first run only warms the caches
            walls.append(done["wall"])
            peaks.append(float(done["err"].rsplit("peak MB: ", 1)[1]))
        last = (done["out"].strip().splitlines() or [""])[-1]
    return {"walls": walls, "wall": statistics.median(walls), "peak_mb": max(peaks), "last": last}


def installed(job: Job, python: str | None = None) -> str | None:
    """None if the job can run with ``python`` (None: this Python), else the
    command that installs what it needs."""
    from .peers import PEERS

    if job.kind == "peer":
        _, module, command = PEERS[job.name]
    else:
        module, command = {"numba": ("numba", "pip install numba"), "torch": ("torch", "pip install torch")}.get(
            job.name, (None, None)
        )
    if module and not _importable(module, python):
        return command
    return None


@functools.cache
def _importable(module: str, python: str | None) -> bool:
    """Whether ``python`` (None: this one) finds ``module``; asked once per pair."""
    if python is None:
        return importlib.util.find_spec(module) is not None
    check = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return spawn([python, "-c", check], 60)["status"] == 0


def needs_peers(job: Job) -> bool:
    """Whether ``job`` measures something other than nndl as ``pip install .``
    gives it: a peer, or nndl's torch engine (the ``torch`` extra)."""
    return job.kind == "peer" or job.name == "torch"


def check_python(python: str) -> str:
    """``python``'s versions line (see :func:`machine`) if it can run the
    benchmark's worker, else a one-line :class:`~nndl.errors.ConfigError`."""
    from ..errors import ConfigError

    if not os.path.isfile(python) or not os.access(python, os.X_OK):
        raise ConfigError(
            f"--peers-python must be a Python interpreter; got {python!r}, which is not an executable file"
        )
    done = spawn([python, "-c", "from nndl.bench.run import versions; print(versions())"], 120)
    if done["status"] != 0:
        raise ConfigError(f"--peers-python {python} cannot import nndl's benchmark (pip install nndl[bench] there)")
    return done["out"].strip().splitlines()[-1]


def run(
    quick: bool = False,
    only: list[str] | None = None,
    say: Callable[[str], None] = print,
    peers_python: str | None = None,
) -> str:
    """Run the benchmark and return its report (Markdown).  ``only`` keeps
    the implementations named (nndl engines and peers, e.g. ``numba``,
    ``book``, ``jax``).  ``peers_python``, if given, is the Python (of
    another environment) that runs the peers and nndl's torch engine, so
    that nndl itself is measured as its own install gives it."""
    say("measuring the matrix-multiply peak ...")
    size = 1024 if quick else 2048
    report = Report(quick=quick, peaks=(matmul_peak(np.float32, size), matmul_peak(np.float64, size), size))
    runs = 2 if quick else COMMAND_RUNS
    say(f"nndl train, the command: a warm-up and {runs} runs ...")
    epochs = ["--epochs", "1"] if quick else []
    report.command = run_command(["train", *epochs], runs=runs)
    say("nndl train, step by step ...")
    report.steps = run_job(Job("nndl train", "train", "auto", "float32", epochs=1 if quick else 10))
    for job in peer_jobs(quick):
        if only and job.name not in only:
            continue
        python = peers_python if needs_peers(job) else None
        missing = installed(job, python)
        if missing:
            report.rows.append((job, {"error": f"skipped: not installed ({missing})"}))
            continue
        say(f"{job.label} ({job.dtype}) ...")
        report.rows.append((job, run_job(job, python=python)))
    for job in sweep_jobs(quick):
        if installed(job) or (only and job.name not in only and "auto" not in only):
            continue
        say(f"sweep {job.label} ...")
        report.sweep.append((job, run_job(job)))
    return render(report)


def machine() -> str:
    """The machine, and this Python with the versions of what was measured."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs available, {platform.system()} {platform.release()}; {versions()}"


def versions() -> str:
    """This Python's version and those of the libraries measured."""
    found = []
    for package in ("nndl", "numpy", "numba", "llvmlite", "scipy", "torch", "scikit-learn", "jax"):
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return f"Python {platform.python_version()}; " + ", ".join(found)
