"""Perceptrons: NAND, the adder, the learning rule, and the sigmoid limit."""

from __future__ import annotations

import itertools

import numpy as np

from nndl import Perceptron, add_bits, nand, sigmoid


def test_nand_truth_table():
    assert [nand(a, b) for a, b in itertools.product((0, 1), repeat=2)] == [1, 1, 1, 0]


def test_adder_adds_two_bits():
    for a, b in itertools.product((0, 1), repeat=2):
        total, carry = add_bits(a, b)
        assert 2 * carry + total == a + b


def test_output_is_one_when_weighted_input_is_positive():
    p = Perceptron([1.0, -1.0], 0.0)
    assert p(1, 0) == 1 and p(0, 1) == 0 and p(0, 0) == 0  # w.x + b = 0 gives 0


def test_learning_rule_separates_separable_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    true_w, true_b = np.array([2.0, -1.0, 0.5]), 0.3
    y = (X @ true_w + true_b > 0).astype(int)
    X = X[np.abs(X @ true_w + true_b) > 0.1]  # keep a margin
    y = (X @ true_w + true_b > 0).astype(int)
    p = Perceptron.fit(X, y, epochs=1000)
    assert np.array_equal(p.predict(X), y)


def test_learning_rule_learns_nand():
    X = np.array(list(itertools.product((0, 1), repeat=2)))
    p = Perceptron.fit(X, np.array([1, 1, 1, 0]))
    assert p.predict(X).tolist() == [1, 1, 1, 0]


def test_sigmoid_neuron_scaled_by_c_becomes_the_perceptron():
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=4), 0.2
    p = Perceptron(w, b)
    X = rng.normal(size=(500, 4))
    z = X @ w + b
    X = X[np.abs(z) > 1e-3]
    for c in (1e3, 1e6, 1e9):
        out = sigmoid(c * (X @ w + b))
        assert np.max(np.abs(out - p.predict(X))) < np.exp(-c * 1e-3) + 1e-12


def test_the_adder_circuit_adds_any_two_bits_at_any_scale():
    from nndl.perceptron import adder_gates, adder_outputs

    for a, b in itertools.product((0, 1), repeat=2):
        for c in (1.0, 0.01, 7.0, 1e6):  # part I: scaling by c > 0 changes no perceptron's output
            s, carry = adder_outputs(a, b, c)
            assert 2 * carry + s == a + b
        names = [g.name for g in adder_gates(a, b)]
        assert names == ["a", "b", "c", "sum", "carry"]


def test_sigmoid_adder_becomes_the_perceptron_adder_as_c_grows():
    """Part II: away from w.x + b = 0 the gap shrinks with c; on it, a gate outputs 1/2 whatever c."""
    from nndl.perceptron import adder_gates, adder_outputs, simulation_gap

    grid = [(i / 20, j / 20) for i in range(21) for j in range(21)]
    gaps = [simulation_gap(c, grid, margin=0.1) for c in (1, 10, 100, 1000)]
    assert gaps[0] > gaps[1] > 0.1 and gaps[2] < 1e-3 and gaps[3] < 1e-12
    assert simulation_gap(10, grid, margin=10) != simulation_gap(10, grid, margin=10)  # no input that far: nan
    for c in (1, 10, 1000, 1e9):
        a = adder_gates(0.75, 0.75, c, "sigmoid")[0]  # -2(0.75) - 2(0.75) + 3 = 0
        assert a.z == 0 and a.output == 0.5
    assert adder_gates(0.75, 0.75)[0].output == 0  # the perceptron's gate a
    # there the outputs still agree; at (0.5, 0) gate b's z = 0, and the sum bit stays 1/2 where the perceptrons give 1
    assert adder_outputs(0.75, 0.75, 1e6, "sigmoid") == adder_outputs(0.75, 0.75) == (0, 1)
    assert [g.z for g in adder_gates(0.5, 0)][:2] == [2, 0] and adder_outputs(0.5, 0) == (1, 0)
    for c in (10, 1000, 1e9):
        assert abs(adder_outputs(0.5, 0, c, "sigmoid")[0] - 0.5) < 1e-3


def test_sigmoid_neuron_and_scaled_perceptron():
    p = Perceptron([0.5, -1.5], 0.25)
    x = [0.3, 0.7]
    z = 0.5 * 0.3 - 1.5 * 0.7 + 0.25
    assert abs(p.sigmoid(x) - 1 / (1 + np.exp(-z))) < 1e-15
    q = p.scaled(4.0)
    assert q.weights.tolist() == [2.0, -6.0] and q.bias == 1.0
    assert abs(q.weighted_input(x) - 4 * z) < 1e-15


def test_learning_steps_trace_the_rule_to_a_separating_line():
    from nndl.perceptron import LABELS, POINTS, learning_steps

    steps = list(learning_steps(POINTS, LABELS))
    assert steps[0].weights == (0.0, 0.0) and steps[0].output == 0  # z = 0 gives 0, right for a class-0 point
    last_epoch = [s for s in steps if s.epoch == steps[-1].epoch]
    assert len(last_epoch) == len(POINTS) and all(s.output == y for s, y in zip(last_epoch, LABELS))
    # every step is the rule: w changes by (y - output) x exactly when the output was wrong
    previous = (0.0, 0.0, 0.0)
    for s in steps:
        error = LABELS[s.example] - s.output
        x = POINTS[s.example]
        expected = (previous[0] + error * x[0], previous[1] + error * x[1], previous[2] + error)
        assert np.allclose((*s.weights, s.bias), expected)
        previous = (*s.weights, s.bias)
    p = Perceptron.fit(POINTS, LABELS)
    assert p.predict(POINTS).tolist() == list(LABELS) and tuple(p.weights) == steps[-1].weights


def test_the_adder_refuses_what_the_exercise_does_not_allow():
    import pytest

    from nndl.errors import ConfigError
    from nndl.perceptron import adder_gates

    with pytest.raises(ConfigError, match="c must be a positive number.*got -1"):
        adder_gates(1, 0, c=-1)
    with pytest.raises(ConfigError, match="neuron must be 'perceptron' or 'sigmoid', got 'relu'"):
        adder_gates(1, 0, neuron="relu")  # type: ignore[arg-type]
