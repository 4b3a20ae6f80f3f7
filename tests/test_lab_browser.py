"""The training lab in a real headless browser (Debian's Chromium, driven by
Playwright): a learner starts the notebook's run paused, steps through it,
lets it run, pauses, steps and resumes it to the end, scrubs back to an
earlier epoch, downloads the model, and sends the network to the draw page,
which then reads a drawn digit with it.  Every wait is on what the page
shows, never on the clock."""

from __future__ import annotations

import re

import numpy as np
import pytest
from live import call, running
from test_browser import ARGS, CHROMIUM, pytestmark, stroke  # noqa: F401  (the same browser, marks and skip)

import nndl
from nndl.serve.lab import Lab

WAIT = 120_000  # ms: generous, for a busy machine; every wait ends as soon as the page shows the state


@pytest.fixture(scope="module")
def lab_page(digit_model):
    from playwright.sync_api import sync_playwright

    lab = Lab()  # the bundled MNIST, as nndl train uses
    with running(digit_model, lab=lab) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.base = base
            page.problems = []  # script errors and failed loads, checked by the last test
            page.on("pageerror", lambda e: page.problems.append(str(e)))
            page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
            page.goto(base + "train")
            page.wait_for_selector("body[data-ready=true]", timeout=WAIT)
            yield page
        finally:
            browser.close()
            lab.close()


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def wait_text(page, selector: str, pattern: str) -> None:
    page.wait_for_function(
        "([s, p]) => new RegExp(p).test(document.querySelector(s).textContent)", arg=[selector, pattern], timeout=WAIT
    )


def test_start_paused_then_step(lab_page):
    page = lab_page
    assert page.locator("input[name=layers]").input_value() == "30"  # the notebook's run is the default
    assert page.locator("input[name=eta]").input_value() == "3"
    page.check("input[name=paused]")
    page.click("#start")
    page.wait_for_selector("#state[data-state=paused]", timeout=WAIT)
    page.wait_for_selector("#weights[data-drawn='30']", timeout=WAIT)  # the 30 neurons before training
    assert "mini-batch 0 of 5,000" in text(page, "#where")
    assert text(page, "#frame-label") == "before training"
    page.click("#step")
    wait_text(page, "#where", "mini-batch 1 of 5,000")
    page.wait_for_selector("#cost-chart[data-points='1']", timeout=WAIT)  # a first point of the running cost
    page.click("#step-epoch")
    wait_text(page, "#log", r"^Epoch 0: \d+ / 10000")
    page.wait_for_selector("#state[data-state=paused]", timeout=WAIT)
    assert page.locator("#accuracy-chart").get_attribute("data-points") == "1"
    assert "epoch 1 · mini-batch 0 of 5,000" in text(page, "#where")


def test_resume_pause_step_resume_to_the_end(lab_page):
    page = lab_page
    page.click("#resume")
    wait_text(page, "#log", "Epoch 1: ")
    page.click("#pause")  # eight epochs still to go
    page.wait_for_selector("#state[data-state=paused]", timeout=WAIT)
    batch = int(re.search(r"mini-batch ([\d,]+) of", text(page, "#where")).group(1).replace(",", ""))
    page.click("#step")
    wait_text(page, "#where", rf"mini-batch {batch + 1:,} of 5,000")
    assert page.locator("#state").get_attribute("data-state") == "paused"
    page.click("#resume")
    page.wait_for_selector("#state[data-state=finished]", timeout=WAIT)
    page.wait_for_selector("#accuracy-chart[data-points='10']", timeout=WAIT)
    # the page's lines are the run's, as the API (and nndl train) give them
    lines = [e["line"] for e in call(page.base, "GET", "/api/runs/1")[1]["epochs"]]
    assert text(page, "#log").splitlines() == lines and len(lines) == 10
    assert int(page.locator("#cost-chart").get_attribute("data-points")) >= 9 * 50  # every 100 mini-batches
    assert int(lines[-1].split()[2]) > 9300  # about 94 %, as the chapter's run
    assert page.locator("#pause").is_disabled() and page.locator("#start").is_enabled()


def test_scrub_back_to_an_earlier_epoch(lab_page):
    page = lab_page
    wait_text(page, "#frame-label", "after epoch 9")
    first = call(page.base, "GET", "/api/runs/1")[1]["epochs"][0]
    page.locator("#scrub").fill("1")
    page.wait_for_selector("#views[data-showing='1']", timeout=WAIT)
    assert text(page, "#frame-label") == f"after epoch 0: {first['correct']:,} / 10,000 right"
    # the confusion matrix as it was after epoch 0: its diagonal is that epoch's count
    assert page.locator("#confusion").get_attribute("data-correct") == str(first["correct"])
    assert text(page, "#confusion-title").startswith(f"{first['correct']:,} of 10,000")
    page.click("#live")
    page.wait_for_selector("#views[data-showing='10']", timeout=WAIT)


def test_gradient_sizes_and_the_hidden_map(lab_page):
    page = lab_page
    # the gradient chart: a point per frame, the sizes each frame holds
    page.wait_for_selector("#gradient-chart[data-points='11']", timeout=WAIT)
    assert text(page, "#gradient-legend").split("\n")[0].startswith("hidden layer 1 (w²)")
    assert "output layer" in text(page, "#gradient-legend")
    # the map after the last epoch: 500 digits, the misread ones those its frame says
    frame = call(page.base, "GET", "/api/runs/1/frames/10")[1]
    digits = call(page.base, "GET", "/api/map/digits")[1]
    wrong = [k for k, (p, t) in enumerate(zip(frame["map"]["predicted"], digits["labels"])) if p != t]
    page.wait_for_selector("#map[data-points='500']", timeout=WAIT)
    assert page.locator("#map").get_attribute("data-misread") == str(len(wrong))
    assert text(page, "#map-title") == f"Hidden layer 1 (30 neurons): {len(wrong)} of 500 misread"
    # pointing at a misread digit shows it and the network's answer
    canvas = page.locator("#map")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    inner = page.evaluate("() => ((c) => [c.clientWidth, c.clientHeight])(document.getElementById('map'))")
    half = min(inner) / 2 - 10
    k = wrong[0]
    x, y = frame["map"]["xy"][k]
    border = (box["width"] - inner[0]) / 2
    page.mouse.move(box["x"] + border + inner[0] / 2 + x * half, box["y"] + border + inner[1] / 2 - y * half)
    page.wait_for_selector("#map-card:not([hidden])", timeout=WAIT)
    shown = int(page.locator("#map").get_attribute("data-showing"))
    sx, sy = frame["map"]["xy"][shown]
    assert ((sx - x) ** 2 + (sy - y) ** 2) ** 0.5 * half <= 9  # the dot under the pointer (or one as near)
    label, answer = digits["labels"][shown], frame["map"]["predicted"][shown]
    assert text(page, "#map-card") == (
        f"test digit #{digits['index'][shown]}: a {label}; the network says {answer} {'✓' if label == answer else '✗'}"
    )
    # scrubbing back shows that epoch's map
    first = call(page.base, "GET", "/api/runs/1/frames/1")[1]
    page.locator("#scrub").fill("1")
    page.wait_for_selector("#views[data-showing='1']", timeout=WAIT)
    misread = sum(p != t for p, t in zip(first["map"]["predicted"], digits["labels"]))
    page.wait_for_selector(f"#map[data-misread='{misread}']", timeout=WAIT)
    page.click("#live")
    page.wait_for_selector("#views[data-showing='10']", timeout=WAIT)


def test_download_the_model(lab_page, tmp_path):
    page = lab_page
    href = page.locator("#download-model").get_attribute("href")
    answer = page.request.get(page.base + href)
    assert answer.ok
    (tmp_path / "model.npz").write_bytes(answer.body())
    net = nndl.Network.load(tmp_path / "model.npz")
    last = call(page.base, "GET", "/api/runs/1")[1]["epochs"][-1]
    assert net.evaluate(nndl.load().test) == last["correct"]
    history = page.request.get(page.base + page.locator("#download-history").get_attribute("href")).json()
    assert [e["correct"] for e in history["epochs"]][-1] == last["correct"]


def test_send_the_network_to_the_draw_page_and_read_a_digit(lab_page, tmp_path):
    page = lab_page
    page.click("#use")
    page.wait_for_selector("#use-note:not([hidden])", timeout=WAIT)
    assert "run 1, after epoch 9" in text(page, "#use-note")
    page.click("#use-note a")
    page.wait_for_selector("#source:not([hidden])", timeout=WAIT)
    assert "run 1" in text(page, "#source")
    with page.expect_response(lambda r: "/api/inside" in r.url, timeout=WAIT) as answer:
        stroke(page, [(0.52, 0.18), (0.5, 0.5), (0.48, 0.82)])
    read = answer.value.json()
    page.wait_for_function("document.getElementById('digit').textContent !== '?'", timeout=WAIT)
    # the draw page read it with the lab's network: the same scores from the run's model file
    (tmp_path / "model.npz").write_bytes(page.request.get(page.base + "api/runs/1/model").body())
    net = nndl.Network.load(tmp_path / "model.npz")
    expected = net.scores(np.array(read["input"], np.uint8).reshape(1, 784))[0]
    assert np.allclose(read["scores"], expected, atol=1e-6)
    page.wait_for_function("document.querySelectorAll('.scores .v')[0].textContent !== '–'", timeout=WAIT)


def test_choose_how_the_weights_start(lab_page):
    page = lab_page
    page.goto(page.base + "train")
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT)
    assert page.locator("select[name=init]").input_value() == "standard"  # the chapter's N(0, 1)
    page.select_option("select[name=init]", "scaled")
    page.check("input[name=paused]")
    page.click("#start")
    page.wait_for_selector("#state[data-state=paused]", timeout=WAIT)
    run = call(page.base, "GET", "/api/runs")[1]["runs"][-1]
    assert run["settings"]["init"] == "scaled" and run["notice"] is None
    wait_text(page, "#legend", r"start N\(0, 1/n_in\)")  # what sets it apart from the first run
    assert page.locator("#run-notice").is_hidden()
    page.click("#stop")
    page.wait_for_selector("#state[data-state=stopped]", timeout=WAIT)


def test_a_run_of_changed_book_code_says_so_on_the_page(lab_page, monkeypatch):
    page = lab_page

    def update_mini_batch(self, mini_batch, eta):
        """A reader's edit, made while the server runs."""

    monkeypatch.setattr(nndl.network.Network, "update_mini_batch", update_mini_batch)
    page.check("input[name=paused]")
    page.click("#start")
    page.wait_for_selector("#state[data-state=paused]", timeout=WAIT)
    page.wait_for_selector("#run-notice:not([hidden])", timeout=WAIT)
    notice = text(page, "#run-notice")
    assert notice == call(page.base, "GET", "/api/runs")[1]["runs"][-1]["notice"]
    assert "your update_mini_batch is not nndl's own code" in notice and "reference engine" in notice
    assert page.locator("#run-error").is_hidden()  # a notice, not an error
    page.click("#stop")
    page.wait_for_selector("#state[data-state=stopped]", timeout=WAIT)


def test_no_script_errors(lab_page):
    assert lab_page.problems == []
