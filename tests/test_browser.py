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
            page.base = base
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


def network_of(page):
    """The network the page's server holds now, as its download gives it."""
    import tempfile

    from nndl import Network

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.npz"
        path.write_bytes(page.request.get(page.base + "api/network.npz").body())
        return Network.load(path)


def test_paint_a_neurons_weights_then_undo(page):
    import json

    import numpy as np

    from nndl.inside import look

    before = network_of(page)
    page.fill("#paint-neuron", "4")
    page.dispatch_event("#paint-neuron", "change")
    page.check("input[name=brush][value='-1']")
    painted = []
    page.on("request", lambda r: r.url.endswith("/api/paint") and painted.append(json.loads(r.post_data)))
    canvas = page.locator("#paint-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.4 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.8 * box["width"], box["y"] + 0.6 * box["height"], steps=15)
    page.mouse.up()
    page.wait_for_selector("#paint-canvas[data-strokes='1']", timeout=30_000)
    page.wait_for_selector("body[data-answer=current]", timeout=30_000)
    assert [p["stroke"] for p in painted][:1] == ["new"] and all(p["stroke"] == "more" for p in painted[1:])
    after = network_of(page)
    changed = np.flatnonzero(np.any(after.weights[0] != before.weights[0], axis=1))
    assert changed.tolist() == [4] and (after.weights[0][4] <= before.weights[0][4]).all()
    # the scores beside the brush are the painted network's on the drawing
    drawing = np.array(painted[-1]["input"], np.uint8)
    shown = [float(v) for v in page.locator("#paint-scores .v").all_inner_texts()]
    np.testing.assert_allclose(shown, look(after, drawing).scores, atol=5e-4)
    assert page.locator("#paint-digit").inner_text() == str(int(np.argmax(look(after, drawing).scores)))
    a = look(after, drawing).activations[0][4]
    assert (
        f"Neuron 4 on your drawing: z = {look(after, drawing).zs[0][4]:.2f}, a = {a:.3f}."
        in page.locator("#paint-status").inner_text()
    )
    page.click("#paint-undo")
    page.wait_for_function("document.getElementById('paint-status').textContent.startsWith('Undone')")
    for mine, then in zip(network_of(page).weights + network_of(page).biases, before.weights + before.biases):
        assert np.array_equal(mine, then)  # the stroke taken back bit for bit


def test_measure_how_far_the_reading_stretches(page, digit_model, mnist):
    import json

    from nndl import Network
    from nndl.robustness import robustness
    from nndl.serve.inside_api import ROBUSTNESS_AMOUNTS, ROBUSTNESS_SAMPLE

    page.click("#measure")
    page.wait_for_function("document.querySelectorAll('#robust figure.robust').length === 4", timeout=120_000)
    want = robustness(Network.load(digit_model), mnist.test, ROBUSTNESS_AMOUNTS, sample=ROBUSTNESS_SAMPLE, seed=0)
    for figure in page.locator("#robust figure.robust").all():
        curve = want[figure.get_attribute("data-distortion")]
        assert json.loads(figure.get_attribute("data-accuracies")) == curve.accuracies
        last = curve.amounts[-1]
        assert figure.locator("figcaption").inner_text() == (
            f"{curve.distortion}: {100 * curve.accuracies[-1]:.1f} % right at {last:g}"
        )
        assert figure.locator("circle").count() == len(curve.amounts)


def test_no_script_errors(page):
    assert page.problems == []
