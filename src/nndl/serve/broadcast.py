"""A run's events sent to everyone watching it: one bounded queue per watcher.

The run's threads put encoded Server-Sent Events; each client's coroutine
takes them on its event loop.  A watcher that falls :data:`WATCHER_QUEUE`
events behind loses its queue and is sent the whole state afresh (a
snapshot) instead, so a slow client holds up neither training nor the
other watchers, nor makes memory grow.

Nothing here locks: the owner (a :class:`~nndl.serve.lab.Run`) calls every
method with its own lock held, so what is published and what a snapshot
says never cross.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable

#: Events a watcher may fall behind by before it is sent the whole state afresh.
WATCHER_QUEUE = 256


def event(kind: str, data: dict) -> str:
    """One Server-Sent Event."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'), allow_nan=False)}\n\n"


class Watcher:
    """One client's stream: a bounded queue of encoded events, filled from
    any thread and emptied by the client's coroutine on ``loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int = WATCHER_QUEUE) -> None:
        self.loop, self.limit = loop, limit
        self.wake = asyncio.Event()
        self.items: deque[str] = deque()
        self.lagging = False
        self.closed = False

    def put(self, text: str) -> None:
        """Queue an event; past ``limit`` the queue is dropped for a snapshot."""
        if self.closed:
            return
        if len(self.items) >= self.limit:
            self.items.clear()
            self.lagging = True
        else:
            self.items.append(text)
        self.signal()

    def signal(self) -> None:
        """Wake the client's coroutine."""
        try:
            self.loop.call_soon_threadsafe(self.wake.set)
        except RuntimeError:  # the event loop has closed: nobody is reading
            self.closed = True


class Broadcast:
    """The watchers of one run.  ``snapshot()`` encodes everything told so
    far, as the first event a watcher gets (and the one a lagging watcher
    gets instead of what it missed)."""

    def __init__(self, snapshot: Callable[[], str]) -> None:
        self.snapshot = snapshot
        self.watchers: set[Watcher] = set()

    def __len__(self) -> int:
        return len(self.watchers)

    def watch(self, loop: asyncio.AbstractEventLoop) -> Watcher:
        """A new watcher whose first event is the whole state so far."""
        watcher = Watcher(loop)
        watcher.put(self.snapshot())
        self.watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        watcher.closed = True
        self.watchers.discard(watcher)

    def publish(self, kind: str, data: dict) -> None:
        """Send an event to every watcher."""
        text = event(kind, data)
        for w in self.watchers:
            w.put(text)

    def take(self, watcher: Watcher) -> list[str]:
        """The events waiting for ``watcher`` (a fresh snapshot if it lagged)."""
        if watcher.lagging:
            watcher.items.clear()
            watcher.lagging = False
            watcher.items.append(self.snapshot())
        items = list(watcher.items)
        watcher.items.clear()
        return items

    def close(self) -> None:
        """End every stream (the server is shutting down)."""
        for w in self.watchers:
            w.closed = True
            w.signal()
