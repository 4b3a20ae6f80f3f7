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
