"""The chapter's network built symbolically, on PyTensor (Theano's successor).

Instead of writing backpropagation by hand, we describe the network as an
expression -- the parameters are shared variables, the cost a formula in
them -- and let PyTensor take the gradients and compile one SGD step into a
function.  The design is the notes' "Using Theano" half:

* :class:`Layer` ``(W_init, b_init, activation)``: ``output(x) = activation(W x + b)``;
* :class:`MLP` ``(W_init, b_init, activations)``: its layers one after the
  other, with ``output(x)`` and the cost ``squared_error(x, y)``;
* :func:`gradient_updates` ``(cost, params, learning_rate)``: the updates of
  one step of gradient descent on ``cost``.

As in the book, ``x`` holds one example per **column**: a mini-batch of ``m``
MNIST images is a matrix ``(784, m)``, desired outputs ``(10, m)``.

Two conventions for one step
----------------------------
The notes' cost is the *summed* squared error of the mini-batch,
``S = sum_x ||a^L(x) - y(x)||^2``, without the book's ``1/2`` and without
dividing by ``m``; the book's is ``C = S / (2m)``.  A step on ``S`` with
learning rate ``lr`` is therefore a step on ``C`` with ``eta = 2 m lr``::

    w -> w - lr dS/dw  =  w - eta dC/dw      when  lr = eta / (2m).

The notes' learning rate ``3/m`` (``3/10`` for mini-batches of 10) is the
book's ``eta = 6``.  Everything here that takes an ``eta`` means the book's
eta, so both engines of ``nndl train`` read ``--eta`` the same way.

PyTensor's backend (Numba) turns a compiled function into machine code the
first time it is called, and keeps that in its cache on disk
(``~/.pytensor``): the first run on a machine pays some seconds, later runs
load it.

Needs the ``pytensor`` extra: ``pip install "nndl[pytensor]"``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .config import check_dtype, check_sizes
from .errors import ConfigError, require

pytensor = require("pytensor", "the PyTensor engine", "pytensor")
T = require("pytensor.tensor", "the PyTensor engine", "pytensor")

from pytensor.compile.sharedvalue import SharedVariable  # noqa: E402
from pytensor.tensor.variable import TensorVariable  # noqa: E402

#: An elementwise function of symbolic tensors, such as ``T.sigmoid``.
Activation = Callable[[TensorVariable], TensorVariable]


class Layer:
    """A layer of neurons: ``a = activation(W x + b)``.

    ``W_init`` ``(n_out, n_in)`` and ``b_init`` (``n_out`` values, as a
    vector ``(n_out,)`` or a column ``(n_out, 1)``) are the starting values
    of the weights and biases, which become shared variables ``W`` and ``b``
    -- values that live outside any one compiled function and that updates
    can change.  ``activation`` is an elementwise function of symbolic
    tensors (``T.sigmoid``), or None for a linear layer.
    """

    def __init__(self, W_init: np.ndarray, b_init: np.ndarray, activation: Activation | None) -> None:
        W_init = np.asarray(W_init)
        if W_init.ndim != 2:
            raise ConfigError(f"W_init must be a matrix (n_out, n_in), got shape {W_init.shape}")
        n_out = W_init.shape[0]
        b_init = np.asarray(b_init, dtype=W_init.dtype)
        if b_init.size != n_out or b_init.ndim > 2:
            raise ConfigError(f"b_init must hold {n_out} biases for W_init of shape {W_init.shape}, got {b_init.shape}")
        self.W = pytensor.shared(W_init.copy(), name="W")
        # b is a column whose static shape (?, 1) lets it broadcast across
        # the m columns of a mini-batch.
        self.b = pytensor.shared(b_init.reshape(n_out, 1).copy(), name="b", shape=(None, 1))
        self.activation = activation
        self.params = [self.W, self.b]

    def output(self, x: TensorVariable) -> TensorVariable:
        """The layer's activations for the columns of ``x`` ``(n_in, m)``: ``(n_out, m)``."""
        z = T.dot(self.W, x) + self.b
        return z if self.activation is None else self.activation(z)


class MLP:
    """A multilayer perceptron: :class:`Layer`\\ s applied one after another.

    ``W_init``, ``b_init`` and ``activations`` are lists with one entry per
    layer (the input layer has none); the weights of layer ``l`` must take
    the ``n_out`` of layer ``l - 1`` as their ``n_in``.  ``params`` lists
    every shared variable, ``[W, b]`` layer after layer.
    """

    def __init__(
        self, W_init: Sequence[np.ndarray], b_init: Sequence[np.ndarray], activations: Sequence[Activation | None]
    ) -> None:
        if not (len(W_init) == len(b_init) == len(activations) >= 1):
            raise ConfigError(
                "W_init, b_init and activations need one entry per layer, got "
                f"{len(W_init)}, {len(b_init)} and {len(activations)}"
            )
        self.layers = [Layer(W, b, activation) for W, b, activation in zip(W_init, b_init, activations)]
        for l, (before, after) in enumerate(zip(self.layers[:-1], self.layers[1:]), start=1):
            n_out, n_in = before.W.get_value(borrow=True).shape[0], after.W.get_value(borrow=True).shape[1]
            if n_out != n_in:
                raise ConfigError(f"layer {l} has {n_out} outputs but layer {l + 1} takes {n_in} inputs")
        self.params = [p for layer in self.layers for p in layer.params]

    def output(self, x: TensorVariable) -> TensorVariable:
        """The network's output ``a^L`` for the columns of ``x``."""
        for layer in self.layers:
            x = layer.output(x)
        return x

    def squared_error(self, x: TensorVariable, y: TensorVariable) -> TensorVariable:
        """The notes' cost: ``sum ||a^L - y||^2`` over the columns of the
        mini-batch -- no ``1/2``, no division by ``m`` (see the module's
        docstring for how this relates to the book's eta)."""
        return T.sum((self.output(x) - y) ** 2)


def gradient_updates(
    cost: TensorVariable, params: Sequence[SharedVariable], learning_rate: float | TensorVariable
) -> list[tuple[SharedVariable, TensorVariable]]:
    """The updates of one step of gradient descent on ``cost``:
    ``param -> param - learning_rate * d cost / d param`` for each of ``params``.

    PyTensor derives the gradients symbolically (``pytensor.grad``): this
    one call is the whole of backpropagation.  Pass the list to
    ``pytensor.function(..., updates=...)``; ``learning_rate`` is a number or
    a symbolic scalar.
    """
    grads = pytensor.grad(cost, params)
    return [(param, param - learning_rate * grad) for param, grad in zip(params, grads)]


@dataclass
class CompiledMLP:
    """An :class:`MLP` with its compiled functions.

    ``train(x, y)`` applies one step of SGD to the mini-batch of columns
    ``x`` ``(n_in, m)``, ``y`` ``(n_out, m)`` and returns the summed squared
    error before the step; its learning rate is ``eta / (2m)`` on that summed
    cost, i.e. the book's ``eta``.  ``predict(x)`` returns the output
    activations ``(n_out, m)``.  ``eta`` is a shared variable: set it with
    ``eta.set_value(...)`` without compiling again.  ``compile_seconds`` is the
    time spent compiling (the first call included, which is when PyTensor's
    backend builds the machine code).
    """

    mlp: MLP
    train: Callable[[np.ndarray, np.ndarray], np.ndarray]
    predict: Callable[[np.ndarray], np.ndarray]
    eta: SharedVariable
    compile_seconds: float

    def get_parameters(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Copies of ``(weights, biases)``, in :class:`~nndl.network.Network`'s
        shapes: ``(n_out, n_in)`` and ``(n_out, 1)``."""
        return (
            [layer.W.get_value() for layer in self.mlp.layers],
            [layer.b.get_value() for layer in self.mlp.layers],
        )

    def set_parameters(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> None:
        """Copy ``weights`` and ``biases`` into the shared variables."""
        for layer, w, b in zip(self.mlp.layers, weights, biases):
            layer.W.set_value(np.array(w, dtype=layer.W.dtype))
            layer.b.set_value(np.array(b, dtype=layer.b.dtype).reshape(-1, 1))


def compile_sgd(mlp: MLP, eta: float = 6.0) -> CompiledMLP:
    """Compile ``train`` and ``predict`` for ``mlp`` (see :class:`CompiledMLP`).

    The step is :func:`gradient_updates` on :meth:`MLP.squared_error` with
    learning rate ``eta / (2m)`` for a mini-batch of ``m`` columns: the
    notes' ``3/10`` for ``eta = 6`` and ``m = 10``, and the same step as
    :meth:`nndl.network.Network.update_mini_batch` with that ``eta``.  Mini-batches of
    any size share one compiled function.
    """
    dtype = mlp.params[0].dtype
    x = T.matrix("x", dtype=dtype)
    y = T.matrix("y", dtype=dtype)
    eta_var = pytensor.shared(np.asarray(eta, dtype=dtype), name="eta")
    m = T.cast(x.shape[1], dtype)
    cost = mlp.squared_error(x, y)
    n_in, n_out = mlp.layers[0].W.get_value(borrow=True).shape[1], mlp.layers[-1].W.get_value(borrow=True).shape[0]
    t0 = time.perf_counter()
    # Without fast-math, the compiled code rounds as IEEE arithmetic says,
    # the same on every run: with it, a run that compiles afresh and one that
    # loads the cache can differ in the last bits (and so, after thousands of
    # steps, in the final accuracy).
    with pytensor.config.change_flags(numba__fastmath=False), warnings.catch_warnings():
        # Numba's advice about np.dot on arrays of unknown layout is for
        # PyTensor's developers, not for our users.
        warnings.filterwarnings("ignore", message=r"np\.dot\(\) is faster on contiguous arrays")
        train = pytensor.function([x, y], cost, updates=gradient_updates(cost, mlp.params, eta_var / (2 * m)))
        predict = pytensor.function([x], mlp.output(x))
        model = CompiledMLP(mlp, train, predict, eta_var, 0.0)
        # The backend compiles on the first call: make it now, on two columns
        # of zeros, and put the parameters back as they were.  The columns
        # are transposed rows, the memory layout training passes (the backend
        # compiles one version per layout).
        saved = model.get_parameters()
        train(np.zeros((2, n_in), dtype).T, np.zeros((2, n_out), dtype).T)
        predict(np.zeros((2, n_in), dtype).T)
        model.set_parameters(*saved)
    model.compile_seconds = time.perf_counter() - t0
    return model


def notes_model(
    sizes: Sequence[int] = (784, 30, 10),
    seed: int | None = None,
    eta: float = 6.0,
    dtype: str = "float64",
) -> CompiledMLP:
    """The notes' model, compiled: sigmoid layers of ``sizes``, weights drawn
    from N(0, 1), every bias starting at 1, the summed squared error as the
    cost and learning rate ``3/m`` (``eta = 6``).

    Train it on mini-batches of columns with ``model.train(x, y)``, score
    with ``model.predict(x)``.  The weights are those of
    ``nndl.Network(sizes, seed)``: one seed, the same starting weights in
    both engines.
    """
    sizes = check_sizes(sizes)
    dt = check_dtype(dtype)
    # Drawn in the order Network draws them (biases, then weights), so one
    # seed gives both the same starting weights.
    rng = np.random.default_rng(seed)
    for y in sizes[1:]:
        rng.standard_normal((y, 1))  # the N(0, 1) biases Network draws; the notes start them at 1
    biases = [np.ones((y, 1), dt) for y in sizes[1:]]
    weights = [rng.standard_normal((y, x)).astype(dt) for x, y in zip(sizes[:-1], sizes[1:])]
    return compile_sgd(MLP(weights, biases, [T.sigmoid] * (len(sizes) - 1)), eta)


__all__ = ["MLP", "CompiledMLP", "Layer", "compile_sgd", "gradient_updates", "notes_model"]
