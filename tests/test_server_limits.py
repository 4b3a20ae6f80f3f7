"""``nndl serve`` under attack from its own clients: idle sockets, slow and
short requests, a full house and broken HTTP.  Each attack runs against a
real server on 127.0.0.1; the server must answer in JSON, drop the
attacker in bounded time, and go on serving everyone else.

Nothing here races the clock: each test waits for a state (an answer, a
closed socket) with a generous deadline, and the deadlines the server
enforces are set short so the waits are short.
"""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest
from drawing import draw, encode
from live import post, running

import nndl.predict
from nndl.serve.server import MAX_CONNECTIONS

#: How long a test waits for a state the server must reach (far beyond its own timeouts).
PATIENCE = 30.0
PNG = encode(draw(7))


def connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    return socket.create_connection((parts.hostname, parts.port), timeout=PATIENCE)


def until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes ``sock``; fails if it
    does not close it within :data:`PATIENCE`."""
    sock.settimeout(PATIENCE)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for {PATIENCE} s; it sent {data[:200]!r}") from None
    return data


def json_answer(raw: bytes) -> tuple[int, dict]:
    """The status and JSON body of a raw HTTP answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    assert b"content-type: application/json" in head.lower(), head
    return status, json.loads(body)


def head(content_length: int, path: str = "/api/predict", extra: str = "", base: str = "http://localhost/") -> bytes:
    """A request's head; ``base``: the server it is for (its ``Host``)."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: {urlsplit(base).netloc}\r\nContent-Type: image/png\r\n"
        f"Content-Length: {content_length}\r\n{extra}\r\n"
    ).encode()


def test_idle_sockets_cannot_lock_others_out(digit_model):
    """More idle connections than the server holds: the longest idle make
    room, and a normal prediction is answered."""
    with running(digit_model, request_timeout=PATIENCE) as base:
        idle = [connect(base) for _ in range(MAX_CONNECTIONS + 36)]
        try:
            status, answer = post(base, PNG)
            assert status == 200 and answer["digit"] in range(10)
            assert until_closed(idle[0]) == b""  # the first in was the first out, without a word
            status, _ = post(base, PNG)
            assert status == 200
        finally:
            for s in idle:
                s.close()


def test_a_silent_connection_is_closed(digit_model):
    with running(digit_model, request_timeout=1) as base, connect(base) as s:
        assert until_closed(s) == b""


@pytest.mark.parametrize(
    "start, drip",
    [
        (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\n", b"X"),  # a head that never ends
        (head(10**6, path="/"), b"\0"),  # a body nobody reads (405 at once), dripping on and on
    ],
    ids=["slow head", "slow body to another route"],
)
def test_dripping_requests_are_cut_off(digit_model, start, drip):
    """A client sending a byte now and then, forever, is disconnected once
    its time for the whole request is up."""
    with running(digit_model, request_timeout=1, body_timeout=PATIENCE) as base, connect(base) as s:
        s.sendall(start)
        s.settimeout(0.1)
        deadline = time.monotonic() + PATIENCE
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                closed = s.recv(65536) == b"" and True
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed = True
            try:
                s.sendall(drip)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
        assert closed, "the dripping client was never disconnected"
        assert post(base, PNG)[0] == 200


def test_a_short_body_gets_408_in_json(digit_model):
    """Content-Length 10,000, 100 bytes sent, then silence: the API stops
    waiting, says so in JSON and closes the connection."""
    with running(digit_model, body_timeout=1, request_timeout=PATIENCE) as base, connect(base) as s:
        s.sendall(head(10_000, base=base) + b"\x89PNG" + bytes(96))
        status, answer = json_answer(until_closed(s))
        assert status == 408 and "did not arrive within 1 s (100 bytes came)" in answer["error"]
        assert post(base, PNG)[0] == 200


@pytest.mark.slow
def test_a_full_house_gets_503_in_json_then_is_served(digit_model):
    """When every connection is busy sending a request, a newcomer gets 503
    in JSON; once the slow senders run out of time, it is served."""
    with running(digit_model, max_connections=4, request_timeout=3, body_timeout=PATIENCE) as base:
        busy = [connect(base) for _ in range(4)]
        try:
            for s in busy:  # each sends a head and waits for 100 Continue: the server is reading its body
                s.sendall(head(1000, extra="Expect: 100-continue\r\n", base=base))
                assert s.recv(100).startswith(b"HTTP/1.1 100"), "no 100 Continue"
                s.sendall(b"\x89PNG")
            status, answer = post(base, PNG)
            assert status == 503 and "busy" in answer["error"]
            for s in busy:
                until_closed(s)  # each is dropped when its time is up
            assert post(base, PNG)[0] == 200
        finally:
            for s in busy:
                s.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"THIS IS NOT HTTP\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000,  # a head that never ends, over 16 kB
    ],
    ids=["garbage", "a head over 16 kB"],
)
def test_broken_http_gets_400_in_json(digit_model, request_bytes):
    with running(digit_model) as base:
        with connect(base) as s:
            s.sendall(request_bytes)
            status, answer = json_answer(until_closed(s))
        assert status == 400 and "not valid HTTP/1.1" in answer["error"]
        assert post(base, PNG)[0] == 200


def test_an_internal_failure_is_500_in_json(digit_model, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(nndl.predict, "predict_digits", broken)
    with running(digit_model) as base:
        status, answer = post(base, PNG)
        assert status == 500 and "RuntimeError" in answer["error"]
        assert post(base, b"")[0] == 400  # and it goes on answering


def test_no_websocket_upgrade_bypasses_the_limits(digit_model):
    with running(digit_model) as base, connect(base) as s:
        s.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        s.settimeout(PATIENCE)
        answer = s.recv(65536)
        assert not answer.startswith(b"HTTP/1.1 101"), answer[:100]
