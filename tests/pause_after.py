"""Run ``nndl ARGS...`` and hold it still at a known point, for tests that
send it a signal: after the N-th range of mini-batches has trained, it says
``paused`` on stderr and waits for a signal there, so the signal lands at a
known state however fast or slow the machine is.

    python tests/pause_after.py N train --checkpoint run.npz ...
"""

from __future__ import annotations

import signal
import sys
import time

from nndl import loop
from nndl.cli import main

calls = 0
_train_range = loop.train_range


def train_range_then_pause(*args, **kwargs) -> None:
    global calls
    _train_range(*args, **kwargs)
    calls += 1
    if calls == int(sys.argv[1]):
        arrived = []
        handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def note_then_handle(signum, frame) -> None:
            arrived.append(signum)
            signal.signal(signal.SIGINT, handlers[signal.SIGINT])
            signal.signal(signal.SIGTERM, handlers[signal.SIGTERM])
            handlers[signum](signum, frame)

        for s in handlers:
            signal.signal(s, note_then_handle)
        print("paused", file=sys.stderr, flush=True)
        while not arrived:  # until the signal's handler has run
            time.sleep(0.005)


loop.train_range = train_range_then_pause
sys.exit(main(sys.argv[2:]))
