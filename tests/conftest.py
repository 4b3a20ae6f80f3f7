"""Shared fixtures: MNIST and a cut-down part of it; small data sets written to disk in each supported format."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import nndl

BOOK_PICKLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.pkl.gz"


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """Write ``array`` (uint8) as an IDX file, the format MNIST ships in."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def mnist():
    from nndl.data import load

    return load()


@pytest.fixture(scope="module")
def small(mnist):
    """MNIST cut down: 3,000 training and 1,000 test digits, for quick runs
    (a module may define its own ``small``)."""
    return nndl.Dataset(
        nndl.Split(mnist.train.images[:3000], mnist.train.labels[:3000]),
        mnist.validation,
        nndl.Split(mnist.test.images[:1000], mnist.test.labels[:1000]),
    )


@pytest.fixture
def tiny_arrays():
    """A small MNIST-shaped data set: 60 training and 20 test images."""
    rng = np.random.default_rng(7)
    return {
        "train_images": rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, 60).astype(np.uint8),
        "test_images": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, 20).astype(np.uint8),
    }


@pytest.fixture
def idx_folder(tmp_path, tiny_arrays):
    folder = tmp_path / "idx"
    folder.mkdir()
    a = tiny_arrays
    write_idx(folder / "train-images-idx3-ubyte", a["train_images"], compress=True)
    write_idx(folder / "train-labels-idx1-ubyte", a["train_labels"])
    write_idx(folder / "t10k-images-idx3-ubyte", a["test_images"])
    write_idx(folder / "t10k-labels-idx1-ubyte", a["test_labels"], compress=True)
    return folder


@pytest.fixture
def tiny_npz(tmp_path, tiny_arrays):
    """``tiny_arrays`` as an ``.npz`` file."""
    path = tmp_path / "tiny.npz"
    np.savez(path, **tiny_arrays)
    return path


@pytest.fixture(scope="session")
def digit_model(tmp_path_factory):
    """A model file: the default network trained for one epoch on MNIST
    (about 90 % right), enough to read clearly drawn digits."""
    from nndl.train import TrainConfig, train

    net, history = train(TrainConfig(epochs=1), log=None)
    return net.save(tmp_path_factory.mktemp("model") / "digits.npz", history.settings)
