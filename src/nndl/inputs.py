"""Adapters at the edge: whatever a caller passes as data, as the arrays
the network trains on.

Inside, data is ``X (n, n_in)`` (uint8 bytes or floats in [0, 1]) and
labels ``y (n,)`` or desired outputs ``(n, n_out)``.  The book's lists of
``(x, y)`` column tuples, :class:`~nndl.data.Split` objects and pairs of
arrays are all turned into that here, once, with a one-line
:class:`~nndl.errors.DataError` for anything that does not fit.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .data import Dataset, Split
from .errors import DataError

#: Examples per forward pass when evaluating (bounds memory: 6 MB of float64 inputs).
EVAL_CHUNK = 1_000


def as_float(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Inputs as floats: bytes become ``byte / 256``, floats pass through."""
    if x.dtype == np.uint8:
        x = x.astype(dtype)
        x *= dtype.type(1 / 256)
        return x
    return x.astype(dtype, copy=False)


class MiniBatch(list):
    """A mini-batch as the book hands it to ``update_mini_batch``: a list of
    ``(x, y)`` column tuples, here views of the two column matrices it is
    made from, ``x`` ``(n_in, m)`` and ``y`` ``(n_out, m)``, which it keeps
    for :func:`columns` to hand back without copying."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        super().__init__((x[:, k : k + 1], y[:, k : k + 1]) for k in range(x.shape[1]))
        self.x, self.y = x, y


def columns(mini_batch: Any) -> tuple[np.ndarray, np.ndarray]:
    """The book's list of ``(x, y)`` column tuples as two column matrices
    (a pair of column matrices passes through)."""
    if isinstance(mini_batch, MiniBatch):
        return mini_batch.x, mini_batch.y
    if isinstance(mini_batch, tuple) and len(mini_batch) == 2 and isinstance(mini_batch[0], np.ndarray):
        return mini_batch
    xs, ys = zip(*mini_batch)
    return np.hstack(xs), np.hstack(ys)


def book_pairs(X: np.ndarray, labels: np.ndarray, dtype: np.dtype) -> list[tuple[np.ndarray, int]]:
    """Inputs ``X (n, n_in)`` and ``labels (n,)`` as the book's test data: a
    list of ``(x, label)`` tuples, ``x`` a float column."""
    xs = as_float(X, dtype)[:, :, None]
    return [(x, int(label)) for x, label in zip(xs, labels)]


def one_hot(labels: np.ndarray, n_out: int, dtype: np.typing.DTypeLike) -> np.ndarray:
    """Labels ``(n,)`` as desired outputs ``(n, n_out)``: 1 at the label, 0 elsewhere."""
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= n_out:
        raise DataError(
            f"labels must lie in 0..{n_out - 1} for {n_out} output neurons, got {labels.min()}..{labels.max()}"
        )
    out = np.zeros((len(labels), n_out), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def pair(data: Any, sizes: list[int], what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X (n, n_in), y)`` from a Split, a pair of arrays or the book's list."""
    if isinstance(data, Split):
        X, y = data.images, data.labels
    elif isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        X, y = np.asarray(data[0]), np.asarray(data[1])
    else:
        data = _examples(data, what)
        X = np.stack([np.asarray(x).reshape(-1) for x, _ in data])
        first = np.asarray(data[0][1])
        y = (
            np.stack([np.asarray(t).reshape(-1) for _, t in data])
            if first.size > 1
            else np.array([int(t) for _, t in data])
        )
    if X.ndim != 2 or X.shape[1] != sizes[0]:
        raise DataError(f"{what}: inputs must have shape (n, {sizes[0]}) for sizes {sizes}, got {X.shape}")
    if len(X) != len(y):
        raise DataError(f"{what}: {len(X)} inputs but {len(y)} targets")
    if len(X) == 0:
        raise DataError(f"{what} is empty")
    return X, y


def _examples(data: Any, what: str) -> list:
    """The book's ``(x, y)`` examples as a list, each ``x`` of one shape."""
    if isinstance(data, Dataset):
        raise DataError(f"{what}: got the whole data set {data.name}; pass one of its parts (data.train, data.test)")
    if isinstance(data, tuple) and len(data) == 3 and all(_a_part(part) for part in data):
        raise DataError(
            f"{what}: got a tuple of 3 parts, the whole (training, validation, test) that load_data_wrapper() "
            "(or load_data()) returns; pass one of them"
        )
    once = iter(data) is data  # a zip, a generator: used up by one pass
    data = list(data)
    if not data:
        hint = "; a zip or other iterator runs out after one use: pass list(...) of it" if once else ""
        raise DataError(f"{what} is empty{hint}")
    for i, example in enumerate(data):
        if not (isinstance(example, (tuple, list)) and len(example) == 2):
            raise DataError(f"{what}: example {i} must be a pair (x, y), got {type(example).__name__} {example!r:.60}")
    shape = np.shape(data[0][0])
    for i, (x, _) in enumerate(data):
        if np.shape(x) != shape:
            raise DataError(f"{what}: example {i} has inputs of shape {np.shape(x)}; example 0's are {shape}")
    return data


def _a_part(part: Any) -> bool:
    """Whether ``part`` is one of the three that ``load_data_wrapper()`` (a
    list of examples) or ``load_data()`` (images and their labels) returns."""
    images_and_labels = isinstance(part, tuple) and len(part) == 2 and np.ndim(part[0]) == 2 and np.ndim(part[1]) == 1
    return isinstance(part, list) or images_and_labels


def check_pixels(X: np.ndarray, what: str) -> None:
    """Warn, once per process, about float inputs above 1: nndl reads floats
    in [0, 1] (the book's) or ``uint8`` bytes, and pixels 0-255 as floats
    saturate every sigmoid (about 20 % correct)."""
    global _warned_pixels
    if _warned_pixels or X.dtype.kind != "f" or not len(X):
        return
    top = float(X.max())
    if top > 1:
        _warned_pixels = True
        warnings.warn(
            f"{what}: float inputs go up to {top:g}; the network reads floats in [0, 1] (the book's pixels) "
            "or uint8 bytes 0-255, and larger inputs saturate its sigmoids: scale them (0-255 pixels: divide by 255)",
            UserWarning,
            stacklevel=5,  # the caller of Network.SGD
        )


_warned_pixels = False


def training_arrays(data: Any, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(n, n_in)`` and desired outputs ``(n, n_out)`` (float64) to train on."""
    X, y = pair(data, sizes, "training data")
    check_pixels(X, "training data")
    if y.ndim == 1:
        return X, one_hot(y.astype(np.int64), sizes[-1], np.float64)
    if y.shape[1] != sizes[-1]:
        raise DataError(f"training data: desired outputs must have {sizes[-1]} columns, got {y.shape}")
    return X, y.astype(np.float64)


def test_arrays(data: Any, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(n, n_in)`` and labels ``(n,)`` to evaluate on."""
    X, y = pair(data, sizes, "test data")
    check_pixels(X, "test data")
    if y.ndim == 2:  # one-hot rows, as in the book's training data
        y = y.argmax(axis=1)
    if y.min(initial=0) < 0 or y.max(initial=0) >= sizes[-1]:
        raise DataError(
            f"test data: labels run from {y.min()} to {y.max()}, but the network has {sizes[-1]} output neurons "
            f"(sizes {sizes}), one per class: its last layer must be as wide as the classes"
        )
    return X, y.astype(np.int64)


def check_columns(a: Any, sizes: list[int]) -> None:
    """What ``feedforward`` takes: a column ``(n_in, 1)``, as in the book, or
    a matrix of such columns ``(n_in, m)``."""
    shape = np.shape(a)
    if len(shape) != 2 or shape[0] != sizes[0]:
        fix = f"; a flat vector becomes a column with a.reshape({sizes[0]}, 1)" if shape == (sizes[0],) else ""
        raise DataError(
            f"feedforward takes a column ({sizes[0]}, 1), as in the book, or columns ({sizes[0]}, m); "
            f"got shape {shape}{fix}"
        )


test_arrays.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

__all__ = [
    "EVAL_CHUNK",
    "MiniBatch",
    "as_float",
    "book_pairs",
    "check_columns",
    "check_pixels",
    "columns",
    "one_hot",
    "pair",
    "test_arrays",
    "training_arrays",
]
