"""A real server on loopback for the tests, and a small HTTP client."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

from nndl.network import Network
from nndl.server import listen, make_server, url


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
