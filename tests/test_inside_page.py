"""The page's views inside the network, teaching and the handwriting set, in
a real headless browser (Debian's Chromium, driven by Playwright): draw,
look inside, teach, undo, save three drawings, read the set's accuracy."""

from __future__ import annotations

import os

import numpy as np
import pytest
from live import running
from test_browser import ARGS, CHROMIUM, stroke

from nndl import Network
from nndl.cli import main
from nndl.data import load, read_idx
from nndl.handwriting import IMAGES, LABELS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
        reason="needs Chromium (apt-get install chromium); CI installs it",
    ),
]

ONE = [(0.52, 0.18), (0.5, 0.5), (0.48, 0.82)]
SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]
ZERO = [(0.5 + 0.22 * np.sin(t), 0.5 - 0.33 * np.cos(t)) for t in np.linspace(0, 2.2 * np.pi, 27)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("handwriting") / "set"


@pytest.fixture(scope="module")
def page(digit_model, folder):
    from playwright.sync_api import sync_playwright

    with running(digit_model, dataset=folder) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.problems = []
            page.on("pageerror", lambda e: page.problems.append(str(e)))
            page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
            page.goto(base)
            page.wait_for_selector("#neurons .tile")  # the network's weights arrived
            yield page
        finally:
            browser.close()


def draw_and_read(page, points) -> str:
    page.click("#clear")
    stroke(page, points)
    page.wait_for_selector("body[data-answer=current]")  # the answer to the finished stroke
    return page.locator("#digit").inner_text()


def api(page, path: str):
    return page.evaluate(f"fetch('{path}').then(r => r.json())")


def test_inside_the_network_on_a_drawing(page):
    assert draw_and_read(page, ONE) == "1"
    tiles = page.locator("#neurons .tile")
    assert tiles.count() == 30
    # every hidden neuron is a 28x28 picture of its weights, in colour
    colours = page.evaluate(
        "() => [...document.querySelectorAll('#neurons canvas')].map(c => {"
        " const d = c.getContext('2d').getImageData(0, 0, 28, 28).data; let n = 0;"
        " for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 2]) n++; return n; })"
    )
    assert len(colours) == 30 and min(colours) > 300
    # activations: the captions, in the order shown, run from the most active down
    shown = page.eval_on_selector_all(
        "#neurons .tile",
        "els => els.map(e => [Number(getComputedStyle(e).order), Number(e.querySelector('figcaption')"
        ".textContent.split('· ')[1])]).sort((a, b) => a[0] - b[0]).map(p => p[1])",
    )
    assert shown == sorted(shown, reverse=True) and shown[0] > 0.5
    assert page.locator("#neurons .tile.active").count() == sum(a > 0.5 for a in shown)
    # the output layer: z and a for the ten digits, the answer's row marked
    rows = page.locator("#outputs .orow:not(.head)")
    assert rows.count() == 10
    assert "top" in rows.nth(1).get_attribute("class")
    a_shown = [float(t) for t in page.locator("#outputs .orow:not(.head) .v:last-child").all_inner_texts()]
    scores = [float(v) for v in page.locator(".scores .v").all_inner_texts()]
    assert a_shown == pytest.approx(scores, abs=1e-3)
    # by default: why the answer's output neuron fires, through the hidden layer
    assert page.locator("#why-title").inner_text() == "Which pixels push output neuron 1 up or down"
    assert "integrated gradients" in page.locator("#why-text").inner_text()
    assert "integrated gradients" in page.locator("#why-push").get_attribute("title")


def test_picking_a_hidden_neuron_shows_its_pixels(page):
    page.locator("#neurons .tile").nth(4).click()  # the neuron #4 (tiles are in DOM order)
    page.wait_for_function("document.getElementById('why-title').textContent.includes('#4')")
    assert page.locator("#why-title").inner_text() == "Which pixels push neuron #4 of hidden layer 1 up or down"
    assert "z = Σ wᵢxᵢ + b" in page.locator("#why-text").inner_text()
    assert "picked" in page.locator("#neurons .tile").nth(4).get_attribute("class")
    # the push is drawn only where there is ink: most of the picture stays white
    white = page.evaluate(
        "() => { const d = document.getElementById('why-push').getContext('2d').getImageData(0, 0, 28, 28).data;"
        " let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] === 255 && d[i + 1] === 255 && d[i + 2] === 255)"
        " n++; return n; }"
    )
    assert 500 < white < 784
    page.locator("#neurons .tile").nth(4).click()  # again: back to the answer's output
    page.wait_for_function("document.getElementById('why-title').textContent.includes('output neuron 1')")


def test_teach_it_a_digit_and_undo(page):
    assert page.locator("#teach").is_disabled()  # no digit chosen yet
    page.locator("#meant button").nth(7).click()
    with page.expect_response("**/api/teach") as answer:
        page.click("#teach")
    lesson = answer.value.json()
    page.wait_for_selector("#lesson:not([hidden])")
    page.wait_for_function("document.getElementById('lesson-summary').textContent.includes('towards')")
    assert "towards “7” with η = 3" in page.locator("#lesson-summary").inner_text()
    state = api(page, "api/network")
    assert (state["steps"], state["undo"]) == (1, 1)
    # scores before and after, the taught digit marked
    rows = page.locator("#before-after .ba-row:not(.head)")
    assert rows.count() == 10 and "mark" in rows.nth(7).get_attribute("class")
    for d in range(10):
        assert rows.nth(d).locator(".v").inner_text() == f"{lesson['before'][d]:.3f} → {lesson['after'][d]:.3f}"
    # the deltas: ten outputs, thirty hidden neurons; thirty pictures of weight changes
    assert page.locator("#delta-out .srow").count() == 10
    assert page.locator("#delta-hidden .col").count() == 30
    assert page.locator("#changes .tile").count() == 30
    assert "Nothing on disk has changed" in page.locator("#saved-to").inner_text()

    page.click("#undo")
    page.wait_for_function("document.getElementById('lesson-summary').textContent.startsWith('Undone')")
    state = api(page, "api/network")
    assert (state["steps"], state["undo"]) == (0, 0)
    assert page.locator("#undo").is_disabled() and page.locator("#download").is_hidden()


def test_save_three_drawings_and_read_the_set(page, folder):
    assert "No drawings saved yet" in page.locator("#set-summary").inner_text()
    for points, digit in ((ONE, 1), (SEVEN, 7), (ZERO, 0)):
        assert draw_and_read(page, points) == str(digit)
        page.locator("#meant button").nth(digit).click()
        page.click("#save")
        page.wait_for_function(f"document.querySelectorAll('#gallery .sample').length === {[1, 7, 0].index(digit) + 1}")
    saved = page.locator("#set-saved td").all_inner_texts()
    assert saved == ["1", "1", "0", "0", "0", "0", "0", "1", "0", "0", "3"]
    right = page.locator("#set-correct td").all_inner_texts()
    accuracy = page.locator("#set-accuracy td").all_inner_texts()
    assert right[0] == "1" and right[1] == "1" and right[7] == "1" and right[10] == "3"  # it reads all three
    assert accuracy[0] == accuracy[1] == accuracy[7] == accuracy[10] == "100 %" and accuracy[2] == "–"
    assert page.locator("#gallery .sample figcaption.label").all_inner_texts() == ["0", "7", "1"]  # newest first
    assert read_idx(folder / LABELS).tolist() == [1, 7, 0]


def test_the_set_is_what_evaluate_reads(page, folder, digit_model):
    """The files saved from the page, read as MNIST's loader reads them:
    the network's own evaluate agrees with the page's per-digit counts."""
    images, labels = read_idx(folder / IMAGES), read_idx(folder / LABELS)
    shown = api(page, "api/set")
    net = Network.load(digit_model)
    assert images.shape == (3, 28, 28) and net.evaluate((images.reshape(3, -1), labels)) == shown["total_correct"]
    for d in range(10):
        mine = labels == d
        assert shown["correct"][d] == (net.evaluate((images[mine].reshape(-1, 784), labels[mine])) if mine.any() else 0)


def test_nndl_evaluate_reads_a_set_saved_from_the_page(page, folder, digit_model, capsys):
    assert len(load(folder).test) == 3
    assert main(["evaluate", str(digit_model), "--data", str(folder)]) == 0
    assert "3 / 3" in capsys.readouterr().out


def test_delete_a_drawing_from_the_set(page, folder):
    page.locator("#gallery .sample").nth(1).locator("button.remove").click()  # the 7
    page.wait_for_function("document.querySelectorAll('#gallery .sample').length === 2")
    assert page.locator("#set-saved td").all_inner_texts()[7] == "0"
    assert read_idx(folder / LABELS).tolist() == [1, 0]


def test_no_script_errors(page):
    assert page.problems == []
