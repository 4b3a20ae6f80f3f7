"""Does watching slow learning?  The notebook's run from the training lab
(through ``nndl serve``'s API, with a client reading its event stream as the
page does) against the same run as ``nndl train`` runs it, in one process,
alternating, several times each.

    python benchmarks/lab_speed.py [--pairs 5] [--output benchmarks/results/lab_speed.txt]

Per epoch it reports the training time (``EpochResult.seconds``, what the
``Epoch N`` lines show) and the wall time (the whole run, evaluation and the
lab's drawing included, over its epochs); medians over all runs.  It does so
twice: with BLAS's threads as NumPy starts them (as ``nndl train`` runs), and
with BLAS on one thread for both paths.  The lab draws on one BLAS thread, and
that setting is process-wide, so it also changes how the evaluation after
each epoch runs; the second measurement leaves only the cost of watching.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import nndl
from nndl.serve.lab import Lab
from nndl.serve.server import listen, make_server


def cli_run(data) -> tuple[list[float], float]:
    """``nndl train``'s run: per-epoch training seconds and wall seconds."""
    lines = []
    t0 = time.perf_counter()
    _, history = nndl.train(nndl.TrainConfig(), data=data, log=lines.append)
    return [e.seconds for e in history], time.perf_counter() - t0


def lab_run(host: str, port: int) -> tuple[list[float], float]:
    """The same run started from the lab, watched to its end by an event-stream client."""
    conn = http.client.HTTPConnection(host, port, timeout=600)
    t0 = time.perf_counter()
    conn.request("POST", "/api/runs", body=b"{}", headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    run = json.loads(answer.read())
    conn.close()
    assert answer.status == 201, run
    stream = http.client.HTTPConnection(host, port, timeout=600)
    stream.request("GET", f"/api/runs/{run['id']}/events")
    events = stream.getresponse()
    kind = None
    for raw in events:  # read everything, as the page does, until the run has ended
        line = raw.decode()
        if line.startswith("event: "):
            kind = line[7:].strip()
        elif line.startswith("data: ") and kind in ("state", "snapshot"):
            if json.loads(line[6:])["state"] in ("finished", "stopped", "failed"):
                break
    wall = time.perf_counter() - t0
    stream.close()
    conn = http.client.HTTPConnection(host, port, timeout=600)
    conn.request("GET", f"/api/runs/{run['id']}")
    status = json.loads(conn.getresponse().read())
    conn.close()
    assert status["state"] == "finished", status
    return [e["seconds"] for e in status["epochs"]], wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="runs of each, alternating, per BLAS setting (default 5)")
    parser.add_argument("--output", default="benchmarks/results/lab_speed.txt")
    args = parser.parse_args()

    data = nndl.load()
    lab = Lab(data)
    sock = listen("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    server = make_server(nndl.Network([784, 30, 10], seed=0), sock, lab=lab)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    load_start = os.getloadavg()
    cli_run(data), lab_run(host, port)  # warm-up: compiled code loaded, caches filled
    results: dict[str, dict[str, list]] = {}
    for blas in ("as NumPy starts it", "one thread"):
        results[blas] = {"nndl train": [], "lab": []}
        with contextlib.nullcontext() if blas == "as NumPy starts it" else threadpool_limits(1, user_api="blas"):
            for _ in range(args.pairs):
                results[blas]["nndl train"].append(cli_run(data))
                results[blas]["lab"].append(lab_run(host, port))
    load_end = os.getloadavg()
    server.should_exit = True
    thread.join(30)
    lab.close()

    def medians(runs, q: float = 0.5) -> tuple[float, float]:
        """The q-quantiles of the per-epoch training times and of the runs' wall time per epoch."""
        per_epoch = float(np.quantile([s for seconds, _ in runs for s in seconds], q))
        wall = float(np.quantile([w / len(seconds) for seconds, w in runs], q))
        return per_epoch, wall

    command = "python benchmarks/lab_speed.py" + "".join(f" {a}" for a in sys.argv[1:])
    report = [
        "# The training lab against nndl train: the notebook's run, seconds per epoch",
        "",
        f"Command: {command}",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}, nndl {nndl.__version__}",
        f"Load average (1, 5, 15 min) at the start: {' '.join(f'{x:.2f}' for x in load_start)}; "
        f"at the end: {' '.join(f'{x:.2f}' for x in load_end)}",
        f"Runs: {args.pairs} of each after one warm-up of each, alternating, in one process; "
        "the lab's runs started by POST /api/runs and watched by a client reading the event stream to the end.",
        "",
        "| BLAS threads | path | training s / epoch, median (fastest tenth) | wall s / epoch, median (fastest tenth) |",
        "|---|---|---:|---:|",
    ]
    for blas, runs in results.items():
        (cli_train, cli_wall), (lab_train, lab_wall) = medians(runs["nndl train"]), medians(runs["lab"])
        (cli_t10, cli_w10), (lab_t10, lab_w10) = medians(runs["nndl train"], 0.1), medians(runs["lab"], 0.1)
        report += [
            f"| {blas} | nndl train (nndl.train, as the command runs it) "
            f"| {cli_train:.3f} ({cli_t10:.3f}) | {cli_wall:.3f} ({cli_w10:.3f}) |",
            f"| {blas} | the lab (POST /api/runs, events watched) "
            f"| {lab_train:.3f} ({lab_t10:.3f}) | {lab_wall:.3f} ({lab_w10:.3f}) |",
            f"| {blas} | **lab / nndl train** | **{lab_train / cli_train:.2f}** ({lab_t10 / cli_t10:.2f}) "
            f"| **{lab_wall / cli_wall:.2f}** ({lab_w10 / cli_w10:.2f}) |",
        ]
    report += [
        "",
        "Training s: the time in SGD steps, as the `Epoch N` lines show.  Wall s: the whole run, evaluation "
        "after each epoch (and the lab's starting, drawing and streaming) included, over its epochs.",
        "",
        "Every run, training seconds per epoch, then wall seconds per epoch:",
    ]
    for blas, paths in results.items():
        for name, runs in paths.items():
            for seconds, wall in runs:
                times = " ".join(f"{s:.3f}" for s in seconds)
                report.append(f"- BLAS {blas}, {name}: {times} | {wall / len(seconds):.3f}")
    text = "\n".join(report) + "\n"
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
