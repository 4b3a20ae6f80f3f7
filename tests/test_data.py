"""Loading MNIST: the bundled copy, the book's formats, and files users bring."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BOOK_PICKLE, write_idx

from nndl import DataError, load, load_data, load_data_wrapper, vectorized_result
from nndl import data as data_module
from nndl.cache import CACHE_ENV, cache_dir
from nndl.data import read_idx


def test_bundled_split_sizes_and_labels(mnist):
    assert (len(mnist.train), len(mnist.validation), len(mnist.test)) == (50_000, 10_000, 10_000)
    assert mnist.n_inputs == 784 and mnist.n_classes == 10
    assert mnist.train.images.dtype == np.uint8
    # the test set's label counts, as published for MNIST
    assert np.bincount(mnist.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.slow
@pytest.mark.skipif(not BOOK_PICKLE.exists(), reason="the book's mnist.pkl.gz is not beside the checkout")
def test_bundled_pixels_equal_the_books_file_exactly():
    """Every pixel of the bundled copy, as byte / 256, is the book's float32."""
    with gzip.open(BOOK_PICKLE, "rb") as f:
        book = pickle.load(f, encoding="latin1")
    ours = load_data()
    for (bx, by), (ox, oy) in zip(book, ours):
        assert ox.dtype == np.float32 and bx.dtype == np.float32
        assert np.array_equal(ox, bx)
        assert np.array_equal(oy, by)
    # and the safe reader gives the same from the book's file itself
    mine = load(BOOK_PICKLE)
    assert np.array_equal(mine.test.X(np.float32), book[2][0])


def test_load_data_wrapper_has_the_books_formats():
    training_data, validation_data, test_data = load_data_wrapper()
    assert isinstance(training_data, list) and len(training_data) == 50_000
    x, y = training_data[0]
    assert x.shape == (784, 1) and y.shape == (10, 1) and y.sum() == 1
    assert int(np.argmax(y)) == 5  # MNIST's first training digit is a 5
    x, label = test_data[0]
    assert x.shape == (784, 1) and isinstance(label, int) and label == 7
    assert len(validation_data) == 10_000 and isinstance(validation_data[0][1], int)


def test_load_data_wrapper_reads_the_users_file_once(tiny_npz, monkeypatch):
    reads = []
    read_npz = data_module._load_npz
    monkeypatch.setattr(data_module, "_load_npz", lambda path: reads.append(path) or read_npz(path))
    training_data, _, test_data = load_data_wrapper(tiny_npz)
    assert reads == [tiny_npz]
    assert len(training_data) + len(test_data) == len(load(tiny_npz).train) + len(load(tiny_npz).test)


def test_vectorized_result():
    e = vectorized_result(3)
    assert e.shape == (10, 1) and e[3, 0] == 1.0 and e.sum() == 1.0


def test_idx_folder_round_trip(idx_folder, tiny_arrays):
    data = load(idx_folder)
    a = tiny_arrays
    # 60 training images: the last sixth (10) validate, as 50,000 / 10,000 for MNIST
    assert (len(data.train), len(data.validation), len(data.test)) == (50, 10, 20)
    assert np.array_equal(data.train.images, a["train_images"][:50].reshape(50, 784))
    assert np.array_equal(data.validation.labels, a["train_labels"][50:])
    assert np.array_equal(data.test.images, a["test_images"].reshape(20, 784))


def test_t10k_pair_alone_is_a_test_set(tmp_path, tiny_arrays):
    """A folder of only MNIST's t10k pair is a test set: it evaluates, and
    anything that trains on it stops with one line saying why."""
    from nndl import Network, TrainConfig, train

    folder = tmp_path / "set"
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte", tiny_arrays["test_images"])
    write_idx(folder / "t10k-labels-idx1-ubyte", tiny_arrays["test_labels"], compress=True)
    data = load(folder)
    assert data.test_only and not load().test_only
    assert np.array_equal(data.test.images, tiny_arrays["test_images"].reshape(20, 784))
    assert np.array_equal(data.test.labels, tiny_arrays["test_labels"])
    assert (data.n_inputs, data.n_classes) == (784, 10)
    net = Network([784, 5, 10], seed=0)
    assert 0 <= net.evaluate(data.test) <= 20 and net.evaluate(data["test"]) == net.evaluate(data.test)
    for attempt in (
        lambda: net.SGD(data.train, 1, 10, 3.0),
        lambda: train(TrainConfig(sizes=(784, 5, 10), epochs=1, data=str(folder)), log=None),
        lambda: len(data.train),
    ):
        with pytest.raises(DataError, match=r"holds only a test set .*nothing to train on") as e:
            attempt()
        assert str(folder) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(DataError, match="no validation part; use its test part"):
        net.evaluate(data.validation)
    # half a training pair is not a test set: the missing half is named
    write_idx(folder / "train-images-idx3-ubyte", tiny_arrays["train_images"])
    with pytest.raises(DataError, match="has no train-labels-idx1-ubyte"):
        load(folder)


def test_idx_split_of_60000_is_the_books(tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    labels = (np.arange(60_000) % 10).astype(np.uint8)
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((60_000, 2, 2), np.uint8), compress=True)
    write_idx(folder / "train-labels-idx1-ubyte", labels, compress=True)
    write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((5, 2, 2), np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", labels[:5])
    data = load(folder)
    assert (len(data.train), len(data.validation)) == (50_000, 10_000)


def test_npz_round_trip_both_layouts(tmp_path, tiny_arrays):
    a = tiny_arrays
    ours = tmp_path / "ours.npz"
    np.savez(ours, **a, validation_images=a["test_images"][:5], validation_labels=a["test_labels"][:5])
    data = load(ours)
    assert (len(data.train), len(data.validation), len(data.test)) == (60, 5, 20)
    keras = tmp_path / "keras.npz"
    np.savez(
        keras, x_train=a["train_images"], y_train=a["train_labels"], x_test=a["test_images"], y_test=a["test_labels"]
    )
    data = load(keras)
    assert (len(data.train), len(data.validation), len(data.test)) == (50, 10, 20)
    assert np.array_equal(data.test.labels, a["test_labels"])


def test_pickle_round_trip(tmp_path, tiny_arrays):
    a = tiny_arrays
    parts = tuple(
        (a[f"{p}_images"].reshape(-1, 784).astype(np.float32) / 256, a[f"{p}_labels"].astype(np.int64))
        for p in ("train", "test", "test")
    )
    path = tmp_path / "mine.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=2)
    data = load(path)
    assert np.array_equal(data.train.X(np.float32), parts[0][0])
    assert np.array_equal(data.test.labels, parts[1][1])


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned",))


def test_pickle_that_runs_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(((np.zeros((2, 784), np.float32), _RunsCode()),), f, protocol=2)
    with pytest.raises(DataError, match="refusing to unpickle posix.system|refusing to unpickle os.system"):
        load(path)
    assert not (tmp_path / "pwned").exists()


def test_pickle_of_wrong_layout(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps((np.zeros(3),)))
    with pytest.raises(DataError, match="layout"):
        load(path)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b[:-7], "header claims"),
        (lambda b: b[:6], "truncated"),
        (lambda b: b"\x01\x02" + b[2:], "bad magic"),
        (lambda b: b[:4] + (2**31).to_bytes(4, "big") + b[8:], "header claims"),
    ],
)
def test_broken_idx_files(tmp_path, mutate, message):
    good = write_idx(tmp_path / "f", np.zeros((3, 4, 4), np.uint8)).read_bytes()
    bad = tmp_path / "bad"
    bad.write_bytes(mutate(good))
    with pytest.raises(DataError, match=message):
        read_idx(bad)


def test_mismatched_idx_counts(idx_folder, tiny_arrays):
    write_idx(idx_folder / "t10k-labels-idx1-ubyte", tiny_arrays["test_labels"][:5])
    (idx_folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="20 images but .* 5 labels"):
        load(idx_folder)


def test_missing_idx_file(idx_folder):
    (idx_folder / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load(idx_folder)


def test_other_error_paths(tmp_path, tiny_arrays):
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "nope.npz")
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(DataError, match="don't know how to read"):
        load(tmp_path / "x.csv")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a valid .npz"):
        load(tmp_path / "bad.npz")
    a = dict(tiny_arrays)
    a["test_labels"] = a["test_labels"][:3]
    np.savez(tmp_path / "short.npz", **a)
    with pytest.raises(DataError, match="20 images but 3 labels"):
        load(tmp_path / "short.npz")
    np.savez(tmp_path / "obj.npz", train_images=np.array([object()]), train_labels=np.zeros(1))
    with pytest.raises(DataError, match="Python objects"):
        load(tmp_path / "obj.npz")


# -- the bundled MNIST, decompressed once into the user's cache ---------------


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder, and load() made to look at it again."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    data_module._bundled.cache_clear()
    yield tmp_path / "cache"
    data_module._bundled.cache_clear()  # later tests map their own cache again


def bundled_npz() -> dict[str, np.ndarray]:
    """The bundled file read by NumPy itself: the oracle for every load."""
    with np.load(Path(data_module.__file__).parent / "resources" / data_module.BUNDLED) as z:
        return {k: z[k] for k in z.files}


def assert_is_the_bundled_file(loaded):
    want = bundled_npz()
    for part in ("train", "validation", "test"):
        assert np.array_equal(loaded[part].images, want[f"{part}_images"])
        assert np.array_equal(loaded[part].labels, want[f"{part}_labels"])
        assert loaded[part].labels.dtype == np.int64 and not loaded[part].images.flags.writeable


def cache_file(folder):
    (path,) = folder.glob("mnist-*.npy")
    return path


def test_the_cache_holds_the_bundled_file_and_is_mapped_next_time(fresh_cache, monkeypatch):
    assert_is_the_bundled_file(load())
    path = cache_file(fresh_cache)
    assert hashlib.sha256(np.load(path)).hexdigest() == data_module.BUNDLED_SHA256
    # next time nothing is decompressed: the arrays are views of the mapped file
    data_module._bundled.cache_clear()
    monkeypatch.setattr(data_module, "_bundled_payload", lambda: pytest.fail("decompressed again"))
    again = load()
    assert_is_the_bundled_file(again)
    base = again.train.images
    while not isinstance(base, np.memmap):
        base = base.base
    assert base.filename == str(path)


def test_the_digest_is_that_of_the_bundled_file():
    """The digest every cache file is checked against is the digest of what
    the package ships, laid out as the cache keeps it."""
    assert hashlib.sha256(data_module._bundled_payload()).hexdigest() == data_module.BUNDLED_SHA256


def flip_a_byte(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "damage",
    [
        flip_a_byte,  # one bit of one pixel: the header and size still fit
        lambda p: p.write_bytes(p.read_bytes()[:-1000]),  # truncated
        lambda p: p.write_bytes(b""),  # empty
        lambda p: np.save(p, np.zeros(10, np.float64)),  # another array
        lambda p: p.write_bytes(b"\x93NUMPY\x01\x00" + b"{'descr': '|u1', 'fortran_order': False, 'shape': (5" * 50),
    ],
    ids=["bit", "truncated", "empty", "other-array", "bad-header"],
)
@pytest.mark.slow
def test_a_damaged_cache_is_made_again(fresh_cache, damage):
    load()
    path = cache_file(fresh_cache)
    damage(path)
    data_module._bundled.cache_clear()
    assert_is_the_bundled_file(load())
    assert hashlib.sha256(np.load(path)).hexdigest() == data_module.BUNDLED_SHA256  # and replaced, whole


def test_without_a_writable_cache_the_data_still_loads(fresh_cache):
    fresh_cache.parent.mkdir(exist_ok=True)
    fresh_cache.write_text("a file where the folder should be")
    assert_is_the_bundled_file(load())
    assert fresh_cache.read_text() == "a file where the folder should be"


def test_the_cache_folder_without_platformdirs(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "platformdirs", None)  # import platformdirs now fails
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "nndl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "nndl"
    monkeypatch.setenv(CACHE_ENV, "~/elsewhere")
    assert cache_dir() == tmp_path / "home" / "elsewhere"


def test_the_nonzero_pixels_come_with_the_bundled_images(mnist):
    """The cache also holds each image's nonzero pixels (for the compiled
    engine), equal to NumPy's own nonzero() of the images."""
    nonzero_pixels = data_module.nonzero_pixels
    for part in ("train", "test"):
        images = mnist[part].images
        indptr, pixels, values = nonzero_pixels(images)
        rows, cols = np.nonzero(images)
        assert np.array_equal(np.repeat(np.arange(len(images)), np.diff(indptr)), rows)
        assert np.array_equal(pixels, cols) and pixels.dtype == np.uint16
        assert np.array_equal(values, images[rows, cols])
    # only the bundled arrays themselves come from the cache: a slice or a
    # copy has its pixels found anew, from what it holds
    cached = nonzero_pixels(mnist.train.images)
    assert nonzero_pixels(mnist.train.images)[0] is cached[0]
    copy = mnist.train.images[:3000].copy()
    assert nonzero_pixels(copy)[0] is not cached[0]
    copy[0] = 0
    indptr, pixels, values = nonzero_pixels(copy)
    first, last = cached[0][1], cached[0][3000]  # images 1 to 2,999 in the cached lists
    assert indptr[1] == 0 and np.array_equal(pixels, cached[1][first:last])


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (2_000, 784), (3, 70_000)])
def test_nonzero_pixels_of_any_images_are_numpys_nonzero(shape):
    """The one builder of pixel lists (the cache's and the compiled engine's)
    against NumPy's own ``nonzero``, across its blocks of images and with
    images wider than a 16-bit index."""
    images = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    images[images < 200] = 0
    images[-1] = 0  # an image without ink
    indptr, pixels, values = data_module.nonzero_pixels(images)
    rows, cols = np.nonzero(images)
    assert np.array_equal(np.repeat(np.arange(len(images)), np.diff(indptr)), rows)
    assert np.array_equal(pixels, cols) and np.array_equal(values, images[rows, cols])
    assert pixels.dtype == (np.uint16 if shape[1] <= 2**16 else np.int32)
