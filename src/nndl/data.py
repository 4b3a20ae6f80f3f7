"""MNIST, bundled, and the data sets users bring.

Inside nndl a data set is a :class:`Dataset` of three :class:`Split`\\ s
(training, validation, test), each holding ``images`` -- ``uint8`` bytes, or
floats in [0, 1] -- of shape ``(n, pixels)`` and integer ``labels`` of shape
``(n,)``.  ``split.X()`` gives the float inputs the network sees:
``byte / 256``, exactly the values of the book's ``mnist.pkl.gz``.

:func:`load` reads the bundled copy of MNIST (the book's 50,000 / 10,000 /
10,000 split) or a file or folder the user names: the book's
``mnist.pkl.gz`` (read without running anything in it), an ``.npz`` file, or a
folder of IDX files in MNIST's layout (MNIST, Fashion-MNIST, KMNIST ...).

The book's own formats, lists of ``(x, y)`` column-vector tuples, are
adapters at the edge: :func:`load_data`, :func:`load_data_wrapper` and
:func:`vectorized_result` behave as in the book's ``mnist_loader.py``.
"""

from __future__ import annotations

import functools
import math
import os
import struct
import weakref
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from . import cache, unpickle
from .errors import ConfigError, DataError
from .files import MAX_BYTES, Budget, open_npz, open_stream, read_capped

#: Where the bundled copy of MNIST lives inside the package.
BUNDLED = "mnist.npz"

#: The most classes a label file may name (labels are 0 .. MAX_CLASSES - 1).
MAX_CLASSES = 1000


def check_limit(n: int | None) -> int | None:
    """``n`` if it is None or a positive integer, else a :class:`ConfigError`."""
    if n is not None and not (isinstance(n, int) and n >= 1):
        raise ConfigError(f"limit must be a positive integer, got {n!r}")
    return n


@dataclass(frozen=True)
class Split:
    """One part of a data set: ``images`` ``(n, pixels)`` and ``labels`` ``(n,)``.

    ``images`` are ``uint8`` bytes (as MNIST stores them) or floats in
    [0, 1]; ``labels`` are integers ``0 .. classes - 1``.
    """

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def y(self) -> np.ndarray:
        """The labels as ``int64``."""
        return self.labels.astype(np.int64)

    def head(self, n: int | None) -> Split:
        """The first ``n`` examples (all of them when ``n`` is None or larger)."""
        if check_limit(n) is None:
            return self
        return Split(self.images[:n], self.labels[:n])

    def X(self, dtype: np.typing.DTypeLike = np.float64) -> np.ndarray:
        """The images as floats in [0, 1): ``byte / 256`` for ``uint8`` data."""
        if self.images.dtype == np.uint8:
            return self.images.astype(dtype) / np.asarray(256, dtype=dtype)
        return self.images.astype(dtype)


class MissingSplit(Split):
    """Stands for a part a data set does not have (a test set alone has no
    training part): reading its images or labels, as training does, is a
    :class:`DataError` that says what is missing."""

    message: str

    def __init__(self, message: str) -> None:
        object.__setattr__(self, "message", message)

    def __repr__(self) -> str:
        return f"MissingSplit({self.message!r})"

    @property
    def images(self) -> np.ndarray:
        raise DataError(self.message)

    @property
    def labels(self) -> np.ndarray:
        raise DataError(self.message)


@dataclass(frozen=True)
class Dataset:
    """Training, validation and test splits of one data set.

    A data set may be a test set alone (a folder of just MNIST's
    ``t10k-images`` and ``t10k-labels``, say): its training and validation
    parts are then :class:`MissingSplit` s, and only its test part can be
    used.
    """

    train: Split
    validation: Split
    test: Split
    name: str = "MNIST"

    def __getitem__(self, part: str) -> Split:
        if part not in ("train", "validation", "test"):
            raise DataError(f"part must be 'train', 'validation' or 'test', got {part!r}")
        return getattr(self, part)

    @property
    def test_only(self) -> bool:
        """Whether this is a test set alone, with nothing to train on."""
        return isinstance(self.train, MissingSplit)

    def _present(self) -> list[Split]:
        return [s for s in (self.train, self.validation, self.test) if not isinstance(s, MissingSplit)]

    @property
    def n_inputs(self) -> int:
        """Pixels per image: the width of the network's input layer."""
        return self.test.images.shape[1]

    @property
    def n_classes(self) -> int:
        """Distinct labels (at least 10, as in MNIST): the width of the output layer."""
        top = max(int(s.labels.max(initial=0)) for s in self._present())
        return max(10, top + 1)


# --------------------------------------------------------------------------
# Loading


def load(path: str | os.PathLike | None = None) -> Dataset:
    """Load a data set: the bundled MNIST when ``path`` is None, else the
    file or folder at ``path``.

    ``path`` may be

    * the book's ``mnist.pkl.gz`` (or any gzip'd or plain pickle in its
      layout); only NumPy array reconstruction is allowed while unpickling, so
      nothing in the file can run;
    * an ``.npz`` file with ``train_images``, ``train_labels``, ``test_images``,
      ``test_labels`` and optionally ``validation_images`` and
      ``validation_labels`` (or Keras' ``x_train``, ``y_train``, ``x_test``,
      ``y_test``);
    * a folder with MNIST's four IDX files (``train-images-idx3-ubyte``,
      ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
      ``t10k-labels-idx1-ubyte``, each optionally ``.gz``).

    Data without a validation part is split as the book splits MNIST: the
    last 10,000 training images (a sixth, for fewer than 60,000) validate.
    """
    if path is None:
        return _bundled()
    path = Path(path)
    try:
        is_folder, exists = path.is_dir(), path.exists()
    except OSError as e:  # inside a folder nndl may not look into
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if is_folder:
        return _load_idx_folder(path)
    if not exists:
        raise DataError(f"no such file or folder: {path}")
    if path.suffix == ".npz":
        return _load_npz(path)
    if path.name.endswith((".pkl", ".pkl.gz", ".pickle", ".pickle.gz")):
        return _load_pickle(path)
    raise DataError(f"don't know how to read {path}: expected a .pkl.gz, a .npz or a folder of IDX files")


@functools.cache
def _bundled() -> Dataset:
    """The bundled MNIST, memory-mapped from the user's cache (decompressed
    there on first use and checked on every use, :func:`nndl.cache.mapped`),
    read-only."""
    payload = cache.mapped(f"mnist-{BUNDLED_SHA256[:16]}.npy", BUNDLED_SHA256, _bundled_payload)
    return _unpack(payload)


# -- the bundled MNIST as the cache keeps it -----------------------------------
#
# One run of bytes: a table of sizes, then for each part (train, validation,
# test) its images (n, width) uint8 and labels (n,) int64 -- the arrays load()
# gives -- and its images' nonzero pixels in compressed-sparse-row form:
# indptr (n + 1,) int64, pixels (nnz,) uint16 and values (nnz,) uint8, image r's
# nonzero pixels being pixels[indptr[r]:indptr[r + 1]].  Every array starts on
# a 64-byte boundary.

#: SHA-256 of that run of bytes for the bundled ``mnist.npz``.
BUNDLED_SHA256 = "e2c8f3baa2a1a4aeb260c6266e91224d76787490865720170e40f10388d46fa1"
#: Where the table of sizes ends and the first array starts.
_TABLE = 128
_PARTS = ("train", "validation", "test")

#: The nonzero pixels of each of the bundled parts' image arrays, by ``id``.
_NONZERO: dict[int, tuple[weakref.ref, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}


def nonzero_pixels(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indptr, pixels, values)``, the compressed-sparse-row form of
    ``uint8`` images ``(n, width)``: image ``r``'s nonzero pixels are
    ``pixels[indptr[r]:indptr[r+1]]``, their bytes ``values[...]``.

    For the bundled MNIST's arrays themselves (one part's array, not a slice
    or copy) they come from the cache, which holds them; for any other array
    they are found now, from what it holds now."""
    found = _NONZERO.get(id(images))
    if found is not None and found[0]() is images:
        return found[1]
    n, width = images.shape
    counts = np.count_nonzero(images, axis=1)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    pixels = np.empty(indptr[-1], np.uint16 if width <= 2**16 else np.int32)
    values = np.empty(indptr[-1], np.uint8)
    rows = max(1, 2**20 // width)  # a block of images at a time (about a megabyte)
    columns = np.tile(np.arange(width, dtype=pixels.dtype), rows)
    for k in range(0, n, rows):
        block = images[k : k + rows].reshape(-1)
        inked = block != 0
        pixels[indptr[k] : indptr[min(k + rows, n)]] = columns[: len(block)][inked]
        values[indptr[k] : indptr[min(k + rows, n)]] = block[inked]
    return indptr, pixels, values


def _layout(width: int, sizes: list[tuple[int, int]]) -> tuple[list[list[tuple[int, np.dtype, tuple[int, ...]]]], int]:
    """Where each part's arrays lie in the run of bytes, for images of
    ``width`` pixels and ``(n, nnz)`` per part: ``(offset, dtype, shape)``
    of images, labels, indptr, pixels, values; and the total length."""
    at, parts = _TABLE, []
    for n, nnz in sizes:
        arrays: list[tuple[int, np.dtype, tuple[int, ...]]] = []
        for code, shape in (("u1", (n, width)), ("<i8", (n,)), ("<i8", (n + 1,)), ("<u2", (nnz,)), ("u1", (nnz,))):
            dtype = np.dtype(code)
            arrays.append((at, dtype, shape))
            at += -(-math.prod(shape) * dtype.itemsize // 64) * 64
        parts.append(arrays)
    return parts, at


def _bundled_payload() -> np.ndarray:
    """The run of bytes for the bundled ``mnist.npz`` (decompressed, checked)."""
    ref = resources.files("nndl") / "resources" / BUNDLED
    with resources.as_file(ref) as p:
        data = _load_npz(p)
    width = data.n_inputs
    splits = [data[part] for part in _PARTS]
    nonzero = [nonzero_pixels(s.images) for s in splits]
    parts, total = _layout(width, [(len(s), len(z[1])) for s, z in zip(splits, nonzero)])
    payload = np.zeros(total, np.uint8)
    table = [width] + [count for s, z in zip(splits, nonzero) for count in (len(s), len(z[1]))]
    payload[:_TABLE].view("<i8")[: len(table)] = table
    for arrays, split, (indptr, pixels, values) in zip(parts, splits, nonzero):
        for (at, dtype, _), a in zip(arrays, (split.images, split.labels, indptr, pixels, values)):
            payload[at : at + a.nbytes] = np.ascontiguousarray(a, dtype=dtype).reshape(-1).view(np.uint8)
    return payload


def _unpack(payload: np.ndarray) -> Dataset:
    """The Dataset (and the nonzero pixels) whose arrays are views of ``payload``."""
    table = payload[:_TABLE].view("<i8")
    width = int(table[0])
    parts, _ = _layout(width, [(int(table[1 + 2 * i]), int(table[2 + 2 * i])) for i in range(len(_PARTS))])
    splits = []
    for arrays in parts:
        images, labels, *nonzero = (
            payload[at : at + math.prod(shape) * dtype.itemsize].view(dtype).reshape(shape)
            for at, dtype, shape in arrays
        )
        indptr, pixels, values = nonzero
        _NONZERO[id(images)] = (weakref.ref(images), (indptr, pixels, values))
        splits.append(Split(images, labels))
    train, validation, test = splits
    return Dataset(train, validation, test, name=BUNDLED)


def _make_split(images: np.ndarray, labels: np.ndarray, where: str) -> Split:
    """Check one part's arrays and bring them to ``(n, pixels)`` / ``(n,)``."""
    if images.ndim == 3:
        images = images.reshape(len(images), -1)
    if images.ndim != 2 or images.shape[1] == 0:
        raise DataError(f"{where}: images must have shape (n, pixels) or (n, rows, cols), got {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{where}: labels must have shape (n,), got {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels")
    if len(labels) == 0:
        raise DataError(f"{where}: holds no images")
    if images.dtype != np.uint8:
        if images.dtype.kind != "f":
            raise DataError(f"{where}: images must be uint8 or floats in [0, 1], got dtype {images.dtype}")
        images = images.astype(np.float32, copy=False)
        if not np.isfinite(images).all():
            raise DataError(f"{where}: float images hold NaN or infinite values; they must lie in [0, 1]")
        if not (images.min() >= 0 and images.max() <= 1):
            raise DataError(f"{where}: float images must lie in [0, 1]")
    if labels.dtype.kind not in "iu":
        raise DataError(f"{where}: labels must be integers, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= MAX_CLASSES:
        raise DataError(f"{where}: labels must lie in 0..{MAX_CLASSES - 1}, got {labels.min()}..{labels.max()}")
    return Split(images, labels.astype(np.int64))


def _hold_out(images: np.ndarray, labels: np.ndarray, where: str) -> tuple[Split, Split]:
    """Split training data as the book does: the last 10,000 validate."""
    n_val = min(10_000, len(labels) // 6)
    if n_val == 0:
        raise DataError(f"{where}: too few training images ({len(labels)}) to hold some out for validation")
    cut = len(labels) - n_val
    return (
        _make_split(images[:cut], labels[:cut], f"{where} (training part)"),
        _make_split(images[cut:], labels[cut:], f"{where} (validation part)"),
    )


def _dataset(train: Split, validation: Split, test: Split, name: str) -> Dataset:
    data = Dataset(train, validation, test, name)
    widths = {s.images.shape[1] for s in data._present()}
    if len(widths) != 1:
        raise DataError(f"{name}: the parts have images of different sizes: {sorted(widths)} pixels")
    return data


def _load_npz(path: Path) -> Dataset:
    with open_npz(path) as npz:
        for prefix in ("train_images", "x_train"):
            if prefix in npz:
                break
        else:
            raise DataError(
                f"{path} has arrays {sorted(npz.keys)}; expected train_images, train_labels, "
                "test_images, test_labels (optionally validation_images, validation_labels) "
                "or x_train, y_train, x_test, y_test"
            )
        if prefix == "x_train":
            keys = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
        else:
            keys = {p: (f"{p}_images", f"{p}_labels") for p in ("train", "validation", "test")}
            if "validation_images" not in npz:
                del keys["validation"]
        arrays = {p: (npz[i], npz[lab]) for p, (i, lab) in keys.items()}
    test = _make_split(*arrays["test"], f"{path} (test)")
    if "validation" in arrays:
        train = _make_split(*arrays["train"], f"{path} (train)")
        validation = _make_split(*arrays["validation"], f"{path} (validation)")
    else:
        train, validation = _hold_out(*arrays["train"], str(path))
    return _dataset(train, validation, test, path.name)


def _load_pickle(path: Path) -> Dataset:
    """The book's ``mnist.pkl.gz`` (or a pickle in its layout), read by
    :func:`nndl.unpickle.load_arrays`, which runs nothing in it."""
    obj = unpickle.load_arrays(path)
    parts = obj if isinstance(obj, tuple) else ()
    if len(parts) != 3 or not all(
        isinstance(p, tuple) and len(p) == 2 and all(isinstance(a, np.ndarray) for a in p) for p in parts
    ):
        raise DataError(f"{path} does not hold the book's layout: a tuple of 3 (images, labels) array pairs")
    names = ("train", "validation", "test")
    train, validation, test = (_make_split(im, labels, f"{path} ({n})") for n, (im, labels) in zip(names, parts))
    return _dataset(train, validation, test, path.name)


# -- IDX (MNIST's own format) ----------------------------------------------

_IDX_TYPES: dict[int, np.typing.DTypeLike] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (optionally gzip'd) into an array.

    The header is read first; then exactly the bytes its dimensions claim,
    and no more, are read (and decompressed): a file holding less or more is
    refused, and memory grows only with what the file really holds.
    """
    path = Path(path)
    budget = Budget.for_file(path)
    with open_stream(path) as f:
        head = f.read(4)
        if len(head) < 4 or head[0] != 0 or head[1] != 0:
            raise DataError(f"{path} is not an IDX file (bad magic number)")
        code, ndim = head[2], head[3]
        if code not in _IDX_TYPES or not 1 <= ndim <= 4:
            raise DataError(f"{path} is not an IDX file (type 0x{code:02x}, {ndim} dimensions)")
        dims_raw = f.read(4 * ndim)
        if len(dims_raw) < 4 * ndim:
            raise DataError(f"{path} is truncated: its header is cut short")
        dims = struct.unpack(f">{ndim}I", dims_raw)
        dtype = np.dtype(_IDX_TYPES[code])
        claimed = math.prod(dims) * dtype.itemsize
        if claimed * (1 if dtype.isnative else 2) > budget.left:
            raise DataError(
                f"{path}: header claims shape {dims} ({claimed:,} bytes), more than nndl reads from this file "
                f"({budget.left:,} bytes)"
            )
        budget.take(claimed)
        body = read_capped(f, claimed, path, exact=True)
    return np.frombuffer(body, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def _idx_names(stem: str) -> tuple[str, ...]:
    """The names an IDX file ``stem`` may have: plain or gzip'd, ``-idx`` or ``.idx``."""
    dotted = stem.replace("-idx", ".idx")
    return stem, stem + ".gz", dotted, dotted + ".gz"


def _find_idx(folder: Path, stem: str) -> Path:
    for name in _idx_names(stem):
        try:
            if (folder / name).is_file():
                return folder / name
        except OSError as e:  # a folder nndl may not look into
            raise DataError(f"cannot read the folder {folder}: {e.strerror or e}") from None
    raise DataError(f"{folder} has no {stem} (or {stem}.gz): expected MNIST's four IDX files, or the t10k pair alone")


def _load_idx_folder(folder: Path) -> Dataset:
    """MNIST's four IDX files; or only the ``t10k`` pair, a test set alone."""

    def part(prefix: str) -> tuple[np.ndarray, np.ndarray]:
        images_path = _find_idx(folder, f"{prefix}-images-idx3-ubyte")
        labels_path = _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(f"{images_path}: expected uint8 images (n, rows, cols), got {images.dtype} {images.shape}")
        if len(images) != len(labels):
            raise DataError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
        return images, labels

    test = _make_split(*part("t10k"), f"{folder} (t10k)")
    if not any(
        (folder / name).is_file()
        for kind in ("images-idx3", "labels-idx1")
        for name in _idx_names(f"train-{kind}-ubyte")
    ):
        held = f"{folder} holds only a test set (t10k-images and t10k-labels)"
        missing = MissingSplit(
            f"{held}: nothing to train on; training needs train-images-idx3-ubyte and "
            "train-labels-idx1-ubyte beside them"
        )
        return _dataset(missing, MissingSplit(f"{held}, no validation part; use its test part"), test, folder.name)
    train, validation = _hold_out(*part("train"), str(folder))
    return _dataset(train, validation, test, folder.name)


# --------------------------------------------------------------------------
# The book's formats


def vectorized_result(j: int, n: int = 10) -> np.ndarray:
    """A ``(10, 1)`` unit vector with 1.0 in the ``j``-th place: the desired
    output of the network for digit ``j``."""
    e = np.zeros((n, 1))
    e[j] = 1.0
    return e


def load_data(path: str | os.PathLike | None = None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The book's ``load_data()``: ``(training_data, validation_data, test_data)``,
    each a tuple ``(images, labels)`` with float32 images ``(n, 784)`` and
    int64 labels ``(n,)`` -- the contents of ``mnist.pkl.gz``."""
    return _book_arrays(load(path))


def _book_arrays(data: Dataset) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """:func:`load_data`'s three ``(images, labels)`` pairs of ``data``."""
    return tuple((s.X(np.float32), s.y) for s in (data.train, data.validation, data.test))


def load_data_wrapper(
    path: str | os.PathLike | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[np.ndarray, int]], list[tuple[np.ndarray, int]]]:
    """The book's ``load_data_wrapper()``: three lists of ``(x, y)`` tuples.

    ``x`` is a ``(784, 1)`` column of pixel intensities.  In
    ``training_data`` ``y`` is the ``(10, 1)`` unit vector of the digit
    (:func:`vectorized_result`); in ``validation_data`` and ``test_data``
    it is the digit itself, an integer.
    """
    data = load(path)  # read once: the arrays and the number of classes come from it
    tr_d, va_d, te_d = _book_arrays(data)
    n_classes = data.n_classes
    width = tr_d[0].shape[1]
    training_data = [(x.reshape(width, 1), vectorized_result(y, n_classes)) for x, y in zip(*tr_d)]
    validation_data = [(x.reshape(width, 1), int(y)) for x, y in zip(*va_d)]
    test_data = [(x.reshape(width, 1), int(y)) for x, y in zip(*te_d)]
    return training_data, validation_data, test_data


__all__ = [
    "MAX_BYTES",
    "Dataset",
    "MissingSplit",
    "Split",
    "load",
    "load_data",
    "load_data_wrapper",
    "read_idx",
    "vectorized_result",
]
