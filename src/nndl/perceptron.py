"""Perceptrons: the chapter's first artificial neuron.

A perceptron takes binary inputs ``x_j``, weighs them with weights ``w_j``
and fires when the weighted sum beats a threshold; with the bias
``b = -threshold``::

    output = 1  if w . x + b > 0
             0  if w . x + b <= 0

The same neuron with a sigmoid instead of the step outputs
``sigma(w . x + b)``; scaling every weight and bias by ``c > 0`` leaves a
network of perceptrons as it is, and turns a network of sigmoid neurons into
it as ``c`` grows -- except where some ``w . x + b = 0`` (the chapter's
exercise "sigmoid neurons simulating perceptrons").  The chapter page of
``nndl serve`` computes the same functions in JavaScript
(``serve/web/chapter/perceptron.js``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .errors import ConfigError
from .network import sigmoid


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

    def sigmoid(self, x: ArrayLike) -> float:
        """The sigmoid neuron with the same weights and bias: ``sigma(w . x + b)``."""
        return float(sigmoid(np.asarray(self.weighted_input(x))))

    def scaled(self, c: float) -> Perceptron:
        """The perceptron with every weight and the bias multiplied by ``c``."""
        return Perceptron(c * self.weights, c * self.bias)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Outputs for the rows of ``X``."""
        return (np.asarray(X, dtype=float) @ self.weights + self.bias > 0).astype(int)

    @classmethod
    def fit(cls, X: ArrayLike, y: ArrayLike, epochs: int = 100, eta: float = 1.0) -> Perceptron:
        """Learn weights with the perceptron learning rule, from zero weights
        and bias (the last of :func:`learning_steps`)."""
        p = cls(np.zeros(np.shape(X)[1]), 0.0)
        for step in learning_steps(X, y, epochs, eta):
            p = cls(step.weights, step.bias)
        return p


class RuleStep(NamedTuple):
    """One example visited by the perceptron learning rule: which one (its
    row ``example`` in epoch ``epoch``), the ``output`` it got, and the
    ``weights`` and ``bias`` after the rule's update."""

    epoch: int
    example: int
    output: int
    weights: tuple[float, ...]
    bias: float


def learning_steps(X: ArrayLike, y: ArrayLike, epochs: int = 100, eta: float = 1.0) -> Iterator[RuleStep]:
    """The perceptron learning rule, one example at a time, from zero weights and bias.

    For each example whose output is wrong, ``w <- w + eta (y - output) x``
    and ``b <- b + eta (y - output)``.  On linearly separable data this
    stops changing after finitely many mistakes (the perceptron
    convergence theorem); the steps end with the first epoch without one,
    or after ``epochs`` epochs.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    w, b = [0.0] * X.shape[1], 0.0
    for epoch in range(epochs):
        mistakes = 0
        for i, (x, target) in enumerate(zip(X.tolist(), y.tolist())):
            output = int(sum(wj * xj for wj, xj in zip(w, x)) + b > 0)
            error = target - output
            if error:
                w = [wj + eta * error * xj for wj, xj in zip(w, x)]
                b += eta * error
                mistakes += 1
            yield RuleStep(epoch, i, output, tuple(w), b)
        if mistakes == 0:
            return


#: A small data set in the plane for the learning rule: points ``(x1, x2)``
#: and their classes, 1 above the line ``x1 + x2 = 1`` and 0 below it.
POINTS = (
    (0.2, 0.3), (0.8, 0.6), (0.4, 0.1), (0.6, 0.9), (0.1, 0.7),
    (0.9, 0.3), (0.6, 0.2), (0.7, 0.7), (0.3, 0.5), (0.4, 0.8),
)  # fmt: skip
LABELS = (0, 1, 0, 1, 0, 1, 0, 1, 0, 1)

#: The book's NAND gate: weights -2, -2 and bias 3.
NAND = Perceptron([-2, -2], 3)


def nand(x1: int, x2: int) -> int:
    """NAND computed by the book's perceptron."""
    return NAND(x1, x2)


#: The chapter's two-bit adder as NAND gates, in order: each gate's name and
#: the two signals it reads.  The sum bit ``x1 XOR x2`` takes four NANDs; the
#: carry bit ``x1 AND x2`` is a fifth NAND of gate ``a``'s output with itself
#: (the chapter draws it as one perceptron with weight -4 on that output).
ADDER = (("a", "x1", "x2"), ("b", "x1", "a"), ("c", "x2", "a"), ("sum", "b", "c"), ("carry", "a", "a"))


class Gate(NamedTuple):
    """A gate of a circuit on given inputs: its ``name``, its weighted input
    ``z = w . x + b`` and its ``output``."""

    name: str
    z: float
    output: float


def adder_gates(
    x1: float, x2: float, c: float = 1.0, neuron: Literal["perceptron", "sigmoid"] = "perceptron"
) -> list[Gate]:
    """Each gate of :data:`ADDER` on inputs ``x1``, ``x2``, every gate the
    book's NAND (weights -2, -2, bias 3) with weights and bias times ``c``,
    and a step (``"perceptron"``) or a sigmoid (``"sigmoid"``) neuron.

    With bits for inputs and ``neuron="perceptron"`` this is :func:`add_bits`;
    the inputs may be any numbers, as the exercise's are.
    """
    if neuron not in ("perceptron", "sigmoid"):
        raise ConfigError(f"neuron must be 'perceptron' or 'sigmoid', got {neuron!r}")
    if not c > 0:
        raise ConfigError(f"c must be a positive number (the exercise scales by c > 0), got {c!r}")
    gate = NAND.scaled(c)
    signals: dict[str, float] = {"x1": float(x1), "x2": float(x2)}
    gates = []
    for name, u, v in ADDER:
        x = [signals[u], signals[v]]
        out = float(gate(x)) if neuron == "perceptron" else gate.sigmoid(x)
        gates.append(Gate(name, gate.weighted_input(x), out))
        signals[name] = out
    return gates


def adder_outputs(
    x1: float, x2: float, c: float = 1.0, neuron: Literal["perceptron", "sigmoid"] = "perceptron"
) -> tuple[float, float]:
    """``(sum, carry)`` of :func:`adder_gates`."""
    out = {g.name: g.output for g in adder_gates(x1, x2, c, neuron)}
    return out["sum"], out["carry"]


def add_bits(x1: int, x2: int) -> tuple[int, int]:
    """Add two bits with the chapter's circuit of NAND perceptrons
    (:data:`ADDER`); returns ``(sum, carry)``."""
    s, carry = adder_outputs(x1, x2)
    return int(s), int(carry)


def simulation_gap(c: float, inputs: Sequence[tuple[float, float]], margin: float = 0.0) -> float:
    """The largest ``|sigmoid network - perceptron network|`` over the adder's
    outputs, with weights and biases times ``c``, over those ``inputs`` where
    every gate of the perceptron network has ``|w . x + b| > margin``
    (``nan`` if there are none)."""
    gaps = []
    for x1, x2 in inputs:
        if all(abs(g.z) > margin for g in adder_gates(x1, x2)):
            step, smooth = adder_outputs(x1, x2), adder_outputs(x1, x2, c, "sigmoid")
            gaps += [abs(a - b) for a, b in zip(step, smooth)]
    return max(gaps, default=float("nan"))
