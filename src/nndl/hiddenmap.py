"""A map of the hidden layer: each test digit placed by what its hidden
neurons do.

A hidden layer of 30 neurons turns each digit into 30 activations
``a^2 = sigma(w^2 x + b^2)``, a point in a 30-dimensional space; the output
layer reads the digit from that point alone.  A map squeezes the space onto
a page with two coordinates per digit:

* **PCA** (principal component analysis) looks at the space along the two
  directions in which the digits' activations vary most: with ``H`` the
  activations ``(n, width)`` less their mean and ``H = U S V^T`` its
  singular value decomposition, the coordinates are ``H v_1`` and
  ``H v_2``, a flat projection (distances along it are real distances);
* **t-SNE** (scikit-learn's, when installed) places digits so that those
  close in the space stay close on the page, at the price of distances
  between far clusters meaning little.

Digits the network reads alike land together; a misread digit tends to lie
among the digits it was taken for.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

from .data import Split
from .errors import ConfigError, MissingExtraError
from .inputs import as_float
from .network import Network, sigmoid

#: The ways of making a map.
METHODS = ("pca", "tsne")
#: The most digits one map places (t-SNE's time grows faster than their number).
MAX_POINTS = 20_000


@dataclass
class Map:
    """Where each digit lands (``xy``, ``(n, 2)``), with its label, the
    network's answer and its index in the data it was drawn from."""

    method: str
    xy: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    index: np.ndarray
    layer: int
    width: int


def activations(net: Network, X: np.ndarray, layer: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """``(a, predicted)``: the activations ``(n, width)`` of hidden layer
    ``layer`` for the rows of ``X`` (the book's layer numbers: 2 is the
    first hidden layer; -1 the last hidden layer) and the network's answers."""
    hidden = net.num_layers - 2
    if hidden < 1:
        raise ConfigError(f"the network has no hidden layer (sizes {net.sizes}), so nothing to map")
    number = net.num_layers - 1 if layer == -1 else layer
    if not (isinstance(number, int) and 2 <= number <= net.num_layers - 1):
        raise ConfigError(f"layer must be a hidden layer, 2 to {net.num_layers - 1} (or -1, the last), got {layer!r}")
    a = as_float(np.asarray(X), net.dtype).T
    kept = a
    for l, (b, w) in enumerate(zip(net.biases, net.weights), start=2):
        a = sigmoid(w @ a + b)
        if l == number:
            kept = a
    return np.ascontiguousarray(kept.T), a.argmax(axis=0)


def pca(H: np.ndarray, k: int = 2) -> np.ndarray:
    """The first ``k`` principal coordinates of the rows of ``H``: ``(H -
    mean) V_k``, each direction's sign fixed so that its largest entry is
    positive (the same map for the same data, on any machine)."""
    H = np.asarray(H, dtype=np.float64)
    centred = H - H.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    v = vt[:k]
    v = v * np.sign(v[np.arange(len(v)), np.abs(v).argmax(axis=1)])[:, None]
    return centred @ v.T


def tsne(H: np.ndarray, seed: int = 0) -> np.ndarray:
    """scikit-learn's t-SNE of the rows of ``H`` in two dimensions, started
    from their PCA and seeded, so one seed gives one map."""
    if importlib.util.find_spec("sklearn") is None:
        raise MissingExtraError("a t-SNE map", "sklearn")
    from sklearn.manifold import TSNE

    perplexity = min(30.0, max(2.0, (len(H) - 1) / 3))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(np.asarray(H, np.float64))


def has_tsne() -> bool:
    """Whether t-SNE maps can be made here (scikit-learn is installed)."""
    return importlib.util.find_spec("sklearn") is not None


def hidden_map(
    net: Network, data: Split, method: str = "pca", *, sample: int | None = 2000, seed: int = 0, layer: int = -1
) -> Map:
    """The map of ``data``'s digits (``sample`` of them drawn with ``seed``;
    None: all) by ``method`` (``"pca"`` or ``"tsne"``) of the activations of
    hidden ``layer``."""
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    n = len(data)
    index = np.arange(n)
    if sample is not None:
        if not (isinstance(sample, int) and 3 <= sample <= MAX_POINTS):
            raise ConfigError(f"sample must be a whole number from 3 to {MAX_POINTS:,}, got {sample!r}")
        if sample < n:
            index = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
    elif n > MAX_POINTS:
        raise ConfigError(f"a map places at most {MAX_POINTS:,} digits; the data has {n:,}: give a sample")
    H, predicted = activations(net, data.images[index], layer)
    xy = pca(H) if method == "pca" else tsne(H, seed)
    number = net.num_layers - 1 if layer == -1 else layer
    return Map(method, xy, data.labels[index].astype(np.int64), predicted, index, number, H.shape[1])


__all__ = ["METHODS", "Map", "activations", "has_tsne", "hidden_map", "pca", "tsne"]
