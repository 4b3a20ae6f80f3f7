"""What every engine shares: the interface, the input scale and overflow reporting."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Engine(Protocol):
    """How an engine trains: one method, the same for all.

    ``train_batches`` applies the SGD step of
    :meth:`Network.update_mini_batch <nndl.network.Network.update_mini_batch>`
    to mini-batches ``first`` to ``last - 1`` of an epoch -- mini-batch ``k``
    being the examples ``order[k * m : (k + 1) * m]`` of ``inputs``
    ``(n, n_in)`` (uint8 bytes or floats) with desired outputs ``targets``
    ``(n, n_out)`` -- and leaves the result in ``net.weights`` and
    ``net.biases``, the network's own arrays.  Whatever the engine keeps
    between calls (buffers, compiled functions, copies on a device) lives in
    the engine object, never on the network.

    ``costs``, if given, is a float64 array of ``last - first`` entries that
    receives each mini-batch's quadratic cost ``1/(2m) sum_x ||y(x) - a^L(x)||^2``,
    computed from the ``a^L`` of its forward pass (the parameters before its
    step): the running training cost, at no extra pass over the data.

    What an engine derives from the data and keeps between calls (lists of
    nonzero pixels, copies on a device) it drops in an optional ``forget()``,
    called when a new SGD call begins: the arrays may have changed in place.
    """

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
    ) -> None: ...


def check_overflow(params: list[np.ndarray], overflows: int = 0) -> None:
    """Raise ``FloatingPointError``, as NumPy itself would, when the caller
    asked NumPy to raise on overflow (``np.errstate(over="raise")``) and
    values overflowed (``overflows`` counted by compiled code) or the
    parameters are no longer finite: compiled code and BLAS do not report
    overflow through NumPy's error state."""
    if np.geterr()["over"] == "raise" and (overflows or not all(np.isfinite(p).all() for p in params)):
        raise FloatingPointError("overflow: values are no longer finite")


def input_scale(dtype: np.dtype) -> np.ndarray:
    """``lut[v] = v / 256`` for every byte ``v``: the float input of a pixel,
    exactly as :meth:`nndl.data.Split.X` computes it."""
    return np.arange(256, dtype=dtype) * dtype.type(1 / 256)
