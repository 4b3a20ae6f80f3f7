"""The ``pytensor`` engine: each SGD step compiled by PyTensor from the
notes' symbolic model (:mod:`nndl.symbolic`).

The network's parameters are copied into the compiled model's shared
variables before each range of mini-batches and the trained values copied
back into the network's own arrays after it.  The step is the notes'
summed squared error at learning rate ``eta / (2m)``, which is the book's
step with the book's ``eta`` (see :func:`nndl.symbolic.compile_sgd`).
Needs the ``pytensor`` extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inputs import EVAL_CHUNK, as_float
from ..symbolic import MLP, CompiledMLP, T, compile_sgd


class PyTensorEngine:
    """Runs ranges of mini-batches with a compiled PyTensor ``train`` function."""

    def __init__(self) -> None:
        self.model: CompiledMLP | None = None
        self._key: tuple | None = None

    def prepare(self, net: Any) -> CompiledMLP:
        """The compiled model for ``net``'s sizes and dtype (compiled on first
        use; PyTensor caches the machine code on disk across runs)."""
        key = (tuple(net.sizes), net.dtype)
        if self.model is None or self._key != key:
            mlp = MLP(net.weights, net.biases, [T.sigmoid] * (len(net.sizes) - 1))
            self.model, self._key = compile_sgd(mlp), key
        return self.model

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
        model = self.prepare(net)
        model.set_parameters(net.weights, net.biases)
        model.eta.set_value(np.asarray(eta, dtype=net.dtype))
        for k in range(first, last):
            idx = order[k * mini_batch_size : (k + 1) * mini_batch_size]
            squares = model.train(as_float(inputs[idx], net.dtype).T, targets[idx].T)  # sum ||a^L - y||^2
            if costs is not None:
                costs[k - first] = float(squares) / (2 * len(idx))
        weights, biases = model.get_parameters()
        for mine, theirs in zip(net.weights + net.biases, weights + biases):
            mine[...] = theirs

    def predict(self, net: Any, X: np.ndarray) -> np.ndarray:
        """The predicted class (most activated output) of each row of ``X``,
        from the compiled model's ``predict`` with ``net``'s parameters."""
        model = self.prepare(net)
        model.set_parameters(net.weights, net.biases)
        chunks = [model.predict(as_float(X[k : k + EVAL_CHUNK], net.dtype).T) for k in range(0, len(X), EVAL_CHUNK)]
        return np.concatenate([a.argmax(axis=0) for a in chunks]) if chunks else np.empty(0, np.int64)
