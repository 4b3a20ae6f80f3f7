"""The drawing page in a real headless browser: Debian's Chromium, driven by
Playwright, draws a digit with the mouse and reads the network's answer."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from live import running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Skipped only off CI: under CI a missing Chromium fails the test.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("CI"),
        reason="needs Chromium (apt-get install chromium); CI installs it",
    ),
]


@pytest.fixture(scope="module")
def page(digit_model):
    from playwright.sync_api import sync_playwright

    with running(digit_model) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 700})
            page.problems = []  # script errors and failed loads, checked by the last test
            page.on("pageerror", lambda e: page.problems.append(str(e)))
            page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
            page.goto(base)
            yield page
        finally:
            browser.close()


def stroke(page, points) -> None:
    """Draw through ``points`` (fractions of the pad) with the mouse."""
    box = page.locator("#pad").bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def test_draw_a_one_and_read_the_answer(page):
    assert page.locator("#digit").inner_text() == "?"
    stroke(page, [(0.52, 0.18), (0.5, 0.5), (0.48, 0.82)])
    page.wait_for_selector("body[data-answer=current]", timeout=10_000)  # the answer to the finished stroke
    assert page.locator("#digit").inner_text() == "1"
    values = [float(v) for v in page.locator(".scores .v").all_inner_texts()]
    assert len(values) == 10 and max(values) == values[1] and values[1] > 0.5
    widths = page.eval_on_selector_all(".scores .fill", "els => els.map(e => e.getBoundingClientRect().width)")
    assert widths[1] == max(widths) > 0
    # the 28x28 input the network saw is shown: a bright stroke on black
    lit = page.evaluate(
        "() => { const d = document.getElementById('input').getContext('2d').getImageData(0, 0, 28, 28).data;"
        " let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 128) n++; return n; }"
    )
    assert 20 < lit < 200
    if os.environ.get("NNDL_SCREENSHOT"):
        page.screenshot(path=os.environ["NNDL_SCREENSHOT"])


def test_clear_and_draw_again(page):
    page.click("#clear")
    assert page.locator("#digit").inner_text() == "?"
    assert page.locator(".scores .v").all_inner_texts()[0] == "–"
    # a seven: across the top, then down to the left
    stroke(page, [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)])
    page.wait_for_selector("body[data-answer=current]", timeout=10_000)
    assert page.locator("#digit").inner_text() == "7"
    assert page.locator("#error").is_hidden()


def test_a_finger_draws_too(page):
    """Touch arrives as pointer events of type 'touch'; the page draws them the same way."""
    page.click("#clear")
    box = page.locator("#pad").bounding_box()
    page.evaluate(
        """([x0, y0, w, h]) => {
          const pad = document.getElementById('pad');
          // a zero: an oval, round once and a little more
          const pts = Array.from({length: 27}, (_, i) => [
            0.5 + 0.22 * Math.sin(i * Math.PI / 12), 0.5 - 0.33 * Math.cos(i * Math.PI / 12)]);
          const send = (type, [fx, fy]) => pad.dispatchEvent(new PointerEvent(type, {
            pointerId: 7, pointerType: 'touch', isPrimary: true, bubbles: true,
            clientX: x0 + fx * w, clientY: y0 + fy * h}));
          send('pointerdown', pts[0]);
          for (let i = 1; i < pts.length; i++)
            send('pointermove', pts[i]);
          send('pointerup', pts[pts.length - 1]);
        }""",
        [box["x"], box["y"], box["width"], box["height"]],
    )
    page.wait_for_selector("body[data-answer=current]", timeout=10_000)
    assert page.locator("#digit").inner_text() == "0"


def test_no_script_errors(page):
    assert page.problems == []
