"""Gradient descent as the chapter pictures it: a ball rolling down a valley.

The chapter minimises a cost ``C(v)`` of a few variables by repeatedly
stepping against the gradient, ``v -> v' = v - eta grad C``, which changes the
cost by about ``Delta C = -eta |grad C|^2``.  Here are its examples, small
enough to watch: a two-variable valley (:func:`valley`), the one-variable
case of the chapter's exercise (:func:`curve`), and a cost that is an
average over training examples, whose gradient a mini-batch estimates
(:func:`cloud_cost`, :func:`minibatch_path`).

The chapter page of ``nndl serve`` computes the same functions in JavaScript
(``serve/web/chapter/descent.js``, with the same random numbers from
:class:`Lcg`), and a test holds the two equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Vector = tuple[float, ...]
Gradient = Callable[[Vector], Vector]

#: A path stops once a coordinate is this large: the ball has left the valley.
ESCAPE = 1e6


def valley(v: Sequence[float]) -> float:
    """The two-variable valley ``C(v1, v2) = v1^2 + 2 v2^2``, steeper across (``v2``) than along."""
    v1, v2 = v
    return v1 * v1 + 2 * v2 * v2


def valley_gradient(v: Sequence[float]) -> Vector:
    """``grad C = (dC/dv1, dC/dv2) = (2 v1, 4 v2)``."""
    v1, v2 = v
    return (2 * v1, 4 * v2)


def curve(v: Sequence[float]) -> float:
    """The one-variable cost ``C(v) = v^4/4 - v^2 + v/4``: two valleys, one deeper."""
    (x,) = v
    return x * x * x * x / 4 - x * x + x / 4


def curve_gradient(v: Sequence[float]) -> Vector:
    """``dC/dv = v^3 - 2 v + 1/4``, the slope of the curve."""
    (x,) = v
    return (x * x * x - 2 * x + 0.25,)


def step(v: Sequence[float], gradient: Sequence[float], eta: float) -> Vector:
    """One step of gradient descent: ``v' = v - eta grad C``."""
    return tuple(vj - eta * gj for vj, gj in zip(v, gradient))


def descend(start: Sequence[float], eta: float, steps: int, gradient: Gradient = valley_gradient) -> list[Vector]:
    """The path of ``steps`` steps from ``start`` (its first point), ending
    early once a coordinate passes :data:`ESCAPE`."""
    path = [tuple(float(x) for x in start)]
    for _ in range(steps):
        if max(abs(x) for x in path[-1]) > ESCAPE:
            break
        path.append(step(path[-1], gradient(path[-1]), eta))
    return path


class Lcg:
    """A tiny seeded random number generator, the same in Python and
    JavaScript: the linear congruential generator
    ``state -> (1664525 state + 1013904223) mod 2^32`` (every product is
    exact in a double, so both languages get the same numbers)."""

    def __init__(self, seed: int) -> None:
        self.state = int(seed) % 2**32

    def random(self) -> float:
        """The next number in ``[0, 1)``."""
        self.state = (1664525 * self.state + 1013904223) % 2**32
        return self.state / 2**32

    def shuffled(self, n: int) -> list[int]:
        """``0 .. n-1`` in a random order (Fisher-Yates, from the end)."""
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = int(self.random() * (i + 1))
            order[i], order[j] = order[j], order[i]
        return order


def cloud(n: int = 20, seed: int = 1) -> list[Vector]:
    """``n`` training points scattered around ``(0.8, 0.6)``."""
    rng = Lcg(seed)
    return [(0.8 + 1.6 * (rng.random() - 0.5), 0.6 + 1.2 * (rng.random() - 0.5)) for _ in range(n)]


def cloud_cost(v: Sequence[float], points: Sequence[Sequence[float]]) -> float:
    """The average of the examples' costs ``C_x(v) = |v - x|^2 / 2`` (least at the points' mean)."""
    total = 0.0
    for x in points:
        d1, d2 = v[0] - x[0], v[1] - x[1]
        total += (d1 * d1 + d2 * d2) / 2
    return total / len(points)


def cloud_gradient(v: Sequence[float], points: Sequence[Sequence[float]], batch: Sequence[int] | None = None) -> Vector:
    """``grad C`` averaged over the examples in ``batch`` (indices into
    ``points``; all of them if ``None``): each example's ``grad C_x = v - x``.
    Over a mini-batch it is the chapter's estimate of the full gradient."""
    chosen = range(len(points)) if batch is None else batch
    g1 = g2 = 0.0
    for j in chosen:
        g1 += v[0] - points[j][0]
        g2 += v[1] - points[j][1]
    return (g1 / len(chosen), g2 / len(chosen))


def estimates(points: Sequence[Sequence[float]], v: Sequence[float], m: int, seed: int = 1) -> list[Vector]:
    """The gradient's estimates at ``v`` from each mini-batch of ``m`` points
    of one shuffle (:class:`Lcg` with ``seed``, the first epoch of
    :func:`minibatch_path`): they scatter around the full gradient, and
    average to it."""
    order = Lcg(seed).shuffled(len(points))
    return [cloud_gradient(v, points, order[k : k + m]) for k in range(0, len(points), m)]


def estimate_spread(points: Sequence[Sequence[float]], v: Sequence[float], m: int, seed: int = 1) -> float:
    """How far the :func:`estimates` are from the full gradient, on average:
    the mean of ``|estimate - grad C|``."""
    full = cloud_gradient(v, points)
    found = estimates(points, v, m, seed)
    total = 0.0
    for g in found:
        total += math.hypot(g[0] - full[0], g[1] - full[1])
    return total / len(found)


def minibatch_path(
    points: Sequence[Sequence[float]], start: Sequence[float], eta: float, m: int, epochs: int, seed: int = 1
) -> list[Vector]:
    """Stochastic gradient descent on :func:`cloud_cost`: each epoch shuffles
    the points (:class:`Lcg` with ``seed``) and steps once per mini-batch of
    ``m`` of them, as ``Network.SGD`` does.  The path starts at ``start``."""
    rng = Lcg(seed)
    path = [tuple(float(x) for x in start)]
    for _ in range(epochs):
        order = rng.shuffled(len(points))
        for k in range(0, len(points), m):
            v = path[-1]
            path.append(step(v, cloud_gradient(v, points, order[k : k + m]), eta))
    return path
