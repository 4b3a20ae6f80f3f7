"""The chapter page of ``nndl serve`` in Chromium: every widget's numbers
are nndl's Python's, its functions called directly over grids of inputs and
its controls moved and clicked; no script errors."""

from __future__ import annotations

import itertools
import os

import pytest
from chapter_page import (
    check_descent_functions,
    check_perceptron_functions,
    check_the_neuron_slider,
    close,
    move,
    shown,
    text,
)
from live import fetch, running
from test_browser import ARGS, CHROMIUM, pytestmark  # noqa: F401  (the same browser, marks and skip)

from nndl import add_bits, descent
from nndl.network import Network
from nndl.perceptron import LABELS, POINTS, Perceptron, adder_gates, adder_outputs, learning_steps, simulation_gap


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    model = Network([784, 10]).save(tmp_path_factory.mktemp("model") / "tiny.npz")
    with running(model) as base:
        yield base


@pytest.fixture(scope="module")
def page(base):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.problems = []
            page.on("pageerror", lambda e: page.problems.append(str(e)))
            page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
            page.on("requestfailed", lambda r: page.problems.append(f"{r.url}: {r.failure}"))
            page.goto(base + "chapter")
            page.wait_for_selector("[data-widget=minibatch] dd[data-key=cost20]")
            yield page
        finally:
            browser.close()


def test_the_page_is_served_and_linked(base):
    status, headers, body = fetch(base, "/chapter")
    assert status == 200 and headers["content-type"].startswith("text/html") and b'data-widget="valley"' in body
    for page in ("/", "/train"):
        assert b'href="chapter"' in fetch(base, page)[2]


def test_the_javascript_is_the_python(page):
    check_perceptron_functions(page)
    check_descent_functions(page)


def test_one_perceptron(page):
    for w1, b in [(6, -5), (2, -3), (-4, 0.5)]:
        move(page, "perceptron", "w1", w1)
        move(page, "perceptron", "b", b)
        p = Perceptron([w1, 2, 2], b)
        assert shown(page, "perceptron", "z") == p.weighted_input([1, 0, 1])
        assert text(page, "perceptron", "output") == str(p(1, 0, 1))
    move(page, "perceptron", "x2", 1)
    assert shown(page, "perceptron", "z") == Perceptron([-4, 2, 2], 0.5).weighted_input([1, 1, 1])


def test_nand_and_the_adder_follow_the_clicks(page):
    for target in ("nand", "adder"):
        seen = set()
        for _ in range(4):
            x = [int(page.inner_text(f"[data-widget={target}] button[name=x{j}]")) for j in (1, 2)]
            if target == "nand":
                assert text(page, "nand", "output") == str(Perceptron([-2, -2], 3)(x))
                assert shown(page, "nand", "z") == -2 * x[0] - 2 * x[1] + 3
            else:
                s, c = add_bits(*x)
                assert (text(page, "adder", "sum"), text(page, "adder", "carry")) == (str(s), str(c))
                assert text(page, "adder", "call") == f"add_bits({x[0]}, {x[1]}) = ({s}, {c})"
            seen.add(tuple(x))
            page.click(f"[data-widget={target}] button[name=x{1 + len(seen) % 2}]")
        assert seen == set(itertools.product((0, 1), repeat=2))


def test_the_learning_rule_steps_as_python_does(page):
    steps = list(learning_steps(POINTS, LABELS))
    rule = "[data-widget=rule]"
    for k in (1, 2, 3):
        page.click(f"{rule} button[name=step]")
        assert (shown(page, "rule", "w1"), shown(page, "rule", "w2"), shown(page, "rule", "b")) == (
            *steps[k - 1].weights,
            steps[k - 1].bias,
        )
    page.click(f"{rule} button[name=epoch]")
    done = max(i for i, s in enumerate(steps) if s.epoch == 0) + 1
    assert text(page, "rule", "step") == f"{done} of {len(steps)}"
    page.click(f"{rule} button[name=run]")
    assert (shown(page, "rule", "w1"), shown(page, "rule", "w2"), shown(page, "rule", "b")) == (
        *steps[-1].weights,
        steps[-1].bias,
    )
    assert "done" in text(page, "rule", "status")
    page.click(f"{rule} button[name=reset]")
    assert shown(page, "rule", "b") == 0


def test_step_versus_sigmoid(page):
    check_the_neuron_slider(page)
    # near z = 0 a nudge of the bias flips the step and moves the sigmoid a little
    page.click("[data-widget=neuron] button[name='nudge-b-']")
    p, q = Perceptron([0.6, -0.8], -0.15), Perceptron([0.6, -0.8], -0.25)
    x = [1.0, 0.5]
    assert text(page, "neuron", "dstep") == "-1" and q(x) - p(x) == -1
    assert close(shown(page, "neuron", "dsigmoid"), q.sigmoid(x) - p.sigmoid(x))
    assert abs(shown(page, "neuron", "dsigmoid")) < 0.03


def test_sigmoid_neurons_simulating_perceptrons(page):
    grid = [(i / 20, j / 20) for i in range(21) for j in range(21)]
    for k, c in [(0, 1), (3, 10), (6, 100), (9, 1000)]:
        move(page, "scaling", "c", k)
        assert close(shown(page, "scaling", "grid"), simulation_gap(c, grid, 0.1))
        for x, button in [([1, 0], None), ([0.75, 0.75], "edge-a"), ([0.5, 0], "edge-b")]:
            if button:
                page.click(f"[data-widget=scaling] button[name={button}]")
            else:
                move(page, "scaling", "x1", 1)
                move(page, "scaling", "x2", 0)
            smooth = adder_gates(*x, c, "sigmoid")
            for g in smooth:
                cell = page.locator(f"[data-widget=scaling] tr[data-gate={g.name}] td").nth(3)
                assert close(float(cell.get_attribute("data-value")), g.output)
            a, s = adder_outputs(*x), adder_outputs(*x, c, "sigmoid")
            assert close(shown(page, "scaling", "gap"), max(abs(a[0] - s[0]), abs(a[1] - s[1])))
    # at (0.5, 0) gate b's z is 0, and the sum bit stays at 1/2 however large c is
    assert abs(shown(page, "scaling", "gap") - 0.5) < 1e-12


def test_the_ball_in_the_valley(page):
    valley = "[data-widget=valley]"
    box = page.locator(f"{valley} canvas").bounding_box()
    page.mouse.click(box["x"] + 0.2 * box["width"], box["y"] + 0.25 * box["height"])
    start = (shown(page, "valley", "v1"), shown(page, "valley", "v2"))
    assert start[0] < -0.5 and start[1] > 0.5 and shown(page, "valley", "steps") == 0
    for eta, name in [(0.02, "eta-0.02"), (0.55, "eta-0.55"), (0.2, "eta-0.2")]:
        page.click(f"{valley} button[name='{name}']")
        page.click(f"{valley} button[name=step]")
        page.click(f"{valley} button[name=run]")
        end = descent.descend(start, eta, 21)[-1]
        assert close([shown(page, "valley", "v1"), shown(page, "valley", "v2")], end)
        assert close(shown(page, "valley", "cost"), descent.valley(end))
        page.click(f"{valley} button[name=reset]")
    if os.environ.get("NNDL_SCREENSHOT_DIR"):
        page.locator(valley).screenshot(path=os.path.join(os.environ["NNDL_SCREENSHOT_DIR"], "valley.png"))


def test_the_one_variable_case(page):
    move(page, "curve", "eta", 0.1)
    page.click("[data-widget=curve] button[name=run]")
    end = descent.descend((2.2,), 0.1, 20, descent.curve_gradient)[-1]
    assert close(shown(page, "curve", "v"), end[0])
    assert close(shown(page, "curve", "slope"), descent.curve_gradient(end)[0])
    assert close(shown(page, "curve", "next"), -0.1 * descent.curve_gradient(end)[0])


def test_minibatch_paths(page):
    points = descent.cloud(20, 1)
    for seed, epochs in [(1, 3), (4, 6)]:
        move(page, "minibatch", "seed", seed)
        move(page, "minibatch", "epochs", epochs)
        for m in (1, 5, 20):
            path = descent.minibatch_path(points, (-1.6, -1.6), 0.2, m, epochs, seed)
            assert shown(page, "minibatch", f"steps{m}") == len(path) - 1 == epochs * 20 // m
            assert close(shown(page, "minibatch", f"cost{m}"), descent.cloud_cost(path[-1], points))
            spread = descent.estimate_spread(points, (-1.6, -1.6), m, seed)
            assert close(shown(page, "minibatch", f"spread{m}"), spread)


def test_no_script_errors(page):
    assert page.problems == []
