"""Every refused request shows its server's message, and leaves the page
showing what the server holds (Debian's Chromium, driven by Playwright).

Each case makes the page's view stale the way a second tab or a program
would -- changing the network, the set or the runs through the API behind
the page's back -- and then uses the page."""

from __future__ import annotations

import os

import pytest
from live import call, running
from test_browser import ARGS, CHROMIUM, pytestmark, stroke  # noqa: F401  (the same browser, marks and skip)

from nndl.serve.lab import Lab

WAIT = 60_000  # ms: every wait ends as soon as the page shows the state
ONE = [(0.52, 0.18), (0.5, 0.5), (0.48, 0.82)]


@pytest.fixture(scope="module")
def served(digit_model, small, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    lab = Lab(small)
    folder = tmp_path_factory.mktemp("set") / "set"
    with running(digit_model, lab=lab, dataset=folder) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield base, browser
        finally:
            browser.close()
            lab.close()


def new_page(served, path: str, size=(1280, 900)):
    base, browser = served
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.problems = []  # script errors (a refused request's own console line is not one)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.goto(base + path)
    return page


def shoot(page, name: str) -> None:
    if os.environ.get("NNDL_SHOTS"):
        page.screenshot(path=os.path.join(os.environ["NNDL_SHOTS"], name), full_page=True)


def test_a_refused_lab_command_shows_its_message_and_the_runs_state(served):
    base, _ = served
    run = call(base, "POST", "/api/runs", {"epochs": 1})[1]
    page = new_page(served, "train", (1366, 900))
    page.wait_for_selector("#state[data-state=finished]", timeout=WAIT)
    # a page that still thinks the run trains (a stale tab): its Pause button answers 409
    page.evaluate("document.getElementById('pause').disabled = false")
    with page.expect_response(lambda r: r.url.endswith(f"/api/runs/{run['id']}/pause")) as answer:
        page.click("#pause")
    assert answer.value.status == 409
    page.wait_for_selector("#command-error:not([hidden])", timeout=WAIT)
    assert page.locator("#command-error").inner_text() == f"run {run['id']} has finished; there is nothing to pause"
    assert page.locator("#state").get_attribute("data-state") == "finished"
    assert page.locator("#pause").is_disabled()
    # progress and state events do not hide it; the next command does
    shoot(page, "lab-409.png")
    assert page.locator("#command-error").is_visible()
    assert page.problems == []
    page.close()


def test_a_refused_start_shows_the_run_that_holds_the_lab(served):
    base, _ = served
    page = new_page(served, "train", (1366, 900))
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT)
    page.wait_for_selector("#state[data-state=finished]", timeout=WAIT)
    other = call(base, "POST", "/api/runs", {"epochs": 1, "paused": True})[1]  # from another tab
    page.fill("input[name=epochs]", "1")
    page.click("#start")
    page.wait_for_selector("#settings-error:not([hidden])", timeout=WAIT)
    assert f"run {other['id']} is still paused" in page.locator("#settings-error").inner_text()
    # the page now shows the run the server holds, paused, with its controls
    page.wait_for_selector("#state[data-state=paused]", timeout=WAIT)
    assert f"run {other['id']}" in page.locator("#where").inner_text()
    assert page.locator("#resume").is_enabled()
    shoot(page, "lab-start-refused.png")
    page.click("#stop")
    page.wait_for_selector("#state[data-state=stopped]", timeout=WAIT)
    assert call(base, "GET", f"/api/runs/{other['id']}")[1]["state"] == "stopped"
    assert page.problems == []
    page.close()


def test_a_refused_undo_and_delete_show_why_and_what_the_server_holds(served):
    base, _ = served
    page = new_page(served, "")
    page.wait_for_selector("#neurons .tile", timeout=WAIT)
    stroke(page, ONE)
    page.wait_for_selector("body[data-answer=current]", timeout=WAIT)
    page.locator("#meant button").nth(1).click()
    # the step, and what the page asks after it (the drawing's answers, the set): then it is settled
    with page.expect_response("**/api/inside"), page.expect_response(lambda r: "/api/set?offset=" in r.url):
        with page.expect_response("**/api/teach"):
            page.click("#teach")
    page.wait_for_selector("body[data-answer=current]", timeout=WAIT)
    assert page.locator("#undo").is_enabled()
    assert call(base, "POST", "/api/undo")[0] == 200  # undone elsewhere: the page does not know
    with page.expect_response("**/api/undo") as answer:
        page.click("#undo")
    assert answer.value.status == 409
    page.wait_for_function("document.getElementById('undo').disabled", timeout=WAIT)  # re-read: nothing to undo
    assert page.locator("#meant-status").inner_text() == "there is no step to undo: teach the network a digit first"
    # the set: saved here, then added to elsewhere; deleting with the old count is refused
    with page.expect_response(lambda r: r.url.endswith("/api/set") and r.request.method == "POST"):
        page.click("#save")
    page.wait_for_selector("#gallery .sample", timeout=WAIT)
    seven = [[0] * 28] * 10 + [[0] * 10 + [255] * 8 + [0] * 10] * 8 + [[0] * 28] * 10
    assert call(base, "POST", "/api/set", {"input": seven, "label": 7})[0] == 200
    with page.expect_response("**/api/set/delete") as answer:
        page.locator("#gallery .sample .remove").first.click()
    assert answer.value.status == 409
    page.wait_for_selector("#set-error:not([hidden])", timeout=WAIT)
    assert "the set now holds 2 drawings, not 1" in page.locator("#set-error").inner_text()
    page.wait_for_function("document.querySelectorAll('#gallery .sample').length === 2", timeout=WAIT)
    assert page.locator("#set-summary").inner_text().startswith("2 drawings saved")
    shoot(page, "draw-409.png")
    assert page.problems == []
    page.close()
