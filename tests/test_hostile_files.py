"""Files from strangers: every reader refuses broken, lying and hostile input
with NNDLError and one line, runs nothing, and allocates only what the file
really holds."""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import write_idx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nndl.files
from nndl import DataError, Network, NNDLError, TrainConfig, load, modelfile, unpickle
from nndl.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from nndl.cli import main
from nndl.data import read_idx
from nndl.history import EpochResult, History
from nndl.loop import Position

# -- small valid files, one per format ------------------------------------------

RNG = np.random.default_rng(11)
IMAGES = RNG.integers(0, 256, (12, 4, 4), dtype=np.uint8)
LABELS = RNG.integers(0, 10, 12).astype(np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def npz_bytes(**arrays) -> bytes:
    f = io.BytesIO()
    np.savez(f, **arrays)
    return f.getvalue()


def pickle_bytes(protocol: int = 2) -> bytes:
    flat = IMAGES.reshape(12, 16).astype(np.float32) / 256
    return pickle.dumps(((flat[:6], LABELS[:6]), (flat[6:9], LABELS[6:9]), (flat[9:], LABELS[9:])), protocol=protocol)


def model_bytes() -> bytes:
    f = io.BytesIO()
    net = Network([4, 3, 2], seed=1)
    arrays = modelfile.arrays(net.sizes, net.weights, net.biases, {"eta": 3.0, "seed": 1})
    np.savez(f, format=np.array("nndl-model"), format_version=np.array(1), **arrays)
    return f.getvalue()


@functools.cache
def checkpoint_bytes() -> bytes:
    """A checkpoint of a tiny run stopped in epoch 1, before mini-batch 1 of 2."""
    import tempfile

    net = Network([4, 3, 2], seed=1)
    config = TrainConfig(sizes=(4, 3, 2), epochs=3, batch_size=10, seed=1, dtype="float64")
    history = History([EpochResult(0, 0.01, 5, 10, 0.5, 0.2)])
    saved = Checkpoint(net, config, Position(1, net.rng.permutation(20), 1), history, "0" * 32)
    with tempfile.TemporaryDirectory() as folder:
        return save_checkpoint(Path(folder) / "c.npz", saved).read_bytes()


def write_idx_folder(folder: Path) -> None:
    """MNIST's four IDX files; tests replace one of them."""
    write_idx(folder / "train-images-idx3-ubyte", IMAGES)
    write_idx(folder / "train-labels-idx1-ubyte", LABELS)
    write_idx(folder / "t10k-images-idx3-ubyte", IMAGES[:3])
    write_idx(folder / "t10k-labels-idx1-ubyte", LABELS[:3])


@dataclass(frozen=True)
class Reader:
    """One way nndl reads a file: the file's name (inside a scratch folder
    that ``setup`` fills with anything else the reader needs), a small valid
    file, and the call that reads it."""

    name: str
    filename: str
    valid: Callable[[], bytes]
    read: Callable[[Path], object]
    setup: Callable[[Path], None] = lambda folder: None


#: Every reader of files users bring.  A new reader is one more line here.
READERS = [
    Reader("pickle", "d.pkl", pickle_bytes, load),
    Reader("gzip'd pickle protocol 5", "d.pkl.gz", lambda: gzip.compress(pickle_bytes(5), mtime=0), load),
    Reader("npz data", "d.npz", lambda: npz_bytes(x_train=IMAGES, y_train=LABELS, x_test=IMAGES, y_test=LABELS), load),
    Reader("IDX file", "f-idx3-ubyte", lambda: idx_bytes(IMAGES), read_idx),
    Reader("gzip'd IDX file", "f-idx1-ubyte.gz", lambda: gzip.compress(idx_bytes(LABELS), mtime=0), read_idx),
    Reader(
        "IDX folder",
        "idx/t10k-labels-idx1-ubyte",
        lambda: idx_bytes(LABELS[:3]),
        lambda p: load(p.parent),
        setup=write_idx_folder,
    ),  # fmt: skip
    Reader("model", "m.npz", model_bytes, Network.load),
    Reader("checkpoint", "c.npz", checkpoint_bytes, load_checkpoint),
]


def read_expecting_only_nndl_errors(reader: Reader, folder: Path, data: bytes) -> None:
    path = folder / reader.filename
    path.parent.mkdir(exist_ok=True)
    reader.setup(path.parent)
    path.write_bytes(data)
    try:
        reader.read(path)
    except NNDLError as e:  # the only exception a broken file may cause
        assert str(e) and "\n" not in str(e)


# -- mutations: what a damaged or doctored file looks like ---------------------


@st.composite
def mutated(draw, valid: bytes) -> bytes:
    """``valid`` with a few bit flips, truncations, overwrites, insertions,
    4-byte integers planted (header fields), or a number in its text
    replaced (the headers of ``.npy`` members)."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 3))):
        here = draw(st.integers(0, min(len(data), 96)) | st.integers(0, len(data)))  # headers first
        kind = draw(st.sampled_from(["flip", "truncate", "overwrite", "insert", "int", "number"]))
        if kind == "flip" and here < len(data):
            data[here] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[here:]
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[here : here + len(chunk)] = chunk
        elif kind == "insert":
            data[here:here] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "int":
            value = draw(st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**32 - 1]) | st.integers(0, 2**32 - 1))
            data[here : here + 4] = value.to_bytes(4, draw(st.sampled_from(["big", "little"])))
        elif kind == "number":
            numbers = list(re.finditer(rb"\d+", bytes(data)))
            if numbers:
                m = numbers[draw(st.integers(0, len(numbers) - 1))]
                data[m.start() : m.end()] = str(draw(st.integers(0, 2**64))).encode()
    return bytes(data)


FUZZ = settings(
    max_examples=int(os.environ.get("NNDL_FUZZ_EXAMPLES", 40)),  # raise it to hunt harder
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
def test_valid_files_are_read(reader, scratch):
    path = scratch / reader.name.replace(" ", "_") / reader.filename
    path.parent.mkdir(parents=True)
    reader.setup(path.parent)
    path.write_bytes(reader.valid())
    assert reader.read(path) is not None


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
@FUZZ
@given(data=st.data())
def test_mutated_files_raise_only_nndl_errors(reader, scratch, data):
    read_expecting_only_nndl_errors(reader, scratch, data.draw(mutated(reader.valid())))


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.name)
@FUZZ
@given(junk=st.binary(max_size=600), keep=st.integers(0, 64))
def test_random_bytes_raise_only_nndl_errors(reader, scratch, junk, keep):
    """Random bytes, and random bytes behind the start of a valid file (so
    the magic numbers pass and the parser goes deeper)."""
    read_expecting_only_nndl_errors(reader, scratch, reader.valid()[:keep] + junk)


# -- pickles that would run code ----------------------------------------------------


class RunsCode:
    """Unpickling this runs ``os.system`` -- if the unpickler lets it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_pickles(marker: Path) -> dict[str, bytes]:
    arrays = pickle.loads(pickle_bytes())
    touch = f"touch {marker}".encode()
    return {
        **{
            f"os.system, protocol {p}": pickle.dumps((arrays[0], arrays[1], (arrays[2][0], RunsCode(marker))), p)
            for p in range(6)
        },
        "builtins.eval, hand-written": b'cbuiltins\neval\n(S\'__import__("os").system("' + touch + b"\")'\ntR.",
        "eval hidden in a dtype": b"cnumpy\ndtype\n(cbuiltins\neval\n(S'\"f8\"'\ntRtR.",
        "INST opcode": b"(S'" + touch + b"'\nios\nsystem\n.",
        "OBJ opcode": b"(cos\nsystem\nS'" + touch + b"'\no.",
        "numpy.load": b"cnumpy\nload\n(S'x.npy'\ntR.",
        "a subclass of ndarray": b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy.ma\nMaskedArray\n(I0\ntS'b'\ntR.",
        "an object array": pickle.dumps(np.array([1, "x"], dtype=object), 2),
        "a structured dtype": pickle.dumps(np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]), 2),
        "numpy.dtype('O')": b"cnumpy\ndtype\n(S'O8'\nI0\nI1\ntR.",
        "persistent id": b"P" + touch + b"\n.",
        "copyreg": pickle.dumps(RunsCode(marker), 0).replace(b"posix\nsystem", b"copyreg\n_reconstructor"),
        "opcode flood": b"\x80\x02" + b"N0" * 6_000 + b"N.",
    }


def test_hostile_pickles_are_refused_and_run_nothing(tmp_path):
    marker = tmp_path / "pwned"
    for name, payload in hostile_pickles(marker).items():
        for suffix, data in ((".pkl", payload), (".pkl.gz", gzip.compress(payload))):
            path = tmp_path / f"evil{suffix}"
            path.write_bytes(data)
            with pytest.raises(DataError, match="refusing to unpickle|not a readable pickle") as caught:
                load(path)
            assert "\n" not in str(caught.value), name
            assert not marker.exists(), name


def test_hostile_pickle_from_the_command_line(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "mnist.pkl.gz"
    evil.write_bytes(gzip.compress(hostile_pickles(marker)["os.system, protocol 2"]))
    r = subprocess.run(
        [sys.executable, "-m", "nndl", "train", "--data", str(evil)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert re.search(r"refusing to unpickle (posix|os)\.system: only NumPy arrays are allowed", r.stderr)
    assert not marker.exists() and r.stdout == ""


def test_the_unpickler_is_a_module_of_its_own_that_data_reads_through(tmp_path, monkeypatch):
    """``nndl.unpickle.load_arrays`` builds the arrays (and nothing else);
    ``nndl.data.load`` reads a pickle only through it."""
    marker = tmp_path / "pwned"
    path = tmp_path / "arrays.pkl"
    path.write_bytes(pickle.dumps((LABELS, (IMAGES, (LABELS[:2],))), 4))
    held = unpickle.load_arrays(path)
    assert np.array_equal(held[0], LABELS) and np.array_equal(held[1][1][0], LABELS[:2])
    path.write_bytes(hostile_pickles(marker)["os.system, protocol 4"])
    with pytest.raises(DataError, match="refusing to unpickle"):
        unpickle.load_arrays(path)
    assert not marker.exists()
    asked = []
    monkeypatch.setattr(unpickle, "load_arrays", lambda p: asked.append(p) or (LABELS,))
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle_bytes())
    with pytest.raises(DataError, match="does not hold the book's layout"):
        load(good)
    assert asked == [good]


def test_pickle_protocols_0_to_5_and_byte_orders_round_trip(tmp_path):
    flat = IMAGES.reshape(12, 16).astype(">f4") / 256
    parts = ((np.asfortranarray(flat[:6]), LABELS[:6].astype(">i8")), (flat[6:9], LABELS[6:9]), (flat[9:], LABELS[9:]))
    for protocol in range(6):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(parts, protocol))
        data = load(path)
        assert np.array_equal(data.train.images, flat[:6]) and data.train.images.dtype == np.float32
        assert np.array_equal(data.train.labels, LABELS[:6])


# -- lying headers cost no memory ---------------------------------------------------


def peak_memory(read: Callable[[], object]) -> tuple[int, str]:
    """The most memory Python and NumPy held while ``read`` failed, and the message."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            read()
        return tracemalloc.get_traced_memory()[1], str(caught.value)
    finally:
        tracemalloc.stop()


def zeros_gzip(header: bytes, n_zeros: int) -> bytes:
    """A gzip stream of ``header`` and ``n_zeros`` zero bytes, made without
    holding them: a gzip bomb."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunks = [z.compress(header)] + [z.compress(bytes(1 << 20)) for _ in range(n_zeros >> 20)]
    return b"".join(chunks) + z.flush()


MiB = 1 << 20
IMAGES_HEADER = struct.pack(">BBBBIII", 0, 0, 8, 3, 2**31, 28, 28)
LABELS_HEADER = struct.pack(">BBBBI", 0, 0, 8, 1, 2**31)


@pytest.mark.parametrize(
    "name, data, message",
    [
        (
            "2**31 images of 28 x 28",
            struct.pack(">BBBBIII", 0, 0, 8, 3, 2**31, 28, 28) + bytes(8),
            "more than nndl reads",
        ),
        (
            "2**31 labels",
            struct.pack(">BBBBI", 0, 0, 8, 1, 2**31) + bytes(8),
            "more than nndl reads from this file",  # a 20-byte file's budget is 128 MiB
        ),
        (
            "2**31 labels, gzip'd",
            gzip.compress(struct.pack(">BBBBI", 0, 0, 8, 1, 2**31) + bytes(8)),
            "more than nndl reads from this file",
        ),
        (
            "2**26 labels",
            struct.pack(">BBBBI", 0, 0, 8, 1, 2**26) + bytes(8),
            "truncated: its header claims 67,108,864",
        ),
        (
            "a gzip bomb",
            zeros_gzip(struct.pack(">BBBBI", 0, 0, 8, 1, 10), 64 * MiB),
            "more data than its header claims",
        ),
    ],
)
def test_lying_idx_headers_cost_no_memory(tmp_path, name, data, message):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(data)
    peak, said = peak_memory(lambda: read_idx(path))
    assert message in said
    assert peak < 4 * MiB, f"{name}: {peak:,} bytes"


def lying_npz(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """An ``.npz`` whose one member claims ``shape`` but holds 64 bytes."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": shape})
    out = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(out, "w") as z:
        z.writestr("x_train.npy", f.getvalue() + bytes(64))
    return out.getvalue()


@pytest.mark.parametrize(
    "shape, message", [((2**40,), "claims shape (1099511627776,) of float64: more than"), ((2**23,), "truncated")]
)
def test_lying_npz_headers_cost_no_memory(tmp_path, shape, message):
    path = tmp_path / "d.npz"
    path.write_bytes(lying_npz(shape))
    peak, said = peak_memory(lambda: load(path))
    assert message in said and peak < 4 * MiB


def test_lying_pickle_lengths_cost_no_memory(tmp_path):
    path = tmp_path / "d.pkl"
    path.write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 2**60) + bytes(100))  # BINBYTES8 of 2**60 bytes
    peak, said = peak_memory(lambda: load(path))
    assert "not a readable pickle" in said and peak < 4 * MiB


def test_gzip_bombs_stop_at_the_global_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(nndl.files, "MAX_BYTES", 4 * MiB)
    path = tmp_path / "bomb.pkl.gz"
    path.write_bytes(zeros_gzip(b"", 64 * MiB))
    peak, said = peak_memory(lambda: load(path))
    assert "holds more than 4,194,304 bytes of data; refusing to read it" in said
    assert peak < 12 * MiB


def test_special_files_are_refused(tmp_path):
    """A device never ends and a FIFO blocks: neither is read."""
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        load(fifo)
    for path in ("/dev/zero", fifo):
        for read in (read_idx, Network.load, load_checkpoint):
            with pytest.raises(DataError, match="not a regular file"):
                read(path)


# -- the command line: broken data is one line and exit 2 --------------------------


def broken_data(folder: Path) -> dict[str, tuple[Path, str]]:
    """Broken data files, and what the message must say."""
    cases = {}

    def npz(name, message, **arrays):
        path = folder / f"{name}.npz"
        np.savez(path, **{"x_train": IMAGES, "y_train": LABELS, "x_test": IMAGES, "y_test": LABELS, **arrays})
        cases[name] = (path, message)

    npz("labels out of range", "labels must lie in 0..999, got 3..5000", y_test=np.r_[3, np.full(11, 5000)])
    npz("negative labels", "labels must lie in 0..999, got -1..", y_train=np.r_[-1, LABELS[1:].astype(np.int64)])
    npz("float labels", "labels must be integers, got dtype float64", y_test=LABELS.astype(float))
    npz("images beyond [0, 1]", "float images must lie in [0, 1]", x_test=IMAGES.astype(float))
    npz("mismatched counts", "12 images but 5 labels", y_test=LABELS[:5])
    npz("labels as a matrix", "labels must have shape (n,), got (12, 1)", y_test=LABELS[:, None])
    npz("images of text", "images must be uint8 or floats in [0, 1], got dtype <U1", x_test=np.full((12, 16), "a"))
    npz("different widths", "images of different sizes: [9, 16] pixels", x_test=np.zeros((12, 9), np.uint8))
    pkl = folder / "cut.pkl.gz"
    pkl.write_bytes(gzip.compress(pickle_bytes())[:200])
    cases["truncated pickle"] = (pkl, "is not a readable gzip file")
    for name, mutate, message in [
        ("truncated IDX", lambda d: d[:-5], "is truncated: its header claims 192 bytes of data but it holds 187"),
        ("lying IDX", lambda d: d[:4] + struct.pack(">I", 2**31) + d[8:], "more than nndl reads"),
    ]:
        idx = folder / name.replace(" ", "_")
        idx.mkdir()
        write_idx_folder(idx)
        images = idx / "train-images-idx3-ubyte"
        images.write_bytes(mutate(images.read_bytes()))
        cases[name] = (idx, message)
    counts = folder / "counts"
    counts.mkdir()
    write_idx_folder(counts)
    write_idx(counts / "train-labels-idx1-ubyte", LABELS[:7])
    cases["mismatched IDX counts"] = (counts, "has 12 images but")
    return cases


def test_broken_data_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    for name, (path, message) in broken_data(tmp_path).items():
        assert main(["train", "--data", str(path), "--sizes", "16", "10"]) == 2, name
        out, err = capsys.readouterr()
        assert message in err, (name, err)
        assert err.count("\n") == 1 and err.startswith("nndl train: error: ") and out == "", name


# -- doctored nndl files: valid archives holding anything at all --------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def near(value):
    """Values like ``value``: the same structure with fields changed or dropped."""
    if isinstance(value, dict):
        return st.fixed_dictionaries({}, optional={k: near(v) | JSON for k, v in value.items()}) | JSON
    if isinstance(value, list):
        return st.lists(st.sampled_from(value).flatmap(near), max_size=len(value) + 1) if value else JSON
    return JSON


def arrays():
    """Small arrays of any dtype nndl stores, of any shape."""
    dtype = st.sampled_from(["i8", "u1", "f8", "f4", "b1", "<U4"])
    shape = st.lists(st.integers(0, 4), max_size=3).map(tuple)
    return st.tuples(dtype, shape).map(lambda d: np.zeros(d[1], d[0]))


@pytest.mark.parametrize("reader", [r for r in READERS if r.name in ("model", "checkpoint")], ids=lambda r: r.name)
@FUZZ
@given(data=st.data())
def test_doctored_nndl_files_raise_only_nndl_errors(reader, scratch, data):
    """Replace members of a valid model or checkpoint with JSON near what
    they held, or with arbitrary arrays: the checks, not luck, must catch it."""
    with np.load(io.BytesIO(reader.valid())) as f:
        members = dict(f)
    for key in data.draw(st.lists(st.sampled_from(sorted(members)), min_size=1, max_size=3, unique=True)):
        if key in ("settings", "history", "rng"):
            members[key] = np.array(json.dumps(data.draw(near(json.loads(str(members[key]))))))
        else:
            members[key] = data.draw(arrays())
    read_expecting_only_nndl_errors(reader, scratch, npz_bytes(**members))
