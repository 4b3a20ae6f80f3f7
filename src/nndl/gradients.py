"""How large each layer's gradient is: why some networks learn slowly.

Gradient descent moves each weight by ``eta dC/dw``.  Backpropagation
computes that layer by layer from the output backwards::

    delta^L = (a^L - y) * sigma'(z^L)
    delta^l = ((w^{l+1})^T delta^{l+1}) * sigma'(z^l)
    dC/dw^l = delta^l (a^{l-1})^T

``sigma'(z)`` is at most 1/4 and nearly 0 where a neuron is saturated
(``|z|`` large: the sigmoid's flat tails), so every layer back multiplies
the error by small numbers: in a deeper network the first layers' ``delta``
and ``dC/dw`` are smaller, and those layers learn slower.  A huge ``eta``
saturates the neurons and the gradients vanish; a tiny one keeps the steps
``eta dC/dw`` small however large the gradient.

:func:`gradient_sizes` measures, for one mini-batch, each layer's mean
``|dC/dw|`` (over its weights) and mean ``|delta|`` (over its neurons and
the examples).  It is one forward and one backward pass, so watching a run
costs one mini-batch's step each time it looks: the lab looks on a fixed
mini-batch (:func:`probe`) from a copy of the parameters, in its painter
thread, never in the training thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Split
from .errors import ConfigError
from .inputs import as_float, one_hot
from .network import Network, sigmoid, sigmoid_prime

#: Examples in the lab's fixed mini-batch.
PROBE_SIZE = 100


@dataclass
class LayerGradient:
    """Layer ``layer`` (the book's numbering: 2 is the first layer with
    weights) of a network: its mean ``|dC/dw|`` and mean ``|delta|``."""

    layer: int
    weight: float
    delta: float


def gradient_sizes(net: Network, x: np.ndarray, y: np.ndarray) -> list[LayerGradient]:
    """Each layer's mean ``|dC/dw^l|`` and mean ``|delta^l|`` for the
    mini-batch ``x`` ``(n_in, m)``, ``y`` ``(n_out, m)`` (columns, as
    :meth:`~nndl.network.Network.backprop` takes them): ``dC/dw^l`` is the
    mini-batch's gradient, the mean of its examples' gradients (``backprop``'s
    sum over the mini-batch divided by ``m``: the direction
    ``update_mini_batch`` steps along, whatever the mini-batch's size);
    ``|delta^l|`` is averaged over the neurons and the examples."""
    x, y = np.asarray(x, net.dtype), np.asarray(y, net.dtype)
    if x.ndim != 2 or x.shape[0] != net.sizes[0] or y.shape != (net.sizes[-1], x.shape[1]):
        raise ConfigError(
            f"a mini-batch is x ({net.sizes[0]}, m) and y ({net.sizes[-1]}, m), got {x.shape} and {y.shape}"
        )
    m = x.shape[1]
    a, zs = [x], []
    for b, w in zip(net.biases, net.weights):
        zs.append(w @ a[-1] + b)
        a.append(sigmoid(zs[-1]))
    sizes: list[LayerGradient] = []
    delta = net.cost_derivative(a[-1], y) * sigmoid_prime(zs[-1])
    for l in range(net.num_layers - 1, 0, -1):  # l indexes weights: w[l - 1] joins layers l and l + 1
        nabla_w = delta @ a[l - 1].T / m
        sizes.append(LayerGradient(l + 1, float(np.abs(nabla_w).mean()), float(np.abs(delta).mean())))
        if l > 1:
            delta = (net.weights[l - 1].T @ delta) * sigmoid_prime(zs[l - 2])
    return sizes[::-1]


def probe(
    data: Split, n_out: int, size: int = PROBE_SIZE, seed: int = 0, dtype: np.typing.DTypeLike = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """A fixed mini-batch ``(x, y)`` of ``size`` training examples drawn
    with ``seed``, as columns: the same examples every time the run is
    looked at, so the sizes change only because the network did."""
    if not (isinstance(size, int) and 1 <= size <= len(data)):
        raise ConfigError(f"the mini-batch size must be from 1 to {len(data)}, got {size!r}")
    pick = np.sort(np.random.default_rng(seed).choice(len(data), size, replace=False))
    x = as_float(data.images[pick], np.dtype(dtype)).T
    return np.ascontiguousarray(x), np.ascontiguousarray(one_hot(data.labels[pick], n_out, dtype).T)


__all__ = ["PROBE_SIZE", "LayerGradient", "gradient_sizes", "probe"]
