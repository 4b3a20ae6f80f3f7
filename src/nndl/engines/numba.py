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
are listed once per SGD call by their nonzero pixels (index and byte,
:func:`nndl.data.nonzero_pixels`; the bundled MNIST's come from the cache),
and the two large products -- 98 % of the arithmetic -- touch only those
pixels' weights.  The results are the reference's, summed in another order.
The evaluation after each epoch uses the same trick (:func:`_evaluate`).

For that, ``w^1`` is kept transposed, one row of hidden weights per pixel,
padded to a whole number of 16-number vectors, in a copy the engine holds;
the network's own arrays are copied in before each range of mini-batches
and receive the result after it.  Padding units are held at activation 0,
so their weights stay 0.  The arithmetic is written sixteen hidden neurons
at a time (``nndl.engines._vectors``), so that the 30 neurons of the
notebook fill two vector registers instead of going through loops built
for any length; the sigmoid's ``e^{-z}`` is computed in the same vectors
(within three units in the last place of NumPy's).  The step adds each
example's share of the gradient to the weights in turn (once all of the
mini-batch's forward and backward passes are done), where the reference
sums the shares first: the same step, rounded differently.

Numba compiles these functions on first use and caches the machine code
next to this file, so later runs only load it.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from .. import data
from . import _vectors as V
from .base import check_overflow, input_scale

# Fused multiply-add and reordered sums; no assumption that values are
# finite, so a diverging run still shows NaN.
_FASTMATH = {"contract", "reassoc", "nsz"}
_VECTOR_BYTES = 64
# "numpy": a division by zero gives inf or NaN as in NumPy, with no check
_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
L = V.LANES
#: Two outputs closer than this many units of the dtype's epsilon may rank
#: differently in NumPy (the kernel's outputs are within about 25 of them).
TIE = 1024
_1, _2 = np.uint64(1), np.uint64(2)  # steps for unsigned indices


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

    Thirty-two hidden neurons at a time (two vectors), their sums held in
    registers while the image's pixels go by; the pixels alternate between
    two sums per vector (then added), so that each addition need not wait
    for the one before it.
    """
    hp = w1t.shape[1]
    start, end = np.uint64(indptr[r]), np.uint64(indptr[r + 1])  # unsigned: no negative-index check
    for c in range(0, hp, 2 * L):
        pair = c + L < hp  # a second vector of neurons from c + L
        even, odd = V.load(b1, c), V.fill(b1, 0)
        even2, odd2 = V.load(b1, c + L) if pair else V.fill(b1, 0), V.fill(b1, 0)
        q = start
        while q + _1 < end:  # two pixels, one for each sum
            x, row = lut[values[q]], w1t[pixels[q]]
            y, next_row = lut[values[q + _1]], w1t[pixels[q + _1]]
            even = V.fma(even, x, V.load(row, c))
            odd = V.fma(odd, y, V.load(next_row, c))
            if pair:
                even2 = V.fma(even2, x, V.load(row, c + L))
                odd2 = V.fma(odd2, y, V.load(next_row, c + L))
            q += _2
        if q < end:
            x, row = lut[values[q]], w1t[pixels[q]]
            even = V.fma(even, x, V.load(row, c))
            if pair:
                even2 = V.fma(even2, x, V.load(row, c + L))
        V.store(z, c, V.add(even, odd))
        if pair:
            V.store(z, c + L, V.add(even2, odd2))


@numba.njit(inline="always", fastmath=_FASTMATH, **_JIT)
def _sigmoid(z: np.ndarray, live: np.ndarray) -> int:
    """``a <- sigma(z) = 1 / (1 + e^{-z})`` in place, times ``live`` (1 for
    a neuron, 0 for padding).  Returns how many ``z`` were not finite: an
    overflow, which NumPy would have reported."""
    overflows = 0
    for c in range(0, len(z), L):
        v = V.load(z, c)
        overflows += V.nonfinite(v)
        e = V.exp(V.mul(v, V.fill(z, -1)))
        V.store(z, c, V.mul(V.reciprocal(V.add(e, V.fill(z, 1))), V.load(live, c)))
    return overflows


@numba.njit(inline="always", fastmath=_FASTMATH, **_JIT)
def _output(a2: np.ndarray, a: np.ndarray, w2: np.ndarray, b2: np.ndarray, live: np.ndarray) -> int:
    """``a2 <- sigma(w^2 a + b^2)`` (``a2`` and ``live`` padded to a whole
    number of vectors).  Returns the number of overflows."""
    hp = w2.shape[1]
    for o in range(len(b2)):
        s = V.mul(V.load(a, 0), V.load(w2[o], 0))
        for c in range(L, hp, L):
            s = V.fma(s, V.load(a, c), V.load(w2[o], c))
        a2[o] = b2[o] + V.total(s)
    return _sigmoid(a2, live)


@numba.njit(inline="always", fastmath=_FASTMATH, **_JIT)
def _descend(
    w1t: np.ndarray,
    delta: np.ndarray,
    r: int,
    indptr: np.ndarray,
    pixels: np.ndarray,
    values: np.ndarray,
    lut: np.ndarray,
    rate: np.floating,
) -> None:
    """``w^1 -= rate delta x^T`` for image ``r``'s ``x``: only the rows of
    its nonzero pixels change, two vectors of neurons per pass."""
    hp = w1t.shape[1]
    for c in range(0, hp, 2 * L):
        pair = c + L < hp
        d = V.load(delta, c)
        d2 = V.load(delta, c + L) if pair else d
        for q in range(np.uint64(indptr[r]), np.uint64(indptr[r + 1])):
            f, row = -(rate * lut[values[q]]), w1t[pixels[q]]
            V.store(row, c, V.fma(V.load(row, c), f, d))
            if pair:
                V.store(row, c + L, V.fma(V.load(row, c + L), f, d2))


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
    live: np.ndarray,
    eta: float,
    costs: np.ndarray,
) -> tuple[int, int]:
    """SGD over the examples ``order[start:stop]`` in mini-batches of ``m``,
    the quadratic cost of mini-batch ``i`` (before its step) into ``costs[i]``.

    ``w1t`` ``(n_in, HP)`` is ``w^1`` transposed and padded, ``b1`` ``(HP,)``,
    ``w2`` ``(n_out, HP)``, ``b2`` ``(n_out,)``; ``live`` ``(HP,)`` is 1 for
    each hidden neuron and 0 for padding; the
    nonzero pixels of image ``r`` are ``pixels[indptr[r]:indptr[r+1]]`` with
    bytes ``values[...]``.  Returns the number of weighted inputs ``z`` that
    overflowed (and a number of no interest).
    """
    hp = w1t.shape[1]
    n_out = w2.shape[0]
    every = np.ones(-(-n_out // L) * L, w1t.dtype)  # no padding to silence among the outputs
    rows = max(min(m, stop - start), 0)  # examples in the largest mini-batch here
    a1 = np.empty((rows, hp), w1t.dtype)  # a^1 of each example of the mini-batch
    d1 = np.empty((rows, hp), w1t.dtype)  # delta^1
    d2 = np.empty((rows, n_out), w1t.dtype)  # delta^2
    a2 = np.zeros(len(every), w1t.dtype)
    one = w1t.dtype.type(1)
    touched = 0  # returned, so the reads below are not optimised away
    overflows = 0  # weighted inputs z that are not finite
    for k in range(start, stop, m):
        mb = min(m, stop - k)
        squares = 0.0  # sum ||a^2 - y||^2 over the mini-batch
        # Read one value per cache line of the next mini-batch's pixel lists
        # and desired outputs: the loads overlap with this mini-batch's
        # arithmetic instead of stalling it later (the images are visited in
        # random order).
        seen = 0
        for j in range(k + m, min(k + 2 * m, stop)):
            r = order[j]
            seen += targets[r, 0] > 2
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
            overflows += _sigmoid(a, live)
            overflows += _output(a2, a, w2, b2, every)
            for o in range(n_out):
                out = a2[o]
                miss = out - targets[r, o]
                squares += np.float64(miss) * np.float64(miss)
                d2[j, o] = miss * out * (one - out)
            for c in range(0, hp, L):
                back = V.fill(d1, 0)
                for o in range(n_out):
                    back = V.fma(back, d2[j, o], V.load(w2[o], c))
                h = V.load(a, c)
                V.store(d1[j], c, V.mul(back, V.mul(h, V.sub(V.fill(d1, 1), h))))
        costs[(k - start) // m] = squares / (2 * mb)
        # the step, eta/m times the summed gradients
        rate = w1t.dtype.type(eta / mb)
        for o in range(n_out):
            g = w1t.dtype.type(0)
            for j in range(mb):
                g += d2[j, o]
                f = -(rate * d2[j, o])
                for c in range(0, hp, L):
                    V.store(w2[o], c, V.fma(V.load(w2[o], c), f, V.load(a1[j], c)))
            b2[o] -= rate * g
        for c in range(0, hp, L):
            g = V.load(d1[0], c)
            for j in range(1, mb):
                g = V.add(g, V.load(d1[j], c))
            V.store(b1, c, V.fma(V.load(b1, c), -rate, g))
        for j in range(mb):
            _descend(w1t, d1[j], order[k + j], indptr, pixels, values, lut, rate)
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
    live: np.ndarray,
    guesses: np.ndarray,
    unsure: np.ndarray,
    tie: float,
) -> tuple[int, float]:
    """``(correct, sum of ||a^2 - y||^2)`` over the images of ``indptr``
    with ``labels``: the most activated output is the guess (the first of
    equals, as ``argmax``; image ``r``'s into ``guesses[r]``), and ``y`` is
    the label's unit vector.  ``unsure[r]`` is set where the two most
    activated outputs are within ``tie`` of each other (or not numbers):
    there NumPy's outputs, rounded otherwise, may rank them the other way."""
    hp = w1t.shape[1]
    n_out = w2.shape[0]
    every = np.ones(-(-n_out // L) * L, w1t.dtype)
    a = np.empty(hp, w1t.dtype)
    a2 = np.zeros(len(every), w1t.dtype)
    correct = 0
    squares = 0.0
    for r in range(len(labels)):
        _weighted_input(a, r, indptr, pixels, values, lut, w1t, b1)
        _sigmoid(a, live)
        _output(a2, a, w2, b2, every)
        best, second, guess = -np.inf, -np.inf, 0
        for o in range(n_out):
            out = a2[o]
            if out > best:
                best, second, guess = out, best, o
            elif out > second:
                second = out
            miss = np.float64(out) - (1.0 if o == labels[r] else 0.0)
            squares += miss * miss
        guesses[r] = guess
        unsure[r] = not best - second > tie
        correct += guess == labels[r]
    return correct, squares


def preload(dtype: np.dtype) -> None:
    """Load (or compile) :func:`_train_sparse` and :func:`_evaluate` for
    parameters of ``dtype`` by running each on one blank image, with
    arguments of the types the bundled MNIST gives them (its pixel lists
    are read-only maps of the cache), so that the first epoch finds them
    ready."""
    blank: list[np.ndarray] = [np.zeros(2, np.int64), np.zeros(0, np.uint16), np.zeros(0, np.uint8)]
    for a in blank:
        a.setflags(write=False)
    w1t, b1, w2, b2 = (
        _aligned_zeros((1, L), dtype),
        np.zeros(L, dtype),
        _aligned_zeros((1, L), dtype),
        np.zeros(1, dtype),
    )
    live, lut = np.zeros(L, dtype), input_scale(dtype)
    one = np.zeros(1, np.int64)
    _train_sparse(*blank, lut, np.zeros((1, 1), dtype), one, 0, 1, 1, w1t, b1, w2, b2, live, 0.0, np.empty(1))
    _evaluate(*blank, lut, one, w1t, b1, w2, b2, live, np.empty(1, np.int64), np.empty(1, np.bool_), 0.0)


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
        self._live = np.empty(0)  # 1 for each hidden neuron, 0 for padding

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
            self._live,
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
        ``guesses`` (int64, one per example) each example's predicted class too.

        The guesses are the network's, ties included: where the two most
        activated outputs come within :data:`TIE` of each other (saturated
        outputs all at 1.0, say, after a large eta), the kernel's rounding
        could rank them otherwise, so those examples are scored again by the
        network's own :meth:`~nndl.network.Network.predict`, as ``nndl
        evaluate`` scores them."""
        w1t, b1, w2, b2 = self._copy_in(net)
        if guesses is None:
            guesses = np.empty(len(labels), np.int64)
        unsure = np.empty(len(labels), np.bool_)
        tie = TIE * float(np.finfo(net.dtype).eps)
        correct, squares = _evaluate(
            *self._nonzero("eval", X), input_scale(net.dtype), labels, w1t, b1, w2, b2, self._live, guesses, unsure, tie
        )
        rows = np.flatnonzero(unsure)
        if len(rows):
            guesses[rows] = net.predict(X[rows])
            correct = (guesses == labels).sum()
        return int(correct), float(squares) / (2 * len(X))

    def _nonzero(self, role: str, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The nonzero pixels of ``images`` (:func:`nndl.data.nonzero_pixels`),
        kept until :meth:`forget`."""
        if role not in self._sparse or self._sparse[role][0] is not images:
            self._sparse[role] = (images, data.nonzero_pixels(images))
        return self._sparse[role][1]

    def forget(self) -> None:
        """Drop the nonzero pixels found so far: a new SGD call begins, and
        its arrays may have changed in place since they were found."""
        self._sparse.clear()

    def _copy_in(self, net: Any) -> list[np.ndarray]:
        """The network's parameters in the kernel's padded layout."""
        dt = net.dtype
        n_in, n_hidden, n_out = net.sizes
        hp = -(-n_hidden // L) * L
        shapes = [(n_in, hp), (hp,), (n_out, hp), (n_out,)]
        if [p.shape for p in self._padded] != shapes or self._padded[0].dtype != dt:
            self._padded = [_aligned_zeros((n_in, hp), dt), np.zeros(hp, dt), _aligned_zeros((n_out, hp), dt)]
            self._padded.append(np.zeros(n_out, dt))
            self._live = (np.arange(hp) < n_hidden).astype(dt)
        w1t, b1, w2, b2 = self._padded
        w1t[:, :n_hidden] = net.weights[0].T
        b1[:n_hidden] = net.biases[0][:, 0]
        w2[:, :n_hidden] = net.weights[1]
        b2[:] = net.biases[1][:, 0]
        return self._padded
