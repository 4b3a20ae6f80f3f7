"""Your own handwriting set: digits saved from the drawing page, kept as a
test set in MNIST's own files.

A set is a folder holding the pair ``t10k-images-idx3-ubyte`` (the 28 x 28
inputs the network saw, bytes) and ``t10k-labels-idx1-ubyte`` (their
digits), in the IDX format MNIST ships in, so anything that reads MNIST's
test files reads it: ``nndl evaluate MODEL.npz --data FOLDER``.  The
default folder is ``handwriting`` in the user's data folder
(``~/.local/share/nndl/handwriting`` on Linux).

Every change rewrites both files, and a change is never half made, even
when the program is killed in the middle.  Two files cannot be renamed at
once, so a change goes in three moves:

1. the new images are written to ``t10k-images-idx3-ubyte.new``, then the
   new labels to ``t10k-labels-idx1-ubyte.new`` (each atomically: written
   to a temporary file, flushed and renamed).  The labels' ``.new`` file
   appearing is the moment the change is made;
2. ``.new`` images replace the images, then ``.new`` labels the labels.

Whoever opens the set next finishes what a killed writer left: a
``.new`` labels file means the change was made, and it is moved into place;
a ``.new`` images file alone means it was not, and it is removed.  A
reader that cannot finish it (``nndl evaluate``) sees the image and label
counts differ by one -- each change adds or removes exactly one drawing --
and refuses the pair as mismatched.  Writers on one folder take turns
through a lock on the folder.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import read_idx
from .errors import DataError, require
from .files import atomic_write, one_line, sync_folder
from .network import Network

IMAGES = "t10k-images-idx3-ubyte"
LABELS = "t10k-labels-idx1-ubyte"
#: The suffix of a change's files before they replace the set's.
NEW = ".new"
#: The most drawings a set holds.
MAX_SAMPLES = 10_000
SIDE = 28

_threads = threading.Lock()  # flock serialises processes; this, threads of one process


def default_folder() -> Path:
    """``handwriting`` in the user's data folder (``~/.local/share/nndl`` on Linux)."""
    platformdirs = require("platformdirs", "the handwriting set", "predict")
    return Path(platformdirs.user_data_dir("nndl")) / "handwriting"


@dataclass
class Samples:
    """The drawings of a set: ``images`` ``(n, 28, 28)`` and ``labels`` ``(n,)``, uint8."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> list[int]:
        """How many drawings of each digit 0-9."""
        return np.bincount(self.labels, minlength=10).tolist()


class HandwritingSet:
    """The set kept in ``folder`` (created on the first save).

    Each method reads the files afresh, so several servers -- or a server
    and ``nndl evaluate`` -- can share a folder.  Problems (a folder that
    cannot be made or written, files that are not a set nndl made) raise
    :class:`~nndl.errors.DataError` with one line saying which.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder).expanduser()

    def read(self) -> Samples:
        """The drawings saved so far (none if the folder does not exist yet)."""
        with self._locked(create=False):
            return self._read()

    def add(self, image: np.ndarray, label: int) -> Samples:
        """Append ``image`` (28 x 28 bytes) labelled ``label``; return the set."""
        image = np.asarray(image)
        if image.shape != (SIDE, SIDE) or image.dtype != np.uint8:
            raise DataError(f"a drawing must be 28 x 28 bytes, got {image.dtype} {image.shape}")
        if not 0 <= int(label) <= 9:
            raise DataError(f"a drawing's label must be a digit from 0 to 9, got {label}")
        with self._locked(create=True):
            old = self._read()
            if len(old) >= MAX_SAMPLES:
                raise SetFull(
                    f"the set in {self.folder} holds {len(old):,} drawings, the most it keeps; delete some first"
                )
            new = Samples(np.concatenate([old.images, image[None]]), np.append(old.labels, np.uint8(label)))
            self._write(new)
            return new

    def delete(self, index: int, expect: int | None = None) -> Samples:
        """Remove drawing ``index``; return the set.  With ``expect``, the
        set must still hold that many drawings (so an index chosen from an
        older view of the set never deletes the wrong drawing)."""
        with self._locked(create=False):
            old = self._read()
            if expect is not None and len(old) != expect:
                raise SetChanged(f"the set now holds {len(old):,} drawings, not {expect:,}: look at it again first")
            if not 0 <= index < len(old):
                raise DataError(f"there is no drawing {index} in a set of {len(old):,}")
            keep = np.arange(len(old)) != index
            new = Samples(old.images[keep], old.labels[keep])
            self._write(new)
            return new

    # -- the files -------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, create: bool) -> Iterator[None]:
        """Hold the folder's lock, having finished any change a killed writer left."""
        folder = self.folder
        if folder.exists() and not folder.is_dir():
            raise DataError(f"the handwriting set's folder {folder} is a file, not a folder")
        if create and not folder.exists():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise DataError(f"cannot create the handwriting set's folder {folder}: {e.strerror or e}") from None
        if not folder.exists():
            yield
            return
        with _threads, _folder_lock(folder):
            self._finish_change()
            yield

    def _finish_change(self) -> None:
        images, labels = self.folder / IMAGES, self.folder / LABELS
        new_images, new_labels = _new(images), _new(labels)
        try:
            for stray in self.folder.glob(".t10k-*.tmp"):  # atomic_write's temporaries, from a killed writer
                stray.unlink()
            if new_labels.exists():  # the change was made: move it into place
                if new_images.exists():
                    os.replace(new_images, images)
                os.replace(new_labels, labels)
                sync_folder(self.folder)
            elif new_images.exists():  # it was not: forget it
                new_images.unlink()
        except OSError as e:
            raise DataError(
                f"cannot finish the last change to the handwriting set in {self.folder}: {e.strerror or e}"
            ) from None

    def _read(self) -> Samples:
        images_path, labels_path = self.folder / IMAGES, self.folder / LABELS
        _refuse_other_sets(self.folder)
        if not images_path.exists() and not labels_path.exists():
            return Samples(np.zeros((0, SIDE, SIDE), np.uint8), np.zeros(0, np.uint8))
        images = _read_file(images_path, 16 + MAX_SAMPLES * SIDE * SIDE)
        labels = _read_file(labels_path, 8 + MAX_SAMPLES)
        if images.dtype != np.uint8 or images.shape[1:] != (SIDE, SIDE):
            raise DataError(f"{images_path} is not a handwriting set's images: {images.dtype} {images.shape}")
        if labels.dtype != np.uint8 or labels.ndim != 1 or (labels > 9).any():
            raise DataError(f"{labels_path} is not a handwriting set's labels (digits 0 to 9)")
        if len(images) != len(labels):
            raise DataError(
                f"the handwriting set in {self.folder} is damaged: {len(images):,} images but {len(labels):,} labels"
            )
        return Samples(images, labels)

    def _write(self, samples: Samples) -> None:
        images, labels = self.folder / IMAGES, self.folder / LABELS
        atomic_write(_new(images), lambda f: f.write(_idx(samples.images)))
        atomic_write(_new(labels), lambda f: f.write(_idx(samples.labels)))  # the change is made
        try:
            os.replace(_new(images), images)
            os.replace(_new(labels), labels)
        except OSError as e:
            raise DataError(f"cannot write the handwriting set in {self.folder}: {e.strerror or e}") from None
        sync_folder(self.folder)


class SetFull(DataError):
    """The set holds :data:`MAX_SAMPLES` drawings."""


class SetChanged(DataError):
    """The set changed since the caller looked at it."""


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` itself, held by one process at a
    time (where the system has ``flock``; elsewhere, nothing)."""
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _new(path: Path) -> Path:
    return path.with_name(path.name + NEW)


def _idx(array: np.ndarray) -> bytes:
    """``array`` (uint8) as an IDX file."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


def _read_file(path: Path, limit: int) -> np.ndarray:
    """An IDX file of the set, refused unread if it is bigger than a full set's."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise DataError(f"the handwriting set in {path.parent} is damaged: {path.name} is missing") from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    if size > limit:
        raise DataError(f"{path} holds {size:,} bytes, more than a set of {MAX_SAMPLES:,} drawings")
    with open(path, "rb") as f:
        if f.read(2) == b"\x1f\x8b":  # a gzip file could unpack to far more than its size
            raise DataError(f"{path} is compressed; a handwriting set holds plain IDX files")
    try:
        return read_idx(path)
    except DataError as e:
        raise DataError(f"the handwriting set is damaged: {one_line(e)}") from None


def _refuse_other_sets(folder: Path) -> None:
    """Refuse a folder holding another data set (MNIST's own files, say),
    which saving here would change or shadow."""
    for name in sorted(os.listdir(folder)) if folder.is_dir() else []:
        if name.startswith("train-") or (name.startswith("t10k-") and name not in (IMAGES, LABELS)):
            if not name.endswith(NEW):
                raise DataError(
                    f"{folder} holds {name}: it is another data set, not a handwriting set; choose another folder"
                )


def accuracy_by_digit(net: Network, samples: Samples) -> dict:
    """How ``net`` reads the set: for each digit 0-9 the drawings ``saved``
    and read ``correct``, the totals, and each drawing's ``read`` digit."""
    read = net.predict(samples.images.reshape(len(samples), -1)) if len(samples) else np.zeros(0, np.int64)
    right = read == samples.labels
    return {
        "saved": samples.counts(),
        "correct": np.bincount(samples.labels[right], minlength=10).tolist(),
        "total": len(samples),
        "total_correct": int(right.sum()),
        "read": read.tolist(),
    }
