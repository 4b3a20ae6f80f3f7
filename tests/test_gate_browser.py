"""Who may use the server, tried in a real browser (Debian's Chromium, driven
by Playwright): a page of another site posts a form, sends ``no-cors``
``text/plain`` fetches and tries to read the set; a name pointed at
127.0.0.1 (DNS rebinding, simulated by Chromium's own resolver rules) opens
the page; and a server listening on every address is used through the
address it printed, token and all.  What changed is read back through the
real API afterwards."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import threading
from collections.abc import Iterator

import pytest
from live import running
from test_browser import ARGS, CHROMIUM, pytestmark, stroke  # noqa: F401  (the same browser, marks and skip)
from test_gate import ask, saved, serve_everywhere

WAIT = 120_000  # ms: generous, for a busy machine; every wait ends as soon as the page shows the state

ATTACK = """<!doctype html>
<title>a page of another site</title>
<iframe name="sink"></iframe>
<script>
const target = TARGET;
const drawing = {input: Array.from({length: 28}, (_, r) => Array(28).fill(r > 8 && r < 20 ? 255 : 0)), label: 7};
window.results = {};
async function attack() {
  // 1. a form: it needs no script and no permission; text/plain lets its body look like JSON
  await new Promise((done) => {
    const form = document.createElement("form");
    form.method = "POST";
    form.action = target + "/api/set";
    form.enctype = "text/plain";
    form.target = "sink";
    const field = document.createElement("input");
    field.name = JSON.stringify(drawing).slice(0, -1) + ', "pad": "';
    field.value = '"}';
    form.append(field);
    document.body.append(form);
    document.querySelector("iframe").addEventListener("load", done, {once: true});
    form.submit();
  });
  // 2. fetch without CORS: the answer cannot be read, but the request goes
  const bodies = {
    "/api/set": drawing,
    "/api/teach": {...drawing, eta: 50},
    "/api/runs": {epochs: 1},
    "/api/set/delete": {index: 0, count: 1},
    "/api/undo": {},
  };
  for (const [path, body] of Object.entries(bodies)) {
    try {
      await fetch(target + path, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
                                  body: JSON.stringify(body)});
      results[path] = "sent";
    } catch (e) {
      results[path] = "failed: " + e;
    }
  }
  // 3. reading the user's set
  try {
    const answer = await fetch(target + "/api/set");
    results.read = await answer.text();
  } catch (e) {
    results.read = "blocked: " + e;
  }
  document.body.dataset.done = "true";
}
attack();
</script>
"""


@contextlib.contextmanager
def attacker(target: str) -> Iterator[int]:
    """A second local web server, on another port, serving the attacking page; yields its port."""
    folder = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nndl-attack-{os.getpid()}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "attack.html"), "w") as f:
        f.write(ATTACK.replace("TARGET", json.dumps(target.rstrip("/"))))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # evil.example resolves to this machine, as after a DNS rebinding: nothing leaves it
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, "--host-resolver-rules=MAP evil.example 127.0.0.1"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize("site", ["127.0.0.1", "localhost", "evil.example"])
def test_another_sites_page_changes_nothing_and_reads_nothing(browser, digit_model, tmp_path, site):
    with running(digit_model, dataset=tmp_path / "set") as base, attacker(base) as port:
        page = browser.new_page()
        answers = []
        page.on("response", lambda r: r.url.startswith(base) and answers.append((r.request.method, r.status)))
        page.goto(f"http://{site}:{port}/attack.html")
        page.wait_for_selector("body[data-done=true]", timeout=WAIT)
        results = page.evaluate("window.results")
        page.close()
        assert results["read"].startswith("blocked"), results  # the set was not read
        assert all(results[p] == "sent" for p in ("/api/set", "/api/teach", "/api/runs")), results
        # every request reached the server, and was refused there
        posts = [status for method, status in answers if method == "POST"]
        assert len(posts) == 6 and set(posts) == {403}, answers
        assert saved(base) == 0
        assert ask(base, "GET", "/api/network")[2]["version"] == 0
        assert ask(base, "GET", "/api/runs")[2]["runs"] == []


def test_a_rebound_name_is_refused(browser, digit_model, tmp_path):
    with running(digit_model, dataset=tmp_path / "set") as base:
        port = base.rstrip("/").rsplit(":", 1)[1]
        page = browser.new_page()
        answer = page.goto(f"http://evil.example:{port}/")
        assert answer.status == 403 and "this machine only" in answer.json()["error"]
        answer = page.goto(f"http://evil.example:{port}/api/set")
        assert answer.status == 403
        page.goto(base)  # the same server by its own name works
        page.wait_for_selector("#neurons .tile", timeout=WAIT)
        page.close()


def test_beyond_loopback_the_printed_address_lets_you_draw_teach_save_and_train(browser, digit_model, tmp_path):
    with serve_everywhere(digit_model, tmp_path) as proc:
        line = proc.stderr.readline()
        draw_url, train_url, chapter_url = re.findall(r"http://127\.0\.0\.1:\d+/\S*\?token=[\w-]+", line)
        assert chapter_url.startswith(draw_url.split("?")[0] + "chapter?token=")
        base = draw_url.split("?")[0]
        token = draw_url.split("token=")[1]
        bearer = {"Authorization": f"Bearer {token}"}
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.goto(draw_url)
        assert page.url == base  # the token went into a cookie, out of the address bar
        page.wait_for_selector("#neurons .tile", timeout=WAIT)
        stroke(page, [(0.52, 0.18), (0.5, 0.5), (0.48, 0.82)])
        page.wait_for_selector("body[data-answer=current]", timeout=WAIT)
        assert page.locator("#digit").inner_text() == "1"
        page.locator("#meant button").nth(1).click()
        with page.expect_response("**/api/teach") as taught:
            page.click("#teach")
        assert taught.value.status == 200
        with page.expect_response(lambda r: r.url.endswith("/api/set") and r.request.method == "POST") as kept:
            page.click("#save")
        assert kept.value.status == 200
        page.goto(train_url)
        page.wait_for_selector("body[data-ready=true]", timeout=WAIT)
        page.fill("input[name=epochs]", "1")
        page.click("#start")
        page.wait_for_selector("#state[data-state=finished]", timeout=WAIT)  # the event stream works too
        assert "Epoch 0: " in page.locator("#log").inner_text()
        # through the API, with the token: what the pages did is there
        assert saved(base, bearer) == 1
        assert ask(base, "GET", "/api/network", bearer)[2]["steps"] == 1
        runs = ask(base, "GET", "/api/runs", bearer)[2]["runs"]
        assert [r["state"] for r in runs] == ["finished"]
        assert problems == []
        # a browser without the cookie gets nothing
        stranger = browser.new_page()
        answer = stranger.goto(base)
        assert answer.status == 401 and "needs its token" in answer.json()["error"]
        stranger.close()
        context.close()
