"""Engines: the ways a :class:`~nndl.network.Network` can run its SGD steps.

Every engine computes the same step as the readable reference,
:meth:`Network.backprop <nndl.network.Network.backprop>` followed by
``w -> w - eta nabla_w``, on the same mini-batches in the same order; they
differ only in how the arithmetic is arranged, so their results agree to
floating-point rounding (the tests check this against the reference).

``reference``
    The teaching code: ``Network.backprop`` and ``Network._step`` per mini-batch.
``numpy``
    The same mathematics in the row convention (a mini-batch is a matrix
    ``X (m, n_in)`` whose rows are examples) with every intermediate array
    allocated once and reused, so a mini-batch costs its matrix products and
    a few fused element-wise passes.  Any layer sizes, any inputs.
``numba``
    A compiled loop over mini-batches for the chapter's shape, one hidden
    layer, trained on ``uint8`` images (see :mod:`nndl.fast`).  Needs the
    ``fast`` extra.
``torch``
    PyTorch on ``device`` ``"cpu"`` or ``"cuda"`` (see
    :mod:`nndl.torch_engine`).  Needs the ``torch`` extra.
``pytensor``
    The notes' symbolic model, compiled by PyTensor
    (:class:`nndl.symbolic.SymbolicNetwork`, built by :func:`nndl.train`).
    Needs the ``pytensor`` extra.
``auto``
    The fastest that applies: ``torch`` on a GPU, ``numba`` when it is
    installed and applies and the mini-batches are not large (see
    :func:`prefers_numba`), else ``numpy``.
"""

from __future__ import annotations

import importlib

import numpy as np

from .errors import ConfigError, require

#: The engine names ``Network(engine=...)`` and ``nndl train --engine`` accept.
ENGINES = ("auto", "reference", "numpy", "numba", "torch", "pytensor")
#: The devices ``Network(device=...)`` accepts.
DEVICES = ("cpu", "cuda")
#: ``auto`` uses the compiled per-example kernel while mini-batch size x
#: hidden units is at most this; beyond it the matrix products of whole
#: mini-batches run closer to the machine's peak (see benchmarks/README.md).
NUMBA_MAX_WORK = 200_000


def check(engine: str, device: str) -> None:
    """Raise a one-line :class:`NNDLError` if ``engine`` on ``device`` can't run here."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if device == "cuda" and engine not in ("auto", "torch"):
        raise ConfigError(f"device 'cuda' runs on the torch engine, not on engine {engine!r}")
    if engine == "numba":
        require("numba", "engine 'numba'", "fast")
    if engine == "pytensor":
        require("pytensor", "the PyTensor engine", "pytensor")
    if engine == "torch" or device == "cuda":
        from .torch_engine import check_device

        check_device(device)


def select(net, inputs: np.ndarray, mini_batch_size: int):
    """The engine object that runs ``net``'s mini-batches, or None for the
    reference code.  Engine objects are kept on the network, so buffers and
    compiled data survive from one call to the next."""
    name = getattr(net, "engine", "auto")
    device = getattr(net, "device", "cpu")
    if name == "reference":
        return None
    if name == "auto":
        if device == "cuda":
            name = "torch"
        elif prefers_numba(net.sizes, mini_batch_size) and _fast_applies(net, inputs):
            name = "numba"
        else:
            name = "numpy"
    elif name == "numba" and not _fast_applies(net, inputs):
        raise ConfigError(
            f"engine 'numba' trains networks with one hidden layer on uint8 images; got sizes {net.sizes} "
            f"and inputs of dtype {inputs.dtype} (use engine 'numpy')"
        )
    cache = net.__dict__.setdefault("_engines", {})
    if name not in cache:
        cache[name] = _make(name, device)
    return cache[name]


def prefers_numba(sizes, mini_batch_size: int) -> bool:
    """Whether ``auto`` runs a ``[n_in, H, n_out]`` network with the compiled
    kernel (when it is installed and the inputs are bytes)."""
    return len(sizes) == 3 and mini_batch_size * sizes[1] <= NUMBA_MAX_WORK


def _fast_applies(net, inputs: np.ndarray) -> bool:
    return len(net.sizes) == 3 and inputs.dtype == np.uint8 and _installed("numba")


def _installed(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _make(name: str, device: str):
    if name == "numpy":
        return NumpyEngine()
    if name == "numba":
        from .fast import SparseEngine

        return SparseEngine()
    from .torch_engine import TorchEngine

    return TorchEngine(device)


def check_overflow(params, overflows: int = 0) -> None:
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

    def train_batches(self, net, inputs, targets, order, mini_batch_size, eta, first, last) -> None:
        """Mini-batches ``first`` to ``last - 1`` of the epoch whose order is ``order``."""
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

    def _buffers_for(self, net, m: int, input_dtype) -> dict:
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


def _sigmoid_inplace(z: np.ndarray) -> None:
    """``z <- sigma(z) = 1/2 + tanh(z/2)/2``, the reference's formula, in place."""
    z *= 0.5
    np.tanh(z, out=z)
    z *= 0.5
    z += 0.5
