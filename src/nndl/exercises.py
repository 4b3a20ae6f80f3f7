"""The chapter's exercise on the MNIST network's output, answered in code.

The exercise: put a fourth layer on top of the trained three-layer network
that turns its ten outputs into the digit's bitwise representation, four
neurons, and find its weights and biases.  Suppose, as the exercise does,
that the trained outputs are nearly one-hot: ``a_d`` near 1 for the digit
``d`` and the others near 0.  Bit ``k`` of the answer should then be on
exactly when bit ``k`` of ``d`` is 1.  Give neuron ``k`` the weight ``+c``
from each output ``j`` whose bit ``k`` is 1, ``-c`` from each whose bit
``k`` is 0, and bias 0::

    z_k = c (sum_{j: bit_k(j) = 1} a_j  -  sum_{j: bit_k(j) = 0} a_j)

For a one-hot ``a`` at ``d`` that is ``+c`` or ``-c`` as ``d``'s bit is 1
or 0, and ``sigma(+-10)`` is within 5e-5 of 1 or 0.  Beyond one-hot, the
bit is read by its sign alone: it is right whenever the digit's own output
outweighs the other outputs of the opposite bit together, however small all
of them are.

The new network's outputs are bits, not the ten classes, so
:meth:`Network.evaluate <nndl.network.Network.evaluate>` (the most active
output is the answer) does not apply; :func:`bit_accuracy` scores it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .errors import ConfigError, DataError
from .inputs import pair
from .network import Network

#: Bits in a digit's binary form, most significant first: 9 is 1 0 0 1.
BITS = 4


def binary_digits(labels: Any) -> np.ndarray:
    """Each label's binary form, ``(n, 4)`` of 0 and 1, most significant bit first."""
    labels = np.asarray(labels, dtype=np.int64)
    return (labels[:, None] >> np.arange(BITS - 1, -1, -1)) & 1


def binary_layer(net: Network, c: float = 10.0) -> Network:
    """``net`` with a fourth layer of four neurons on top that gives the
    answer's binary form (weights ``+-c``, biases 0: see the module's
    docstring).  ``net`` must have ten outputs; it is not changed."""
    if net.sizes[-1] != 10:
        raise ConfigError(f"the binary layer reads ten outputs, one per digit; this network has {net.sizes[-1]}")
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not math.isfinite(c) or c <= 0:
        raise ConfigError(f"c must be a finite number > 0, got {c!r:.80}")
    out = Network([*net.sizes, BITS], dtype=net.dtype, engine=net.engine)
    out.weights = [w.copy() for w in net.weights] + [(c * (2 * binary_digits(range(10)).T - 1)).astype(net.dtype)]
    out.biases = [b.copy() for b in net.biases] + [np.zeros((BITS, 1), net.dtype)]
    return out


def bit_accuracy(net: Network, data: Any) -> tuple[float, float]:
    """``(bits, digits)``: the fraction of the answers' bits that are right,
    and of the digits whose four bits are all right, for a network whose
    outputs are bits (an output above 1/2 is a 1).  ``data`` is labelled as
    for :meth:`Network.evaluate <nndl.network.Network.evaluate>`: a
    :class:`~nndl.data.Split`, ``(X, labels)`` or the book's list of pairs."""
    if net.sizes[-1] != BITS:
        raise ConfigError(f"bit accuracy needs {BITS} outputs, one per bit; this network has {net.sizes[-1]}")
    X, labels = pair(data, [net.sizes[0], 10], "test data")
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"bit accuracy reads digits 0 to 9 as labels, got values from {labels.min()} to {labels.max()}")
    right = (net.scores(X) > 0.5) == binary_digits(labels)
    return float(right.mean()), float(right.all(axis=1).mean())


__all__ = ["BITS", "binary_digits", "binary_layer", "bit_accuracy"]
