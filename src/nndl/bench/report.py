"""The Markdown report of an ``nndl bench`` run: whole runs from start to
exit, seconds per epoch against the peers, and nndl over mini-batch and
hidden-layer sizes."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .jobs import EPOCHS, FULL, SIZES, Job, flops_per_example

#: Peers, in the order their speed-ups are listed.
PEER_LABELS = (
    "vectorized NumPy",
    "JAX lax.scan",
    "PyTorch CPU",
    "scikit-learn MLPClassifier",
    "book's algorithm, np.vectorize sigmoid",
    "book's algorithm, np.exp sigmoid",
)


@dataclass
class Report:
    """What a run measured (see :func:`nndl.bench.run.run`)."""

    quick: bool
    peaks: tuple[float, float, int]  # matrix-multiply GFLOP/s, float32 and float64, and the size
    command: dict = field(default_factory=dict)  # nndl train as a command
    steps: dict = field(default_factory=dict)  # nndl train step by step
    rows: list[tuple[Job, dict]] = field(default_factory=list)
    sweep: list[tuple[Job, dict]] = field(default_factory=list)


def median_epoch(result: dict, job: Job) -> float:
    """Seconds per epoch of 50,000 images: the median of all but the first."""
    times = result["epochs"][1:] or result["epochs"]
    return statistics.median(times) * FULL / job.n


def whole_run(result: dict, job: Job) -> tuple[float, bool]:
    """Seconds from start to exit of the notebook's whole run, and whether
    that was measured (else estimated from the job's parts: its start-up,
    data and warm-up as measured, its epochs and evaluations scaled)."""
    if job.whole:
        return result["wall"], True
    evals = statistics.mean(result["evals"]) if result["evals"] else 0.0
    epochs = result["epochs"]
    warmup = max(epochs[0] - statistics.median(epochs[1:] or epochs), 0.0)
    exit_s = result["wall"] - result["end"]
    parts = result["imports"] + result["data"] + warmup + EPOCHS * (median_epoch(result, job) + evals) + exit_s
    return parts, False


def render(r: Report) -> str:
    """The report as Markdown."""
    out = _whole_runs(r) + _per_epoch(r) + _sweep(r)
    peak32, peak64, size = r.peaks
    out += [
        "",
        f"Matrix-multiply peak measured in this run (NumPy, {size} x {size}): float32 {peak32:.1f} GFLOP/s, "
        f"float64 {peak64:.1f} GFLOP/s.  The notebook's epoch is {FULL * flops_per_example(SIZES) / 1e9:.2f} GFLOP.",
    ]
    if r.quick:
        out += ["", "A --quick run: tiny subsets, few epochs; the numbers only show that everything runs."]
    return "\n".join(out) + "\n"


def _whole_runs(r: Report) -> list[str]:
    out = [
        "## Whole runs, start to exit",
        "",
        f"The notebook's run as a user waits for it: start Python, import, load MNIST, {EPOCHS} epochs of "
        "[784, 30, 10] at mini-batch 10 and eta 3.0, each followed by an evaluation on the 10,000 test images, "
        "exit.  Each is a fresh process; the parts are seconds of wall time.",
        "",
    ]
    c, s = r.command, r.steps
    if "error" in c or "error" in s:
        return out + [f"`nndl train` failed: {c.get('error') or s.get('error')}", ""]
    runs = ", ".join(f"{w:.2f}" for w in c["walls"])
    out += [
        f"**`nndl train`**, the command with no flags: **{c['wall']:.2f} s** from start to exit (median of "
        f"{len(c['walls'])} runs after a warm-up: {runs} s), peak memory {c['peak_mb']:.0f} MB; it printed "
        f"`{c['last']}`.",
        "",
        f"Where the time goes (its steps timed in one more run, {s['wall']:.2f} s in all): interpreter and imports "
        f"{s['imports']:.2f} s, data {s['data']:.2f} s, engine load {s['engine']:.2f} s, training "
        f"{s['training']:.2f} s ({statistics.median(s['epochs'][1:] or s['epochs']):.3f} s per epoch), evaluation "
        f"{s['evaluation']:.2f} s, exit {s['wall'] - s['end']:.2f} s.",
        "",
        "| run | dtype | whole run s | interpreter & imports s | data s | warm-up s | training s | evaluation s "
        "| peak MB | test accuracy | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for job, result in r.rows:
        if "error" in result or job.cold:
            continue
        whole, measured = whole_run(result, job)
        epochs = result["epochs"]
        usual = statistics.median(epochs[1:] or epochs)
        warmup = max(epochs[0] - usual, 0.0)
        evals = statistics.mean(result["evals"]) * EPOCHS if result["evals"] else 0.0
        note = "" if measured else f"estimated: {_count(job.epochs, 'epoch')} on {job.n:,} images, scaled"
        accuracy = f"{100 * result['accuracy']:.2f} %" if measured else ""
        out.append(
            f"| {job.label} | {job.dtype} | {'' if measured else '~'}{whole:.2f} | {result['imports']:.2f} "
            f"| {result['data']:.2f} | {warmup:.2f} | {EPOCHS * usual * FULL / job.n:.2f} | {evals:.2f} "
            f"| {result['peak_mb']:.0f} | {accuracy} | {note} |"
        )
    return out + [""]


def _per_epoch(r: Report) -> list[str]:
    peak32 = r.peaks[0]
    per_epoch = FULL * flops_per_example(SIZES) / 1e9
    default = next(
        (median_epoch(res, job) for job, res in r.rows if job.label.endswith("(default)") and "error" not in res),
        None,
    )
    lines = [
        "## Seconds per epoch: [784, 30, 10], mini-batch 10, eta 3.0",
        "",
        "| implementation | dtype | s / epoch | x nndl default | GFLOP/s | % f32 peak | warm-up s | note |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for job, result in r.rows:
        if "error" in result:
            lines.append(f"| {job.label} | {job.dtype} | | | | | | {result['error']} |")
            continue
        s = median_epoch(result, job)
        ratio = s / default if default else float("nan")
        gflops = per_epoch / s
        warmup = max(result["epochs"][0] - statistics.median(result["epochs"][1:] or result["epochs"]), 0)
        note = f"{job.n:,} images, scaled to {FULL:,}" if job.n < FULL else ""
        if job.cold:
            note = "compiles from scratch (no cache)"
        lines.append(
            f"| {job.label} | {job.dtype} | {s:.3f} | {ratio:.1f} | {gflops:.1f} | {100 * gflops / peak32:.1f} "
            f"| {warmup:.2f} | {note} |"
        )
    return lines + [""] + _speedups(r.rows)


def _speedups(rows: list[tuple[Job, dict]]) -> list[str]:
    """nndl's ``auto`` engine (and its NumPy fallback) against each peer of
    the same precision (or, for a peer measured only in float64, that)."""
    times: dict[tuple[str, str], float] = {}
    for job, result in rows:
        if "error" not in result:
            times.setdefault((job.label.replace(" (default)", ""), job.dtype), median_epoch(result, job))
    out = []
    for dtype in ("float64", "float32"):
        for ours_label in ("nndl auto", "nndl numpy"):
            ours = times.get((ours_label, dtype))
            if ours is None:
                continue
            parts = []
            for label in PEER_LABELS if ours_label == "nndl auto" else PEER_LABELS[:1]:
                if (label, dtype) in times:
                    parts.append(f"{times[label, dtype] / ours:.1f}x faster than {label}")
                elif (label, "float64") in times:
                    parts.append(f"{times[label, 'float64'] / ours:.1f}x faster than {label} (float64)")
            if parts:
                out.append(f"- {dtype}, {ours_label}: {ours:.3f} s per epoch, " + ", ".join(parts) + ".")
    return out + [""] if out else []


def _sweep(r: Report) -> list[str]:
    from ..engines import prefers_numba

    peak32 = r.peaks[0]
    out = [
        "## nndl over mini-batch size m and hidden layer H (float32)",
        "",
        "| m | H | numba s / epoch | numpy s / epoch | auto picks | GFLOP/s (auto) | % f32 peak |",
        "|---:|---:|---:|---:|---|---:|---:|",
    ]
    by_config: dict = {}
    for job, result in r.sweep:
        by_config.setdefault((job.batch, job.hidden), {})[job.name] = (job, result)
    for (m, h), engines in sorted(by_config.items()):
        cells, times = [], {}
        for name in ("numba", "numpy"):
            job, result = engines.get(name, (None, {"error": "not run"}))
            if "error" in result:
                cells.append(result["error"])
            else:
                times[name] = median_epoch(result, job)
                cells.append(f"{times[name]:.3f}")
        pick = "numba" if prefers_numba((784, h, 10), m) and "numba" in times else "numpy"
        if pick in times:
            gflops = FULL * flops_per_example((784, h, 10)) / 1e9 / times[pick]
            tail = f"{pick} | {gflops:.1f} | {100 * gflops / peak32:.1f}"
        else:
            tail = f"{pick} | | "
        out.append(f"| {m} | {h} | {cells[0]} | {cells[1]} | {tail} |")
    return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
