"""A real server on loopback for the tests, and a small HTTP client."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

from nndl.network import Network
from nndl.serve.server import listen, make_server, url


@contextlib.contextmanager
def running(model_path, **app_options) -> Iterator[str]:
    """Serve ``model_path`` on 127.0.0.1 on a free port in a thread; yields
    the base URL and shuts the server down afterwards."""
    sock = listen("127.0.0.1", 0)
    server = make_server(Network.load(model_path), sock, **app_options)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            thread.join(0.01)
        assert server.started, "the server did not start"
        yield url(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


def post(base: str, body: bytes, path: str = "/api/predict", method: str = "POST") -> tuple[int, dict]:
    """Send ``body``; return the status and the JSON answer."""
    status, _, answer = fetch(base, path, method, body)
    return status, json.loads(answer)


def fetch(
    base: str, path: str, method: str = "GET", body: bytes | None = None, content_type: str = "image/png"
) -> tuple[int, dict, bytes]:
    """Send a request; return the status, the headers and the body of the answer."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": content_type})
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def call(base: str, method: str, path: str, body=None, raw: bytes | None = None) -> tuple[int, dict]:
    """Send ``body`` as JSON (or ``raw`` bytes); return the status and the JSON answer."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        conn.close()


class Events:
    """A Server-Sent Events stream, read as ``(kind, data)`` pairs until it ends."""

    def __init__(self, base: str, path: str, timeout: float = 120) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.conn.request("GET", path)
        self.answer = self.conn.getresponse()
        self.status = self.answer.status
        self.content_type = self.answer.getheader("Content-Type", "")

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        kind, data = None, []
        for raw in self.answer:
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                continue
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif not line and kind:
                yield kind, json.loads("\n".join(data))
                kind, data = None, []

    def until(self, done) -> list[tuple[str, dict]]:
        """The events up to and including the first for which ``done(kind, data)``."""
        seen = []
        for kind, data in self:
            seen.append((kind, data))
            if done(kind, data):
                return seen
        raise AssertionError(f"the stream ended first; last events: {[k for k, _ in seen[-5:]]}")

    def close(self) -> None:
        self.conn.sock and self.conn.sock.close()
        self.conn.close()
