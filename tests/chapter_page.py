"""Checks of the chapter's widgets in a browser, shared by the page served by
``nndl serve`` (tests/test_chapter_browser.py) and the same widgets in the
built docs opened from disk (tests/test_docs.py): the JavaScript functions
against nndl's Python over grids of inputs, and controls moved by hand."""

from __future__ import annotations

import itertools

import numpy as np

from nndl import descent
from nndl.perceptron import LABELS, POINTS, adder_gates, learning_steps, simulation_gap

#: how close a JavaScript number must be to Python's (the same operations in
#: the same order; only exp/tanh may differ in the last bit)
TOLERANCE = 1e-12
GRID = [(i / 20, j / 20) for i in range(21) for j in range(21)]
CS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]


def close(js, py) -> bool:
    return bool(np.allclose(np.asarray(js, dtype=float), np.asarray(py, dtype=float), rtol=TOLERANCE, atol=TOLERANCE))


def shown(page, widget: str, key: str) -> float:
    """The full value behind a readout of a widget (its text is that value, rounded)."""
    return float(page.get_attribute(f"[data-widget={widget}] dd[data-key={key}]", "data-value"))


def text(page, widget: str, key: str) -> str:
    return page.inner_text(f"[data-widget={widget}] dd[data-key={key}]").replace("−", "-")


def move(page, widget: str, name: str, value: float) -> None:
    """Set a widget's slider as a hand would (an input event)."""
    page.fill(f"[data-widget={widget}] input[name={name}]", str(value))


def check_perceptron_functions(page) -> None:
    rng = np.random.default_rng(0)
    cases = [
        (rng.uniform(-8, 8, 3).tolist(), float(rng.uniform(-10, 10)), rng.uniform(0, 1, 3).tolist()) for _ in range(200)
    ]
    js = page.evaluate(
        "cases => cases.map(([w, b, x]) => { const P = nndlChapter.perceptron;"
        " return [P.weightedInput(w, b, x), P.output(w, b, x), P.sigmoidOutput(w, b, x)]; })",
        cases,
    )
    from nndl.perceptron import Perceptron

    py = [[Perceptron(w, b).weighted_input(x), Perceptron(w, b)(x), Perceptron(w, b).sigmoid(x)] for w, b, x in cases]
    assert close(js, py)
    gates = page.evaluate(
        "([grid, cs]) => grid.flatMap(([x1, x2]) => cs.flatMap(c => ['perceptron', 'sigmoid'].map(n =>"
        " nndlChapter.perceptron.adderGates(x1, x2, c, n).map(g => [g.z, g.output]))))",
        [GRID, CS],
    )
    expected = [
        [[g.z, g.output] for g in adder_gates(x1, x2, c, n)]
        for x1, x2 in GRID
        for c in CS
        for n in ("perceptron", "sigmoid")
    ]
    assert close(gates, expected)
    bits = page.evaluate("() => [[0,0],[0,1],[1,0],[1,1]].map(([a, b]) => nndlChapter.perceptron.addBits(a, b))")
    from nndl import add_bits

    assert bits == [list(add_bits(a, b)) for a, b in itertools.product((0, 1), repeat=2)]
    steps = page.evaluate(
        "() => nndlChapter.perceptron.learningSteps(nndlChapter.perceptron.POINTS, nndlChapter.perceptron.LABELS)"
    )
    assert page.evaluate("() => [nndlChapter.perceptron.POINTS, nndlChapter.perceptron.LABELS]") == [
        [list(p) for p in POINTS],
        list(LABELS),
    ]
    py_steps = list(learning_steps(POINTS, LABELS))
    assert [(s["epoch"], s["example"], s["output"]) for s in steps] == [
        (s.epoch, s.example, s.output) for s in py_steps
    ]
    assert close([[*s["weights"], s["bias"]] for s in steps], [[*s.weights, s.bias] for s in py_steps])
    gaps = page.evaluate("([cs, grid]) => cs.map(c => nndlChapter.perceptron.simulationGap(c, grid, 0.1))", [CS, GRID])
    assert close(gaps, [simulation_gap(c, GRID, 0.1) for c in CS])


def check_descent_functions(page) -> None:
    rng = np.random.default_rng(1)
    vs = rng.uniform(-2, 2, size=(100, 2)).tolist()
    js = page.evaluate(
        "vs => vs.map(v => { const G = nndlChapter.descent;"
        " return [G.valley(v), ...G.valleyGradient(v), G.curve([v[0]]), ...G.curveGradient([v[0]])]; })",
        vs,
    )
    py = [
        [descent.valley(v), *descent.valley_gradient(v), descent.curve(v[:1]), *descent.curve_gradient(v[:1])]
        for v in vs
    ]
    assert close(js, py)
    for start, eta in [((-1.8, 1.5), 0.02), ((-1.8, 1.5), 0.2), ((1.0, -0.3), 0.45), ((0.5, 1.9), 0.55)]:
        path = page.evaluate("([s, eta]) => nndlChapter.descent.descend(s, eta, 300)", [start, eta])
        assert close(path, descent.descend(start, eta, 300))
    for x, eta in [(2.2, 0.1), (-0.4, 0.02), (2.2, 0.6), (1.0, 1.0)]:
        path = page.evaluate(
            "([x, eta]) => nndlChapter.descent.descend([x], eta, 100, nndlChapter.descent.curveGradient)", [x, eta]
        )
        expected = descent.descend((x,), eta, 100, descent.curve_gradient)
        assert len(path) == len(expected) and close(path, expected)
    numbers = page.evaluate(
        "() => { const r = nndlChapter.descent.lcg(12345); return Array.from({length: 50}, r.random); }"
    )
    rng_py = descent.Lcg(12345)
    assert numbers == [rng_py.random() for _ in range(50)]  # exactly
    for seed in (1, 7):
        points = page.evaluate("seed => nndlChapter.descent.cloud(20, seed)", seed)
        assert points == [list(p) for p in descent.cloud(20, seed)]
        for m in (1, 5, 20):
            path = page.evaluate(
                "([seed, m]) => { const G = nndlChapter.descent, p = G.cloud(20, 1);"
                " return G.minibatchPath(p, [-1.6, -1.6], 0.2, m, 4, seed); }",
                [seed, m],
            )
            assert close(path, descent.minibatch_path(descent.cloud(20, 1), (-1.6, -1.6), 0.2, m, 4, seed))
            found = page.evaluate(
                "([seed, m]) => { const G = nndlChapter.descent, p = G.cloud(20, 1);"
                " return [G.estimates(p, [0.3, -1.2], m, seed), G.estimateSpread(p, [0.3, -1.2], m, seed)]; }",
                [seed, m],
            )
            points = descent.cloud(20, 1)
            assert close(found[0], descent.estimates(points, (0.3, -1.2), m, seed))
            assert close(found[1], descent.estimate_spread(points, (0.3, -1.2), m, seed))


def check_the_neuron_slider(page) -> None:
    """Move the sigmoid neuron's bias: the numbers shown are Python's."""
    from nndl.perceptron import Perceptron

    for b in (-0.15, -0.3, 0.55):
        move(page, "neuron", "b", b)
        p = Perceptron([0.6, -0.8], b)
        x = [1.0, 0.5]
        assert close(shown(page, "neuron", "z"), p.weighted_input(x))
        assert close(shown(page, "neuron", "sigmoid"), p.sigmoid(x))
        assert text(page, "neuron", "sigmoid") == f"{p.sigmoid(x):.4f}"
        assert text(page, "neuron", "step") == str(p(x))
    move(page, "neuron", "b", -0.15)
