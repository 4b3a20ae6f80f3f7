"""The JSON API of ``nndl serve``: good images read, bad requests refused with
4xx while the server keeps serving, bodies bounded, and a bounded soak."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from drawing import draw, encode, mnist_on_paper
from live import post, running

from nndl.network import Network
from nndl.serve.server import MAX_BODY


@pytest.fixture(scope="module")
def server(digit_model):
    with running(digit_model) as base:
        yield base


@pytest.fixture(scope="module")
def readable(mnist, digit_model):
    """An MNIST test digit the model reads right, drawn 200 px tall dark on white."""
    net = Network.load(digit_model)
    k = int(np.flatnonzero(net.predict(mnist.test.images[:50]) == mnist.test.labels[:50])[0])
    return encode(mnist_on_paper(mnist.test.images[k], 200)), int(mnist.test.labels[k])


def test_good_image_is_read(server, readable):
    body, label = readable
    status, answer = post(server, body)
    assert status == 200
    assert answer["digit"] == label
    assert len(answer["scores"]) == 10 and all(0 <= s <= 1 for s in answer["scores"])
    assert int(np.argmax(answer["scores"])) == label
    image = np.array(answer["input"])
    assert image.shape == (28, 28) and image.min() == 0 and image.max() == 255


def test_jpeg_drawing_is_read(server):
    status, answer = post(server, encode(draw(1, canvas=(500, 500), box=(300, 200, 250)), "JPEG"))
    assert status == 200 and answer["digit"] == 1


@pytest.mark.parametrize(
    "body, words",
    [
        (b"", "empty"),
        (b"<html>this is not an image</html>", "not an image"),
        (encode(draw(7))[:300], "not a readable image"),  # a truncated PNG
        (encode(draw(7), "JPEG")[:200], "not a readable image"),  # a truncated JPEG
    ],
)
def test_bad_bodies_get_400_and_the_server_keeps_serving(server, readable, body, words):
    status, answer = post(server, body)
    assert status == 400 and words in answer["error"]
    assert post(server, readable[0])[0] == 200


def test_wrong_method_and_path_get_json_errors(server):
    assert post(server, b"", method="GET")[0] == 405
    status, answer = post(server, b"", path="/api/nothing-here")
    assert status == 404 and "error" in answer


def raw_request(base: str, head: str, body_chunks, pause: float = 0.0) -> tuple[bytes, int]:
    """Send ``head`` then the chunks on one socket until the server answers;
    return the start of the answer and how many body bytes went out."""
    parts = urlsplit(base)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
        s.sendall(head.encode())
        s.setblocking(False)
        answer = b""
        for chunk in body_chunks:
            try:
                answer += s.recv(4096)
            except BlockingIOError:
                pass
            if answer:
                break
            try:
                s.setblocking(True)
                s.sendall(chunk)
                s.setblocking(False)
                sent += len(chunk)
            except OSError:  # the server closed the connection on us
                break
            time.sleep(pause)
        s.setblocking(True)
        s.settimeout(10)
        while b"\r\n\r\n" not in answer:
            more = s.recv(4096)
            if not more:
                break
            answer += more
    return answer, sent


def test_declared_oversized_body_is_refused_before_it_is_read(server):
    # claims a gigabyte, sends 64 KiB and waits: the answer comes without the rest
    head = (
        f"POST /api/predict HTTP/1.1\r\nHost: {urlsplit(server).netloc}\r\nContent-Type: image/png\r\n"
        f"Content-Length: {2**30}\r\n\r\n"
    )
    t0 = time.perf_counter()
    answer, sent = raw_request(server, head, [b"\0" * 65536] + [b""] * 50, pause=0.02)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"at most" in answer or b"413" in answer
    assert sent <= 65536 and time.perf_counter() - t0 < 5


def test_streamed_oversized_body_is_cut_off(server):
    # no Content-Length: the body is counted as it streams in, and refused
    # once it passes the bound, long before the 64 MiB the client would send
    head = (
        f"POST /api/predict HTTP/1.1\r\nHost: {urlsplit(server).netloc}\r\nContent-Type: image/png\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = 65536
    chunk = f"{piece:x}\r\n".encode() + b"\0" * piece + b"\r\n"
    answer, sent = raw_request(server, head, (chunk for _ in range(1024)))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 4 * MAX_BODY


def test_page_and_its_files_are_served(server):
    with urllib.request.urlopen(server, timeout=10) as r:
        page = r.read().decode()
    assert "<canvas" in page and "static/app.js" in page
    for name in ("app.js", "style.css"):
        with urllib.request.urlopen(server + "static/" + name, timeout=10) as r:
            assert r.status == 200 and len(r.read()) > 500
    # nothing is fetched from elsewhere: the page works offline
    assert not re.search(r"(src|href)=\"(https?:)?//", page)


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory use from Linux's /proc")
def test_soak_many_clients_nothing_lost_no_growth(digit_model, readable, tmp_path):
    """``nndl serve`` as a user starts it; 4 clients send a mix of good and bad
    requests for a bounded count and time: every request answered (200 or
    400, never 5xx), and the server's memory does not grow."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nndl", "serve", "--model", str(digit_model), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert found, line
        base = found.group(0)
        # drain stderr so the server never blocks on it
        errors: list[str] = []
        drain = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)
        drain.start()
        good = readable[0]
        jpeg = encode(draw(7, canvas=(640, 480), box=(400, 50, 200)), "JPEG")
        mix = [(good, 200), (b"", 400), (b"GIF89a broken", 400), (good[: len(good) // 2], 400), (jpeg, 200)]

        def hang_up() -> None:
            """Promise a body, send part of it, and go away."""
            parts = urlsplit(base)
            with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
                s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + good[:1000])

        def client(n: int, deadline: float) -> list[tuple[int, int]]:
            seen = []
            for i in range(n):
                if time.monotonic() > deadline:
                    break
                if i % 10 == 9:
                    hang_up()
                    continue
                body, expected = mix[i % len(mix)]
                seen.append((post(base, body)[0], expected))
            return seen

        def round_of(n_per_client: int) -> list[tuple[int, int]]:
            deadline = time.monotonic() + 600  # a bound on the loop, far above the seconds it takes
            with ThreadPoolExecutor(4) as pool:
                return [r for rs in pool.map(client, [n_per_client] * 4, [deadline] * 4) for r in rs]

        warm = round_of(25)  # allocators and caches reach their working size
        before = rss_bytes(proc.pid)
        soak = round_of(100)
        after = rss_bytes(proc.pid)
        results = warm + soak
        assert len(soak) == 4 * 90, f"only {len(soak)} of 360 requests answered"
        assert all(status == expected for status, expected in results), sorted(set(results))
        print(f"soak: {len(results)} requests, RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB")
        assert after - before < 16 * 2**20, f"memory grew by {(after - before) / 2**20:.1f} MiB"
        assert proc.poll() is None, "the server died"
    finally:
        proc.terminate()
        proc.wait(10)
    drain.join(10)
    assert not any("Traceback" in e or "ERROR" in e for e in errors), "".join(errors)
