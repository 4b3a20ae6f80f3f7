"""The torch engine: the network's SGD steps in PyTorch, on the CPU or a GPU.

The same mathematics as the reference, written out with tensors in the row
convention (a mini-batch is ``X (m, n_in)``, one example per row) rather
than left to autograd, so each step is exactly the book's::

    A^l = sigma(A^{l-1} (w^l)^T + (b^l)^T)
    D^L = (A^L - Y) * A^L (1 - A^L),   D^{l-1} = (D^l w^l) * A^{l-1} (1 - A^{l-1})
    w^l -= (eta/m) (D^l)^T A^{l-1},    b^l -= (eta/m) sum_rows D^l

The mini-batches and their order are the network's (its generator draws the
shuffles), so a run on ``"cuda"`` follows the same path as one on the CPU.
The parameters are copied to the device at the start of each range of
mini-batches and back at its end (on the CPU the tensors share the arrays'
memory, and the copies cost nothing), so the network's arrays are current
between calls and the CPU runs the code path a GPU runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError, require
from .base import check_overflow

#: On the CPU, mini-batches with at most this many activations per layer
#: (mini-batch size x layer width) run on one thread: shared out, such small
#: products cost more in waiting than they save, and far more on a busy machine.
SMALL = 200_000


def check_device(device: str) -> None:
    """Raise a one-line error unless PyTorch is installed and ``device`` usable."""
    torch = require("torch", f"device {device!r} (engine 'torch')", "torch")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' needs a CUDA GPU, and PyTorch finds none on this machine (use --device cpu)")


class TorchEngine:
    """Runs ranges of mini-batches on ``device`` with PyTorch."""

    def __init__(self, device: str = "cpu") -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self._inputs: np.ndarray | None = None
        self._targets: np.ndarray | None = None
        self._x: Any = None  # the inputs and targets as tensors on the device
        self._y: Any = None

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
        torch = self.torch
        if inputs is not self._inputs:  # a copy: torch tensors must be writeable
            self._x, self._inputs = torch.tensor(inputs, device=self.device), inputs
        if targets is not self._targets:
            self._y, self._targets = torch.tensor(targets, device=self.device), targets
        params = net.weights + net.biases
        tensors = [torch.from_numpy(p).to(self.device) for p in params]
        weights, biases = tensors[: len(net.weights)], tensors[len(net.weights) :]
        dtype = weights[0].dtype
        scale = 1 / 256 if inputs.dtype == np.uint8 else 1.0
        start = first * mini_batch_size
        stop = min(last * mini_batch_size, len(order))
        batches = torch.from_numpy(np.ascontiguousarray(order[start:stop])).to(self.device)
        threads = torch.get_num_threads()
        if self.device.type == "cpu" and mini_batch_size * max(net.sizes[1:]) <= SMALL:
            torch.set_num_threads(1)  # restored below
        try:
            squares = self._steps(weights, biases, batches, mini_batch_size, eta, scale, dtype, costs is not None)
        finally:
            torch.set_num_threads(threads)
        for p, t in zip(params, tensors):  # a no-op on the CPU, where they share memory
            p[...] = t.cpu().numpy()
        if costs is not None and squares is not None:
            sizes = np.minimum(mini_batch_size, len(batches) - mini_batch_size * np.arange(len(costs)))
            costs[:] = squares.cpu().numpy() / (2 * sizes)
        check_overflow(params)

    def forget(self) -> None:
        """Drop the copies of the inputs and targets: a new SGD call begins,
        and its arrays may have changed in place since they were copied."""
        self._inputs = self._targets = None

    def _steps(
        self,
        weights: list[Any],
        biases: list[Any],
        batches: Any,
        mini_batch_size: int,
        eta: float,
        scale: float,
        dtype: Any,
        measure: bool = False,
    ) -> Any:
        """The SGD steps on the mini-batches of the examples ``batches``; if
        ``measure``, each mini-batch's ``sum ||a^L - y||^2`` (float64, on the
        device, so the device need not wait for each)."""
        torch = self.torch
        squares = torch.empty(-(-len(batches) // mini_batch_size), dtype=torch.float64, device=self.device)
        with torch.no_grad():
            for k in range(0, len(batches), mini_batch_size):
                idx = batches[k : k + mini_batch_size]
                x = self._x[idx].to(dtype)
                if scale != 1.0:
                    x *= scale
                acts = [x]
                for w, b in zip(weights, biases):
                    acts.append(torch.sigmoid(torch.addmm(b.T, acts[-1], w.T)))
                a = acts[-1]
                miss = a - self._y[idx].to(dtype)
                if measure:
                    squares[k // mini_batch_size] = miss.double().square().sum()
                delta = miss * a * (1 - a)
                c = eta / len(idx)
                for l in range(len(weights) - 1, -1, -1):
                    below = (delta @ weights[l]) * acts[l] * (1 - acts[l]) if l > 0 else None
                    weights[l].sub_(delta.T @ acts[l], alpha=c)
                    biases[l].sub_(delta.sum(dim=0)[:, None], alpha=c)
                    delta = below
        return squares if measure else None
