"""The chapter's network: sigmoid neurons, quadratic cost, mini-batch SGD.

This is the book's ``network.py`` with its names and signatures, written
in matrix form: a mini-batch of ``m`` examples is a matrix whose ``m``
columns are the examples, so every equation of the chapter reads as it does
for one example, with ``m`` columns instead of one::

    z^l = w^l a^{l-1} + b^l            a^l = sigma(z^l)
    delta^L = (a^L - y) * sigma'(z^L)
    delta^l = ((w^{l+1})^T delta^{l+1}) * sigma'(z^l)
    dC/db^l = delta^l                  dC/dw^l = delta^l (a^{l-1})^T

The cost is the quadratic cost ``C = 1/(2n) sum_x ||y(x) - a^L(x)||^2``.

What is not the chapter lives beside it: the training loop in
:mod:`nndl.loop`, results in :mod:`nndl.history`, the model file in
:mod:`nndl.modelfile`, the data adapters in :mod:`nndl.inputs`, and the
faster ways to run the same steps in :mod:`nndl.engines`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import engines, loop, modelfile
from .config import check_dtype, check_init, check_sizes
from .errors import DataError
from .history import EpochResult, History
from .inputs import EVAL_CHUNK, as_float, check_columns, columns, test_arrays


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The sigmoid function ``1 / (1 + e^{-z})``.

    Written as ``(1 + tanh(z/2)) / 2``, which is the same function but never
    overflows, so large ``|z|`` (the book's eta = 100 experiment) saturates
    cleanly at 0 or 1 instead of warning.
    """
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid function: ``sigma(z) (1 - sigma(z))``."""
    s = sigmoid(z)
    return s * (1 - s)


class Network:
    """A feedforward network of sigmoid neurons.

    The list ``sizes`` contains the number of neurons in the respective
    layers: ``Network([784, 30, 10])`` has 784 inputs, a hidden layer of 30
    neurons and 10 outputs.  Weights and biases start as draws from the
    standard normal distribution N(0, 1) (``init="scaled"``: the weights as
    N(0, 1/n_in), chapter 3's start); the input layer has no biases.
    ``weights[l]`` has shape ``(n_out, n_in)``, ``biases[l]`` ``(n_out, 1)``.

    ``seed`` makes a run reproducible bit for bit: the same seed gives the
    same initial parameters and the same shuffles.  ``dtype`` is float64 as
    in the book, or float32.

    ``engine`` chooses how :meth:`SGD` computes its steps
    (:mod:`nndl.engines`).  ``"reference"`` runs this class's own
    :meth:`update_mini_batch` and :meth:`backprop` for every mini-batch: the
    code to read and to change.  ``"numpy"``, ``"numba"``, ``"torch"`` and
    ``"pytensor"`` compute the same steps faster, equal to float rounding;
    ``"auto"`` (the default) picks the fastest that applies while the
    book's methods and ``sigmoid`` are the shipped code, and the reference
    as soon as one of them is changed -- in a subclass, in this file or at
    run time (:mod:`nndl.shipped`): what you change is what trains.
    ``device`` is ``"cpu"`` or ``"cuda"`` (through PyTorch).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        seed: int | None = None,
        dtype: np.typing.DTypeLike = np.float64,
        *,
        engine: str = "auto",
        device: str = "cpu",
        init: str = "standard",
    ) -> None:
        self.sizes = check_sizes(sizes)
        self.num_layers = len(self.sizes)
        self.dtype = check_dtype(dtype)
        engines.check(engine, device)
        self.engine, self.device = engine, device
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.settings: dict = {}
        # Drawn in float64 and rounded, so float32 and float64 networks with
        # one seed start from the same values.
        self.biases = [self.rng.standard_normal((y, 1)).astype(self.dtype) for y in self.sizes[1:]]
        scaled = check_init(init) == "scaled"  # chapter 3's N(0, 1/n_in)
        self.weights = [
            (self.rng.standard_normal((y, x)) / (np.sqrt(x) if scaled else 1)).astype(self.dtype)
            for x, y in zip(self.sizes[:-1], self.sizes[1:])
        ]

    def __repr__(self) -> str:
        return f"Network({self.sizes}, dtype={self.dtype.name}, engine={self.engine!r})"

    # -- the chapter's methods ---------------------------------------------

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        """Return the output of the network for input ``a``.

        ``a`` is a column ``(n_in, 1)`` as in the book, or a matrix whose
        columns are several inputs.
        """
        check_columns(a, self.sizes)
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)
        return a

    def SGD(
        self,
        training_data: Any,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        test_data: Any = None,
        *,
        progress: bool | None = False,
        log: Callable[[str], None] | None = print,
        on_epoch: Callable[[EpochResult], None] | None = None,
        history: History | None = None,
        start: loop.Position | None = None,
        stop: Callable[[], bool] | None = None,
        pace: loop.Pace | None = None,
    ) -> History:
        """Train the network using mini-batch stochastic gradient descent.

        ``training_data`` is the book's list of ``(x, y)`` tuples, a
        :class:`~nndl.data.Split`, or a pair of arrays ``(X, y)`` with ``X``
        ``(n, n_in)`` and ``y`` the labels ``(n,)`` or desired outputs
        ``(n, n_out)``.  If ``test_data`` is given (the book's list of
        ``(x, label)`` tuples, a Split or ``(X, labels)``), the network is
        evaluated on it after each epoch and a line ``Epoch N: correct /
        total`` is passed to ``log`` (``print`` by default, None for silence).

        Each epoch shuffles the training data, cuts it into mini-batches of
        ``mini_batch_size`` (the last one may be smaller) and applies
        :meth:`update_mini_batch` to each with learning rate ``eta`` (on the
        reference engine this very method; the others compute its step).
        ``progress`` shows a progress bar on stderr (None: only on a
        terminal).  ``on_epoch`` is called with each epoch's
        :class:`~nndl.history.EpochResult`.  Returns the
        :class:`~nndl.history.History` of the run.

        To go on with a run cut short, pass its ``history`` (appended to) and
        the :class:`~nndl.loop.Position` to ``start`` from.  ``stop`` is
        asked between groups of mini-batches and after each epoch, ``pace``
        before each group how many mini-batches to run (see
        :func:`nndl.loop.train_epoch`); either can stop training with
        :class:`~nndl.loop.Interrupted`, which says where.
        """
        return loop.sgd(
            self,
            training_data,
            epochs,
            mini_batch_size,
            eta,
            test_data,
            progress=progress,
            log=log,
            on_epoch=on_epoch,
            history=history,
            start=start,
            stop=stop,
            pace=pace,
        )

    def update_mini_batch(self, mini_batch: Any, eta: float) -> None:
        """Update the network's weights and biases by applying gradient
        descent using backpropagation to a single mini batch.

        ``mini_batch`` is the book's list of ``(x, y)`` tuples (``SGD`` passes
        one; a pair of column matrices ``(x, y)`` works too) and ``eta`` is
        the learning rate.  With the gradients :meth:`backprop` gives for
        the ``m`` examples::

            w -> w - (eta/m) sum_x dC_x/dw,    b -> b - (eta/m) sum_x dC_x/db

        The arrays are updated in place.
        """
        x, y = columns(mini_batch)
        m = x.shape[1]
        nabla_b, nabla_w = self.backprop(x.astype(self.dtype, copy=False), y.astype(self.dtype, copy=False))
        for b, nb in zip(self.biases, nabla_b):
            # summed: a backprop written for one example gives m columns for m examples
            b -= (eta / m) * nb.sum(axis=1, keepdims=True)
        for w, nw in zip(self.weights, nabla_w):
            w -= (eta / m) * nw

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Return ``(nabla_b, nabla_w)``, the gradient of the cost ``C_x``
        with respect to the biases and weights, layer by layer.

        ``x`` is an input column ``(n_in, 1)`` and ``y`` its desired output
        ``(n_out, 1)``, as in the book -- or matrices of ``m`` such columns,
        in which case the gradient is the sum of the ``m`` examples'
        gradients (``delta (a^{l-1})^T`` sums over the columns by itself).
        """
        nabla_b = [np.zeros_like(b) for b in self.biases]
        nabla_w = [np.zeros_like(w) for w in self.weights]
        # feedforward, storing every weighted input z and activation a
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = w @ activation + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # backward pass
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta.sum(axis=1, keepdims=True)
        nabla_w[-1] = delta @ activations[-2].T
        # l counts layers from the end: l = 1 is the output layer, l = 2 the
        # last hidden layer, and so on.
        for l in range(2, self.num_layers):
            delta = (self.weights[-l + 1].T @ delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = delta.sum(axis=1, keepdims=True)
            nabla_w[-l] = delta @ activations[-l - 1].T
        return nabla_b, nabla_w

    def evaluate(self, test_data: Any) -> int:
        """Return the number of test inputs for which the network outputs the
        correct result: the index of the most activated output neuron."""
        correct, _ = self.accuracy_and_cost(*test_arrays(test_data, self.sizes))
        return correct

    def cost_derivative(self, output_activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the vector of partial derivatives dC_x/da for the output
        activations: ``a - y`` for the quadratic cost."""
        return output_activations - y

    # -- beyond the book ----------------------------------------------------

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Output activations ``(n, n_out)`` for the rows of ``X`` ``(n, n_in)``
        (uint8 bytes or floats in [0, 1])."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise DataError(f"inputs must have shape (n, {self.sizes[0]}), got {X.shape}")
        out = [self.feedforward(as_float(X[k : k + EVAL_CHUNK], self.dtype).T).T for k in range(0, len(X), EVAL_CHUNK)]
        return np.concatenate(out) if out else np.empty((0, self.sizes[-1]), self.dtype)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The predicted class (most activated output) for each row of ``X``."""
        return self.scores(X).argmax(axis=1)

    def cost(self, data: Any) -> float:
        """The quadratic cost ``1/(2n) sum ||y - a||^2`` over labelled data."""
        return self.accuracy_and_cost(*test_arrays(data, self.sizes))[1]

    def accuracy_and_cost(self, X: np.ndarray, labels: np.ndarray) -> tuple[int, float]:
        """``(correct, cost)`` over inputs ``X (n, n_in)`` with ``labels (n,)``."""
        correct, sq = 0, 0.0
        for k in range(0, len(X), EVAL_CHUNK):
            a = self.feedforward(as_float(X[k : k + EVAL_CHUNK], self.dtype).T)
            lab = labels[k : k + EVAL_CHUNK]
            correct += int((a.argmax(axis=0) == lab).sum())
            a[lab, np.arange(len(lab))] -= 1.0
            sq += float(np.square(a, dtype=np.float64).sum())
        return correct, sq / (2 * len(X))

    def save(self, path: str | os.PathLike, settings: dict | None = None) -> Path:
        """Write the network to an ``.npz`` model file (:mod:`nndl.modelfile`),
        atomically, with the training ``settings``."""
        params = modelfile.Parameters(self.sizes, self.weights, self.biases, settings or {})
        return modelfile.write(path, params)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Read a model file written by :meth:`save`; its training settings
        are in the returned network's ``settings`` attribute."""
        return cls.from_parameters(modelfile.read(path))

    @classmethod
    def from_parameters(cls, params: modelfile.Parameters) -> Network:
        """A network holding ``params`` (from a model or checkpoint file)."""
        net = cls.__new__(cls)  # the parameters are given: draw none
        net.sizes, net.num_layers, net.dtype = params.sizes, len(params.sizes), params.weights[0].dtype
        net.engine, net.device = "auto", "cpu"
        net.seed, net.rng = params.seed, np.random.default_rng(params.seed)
        net.weights, net.biases, net.settings = params.weights, params.biases, params.settings
        return net


__all__ = ["Network", "sigmoid", "sigmoid_prime"]
