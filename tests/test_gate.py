"""Who may use the server (``nndl.serve.gate``), on a real server: requests
for another name (DNS rebinding), requests that change something sent by
another site's page, bodies a form could send, and, beyond loopback, the
token -- each refused with JSON before anything changes."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from drawing import draw, encode
from live import running

from nndl.errors import ConfigError
from nndl.network import Network
from nndl.serve.gate import Policy, check_token, is_loopback, new_token
from nndl.serve.lab import Lab
from nndl.serve.server import create_app

SEVEN = {"input": [[0] * 28] * 10 + [[0] * 10 + [255] * 8 + [0] * 10] * 8 + [[0] * 28] * 10, "label": 7}


def ask(base: str, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    """Send a request with exactly these headers (``Host`` too, if given); the status, headers and JSON answer."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        data = answer.read()
        kind = answer.getheader("content-type", "")
        return (
            answer.status,
            {k.lower(): v for k, v in answer.getheaders()},
            json.loads(data) if "json" in kind and data else data,
        )
    finally:
        conn.close()


def as_json(headers: dict | None = None) -> dict:
    return {"Content-Type": "application/json", **(headers or {})}


def saved(base: str, headers: dict | None = None) -> int:
    """How many drawings the set holds, through the API."""
    status, _, answer = ask(base, "GET", "/api/set", headers)
    assert status == 200, answer
    return answer["total"]


@pytest.fixture
def server(digit_model, tmp_path):
    with running(digit_model, dataset=tmp_path / "set") as base:
        yield base


# -- Host: DNS rebinding ---------------------------------------------------------------------


def test_a_foreign_host_is_refused(server):
    port = urlsplit(server).port
    for host in ("evil.example", f"evil.example:{port}", f"localhost:{port + 1}", f"10.0.0.1:{port}", ""):
        for path in ("/api/set", "/api/network.npz", "/"):
            status, _, answer = ask(server, "GET", path, {"Host": host})
            assert status == 403 and "this machine only" in answer["error"], (host, path)
        status, _, answer = ask(server, "POST", "/api/set", as_json({"Host": host}), json.dumps(SEVEN).encode())
        assert status == 403
    assert saved(server) == 0  # the POSTs changed nothing
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"127.1.2.3:{port}", f"[::1]:{port}"):
        assert ask(server, "GET", "/api/set", {"Host": host})[0] == 200, host


def test_allow_host_adds_a_name(digit_model, tmp_path):
    with running(digit_model, dataset=tmp_path / "set", allow_hosts=["nndl.example"]) as base:
        assert ask(base, "GET", "/api/network", {"Host": "nndl.example"})[0] == 200
        assert ask(base, "GET", "/api/network", {"Host": "other.example"})[0] == 403


def test_loopback_names():
    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.255.0.9", "::1", "[::1]", "app.localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "10.0.0.1", "evil.example", "localhost.evil.example", "::"))


# -- Origin: other sites' pages ------------------------------------------------------------------


def test_requests_that_change_something_come_only_from_the_servers_pages(server):
    port = urlsplit(server).port
    body = json.dumps(SEVEN).encode()
    refused = [
        {"Origin": "http://evil.example"},
        {"Origin": f"http://localhost:{port + 1}"},  # another server on this machine
        {"Origin": f"http://127.0.0.1:{port + 1}"},
        {"Origin": "null"},  # a sandboxed frame, a file
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ]
    for headers in refused:
        for path, data in [("/api/set", body), ("/api/teach", body), ("/api/runs", b"{}"), ("/api/undo", b"")]:
            status, _, answer = ask(server, "POST", path, as_json(headers), data)
            assert status == 403 and "own pages" in answer["error"], (headers, path)
        status, _, _ = ask(server, "POST", "/api/predict", {"Content-Type": "image/png", **headers}, encode(draw(7)))
        assert status == 403
    assert saved(server) == 0
    assert ask(server, "GET", "/api/network")[2]["version"] == 0
    assert ask(server, "GET", "/api/runs")[2]["runs"] == []
    # the server's own pages, and clients that are not browsers
    for headers in [{"Origin": f"http://127.0.0.1:{port}"}, {"Sec-Fetch-Site": "same-origin"}, {}]:
        status, _, answer = ask(server, "POST", "/api/set", as_json(headers), body)
        assert status == 200, (headers, answer)
    assert saved(server) == 3


def test_other_sites_pages_read_nothing_from_the_api(server):
    for site in ("cross-site", "same-site"):
        for path in ("/api/set", "/api/network", "/api/network.npz", "/api/runs"):
            status, _, answer = ask(server, "GET", path, {"Sec-Fetch-Site": site})
            assert status == 403 and "own pages" in answer["error"], path
    assert ask(server, "GET", "/", {"Sec-Fetch-Site": "cross-site"})[0] == 200  # a link to the page opens it


@pytest.mark.parametrize(
    "path, kind",
    [
        ("/api/set", "text/plain"),
        ("/api/set", "application/x-www-form-urlencoded"),
        ("/api/set", "multipart/form-data; boundary=x"),
        ("/api/set", None),
        ("/api/teach", "text/plain;charset=UTF-8"),
        ("/api/runs", "text/plain"),
        ("/api/runs/1/pause", "application/x-www-form-urlencoded"),
        ("/api/predict", "text/plain"),
        ("/api/predict", "multipart/form-data; boundary=x"),
        ("/api/predict", "application/x-www-form-urlencoded"),
        ("/api/inside", None),
    ],
)
def test_bodies_a_form_could_send_are_415(server, path, kind):
    body = encode(draw(7)) if "predict" in path or "inside" in path else json.dumps(SEVEN).encode()
    status, _, answer = ask(server, "POST", path, {"Content-Type": kind} if kind else {}, body)
    assert status == 415 and "Content-Type" in answer["error"], answer
    assert saved(server) == 0


# -- the token -------------------------------------------------------------------------------------


def test_with_a_token_every_request_needs_it(digit_model, tmp_path):
    token = new_token()
    assert len(token) >= 43  # 256 bits, URL-safe
    bearer = {"Authorization": f"Bearer {token}"}
    with running(digit_model, dataset=tmp_path / "set", token=token) as base:
        port = urlsplit(base).port
        for headers in [{}, {"Authorization": "Bearer " + token[:-1]}, {"Cookie": f"nndl-token-{port}=wrong"}]:
            for path in ("/", "/train", "/static/app.js", "/api/set", "/api/network.npz", "/api/runs"):
                status, answer_headers, answer = ask(base, "GET", path, headers)
                assert status == 401 and answer == {"error": answer["error"]} and token not in answer["error"]
                assert "set-cookie" not in answer_headers
            status, _, answer = ask(base, "POST", "/api/set", as_json(headers), json.dumps(SEVEN).encode())
            assert status == 401
        assert saved(base, bearer) == 0
        assert ask(base, "POST", "/api/set", as_json(bearer), json.dumps(SEVEN).encode())[0] == 200
        assert saved(base, {"Authorization": f"token {token}"}) == 1
        assert saved(base, {"Cookie": f"other=1; nndl-token-{port}={token}"}) == 1
        assert ask(base, "GET", f"/api/set?token={token}")[0] == 200  # a script may put it in the URL
        # a page opened with the token: the cookie, then the same address without the token
        status, headers, _ = ask(base, "GET", f"/train?token={token}&x=1")
        assert status == 303 and headers["location"] == "/train?x=1"
        cookie = headers["set-cookie"]
        assert cookie.startswith(f"nndl-token-{port}={token};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # the token does not let another site's page in
        status, _, _ = ask(base, "POST", "/api/set", as_json({**bearer, "Origin": "http://evil.example"}), b"{}")
        assert status == 403


def test_chosen_tokens_are_checked():
    assert check_token("a" * 16) == "a" * 16
    for bad in ("short", "a" * 15, "spaces in it here", "é" * 20, "a;b=c" * 5):
        with pytest.raises(ConfigError, match="at least 16"):
            check_token(bad)


@contextlib.contextmanager
def serve_everywhere(digit_model, tmp_path, *flags: str, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """``nndl serve --host 0.0.0.0 --port 0`` in a process (its stderr a pipe), stopped afterwards."""
    command = [sys.executable, "-m", "nndl", "serve", "--model", str(digit_model), "--host", "0.0.0.0"]
    proc = subprocess.Popen(
        [*command, "--port", "0", "--dataset", str(tmp_path / "set"), *flags],
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "NNDL_TOKEN"} | {"PYTHONUNBUFFERED": "1"} | (env or {}),
    )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def test_every_route_beyond_loopback_without_the_token_is_401(digit_model, tmp_path):
    """``nndl serve --host 0.0.0.0``: a token is made and printed, and every
    route of the app answers 401 without it (asked through 127.0.0.1)."""
    app = create_app(Network.load(digit_model), policy=Policy(8000), dataset=tmp_path / "x", lab=Lab())
    routes = []
    for route in app.routes:
        path = re.sub(r"\{id:int\}", "1", re.sub(r"\{done:int\}", "0", route.path))
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            routes.append((method, path if path != "/static" else "/static/app.js"))
    assert len(routes) >= 25
    with serve_everywhere(digit_model, tmp_path) as proc:
        line = proc.stderr.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=([\w-]+)", line)
        assert found, line
        base, token = found.groups()
        assert len(token) >= 43
        assert "Other machines can reach" in proc.stderr.readline()
        for method, path in routes:
            body = b"{}" if method == "POST" else None
            status, headers, answer = ask(base, method, path, as_json() if body else {}, body)
            assert status == 401 and (method == "HEAD" or "needs its token" in answer["error"]), (method, path)
        assert saved(base, {"Authorization": f"Bearer {token}"}) == 0
        assert ask(base, "GET", "/api/runs", {"Authorization": f"Bearer {token}"})[2]["runs"] == []


def test_no_token_beyond_loopback_warns_and_a_chosen_token_is_used(digit_model, tmp_path):
    with serve_everywhere(digit_model, tmp_path, "--no-token") as proc:
        lines = [proc.stderr.readline() for _ in range(3)]
        assert "token=" not in lines[0] and lines[2].startswith("Warning: --no-token: anyone who can reach")
        base = re.search(r"http://127\.0\.0\.1:\d+/", lines[0]).group(0)
        assert saved(base) == 0  # no token asked
        status, _, _ = ask(base, "POST", "/api/set", as_json({"Origin": "http://evil.example"}), b"{}")
        assert status == 403  # other sites' pages are still refused
    chosen = "a-token-of-my-own-choosing"
    with serve_everywhere(digit_model, tmp_path / "2", env={"NNDL_TOKEN": chosen}) as proc:
        line = proc.stderr.readline()
        assert f"?token={chosen}" in line
        base = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        assert ask(base, "GET", "/api/set")[0] == 401
        assert saved(base, {"Authorization": f"Bearer {chosen}"}) == 0


@pytest.mark.parametrize(
    "flags, env, words",
    [
        (["--token", "short"], {}, "the token must be at least 16"),
        ([], {"NNDL_TOKEN": "short"}, "the token must be at least 16"),
        (["--token", "a" * 20, "--no-token"], {}, "--token and --no-token contradict"),
    ],
)
def test_bad_token_flags_are_one_line(digit_model, flags, env, words):
    cli = subprocess.run(
        [sys.executable, "-m", "nndl", "serve", "--model", str(digit_model), "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert cli.returncode == 2 and words in cli.stderr and len(cli.stderr.strip().splitlines()) == 1, cli.stderr
