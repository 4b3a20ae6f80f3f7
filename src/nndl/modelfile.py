"""The model file: a network's layer sizes, weights, biases and training
settings in an ``.npz`` file, written atomically and read without pickle,
every array checked against the shapes the sizes imply before it is read.

The file holds ``sizes``, each layer's ``weights_<l>`` ``(n_out, n_in)`` and
``biases_<l>`` ``(n_out, 1)``, the training ``settings`` as JSON and the
format's kind and version.  Checkpoints (:mod:`nndl.checkpoint`) hold the
same arrays and more.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import MAX_LAYERS, check_sizes
from .errors import DataError, NNDLError
from .files import NpzReader, open_npz, write_npz

#: Model files written by this version of nndl.
MODEL_FORMAT = 1
KIND = "nndl-model"


@dataclass
class Parameters:
    """What a model file holds."""

    sizes: list[int]
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    settings: dict = field(default_factory=dict)
    seed: int | None = None


def arrays(
    sizes: list[int], weights: list[np.ndarray], biases: list[np.ndarray], settings: dict | None
) -> dict[str, np.ndarray]:
    """The arrays of a model file: sizes, parameters and settings."""
    out = {"sizes": np.array(sizes, dtype=np.int64), "settings": np.array(json.dumps(settings or {}))}
    for l, (w, b) in enumerate(zip(weights, biases)):
        out[f"weights_{l}"] = w
        out[f"biases_{l}"] = b
    return out


def write(path: str | os.PathLike, params: Parameters) -> Path:
    """Write a model file, atomically."""
    return write_npz(path, KIND, MODEL_FORMAT, arrays(params.sizes, params.weights, params.biases, params.settings))


def read(path: str | os.PathLike) -> Parameters:
    """Read and check a model file written by :func:`write`."""
    with open_npz(path) as npz:
        npz.check_format(KIND, MODEL_FORMAT, "an nndl model")
        return from_npz(npz)


def from_npz(npz: NpzReader) -> Parameters:
    """The parameters stored in an open model (or checkpoint) file, every
    array checked against the shapes ``sizes`` implies before it is read."""
    path = npz.path
    if "sizes" not in npz:
        raise DataError(f"{path} holds no layer sizes")
    raw = npz.read("sizes", limit=8 * MAX_LAYERS)
    if raw.ndim != 1 or raw.dtype.kind not in "iu":
        raise DataError(f"{path}: sizes must be a list of integers, got {raw.dtype} {raw.shape}")
    try:
        sizes = check_sizes(raw.tolist(), where=f"{path}: ")
    except NNDLError as e:
        raise DataError(str(e)) from None
    weights, biases = [], []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weights.append(_param(npz, f"weights_{l}", (n_out, n_in)))
        biases.append(_param(npz, f"biases_{l}", (n_out, 1)))
    settings = npz.json("settings") if "settings" in npz else {}
    if not isinstance(settings, dict):
        raise DataError(f"{path}: settings must be a JSON object, got {type(settings).__name__}")
    seed = settings.get("seed")
    if seed is not None and not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**63):
        raise DataError(f"{path}: settings hold seed {str(seed)[:40]!r}; expected a non-negative integer")
    dtypes = {p.dtype for p in weights + biases}
    if len(dtypes) != 1:
        raise DataError(f"{path}: parameters of mixed dtypes {sorted(map(str, dtypes))}")
    return Parameters(sizes, weights, biases, settings, seed)


def _param(npz: NpzReader, key: str, shape: tuple[int, int]) -> np.ndarray:
    if key not in npz:
        raise DataError(f"{npz.path}: missing {key}")
    a = npz.read(key, limit=shape[0] * shape[1] * 8)
    if a.shape != shape or a.dtype not in (np.float32, np.float64):
        raise DataError(f"{npz.path}: {key} must be float32/float64 of shape {shape}, got {a.dtype} {a.shape}")
    if not np.isfinite(a).all():
        raise DataError(f"{npz.path}: {key} holds non-finite values")
    return np.require(a, requirements=["C", "W"])


__all__ = ["MODEL_FORMAT", "Parameters", "arrays", "from_npz", "read", "write"]
