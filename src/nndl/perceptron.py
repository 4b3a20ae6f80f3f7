"""Perceptrons: the chapter's first artificial neuron.

A perceptron takes binary inputs ``x_j``, weighs them with weights ``w_j``
and fires when the weighted sum beats a threshold; with the bias
``b = -threshold``::

    output = 1  if w . x + b > 0
             0  if w . x + b <= 0
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .errors import ConfigError


class Perceptron:
    """A perceptron with ``weights`` and ``bias``: outputs 1 when
    ``w·x + b > 0`` and 0 otherwise.

    (The notes this package follows print the inequality the other way
    round -- 0 when ``w . x + b > 0`` -- which is a slip: with the book's NAND
    weights (-2, -2) and bias 3 it would compute AND instead of NAND.)
    """

    def __init__(self, weights: ArrayLike, bias: float) -> None:
        self.weights = np.asarray(weights, dtype=float)
        self.bias = float(bias)
        if self.weights.ndim != 1:
            raise ConfigError(f"weights must be a flat list of numbers, got shape {self.weights.shape}")

    def __repr__(self) -> str:
        return f"Perceptron(weights={self.weights.tolist()}, bias={self.bias})"

    def __call__(self, *x: ArrayLike) -> int:
        """The output for inputs ``x`` (as separate arguments or one sequence)."""
        inputs = x[0] if len(x) == 1 and np.ndim(x[0]) == 1 else np.asarray(x, dtype=float)
        return int(self.weighted_input(inputs) > 0)

    def weighted_input(self, x: ArrayLike) -> float:
        """``z = w . x + b``."""
        a = np.asarray(x, dtype=float)
        if a.shape != self.weights.shape:
            raise ConfigError(f"expected {len(self.weights)} inputs, got {a.shape[0] if a.ndim else a}")
        return float(self.weights @ a + self.bias)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Outputs for the rows of ``X``."""
        return (np.asarray(X, dtype=float) @ self.weights + self.bias > 0).astype(int)

    @classmethod
    def fit(cls, X: ArrayLike, y: ArrayLike, epochs: int = 100, eta: float = 1.0) -> Perceptron:
        """Learn weights with the perceptron learning rule.

        For each example whose output is wrong, ``w <- w + eta (y - output) x``
        and ``b <- b + eta (y - output)``.  On linearly separable data this
        stops changing after finitely many mistakes (the perceptron
        convergence theorem); training ends at the first epoch without one.
        """
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=int)
        p = cls(np.zeros(X.shape[1]), 0.0)
        for _ in range(epochs):
            mistakes = 0
            for x, target in zip(X, y):
                error = target - p(x)
                if error:
                    p.weights += eta * error * x
                    p.bias += eta * error
                    mistakes += 1
            if mistakes == 0:
                break
        return p


#: The book's NAND gate: weights -2, -2 and bias 3.
NAND = Perceptron([-2, -2], 3)


def nand(x1: int, x2: int) -> int:
    """NAND computed by the book's perceptron."""
    return NAND(x1, x2)


def add_bits(x1: int, x2: int) -> tuple[int, int]:
    """Add two bits with a circuit of NAND perceptrons, as in the chapter.

    Returns ``(sum, carry)``: the sum bit is ``x1 XOR x2``, built from four
    NANDs, and the carry bit ``x1 AND x2`` is a fifth NAND of the first
    gate's output with itself (the chapter draws it as one perceptron with
    weight -4 on that output).
    """
    a = nand(x1, x2)
    s = nand(nand(x1, a), nand(x2, a))
    carry = nand(a, a)
    return s, carry
