"""The ``numpy`` engine: the reference step in the row convention, in plain
NumPy, arranged so that a mini-batch costs little more than its two large
matrix products.  Any layer sizes, ``uint8`` or float inputs; the fallback
when the compiled engine does not apply or Numba cannot be installed.

With mini-batches of 10 a step is a few dozen NumPy calls on small arrays,
so besides the two large matrix products (``z`` of the first layer and its
weight gradient) the time goes to the number of calls and to passes over
the ``n_hidden x 785`` arrays, not to arithmetic.  Each trick below removes
calls or passes; none changes the result beyond floating-point rounding.

*Inputs a block at a time.*  The images of :data:`BLOCK_ROWS` examples (50
mini-batches of 10) are gathered in one ``np.take`` and converted to floats
in one pass; each mini-batch is a view of that block, made once.  The
targets likewise.

*Raw bytes.*  A ``uint8`` pixel ``v`` stands for ``v / 256``; instead of
dividing every input, the engine multiplies the pixels as they are by the
first layer's weights scaled by ``1/256``.  Scaling by a power of two is
exact, so the weighted inputs are the same numbers, and converting bytes to
floats is a plain cast (the lookup table it replaces costs five to eight
times more).

*Biases as weights.*  Each layer's inputs carry one more column holding a
constant, and each layer's weights one more column holding the biases, so
``z = a w^T + b`` is one matrix product and the bias gradient comes with the
weight gradient.  For a hidden layer the constant column is one more unit
whose weights are zero and whose bias is large: its activation is exactly
the constant and its ``sigma'`` exactly 0, so it never learns, and every
array stays contiguous (NumPy is several times slower on a strided view).

*Sigmoid by tanh.*  ``sigma(z) = (1 + tanh(z/2)) / 2``, the reference's
formula.  The engine keeps each layer's parameters scaled so that its matrix
product gives ``z/2`` directly, and passes on ``u = 1 + tanh(z/2) = 2 sigma(z)``
as the next layer's input: the sigmoid is two calls, and the factors of two
(powers of two again, exact) go into the next layer's scaled parameters.
Then ``sigma'(z) = u (2 - u) / 4``, and at the output, with ``t =
tanh(z/2)``, ``(a - y) sigma'(z) = (t - (2y - 1)) (1 - t^2) / 8``, the
targets turned into ``2y - 1`` once per block.

*The step size in the small delta.*  ``delta^{l-1}`` is linear in
``delta^l``, so the output delta (``m x 10``) is multiplied by ``eta/m``
and the scales above once, instead of each gradient; each layer's delta
below is computed from its weights before their step, then the weights
take ``P -= delta^T u``: one product and one subtraction per layer.

*Cheaper calls.*  Constants are 0-d arrays of the network's dtype (NumPy
combines them with an array in half the time of a Python number), and the
small products go through ``np.dot``, which costs less per call than
``np.matmul``.

These scaled copies of the parameters (``NumpyEngine._copy_in``) are the
engine's own; each call copies the network's arrays in and the trained
values back into them, so ``net.weights`` and ``net.biases`` stay the
network's own arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import check_overflow

BLOCK_ROWS = 500
"""Examples gathered at a time (whole mini-batches, at least one)."""

SATURATED = 32.0
"""``z/2`` of the constant unit: ``tanh(32)`` is 1 exactly in float32 and float64."""


class NumpyEngine:
    """The reference step in the row convention, on scaled copies of the
    parameters with the biases as an extra column.

    For a mini-batch of ``m`` rows, ``A^0 = X`` and, layer by layer::

        Z^l = A^{l-1} (w^l)^T + (b^l)^T        A^l = sigma(Z^l)
        D^L = (A^L - Y) * A^L (1 - A^L)
        D^{l-1} = (D^l w^l) * A^{l-1} (1 - A^{l-1})
        w^l -= (eta/m) (D^l)^T A^{l-1}         b^l -= (eta/m) sum_rows D^l

    which is the reference's column form transposed.  Layer ``l`` works on
    ``U^{l-1} = r_{l-1} [A^{l-1} | 1]`` (``r_0 = 256`` for bytes, 1 for
    floats; ``r = 2`` for hidden layers, which pass on ``U = 2 A``) and
    ``P^l = [w^l | b^l] / (2 r_{l-1})``, so that ``U^{l-1} (P^l)^T = Z^l / 2``.
    The scaled deltas ``E^l = (eta/m) D^l / (2 r_{l-1}^2)`` give the step
    ``P^l -= (E^l)^T U^{l-1}`` and ``E^{l-1} = (E^l P^l) * U (2 - U) * 4 / r_{l-2}^2``.
    """

    def __init__(self) -> None:
        self._params: list[np.ndarray] = []
        self._buffers: dict = {}

    def train_batches(
        self,
        net: Any,
        inputs: np.ndarray,
        targets: np.ndarray,
        order: np.ndarray,
        mini_batch_size: int,
        eta: float,
        first: int,
        last: int,
        costs: np.ndarray | None = None,
    ) -> None:
        """Mini-batches ``first`` to ``last - 1`` of the epoch whose order is
        ``order``; each one's cost into ``costs`` if given (see :class:`~nndl.engines.base.Engine`)."""
        m = mini_batch_size
        raw = inputs.dtype == np.uint8
        r = [256.0 if raw else 1.0] + [2.0] * (len(net.weights) - 1)  # the scale of each layer's input
        params = self._copy_in(net, r)
        buf = self._buffers_for(net, m, raw)
        dt = net.dtype
        # 0-d arrays: NumPy combines them with arrays faster than Python numbers
        one, two = np.array(1, dt), np.array(2, dt)
        # each hidden layer's delta's factor, None for 1 (see the class docstring)
        factors = [np.array(4 / s**2, dt) if s != 2 else None for s in r[:-1]]
        output_factor = np.array(eta / (16 * r[-1] ** 2 * m), dt)
        start, stop = first * m, min(last * m, len(order))
        try:
            for block in range(start, stop, len(buf["xs"])):
                idx = order[block : min(block + len(buf["xs"]), stop)]
                n = len(idx)
                xs, ys, diffs = buf["xs"][:n], buf["ys"][:n], buf["diffs"][:n]
                if raw:
                    np.take(inputs, idx, axis=0, out=buf["bytes"][:n], mode="clip")  # "clip": straight into out=
                    xs[:, :-1] = buf["bytes"][:n]
                else:
                    xs[:, :-1] = inputs[idx]
                np.take(targets, idx, axis=0, out=ys, mode="clip")
                ys *= two
                ys -= one
                for j in range(n // m):
                    x, y, diff = buf["batches"][j]
                    _step(params, buf["layers"], x, y, diff, one, two, output_factor, factors)
                if n % m:  # the epoch's last mini-batch, shorter
                    k = n % m
                    layers = [[b[:k] for b in layer[:3]] + [layer[3]] for layer in buf["layers"]]
                    factor = np.array(eta / (16 * r[-1] ** 2 * k), dt)
                    _step(params, layers, xs[n - k :], ys[n - k :], diffs[n - k :], one, two, factor, factors)
                if costs is not None:
                    starts = np.arange(0, n, m)
                    squares = np.add.reduceat(np.square(diffs, dtype=np.float64).sum(axis=1), starts)
                    first_k = (block - start) // m
                    costs[first_k : first_k + len(starts)] = squares / (8 * np.diff(starts, append=n))
        finally:
            self._copy_out(net, r)
        check_overflow(net.weights + net.biases)

    def _copy_in(self, net: Any, r: list[float]) -> list[np.ndarray]:
        """``P^l = [w^l | b^l] / (2 r_{l-1})``, with a hidden layer's constant
        unit as one more row: zero weights, and a bias that saturates it."""
        dt = net.dtype
        hidden = [1] * (len(net.weights) - 1) + [0]
        shapes = [(w.shape[0] + h, w.shape[1] + 1) for w, h in zip(net.weights, hidden)]
        if [p.shape for p in self._params] != shapes or self._params[0].dtype != dt:
            self._params = [np.zeros(shape, dt) for shape in shapes]
        for p, w, b, h, scale in zip(self._params, net.weights, net.biases, hidden, r):
            n = len(w)
            np.multiply(w, 1 / (2 * scale), out=p[:n, :-1])
            np.multiply(b[:, 0], 1 / (2 * scale), out=p[:n, -1])
            if h:
                p[n:] = 0
                p[n, -1] = SATURATED / scale
        return self._params

    def _copy_out(self, net: Any, r: list[float]) -> None:
        """The trained ``w^l`` and ``b^l`` back into the network's own arrays."""
        for p, w, b, scale in zip(self._params, net.weights, net.biases, r):
            n = len(w)
            np.multiply(p[:n, :-1], 2 * scale, out=w)
            np.multiply(p[:n, -1], 2 * scale, out=b[:, 0])

    def _buffers_for(self, net: Any, m: int, raw: bool) -> dict:
        key = (m, net.dtype, tuple(net.sizes), raw)
        if key not in self._buffers:
            if len(self._buffers) > 4:  # a few more mini-batch sizes
                self._buffers.clear()
            dt = net.dtype
            rows = max(1, BLOCK_ROWS // m) * m
            xs = np.empty((rows, net.sizes[0] + 1), dt)
            xs[:, -1] = 256 if raw else 1  # r_0: the constant column
            widths = [s + 1 for s in net.sizes[1:-1]] + [net.sizes[-1]]  # hidden layers: their constant unit
            ys, diffs = np.empty((rows, net.sizes[-1]), dt), np.empty((rows, net.sizes[-1]), dt)
            self._buffers[key] = {
                "bytes": np.empty((rows, net.sizes[0]), np.uint8) if raw else None,
                "xs": xs,
                "ys": ys,
                "diffs": diffs,
                # each mini-batch of a block: its inputs, targets and 2 (a^L - y)
                "batches": [(xs[k : k + m], ys[k : k + m], diffs[k : k + m]) for k in range(0, rows, m)],
                # each layer's u (or t at the output), delta, scratch and gradient
                "layers": [
                    (np.empty((m, s), dt), np.empty((m, s), dt), np.empty((m, s), dt), np.empty((s, k + 1), dt))
                    for s, k in zip(widths, net.sizes[:-1])
                ],
            }
        return self._buffers[key]


def _step(
    params: list[np.ndarray],
    layers: list,
    x: np.ndarray,
    y: np.ndarray,
    diff: np.ndarray,
    one: np.ndarray,
    two: np.ndarray,
    output_factor: np.ndarray,
    factors: list[np.ndarray | None],
) -> None:
    """One mini-batch: inputs ``x`` (with their constant column), targets
    ``y`` as ``2y - 1``; ``diff`` receives ``t - (2y - 1) = 2 (a^L - y)``."""
    acts = [x]
    for p, (u, _, _, _) in zip(params, layers):
        if len(acts) > 1:  # a hidden layer's u = 1 + tanh(z/2)
            acts[-1] += one
        np.dot(acts[-1], p.T, out=u)  # np.dot: less overhead than np.matmul on small arrays
        np.tanh(u, out=u)
        acts.append(u)
    t, delta, spare, _ = layers[-1]
    np.subtract(t, y, out=diff)
    np.square(t, out=spare)
    np.subtract(one, spare, out=spare)
    np.multiply(diff, spare, out=delta)
    delta *= output_factor
    for l in range(len(params) - 1, -1, -1):
        p, a, grad = params[l], acts[l], layers[l][3]
        if l > 0:  # the delta of the layer below, with the weights before this step
            below, spare = layers[l - 1][1:3]
            np.dot(delta, p, out=below)
            np.subtract(two, a, out=spare)
            spare *= a
            below *= spare
            if factors[l - 1] is not None:
                below *= factors[l - 1]
        np.matmul(delta.T, a, out=grad)  # np.matmul: faster than np.dot for the large gradient
        p -= grad
        if l > 0:
            delta = below
