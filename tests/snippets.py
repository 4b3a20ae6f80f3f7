"""Runs one documentation page's snippets, in order, in the current folder:
``python tests/snippets.py STEPS.json`` (``tests/test_doc_snippets.py``
writes the steps).

A step is ``["python", code]`` (run in the page's one namespace),
``["shell", line]`` (run with bash; a failing line fails the page),
``["fails", line]`` (a line the page shows failing: it must, with status 2
and one line on stderr) or
``["serve", line]`` (a server the page starts and leaves running: started in
the background on a free port, and waited for until it answers; the later
lines' ``:8000`` then reach it there).  Prints each step and its output;
exits 1 at the first step that fails, naming it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(line: str, port: int) -> subprocess.Popen:
    command = line.split("#")[0].strip() + f" --port {port}"
    server = subprocess.Popen(["bash", "-c", f"exec {command}"], start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"{command!r} ended with status {server.returncode} before answering")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{command!r} did not answer in 120 s")


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        steps = json.load(f)
    namespace: dict = {"__name__": "__main__"}
    servers: list[subprocess.Popen] = []
    port: int | None = None
    try:
        for n, (kind, text) in enumerate(steps, 1):
            if port is not None:
                text = text.replace(":8000", f":{port}")
            print(f"--- step {n} ({kind})\n{text}", flush=True)
            if kind == "python":
                try:
                    exec(compile(text, f"<snippet {n}>", "exec"), namespace)
                except Exception:
                    traceback.print_exc()
                    raise SystemExit(f"step {n}, a Python snippet, failed") from None
            elif kind == "serve":
                port = free_port()
                servers.append(serve(text, port))
            elif kind == "fails":  # a line shown failing: one line on stderr, status 2
                done = subprocess.run(["bash", "-c", text], capture_output=True, text=True, timeout=600)
                print(done.stdout + done.stderr, end="")
                if done.returncode != 2 or len(done.stderr.strip().splitlines()) != 1:
                    raise SystemExit(f"step {n} should fail with one line and status 2, got {done.returncode}")
            else:
                done = subprocess.run(["bash", "-o", "pipefail", "-c", text], timeout=600)
                if done.returncode != 0:
                    raise SystemExit(f"step {n} ended with status {done.returncode}: {text}")
            sys.stdout.flush()
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(30)


if __name__ == "__main__":
    main()
