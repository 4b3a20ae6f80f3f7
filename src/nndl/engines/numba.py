"""The compiled engine: the chapter's network, one mini-batch after another,
in one Numba-compiled loop.

At mini-batch 10 the matrices of the reference are tiny (30 x 784 by
784 x 10), so its time goes to calling NumPy, not to arithmetic.  This
engine runs a whole range of mini-batches in one compiled function, one
example at a time, with the same mathematics::

    z^1 = w^1 x + b^1,  a^1 = sigma(z^1),  z^2 = w^2 a^1 + b^2,  a^2 = sigma(z^2)
    delta^2 = (a^2 - y) * a^2 (1 - a^2)
    delta^1 = ((w^2)^T delta^2) * a^1 (1 - a^1)
    w^l -= (eta/m) sum_x delta^l (a^{l-1})^T,   b^l -= (eta/m) sum_x delta^l

and one trick: about four pixels in five of an MNIST digit are 0, and a
zero input adds nothing to ``w^1 x`` nor to ``delta^1 x^T``.  So the images
are stored once, per run, as lists of their nonzero pixels (index and byte),
and the two large products -- 98 % of the arithmetic -- touch only those
pixels' weights.  The results are the reference's, summed in another order.
The evaluation after each epoch uses the same trick (:func:`_evaluate`).

For that, ``w^1`` is kept transposed, one row of hidden weights per pixel,
padded to a whole number of 64-byte vectors, in a copy the engine holds;
the network's own arrays are copied in before each range of mini-batches
and receive the result after it.  Padding units are held at activation 0,
so their weights stay 0.  The step adds each example's share of the
gradient to the weights in turn (once all of the mini-batch's forward and
backward passes are done), where the reference sums the shares first: the
same step, rounded differently.

Numba compiles these functions on first use and caches the machine code
next to this file, so later runs only load it.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from .. import data
from .base import check_overflow, input_scale

# Fused multiply-add and reordered sums (to use vector instructions); no
# assumption that values are finite, so a diverging run still shows NaN.
_FASTMATH = {"contract", "reassoc", "nsz", "arcp"}
_VECTOR_BYTES = 64
_JIT = {"cache": True, "nogil": True}


@numba.njit(inline="always", fastmath=_FASTMATH, **_JIT)
def _weighted_input(
    z: np.ndarray,
    r: int,
    indptr: np.ndarray,
    pixels: np.ndarray,
    values: np.ndarray,
    lut: np.ndarray,
    w1t: np.ndarray,
    b1: np.ndarray,
) -> None:
    """``z <- w^1 x + b^1`` for image ``r``, over its nonzero pixels only.

    Eight pixels at a time: their rows of ``w1t`` are summed into ``z`` in
    one pass, so each element of ``z`` is loaded and stored once per eight
    pixels instead of once per pixel (the sum is the same, in pixel order).
    """
    hp = w1t.shape[1]
    for h in range(hp):
        z[h] = b1[h]
    q, end = indptr[r], indptr[r + 1]
    while q + 8 <= end:
        x0, x1, x2, x3 = lut[values[q]], lut[values[q + 1]], lut[values[q + 2]], lut[values[q + 3]]
        x4, x5, x6, x7 = lut[values[q + 4]], lut[values[q + 5]], lut[values[q + 6]], lut[values[q + 7]]
        p0, p1, p2, p3 = pixels[q], pixels[q + 1], pixels[q + 2], pixels[q + 3]
        p4, p5, p6, p7 = pixels[q + 4], pixels[q + 5], pixels[q + 6], pixels[q + 7]
        for h in range(hp):
            z[h] += ((x0 * w1t[p0, h] + x1 * w1t[p1, h]) + (x2 * w1t[p2, h] + x3 * w1t[p3, h])) + (
                (x4 * w1t[p4, h] + x5 * w1t[p5, h]) + (x6 * w1t[p6, h] + x7 * w1t[p7, h])
            )
        q += 8
    while q < end:
        x, p = lut[values[q]], pixels[q]
        for h in range(hp):
            z[h] += x * w1t[p, h]
        q += 1


@numba.njit(inline="always", fastmath=_FASTMATH, **_JIT)
def _sigmoid(z: np.ndarray, n: int, one: np.floating) -> int:
    """``a <- sigma(z) = 1 / (1 + e^{-z})`` in place for ``z[:n]``, the
    reference's function in the form that compiles to the fastest code
    (``e^{-z} = inf`` gives 0, as it should).  Returns how many ``z`` were
    not finite: an overflow, which NumPy would have reported."""
    overflows = 0
    for h in range(n):
        if not math.isfinite(z[h]):
            overflows += 1
    for h in range(n):
        z[h] = one / (one + np.exp(-z[h]))
    return overflows


@numba.njit(fastmath=_FASTMATH, **_JIT)
def _train_sparse(
    indptr: np.ndarray,
    pixels: np.ndarray,
    values: np.ndarray,
    lut: np.ndarray,
    targets: np.ndarray,
    order: np.ndarray,
    start: int,
    stop: int,
    m: int,
    w1t: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    b2: np.ndarray,
    n_hidden: int,
    eta: float,
    costs: np.ndarray,
) -> tuple[int, int]:
    """SGD over the examples ``order[start:stop]`` in mini-batches of ``m``,
    the quadratic cost of mini-batch ``i`` (before its step) into ``costs[i]``.

    ``w1t`` ``(n_in, HP)`` is ``w^1`` transposed and padded, ``b1`` ``(HP,)``,
    ``w2`` ``(n_out, HP)``, ``b2`` ``(n_out,)``; the nonzero pixels of image
    ``r`` are ``pixels[indptr[r]:indptr[r+1]]`` with bytes ``values[...]``.
    Returns the number of weighted inputs ``z`` that overflowed (and a
    number of no interest).
    """
    hp = w1t.shape[1]
    n_out = w2.shape[0]
    half = lut[128]  # 128/256: constants in the parameters' dtype
    one = half + half
    zero = half - half
    rows = max(min(m, stop - start), 0)  # examples in the largest mini-batch here
    a1 = np.empty((rows, hp), w1t.dtype)  # a^1 of each example of the mini-batch
    d1 = np.empty((rows, hp), w1t.dtype)  # delta^1
    d2 = np.empty((rows, n_out), w1t.dtype)  # delta^2
    scale = np.empty(1, w1t.dtype)
    touched = 0  # returned, so the reads below are not optimised away
    overflows = 0  # weighted inputs z that are not finite
    for k in range(start, stop, m):
        mb = min(m, stop - k)
        squares = 0.0  # sum ||a^2 - y||^2 over the mini-batch
        # Read one value per cache line of the next mini-batch's pixel lists:
        # the loads overlap with this mini-batch's arithmetic instead of
        # stalling it later (the images are visited in random order).
        seen = 0
        for j in range(k + m, min(k + 2 * m, stop)):
            r = order[j]
            for q in range(indptr[r], indptr[r + 1], 32):
                seen += pixels[q]
            for q in range(indptr[r], indptr[r + 1], 64):
                seen += values[q]
        touched += seen
        # forward and backward passes, all with the weights before this step
        for j in range(mb):
            r = order[k + j]
            a = a1[j]
            _weighted_input(a, r, indptr, pixels, values, lut, w1t, b1)
            overflows += _sigmoid(a, n_hidden, one)
            for h in range(n_hidden, hp):
                a[h] = zero
            for h in range(hp):
                d1[j, h] = zero
            for o in range(n_out):
                z = b2[o]
                for h in range(hp):
                    z += w2[o, h] * a[h]
                if not math.isfinite(z):
                    overflows += 1
                out = one / (one + np.exp(-z))
                miss = out - targets[r, o]
                squares += np.float64(miss) * np.float64(miss)
                delta = miss * out * (one - out)
                d2[j, o] = delta
                for h in range(hp):
                    d1[j, h] += delta * w2[o, h]
            for h in range(hp):
                d1[j, h] *= a[h] * (one - a[h])
        costs[(k - start) // m] = squares / (2 * mb)
        # the step, eta/m times the summed gradients
        scale[0] = eta / mb
        c = scale[0]
        for o in range(n_out):
            g = zero
            for j in range(mb):
                g += d2[j, o]
                f = c * d2[j, o]
                for h in range(hp):
                    w2[o, h] -= f * a1[j, h]
            b2[o] -= c * g
        for h in range(hp):
            g = zero
            for j in range(mb):
                g += d1[j, h]
            b1[h] -= c * g
        for j in range(mb):
            r = order[k + j]
            for q in range(indptr[r], indptr[r + 1]):
                f = c * lut[values[q]]
                p = pixels[q]
                for h in range(hp):
                    w1t[p, h] -= f * d1[j, h]
    return overflows, touched


@numba.njit(fastmath=_FASTMATH, **_JIT)
def _evaluate(
    indptr: np.ndarray,
    pixels: np.ndarray,
    values: np.ndarray,
    lut: np.ndarray,
    labels: np.ndarray,
    w1t: np.ndarray,
    b1: np.ndarray,
    w2: np.ndarray,
    b2: np.ndarray,
    n_hidden: int,
    guesses: np.ndarray,
) -> tuple[int, float]:
    """``(correct, sum of ||a^2 - y||^2)`` over the images of ``indptr``
    with ``labels``: the most activated output is the guess (the first of
    equals, as ``argmax``; image ``r``'s into ``guesses[r]``), and ``y`` is
    the label's unit vector."""
    hp = w1t.shape[1]
    half = lut[128]
    one = half + half
    a = np.empty(hp, w1t.dtype)
    correct = 0
    squares = 0.0
    for r in range(len(labels)):
        _weighted_input(a, r, indptr, pixels, values, lut, w1t, b1)
        _sigmoid(a, n_hidden, one)
        best, guess = -1.0, 0
        for o in range(w2.shape[0]):
            z = b2[o]
            for h in range(n_hidden):
                z += w2[o, h] * a[h]
            out = one / (one + np.exp(-z))
            if out > best:
                best, guess = out, o
            miss = np.float64(out) - (1.0 if o == labels[r] else 0.0)
            squares += miss * miss
        guesses[r] = guess
        correct += guess == labels[r]
    return correct, squares


@numba.njit(**_JIT)
def _nonzero(images: np.ndarray, index_type: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The compressed-sparse-row form of ``images`` ``(n, n_in)`` uint8."""
    n, width = images.shape
    indptr = np.zeros(n + 1, np.int64)
    for r in range(n):
        count = 0
        for p in range(width):
            count += images[r, p] != 0
        indptr[r + 1] = indptr[r] + count
    pixels = np.empty(indptr[n], index_type.dtype)
    values = np.empty(indptr[n], np.uint8)
    for r in range(n):
        q = indptr[r]
        for p in range(width):
            if images[r, p] != 0:
                pixels[q] = p
                values[q] = images[r, p]
                q += 1
    return indptr, pixels, values


def nonzero_pixels(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indptr, pixels, values)``: image ``r``'s nonzero pixels are
    ``pixels[indptr[r]:indptr[r+1]]``, their bytes ``values[...]`` (the
    compressed-sparse-row layout of ``images`` ``(n, n_in)`` uint8)."""
    index_type = np.uint16 if images.shape[1] <= 2**16 else np.int32
    return _nonzero(images, np.empty(0, index_type))


def _aligned_zeros(shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """Zeros whose first element starts a 64-byte cache line and vector."""
    nbytes = shape[0] * shape[1] * dtype.itemsize
    raw = np.zeros(nbytes + _VECTOR_BYTES, np.uint8)
    skip = -raw.ctypes.data % _VECTOR_BYTES
    return raw[skip : skip + nbytes].view(dtype).reshape(shape)


class SparseEngine:
    """Runs ranges of mini-batches of a ``[n_in, H, n_out]`` network on
    ``uint8`` images with :func:`_train_sparse`, and evaluates it with
    :func:`_evaluate`.

    The kernel works on padded copies of the parameters (``w^1`` transposed);
    each call copies the network's arrays in and the trained values back
    into them, so ``net.weights`` and ``net.biases`` stay the network's own
    arrays (tens of microseconds per call, a whole epoch or up to 100
    mini-batches)."""

    def __init__(self) -> None:
        # the nonzero pixels of the last training and evaluation inputs
        self._sparse: dict[str, tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        self._padded: list[np.ndarray] = []

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
        w1t, b1, w2, b2 = self._copy_in(net)
        start = first * mini_batch_size
        stop = min(last * mini_batch_size, len(order))
        if costs is None:  # the kernel always measures them (the same code either way): somewhere to put them
            costs = np.empty(max(last - first, 0))
        overflows, _ = _train_sparse(
            *self._nonzero("train", inputs),
            input_scale(net.dtype),
            targets,
            order,
            start,
            stop,
            mini_batch_size,
            w1t,
            b1,
            w2,
            b2,
            net.sizes[1],
            eta,
            costs,
        )
        h = net.sizes[1]
        net.weights[0][...] = w1t[:, :h].T
        net.biases[0][:, 0] = b1[:h]
        net.weights[1][...] = w2[:, :h]
        net.biases[1][:, 0] = b2
        check_overflow(self._padded, overflows)

    def accuracy_and_cost(
        self, net: Any, X: np.ndarray, labels: np.ndarray, guesses: np.ndarray | None = None
    ) -> tuple[int, float]:
        """:meth:`Network.accuracy_and_cost <nndl.network.Network.accuracy_and_cost>`
        over ``uint8`` inputs ``X``, touching only their nonzero pixels; with
        ``guesses`` (int64, one per example) each example's predicted class too."""
        w1t, b1, w2, b2 = self._copy_in(net)
        if guesses is None:
            guesses = np.empty(len(labels), np.int64)
        correct, squares = _evaluate(
            *self._nonzero("eval", X), input_scale(net.dtype), labels, w1t, b1, w2, b2, net.sizes[1], guesses
        )
        return int(correct), float(squares) / (2 * len(X))

    def _nonzero(self, role: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The nonzero pixels of ``images``: the bundled MNIST's come with it
        from the cache; others are found once per array."""
        if role not in self._sparse or self._sparse[role][0] is not images:
            known = data.nonzero_pixels(images)
            self._sparse[role] = (images, nonzero_pixels(images) if known is None else known)
        return self._sparse[role][1]

    def _copy_in(self, net: Any) -> list[np.ndarray]:
        """The network's parameters in the kernel's padded layout."""
        dt = net.dtype
        n_in, n_hidden, n_out = net.sizes
        lanes = _VECTOR_BYTES // dt.itemsize
        hp = -(-n_hidden // lanes) * lanes
        shapes = [(n_in, hp), (hp,), (n_out, hp), (n_out,)]
        if [p.shape for p in self._padded] != shapes or self._padded[0].dtype != dt:
            self._padded = [_aligned_zeros((n_in, hp), dt), np.zeros(hp, dt), _aligned_zeros((n_out, hp), dt)]
            self._padded.append(np.zeros(n_out, dt))
        w1t, b1, w2, b2 = self._padded
        w1t[:, :n_hidden] = net.weights[0].T
        b1[:n_hidden] = net.biases[0][:, 0]
        w2[:, :n_hidden] = net.weights[1]
        b2[:] = net.biases[1][:, 0]
        return self._padded
