"""Inside the network on one input, and one step of learning from it.

For a digit ``x`` (784 bytes, the 28 x 28 input the network saw),
:func:`look` runs the book's feedforward keeping each layer's weighted
inputs and activations::

    z^l = w^l a^{l-1} + b^l,    a^l = sigma(z^l),    a^0 = x

:func:`contributions` says which pixels push one neuron's weighted input
up and which push it down.  For a neuron ``j`` of the first hidden layer
that is exact: ``z_j = sum_i w_ji x_i + b_j``, so pixel ``i`` adds
``w_ji x_i``.  Deeper neurons see the pixels only through the layers
before them; there each pixel gets its share by integrated gradients: the
drawing fades in from blank paper, and each pixel is credited with its ink
times the gradient ``dz/dx_i`` averaged along the way, so the shares add up
to how much ``z`` differs from its value on blank paper.  (For the first
hidden layer the gradient is ``w_j`` all along, and the two agree.)

:class:`Lessons` teaches a network one example at a time -- the book's
:meth:`~nndl.network.Network.update_mini_batch` on a mini-batch of one --
recording what backpropagation did (the errors ``delta^l``, the change of
every weight) and keeping copies of the parameters so each step can be
undone exactly.  :meth:`Lessons.paint` changes one neuron's incoming
weights by hand instead, with a soft round brush (:func:`brush`), each
stroke undone the same way.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .data import vectorized_result
from .errors import ConfigError, NNDLError
from .modelfile import Parameters
from .network import Network, sigmoid, sigmoid_prime

#: The book's learning rate for chapter 1's network.
ETA = 3.0
#: The largest learning rate one lesson may use (the book's largest experiment).
MAX_ETA = 100.0
#: Steps that can be undone; older ones are forgotten.
MAX_UNDO = 50
#: The most memory the copies kept for undo may take (fewer steps for a big network).
MAX_UNDO_BYTES = 2**28
#: Points on the path from blank paper to the drawing where :func:`contributions` takes the gradient.
STEPS = 64
#: Bounds of a brush: its radius in pixels, how much it adds at its centre, dabs in one request.
MAX_RADIUS = 6.0
MAX_AMOUNT = 5.0
MAX_DABS = 64


def column(digit: np.ndarray, dtype: np.typing.DTypeLike) -> np.ndarray:
    """The input column ``(784, 1)`` for a digit of bytes, read as
    :meth:`Network.scores` reads bytes: ``byte / 256``."""
    x = np.asarray(digit, np.uint8).reshape(-1, 1).astype(dtype)
    x *= x.dtype.type(1 / 256)
    return x


def brush(dabs: np.ndarray, radius: float, side: int = 28) -> np.ndarray:
    """How much a stroke of the brush touches each of the ``side * side``
    weights: each dab at ``(row, col)`` adds ``exp(-d^2 / (2 r^2))`` at
    distance ``d`` from it (1 at its centre), ``r`` being ``radius``."""
    dabs = np.asarray(dabs, np.float64).reshape(-1, 2)
    rows, cols = np.divmod(np.arange(side * side), side)
    d2 = (rows[None, :] - dabs[:, :1]) ** 2 + (cols[None, :] - dabs[:, 1:]) ** 2
    return np.exp(-d2 / (2 * radius * radius)).sum(axis=0)


def check_stroke(dabs: object, radius: object, amount: object) -> tuple[np.ndarray, float, float]:
    """A brush stroke's dabs ``[[row, col], ...]`` (each within the 28 x 28
    picture), radius and amount, or a one-line :class:`ConfigError`."""
    try:
        points = np.array(dabs, dtype=np.float64)
    except (TypeError, ValueError):
        points = np.empty(0)
    if points.ndim != 2 or points.shape[1:] != (2,) or not 1 <= len(points) <= MAX_DABS:
        raise ConfigError(f"dabs must be 1 to {MAX_DABS} pairs [row, col], got {str(dabs)[:60]}")
    if not (np.isfinite(points).all() and points.min() >= 0 and points.max() <= 27):
        raise ConfigError("each dab's row and col must be from 0 to 27")
    for name, value, low, high in (("radius", radius, 0.5, MAX_RADIUS), ("amount", amount, -MAX_AMOUNT, MAX_AMOUNT)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ConfigError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
    return points, float(radius), float(amount)  # type: ignore[arg-type]  # checked above


@dataclass
class Look:
    """One input's pass through the network: ``zs[l - 1]`` and
    ``activations[l - 1]`` are layer ``l``'s weighted inputs and
    activations (1-D), for the layers ``l = 1 .. L - 1`` after the input."""

    zs: list[np.ndarray]
    activations: list[np.ndarray]

    @property
    def scores(self) -> np.ndarray:
        """The output layer's activations."""
        return self.activations[-1]


def look(net: Network, digit: np.ndarray) -> Look:
    """Feed ``digit`` forward through ``net``, keeping every layer's ``z`` and ``a``."""
    a = column(digit, net.dtype)
    zs, activations = [], []
    for b, w in zip(net.biases, net.weights):
        z = w @ a + b
        a = sigmoid(z)
        zs.append(z[:, 0])
        activations.append(a[:, 0])
    return Look(zs, activations)


def check_neuron(net: Network, layer: int, neuron: int) -> None:
    """A :class:`ConfigError` unless ``layer`` (1 = the first hidden layer,
    ``len(net.sizes) - 1`` = the output layer) has a neuron ``neuron``."""
    if not 1 <= layer < net.num_layers:
        raise ConfigError(f"layer must be from 1 to {net.num_layers - 1} for sizes {net.sizes}, got {layer}")
    if not 0 <= neuron < net.sizes[layer]:
        raise ConfigError(f"neuron must be from 0 to {net.sizes[layer] - 1} in layer {layer}, got {neuron}")


def input_gradients(net: Network, X: np.ndarray, layer: int, neuron: int) -> np.ndarray:
    """``dz/dx`` at each input column of ``X`` ``(784, m)`` (floats, as the
    network reads them): how the weighted input ``z`` of ``neuron`` in
    ``layer`` changes with each pixel, by the chain rule back through the
    layers below it (the backward pass of backpropagation, for ``z``)::

        dz/da^{l-1} = w^l_j,    dz/da^{k-1} = (w^k)^T (dz/da^k * sigma'(z^k))

    Returns ``(784, m)``, float64.
    """
    check_neuron(net, layer, neuron)
    X = np.asarray(X, np.float64)
    zs, a = [], X
    for b, w in zip(net.biases[: layer - 1], net.weights[: layer - 1]):
        zs.append(w @ a + b)
        a = sigmoid(zs[-1])
    g = np.repeat(net.weights[layer - 1][neuron].astype(np.float64)[:, None], X.shape[1], axis=1)
    for k in range(layer - 1, 0, -1):  # from layer l - 1 down to the first hidden layer
        g = net.weights[k - 1].T @ (g * sigmoid_prime(zs[k - 1]))
    return g


def effective_weights(net: Network, digit: np.ndarray, layer: int, neuron: int, steps: int = STEPS) -> np.ndarray:
    """The weights ``neuron`` of ``layer`` applies to the pixels of
    ``digit`` on average while the drawing fades in from blank paper: the
    mean of ``dz/dx`` at ``t x`` for ``t`` from 0 to 1 (midpoints of
    ``steps`` equal parts).  In the first hidden layer these are the
    neuron's own weights ``w_j``.  Returns ``(784,)``.

    The same as ``input_gradients(net, t x, ...).mean(axis=1)``, computed
    without a 784-row matrix per step: along the path the first layer's
    weighted inputs are ``t (w^1 x) + b^1``, and the mean of
    ``(w^1)^T m_t`` is ``(w^1)^T`` times the mean of ``m_t``."""
    check_neuron(net, layer, neuron)
    w1 = net.weights[0].astype(np.float64)
    if layer == 1:  # z is linear in x: the gradient is w_j all along
        return w1[neuron]
    t = (np.arange(steps) + 0.5) / steps
    zs = [(w1 @ column(digit, np.float64)) * t + net.biases[0]]
    for b, w in zip(net.biases[1 : layer - 1], net.weights[1 : layer - 1]):
        zs.append(w @ sigmoid(zs[-1]) + b)
    g = np.repeat(net.weights[layer - 1][neuron].astype(np.float64)[:, None], steps, axis=1)
    for k in range(layer - 1, 1, -1):  # from layer l - 1 down to the second
        g = net.weights[k - 1].T @ (g * sigmoid_prime(zs[k - 1]))
    return w1.T @ (g * sigmoid_prime(zs[0])).mean(axis=1)


def contributions(net: Network, digit: np.ndarray, layer: int, neuron: int, steps: int = STEPS) -> np.ndarray:
    """Each pixel's push on the weighted input ``z`` of ``neuron`` in
    ``layer`` (784,): its ink times the weight the neuron effectively gives
    it, ``x_i * effective_weights_i`` (integrated gradients).  Positive
    pixels push ``z`` up, negative ones down, and the pushes add up to
    ``z(x) - z(blank paper)``.

    In the first hidden layer this is exactly ``w_ji x_i``: ``z_j`` is a
    weighted sum of the pixels.  Deeper, a neuron sees the pixels only
    through the layers before it, and the path from blank paper to the
    drawing shares ``z``'s change out among the pixels (exactly as
    ``steps`` grows).
    """
    return column(digit, np.float64)[:, 0] * effective_weights(net, digit, layer, neuron, steps)


# -- teaching ------------------------------------------------------------------


class NothingToUndo(NNDLError):
    """Undo was asked for with no step left to undo."""


@dataclass
class Lesson:
    """What one step of gradient descent on one example did.

    ``deltas[l - 1]`` is the book's error ``delta^l = dC/dz^l`` of layer
    ``l`` (1-D); ``weight_changes[l - 1]`` and ``bias_changes[l - 1]`` are
    how much each of layer ``l``'s weights and biases moved
    (``-eta delta^l (a^{l-1})^T`` and ``-eta delta^l``).  ``before`` and
    ``after`` are the output activations, ``cost_before`` and
    ``cost_after`` the quadratic cost ``||y - a||^2 / 2`` on the example.
    """

    label: int
    eta: float
    before: np.ndarray
    after: np.ndarray
    cost_before: float
    cost_after: float
    deltas: list[np.ndarray]
    weight_changes: list[np.ndarray]
    bias_changes: list[np.ndarray]


def check_eta(eta: float) -> float:
    """``eta`` as a float, or a :class:`ConfigError` unless ``0 < eta <= MAX_ETA``."""
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 < eta <= MAX_ETA:
        raise ConfigError(f"eta must be a number above 0 and at most {MAX_ETA:g}, got {eta!r}")
    return float(eta)


def check_label(label: int, n_classes: int = 10) -> int:
    """``label`` as an int, or a :class:`ConfigError` unless it is one of the classes."""
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < n_classes:
        raise ConfigError(f"label must be a digit from 0 to {n_classes - 1}, got {label!r}")
    return int(label)


class Lessons:
    """A network taught one example at a time, each step undoable.

    ``net`` is changed in place (callers that must keep the original pass a
    copy).  :meth:`teach` applies the book's ``update_mini_batch`` to a
    mini-batch of one example; :meth:`undo` puts back the parameters from
    before the last step, bit for bit.  At most ``max_undo`` steps are
    remembered, and no more than :data:`MAX_UNDO_BYTES` of copies.  Steps
    and undos are serialised by a lock, so a server's threads may share one
    :class:`Lessons`.
    """

    def __init__(self, net: Network, max_undo: int = MAX_UNDO) -> None:
        self.net = net
        size = sum(p.nbytes for p in net.weights + net.biases)
        self.max_undo = max(1, min(max_undo, MAX_UNDO_BYTES // size))
        self.steps = 0  # steps taken and not undone
        self.version = 0  # changes with every step and undo
        self._saved: list[tuple[list[np.ndarray], list[np.ndarray]]] = []
        self.lock = threading.RLock()

    @property
    def can_undo(self) -> int:
        """How many steps can be undone."""
        return len(self._saved)

    def teach(self, digit: np.ndarray, label: int, eta: float = ETA) -> Lesson:
        """One step of gradient descent with learning rate ``eta`` on the
        single example ``digit`` (784 bytes) labelled ``label``."""
        net = self.net
        label, eta = check_label(label, net.sizes[-1]), check_eta(eta)
        x = column(digit, net.dtype)
        y = vectorized_result(label, net.sizes[-1])
        with self.lock:
            before = look(net, digit).scores
            # For a single example dC/db^l is the error delta^l itself.
            deltas, _ = net.backprop(x, y.astype(net.dtype))
            old = ([w.copy() for w in net.weights], [b.copy() for b in net.biases])
            net.update_mini_batch([(x, y)], eta)
            self._saved.append(old)
            del self._saved[: -self.max_undo]
            self.steps += 1
            self.version += 1
            after = look(net, digit).scores
            weight_changes = [w - w0 for w, w0 in zip(net.weights, old[0])]
            bias_changes = [(b - b0)[:, 0] for b, b0 in zip(net.biases, old[1])]
        target = y[:, 0]
        return Lesson(
            label=label,
            eta=eta,
            before=before,
            after=after,
            cost_before=0.5 * float(np.sum((target - before) ** 2)),
            cost_after=0.5 * float(np.sum((target - after) ** 2)),
            deltas=[d[:, 0] for d in deltas],
            weight_changes=weight_changes,
            bias_changes=bias_changes,
        )

    def paint(self, neuron: int, dabs: np.ndarray, radius: float, amount: float, new_stroke: bool = True) -> np.ndarray:
        """Add ``amount * brush(dabs, radius)`` to the incoming weights of
        neuron ``neuron`` of the first layer after the input (28 x 28
        weights); returns them.  A ``new_stroke`` is one step to undo; more
        dabs of the same stroke (``new_stroke=False``) join it, so one undo
        takes the whole stroke back, bit for bit."""
        net = self.net
        check_neuron(net, 1, neuron)
        if net.sizes[0] != 28 * 28:
            raise ConfigError(f"painting needs 784 inputs (a 28 x 28 picture), the network has {net.sizes[0]}")
        points, radius, amount = check_stroke(dabs, radius, amount)
        change = (amount * brush(points, radius)).astype(net.dtype)
        with self.lock:
            if new_stroke or not self._saved:
                self._saved.append(([w.copy() for w in net.weights], [b.copy() for b in net.biases]))
                del self._saved[: -self.max_undo]
                self.steps += 1
            net.weights[0][neuron] += change
            self.version += 1
            return net.weights[0][neuron].copy()

    def undo(self) -> None:
        """Put back the parameters from before the last step."""
        with self.lock:
            if not self._saved:
                raise NothingToUndo("there is no step to undo: teach the network a digit first")
            self.net.weights, self.net.biases = self._saved.pop()
            self.steps -= 1
            self.version += 1

    def replace(self, params: Parameters) -> None:
        """Put another network (``params``: a run of the training lab) in
        place of this one, in the same object, so everything reading it
        reads the new one; the steps taught so far are forgotten."""
        fresh = Network.from_parameters(params)
        fresh.weights = [w.copy() for w in params.weights]  # taught in place from now on: never the run's arrays
        fresh.biases = [b.copy() for b in params.biases]
        with self.lock:
            vars(self.net).update(vars(fresh))
            size = sum(p.nbytes for p in fresh.weights + fresh.biases)
            self.max_undo = max(1, min(MAX_UNDO, MAX_UNDO_BYTES // size))
            self._saved.clear()
            self.steps = 0
            self.version += 1
