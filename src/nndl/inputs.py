"""Adapters at the edge: whatever a caller passes as data, as the arrays
the network trains on.

Inside, data is ``X (n, n_in)`` (uint8 bytes or floats in [0, 1]) and
labels ``y (n,)`` or desired outputs ``(n, n_out)``.  The book's lists of
``(x, y)`` column tuples, :class:`~nndl.data.Split` objects and pairs of
arrays are all turned into that here, once, with a one-line
:class:`~nndl.errors.DataError` for anything that does not fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .data import Split
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


def columns(mini_batch: Any) -> tuple[np.ndarray, np.ndarray]:
    """The book's list of ``(x, y)`` column tuples as two column matrices
    (a pair of column matrices passes through)."""
    if isinstance(mini_batch, tuple) and len(mini_batch) == 2 and isinstance(mini_batch[0], np.ndarray):
        return mini_batch
    xs, ys = zip(*mini_batch)
    return np.hstack(xs), np.hstack(ys)


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
        data = list(data)
        if not data:
            raise DataError(f"{what} is empty")
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


def training_arrays(data: Any, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(n, n_in)`` and desired outputs ``(n, n_out)`` (float64) to train on."""
    X, y = pair(data, sizes, "training data")
    if y.ndim == 1:
        return X, one_hot(y.astype(np.int64), sizes[-1], np.float64)
    if y.shape[1] != sizes[-1]:
        raise DataError(f"training data: desired outputs must have {sizes[-1]} columns, got {y.shape}")
    return X, y.astype(np.float64)


def test_arrays(data: Any, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(n, n_in)`` and labels ``(n,)`` to evaluate on."""
    X, y = pair(data, sizes, "test data")
    if y.ndim == 2:  # one-hot rows, as in the book's training data
        y = y.argmax(axis=1)
    return X, y.astype(np.int64)


test_arrays.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

__all__ = ["EVAL_CHUNK", "as_float", "columns", "one_hot", "pair", "test_arrays", "training_arrays"]
