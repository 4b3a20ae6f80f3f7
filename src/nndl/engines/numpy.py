"""The ``numpy`` engine: the reference step in the row convention, with every
intermediate array allocated once and reused, so a mini-batch costs its
matrix products and a few fused element-wise passes.  Any layer sizes, any
inputs; the fallback when the compiled engine does not apply."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import check_overflow, input_scale


class NumpyEngine:
    """The reference step in the row convention, with reused buffers.

    For a mini-batch of ``m`` rows, ``A^0 = X`` and, layer by layer::

        Z^l = A^{l-1} (w^l)^T + (b^l)^T        A^l = sigma(Z^l)
        D^L = (A^L - Y) * A^L (1 - A^L)
        D^{l-1} = (D^l w^l) * A^{l-1} (1 - A^{l-1})
        w^l -= (eta/m) (D^l)^T A^{l-1}         b^l -= (eta/m) sum_rows D^l

    which is the reference's column form transposed.
    """

    def __init__(self) -> None:
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
        dtype = net.dtype
        stop = min(last * mini_batch_size, len(order))
        for k in range(first * mini_batch_size, stop, mini_batch_size):
            idx = order[k : k + mini_batch_size]
            buf = self._buffers_for(net, len(idx), inputs.dtype)
            x = buf["x"]
            # mode="clip" (the indices are valid anyway) writes straight into out=
            if inputs.dtype == np.uint8:
                np.take(inputs, idx, axis=0, out=buf["bytes"], mode="clip")
                np.take(buf["lut"], buf["bytes"], out=x, mode="clip")
            else:
                x[...] = inputs[idx]
            np.take(targets, idx, axis=0, out=buf["y"], mode="clip")
            acts = [x]
            for w, b, a in zip(net.weights, net.biases, buf["a"]):
                np.matmul(acts[-1], w.T, out=a)
                a += b.T
                _sigmoid_inplace(a)
                acts.append(a)
            c = dtype.type(eta / len(idx))
            delta, spare = buf["d"][-1], buf["t"][-1]
            aL = acts[-1]
            np.subtract(aL, buf["y"], out=delta)
            if costs is not None:
                costs[(k - first * mini_batch_size) // mini_batch_size] = _half_mean_square(delta)
            delta *= aL
            np.subtract(1, aL, out=spare)
            delta *= spare
            for l in range(len(net.weights) - 1, -1, -1):
                w, b = net.weights[l], net.biases[l]
                if l > 0:  # delta of the layer below, with the weights before this step
                    below, spare = buf["d"][l - 1], buf["t"][l - 1]
                    np.matmul(delta, w, out=below)
                    np.subtract(1, acts[l], out=spare)
                    spare *= acts[l]
                    below *= spare
                grad = buf["g"][l]
                np.matmul(delta.T, acts[l], out=grad)
                grad *= c
                w -= grad
                b -= c * delta.sum(axis=0)[:, None]
                if l > 0:
                    delta = below
        check_overflow(net.weights + net.biases)

    def _buffers_for(self, net: Any, m: int, input_dtype: np.dtype) -> dict:
        key = (m, net.dtype, tuple(net.sizes), input_dtype)
        if key not in self._buffers:
            if len(self._buffers) > 4:  # the epoch's last, shorter mini-batch and a few more
                self._buffers.clear()
            dt = net.dtype
            self._buffers[key] = {
                "bytes": np.empty((m, net.sizes[0]), np.uint8),
                "lut": input_scale(dt),
                "x": np.empty((m, net.sizes[0]), dt),
                "y": np.empty((m, net.sizes[-1]), dt),
                "a": [np.empty((m, s), dt) for s in net.sizes[1:]],
                "d": [np.empty((m, s), dt) for s in net.sizes[1:]],
                "t": [np.empty((m, s), dt) for s in net.sizes[1:]],
                "g": [np.empty_like(w) for w in net.weights],
            }
        return self._buffers[key]


def _half_mean_square(diff: np.ndarray) -> float:
    """``1/(2m) sum ||row||^2`` over the ``m`` rows of ``diff``, summed in float64."""
    return float(np.square(diff, dtype=np.float64).sum()) / (2 * len(diff))


def _sigmoid_inplace(z: np.ndarray) -> None:
    """``z <- sigma(z) = 1/2 + tanh(z/2)/2``, the reference's formula, in place."""
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5
