"""nndl's promises, attacked as a hostile user, file or client would.

Each attack is kept as a test (SECURITY.md lists them): images in formats
that run programs or that decompress to gigabytes, data and model files
that are bombs, JSON that nests or counts without end, crafted
checkpoints, output paths that are not places for a file, two runs on one
checkpoint, a closed pipe, a second Ctrl-C.  Whatever runs a real process
measures its peak memory (``os.wait4``'s rusage of that one child) and its
time: the promise is one line and exit status 2, in bounded memory, soon.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pytest
from drawing import draw, encode
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageDraw
from test_hostile_files import FUZZ, near

from nndl import DataError, History, Network, NNDLError, TrainConfig, load
from nndl.checkpoint import load_checkpoint
from nndl.cli import main
from nndl.images import MAX_PIXELS, load_digit
from nndl.network import EpochResult
from nndl.train import resume, train

MiB = 2**20
#: The most memory a refused attack may cost a process (Python, NumPy and nndl take about 50 MiB).
MEMORY = 300 * MiB
#: Generous bounds on a refusal's time: the process starts, reads little, says one line.
SECONDS = 60


@dataclass
class Outcome:
    """How a process ended: status, output, peak resident memory, time."""

    returncode: int
    out: str
    err: str
    peak: int
    seconds: float

    def refused(self, words: str = "") -> str:
        """Check the process was refused in one line (exit 2), cheaply; return the line."""
        assert self.returncode == 2, (self.returncode, self.err[-2000:])
        assert self.err.count("\n") == 1 and "Traceback" not in self.err, self.err[-2000:]
        assert words in self.err, self.err
        assert self.peak < MEMORY, f"{self.peak / MiB:.0f} MiB"
        assert self.seconds < SECONDS
        return self.err


#: Runs a command and writes its exit status and peak memory (KiB) to a file: measured from a
#: small process, since a child's peak includes the memory of whatever it was forked from.
_MEASURE = """
import resource, subprocess, sys
run = subprocess.run(sys.argv[3:], timeout=float(sys.argv[2]))
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(f"{run.returncode} {peak}")
"""


def measured(*args, env: dict | None = None, stdout=None, timeout: float = 120, unprivileged: bool = False) -> Outcome:
    """Run ``args`` and measure the peak memory of that process alone."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report"
        start = time.monotonic()
        subprocess.run(
            [
                str(a)
                for a in (
                    *(WITHOUT_OVERRIDE if unprivileged else ()),
                    sys.executable,
                    "-c",
                    _MEASURE,
                    report,
                    timeout,
                    *args,
                )
            ],
            stdout=out if stdout is None else stdout,
            stderr=err,
            env=env,
            timeout=timeout + 30,
        )
        seconds = time.monotonic() - start
        returncode, peak = map(int, report.read_text().split())
        out.seek(0)
        err.seek(0)
        return Outcome(
            returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"), 1024 * peak, seconds
        )


def nndl(*args, **kwargs) -> Outcome:
    return measured(sys.executable, "-m", "nndl", *args, **kwargs)


#: Root reads and writes whatever the permissions say; to test them, root runs the command
#: without the capabilities that override them (util-linux's setpriv).
WITHOUT_OVERRIDE = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
permissions = pytest.mark.skipif(
    bool(WITHOUT_OVERRIDE) and not shutil.which("setpriv"), reason="root needs util-linux's setpriv to obey permissions"
)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """36 training and 12 test images of 4 x 4 pixels."""
    rng = np.random.default_rng(3)
    path = tmp_path_factory.mktemp("tiny") / "tiny.npz"
    np.savez(
        path,
        train_images=rng.integers(0, 256, (36, 16), dtype=np.uint8),
        train_labels=rng.integers(0, 10, 36),
        test_images=rng.integers(0, 256, (12, 16), dtype=np.uint8),
        test_labels=rng.integers(0, 10, 12),
    )
    return path


TINY = ["--sizes", "16", "5", "10", "--batch-size", "5"]


# -- images ---------------------------------------------------------------------------


def fake_ghostscript(folder: Path) -> tuple[dict, Path]:
    """A ``gs`` first on PATH that leaves a mark when anything runs it."""
    mark = folder / "ghostscript-ran"
    gs = folder / "bin" / "gs"
    gs.parent.mkdir()
    gs.write_text(f'#!/bin/sh\necho "$@" >> {mark}\necho 10.0\n')
    gs.chmod(0o755)
    return {**os.environ, "PATH": f"{gs.parent}{os.pathsep}{os.environ['PATH']}"}, mark


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nnewpath 0 0 moveto 28 28 lineto stroke showpage\n"


def test_a_postscript_file_named_png_runs_no_program(tmp_path, digit_model, monkeypatch):
    env, mark = fake_ghostscript(tmp_path)
    evil = tmp_path / "digit.png"
    evil.write_bytes(EPS)
    # The attack is real: Pillow, asked to read any format, hands the file to Ghostscript.
    measured(sys.executable, "-c", f"from PIL import Image; Image.open({str(evil)!r}).load()", env=env)
    assert mark.exists()
    mark.unlink()
    said = nndl("predict", digit_model, evil, env=env).refused("not an image in a format nndl reads (PNG, JPEG")
    assert str(evil) in said and not mark.exists()
    monkeypatch.setenv("PATH", env["PATH"])  # the server's path: the request body, decoded in this process
    with pytest.raises(DataError, match="not an image in a format nndl reads"):
        load_digit(EPS, "the request body")
    assert not mark.exists()


@pytest.mark.parametrize("fmt", ["ICO", "PCX", "TGA", "SGI", "QOI"])
def test_formats_outside_the_list_are_not_tried(fmt):
    """An allow-list, not a block-list: a format Pillow reads but nndl does not name is refused."""
    with pytest.raises(DataError, match="not an image in a format nndl reads"):
        load_digit(encode(draw(7, canvas=(64, 64), box=(8, 8, 48), pen=6), fmt), "upload")


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    """Small files that decode to many megabytes."""
    folder = tmp_path_factory.mktemp("bombs")
    paths = {name: folder / f"{name}.png" for name in ("over", "under")}
    Image.new("I;16", (6300, 6300)).save(paths["over"])  # 79 MB of 16-bit grey in 77 kB
    under = Image.new("RGBA", (3999, 3999), "white")  # 16 megapixels, 64 MB as decoded, a 7 on it
    ImageDraw.Draw(under).line([(600, 400), (3400, 400), (1600, 3600)], fill="black", width=260)
    under.save(paths["under"])
    return paths


def test_a_png_bomb_is_refused_before_decoding(bombs, digit_model):
    assert bombs["over"].stat().st_size < 100_000
    nndl("predict", digit_model, bombs["over"]).refused(f"6300 x 6300 pixels, more than the {MAX_PIXELS:,}")


def test_a_png_just_under_the_cap_costs_a_bounded_amount(bombs, digit_model):
    r = nndl("predict", digit_model, bombs["under"], "--json")
    assert r.returncode == 0, r.err
    assert json.loads(r.out)["digit"] in range(10)
    assert r.peak < MEMORY, f"{r.peak / MiB:.0f} MiB"


def test_a_large_jpeg_is_decoded_reduced(tmp_path):
    """24 megapixels is over the cap, but a JPEG decodes at 1/4 scale, so
    photos of any size are read, at a fraction of their cost."""
    photo = Image.new("L", (6000, 4000), 255)
    ImageDraw.Draw(photo).line([(2000, 500), (3000, 3500)], fill=0, width=240)
    assert photo.width * photo.height > MAX_PIXELS
    small = photo.resize((1500, 1000), Image.Resampling.BOX)
    big, reduced = load_digit(encode(photo, "JPEG")), load_digit(encode(small, "JPEG"))
    assert np.abs(big.astype(int) - reduced.astype(int)).mean() < 4


def test_only_the_first_frame_is_read(tmp_path):
    frames = [draw(7, canvas=(64, 64), box=(8, 8, 48), pen=6).convert("L")]
    frames += [Image.new("L", (64, 64), k % 256) for k in range(1, 1000)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    start = time.monotonic()
    assert np.array_equal(load_digit(buffer.getvalue()), load_digit(encode(frames[0], "GIF")))
    assert time.monotonic() - start < SECONDS


def test_an_animation_declaring_absurd_frames_is_refused():
    buffer = io.BytesIO()
    draw(7, canvas=(64, 64), box=(8, 8, 48), pen=6).save(buffer, "PNG", save_all=True, append_images=[draw(1)])
    data = bytearray(buffer.getvalue())
    at = data.index(b"acTL")  # the animation control chunk: frame count, plays
    data[at + 4 : at + 8] = struct.pack(">I", 2**31 - 1)
    data[at + 12 : at + 16] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 12])))
    with pytest.raises(DataError, match="declares 2,147,483,647 frames"):
        load_digit(bytes(data), "movie.png")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_images_holding_nan_or_inf_are_one_line(tmp_path, digit_model, bad):
    a = np.zeros((40, 40), np.float32)
    a[10:30, 18:22] = 1.0
    a[5, 5] = bad
    path = tmp_path / "float.tif"
    Image.fromarray(a, "F").save(path)
    nndl("predict", digit_model, path).refused("is a float image holding NaN or infinite values")


def test_a_photo_keeps_its_orientation_when_reduced():
    """EXIF says 'turn 90 degrees'; the digit is read upright though the
    image was reduced before it was turned."""
    upright = draw(7, canvas=(1200, 2400), box=(100, 300, 1000), pen=90)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as the camera stored it
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 clockwise to view
    buffer = io.BytesIO()
    stored.save(buffer, "PNG", exif=exif)
    read, expected = load_digit(buffer.getvalue()), load_digit(encode(upright))
    assert np.abs(read.astype(int) - expected.astype(int)).mean() < 3


# -- data, model and history files: bombs --------------------------------------------


def deflated(header: bytes, zeros: int, chunk: int = 16 * MiB) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``header`` then ``zeros`` zero bytes, made
    fast by repeating one compressed block; with its size and CRC-32."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    stream = head + block * (zeros // chunk) + c.compress(bytes(zeros % chunk)) + c.flush()
    crc, empty = zlib.crc32(header), bytes(chunk)
    for _ in range(zeros // chunk):
        crc = zlib.crc32(empty, crc)
    return stream, len(header) + zeros, zlib.crc32(bytes(zeros % chunk), crc)


def npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": shape})
    return f.getvalue()


def zip_of(members: dict[str, tuple[bytes, int, int]]) -> bytes:
    """A zip archive of raw deflate streams: name -> (stream, unpacked size, CRC-32)."""
    out, central = io.BytesIO(), []
    for name, (data, size, crc) in members.items():
        offset, n = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(n), 0) + n + data)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(data),
                size,
                len(n),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + n
        )
    start = out.tell()
    out.write(b"".join(central))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), out.tell() - start, start, 0))
    return out.getvalue()


def npz_bomb(arrays: dict[str, tuple[tuple[int, ...], str]], small: dict[str, np.ndarray] | None = None) -> bytes:
    """An ``.npz`` whose arrays of zeros honestly hold ``shape`` of ``dtype``, deflated."""
    members = {}
    for name, (shape, dtype) in arrays.items():
        members[f"{name}.npy"] = deflated(npy_header(shape, dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)
    for name, value in (small or {}).items():
        f = io.BytesIO()
        np.save(f, value)
        members[f"{name}.npy"] = deflated(f.getvalue(), 0)
    return zip_of(members)


def gzip_bomb(header: bytes, gigabytes: int = 1) -> bytes:
    """``header`` then a gigabyte of zeros, as concatenated gzip members (about 1 MB)."""
    zeros = gzip.compress(bytes(16 * MiB), mtime=0)
    return gzip.compress(header, mtime=0) + zeros * (64 * gigabytes)


def test_an_npz_bomb_is_refused_before_it_unpacks(tmp_path):
    path = tmp_path / "bomb.npz"
    path.write_bytes(npz_bomb({"x_train": ((2**20, 1024), "u1"), "y_train": ((2**20,), "u1")}))
    assert path.stat().st_size < 2 * MiB
    nndl("train", "--data", path).refused("its members, unpacked, would take 1,074,790,")


def test_a_model_bomb_is_refused_before_it_unpacks(tmp_path):
    """A model of [784, 100000, 10] zeros: 627 MB of valid weights in 600 kB."""
    path = tmp_path / "model.npz"
    small = {"format": np.array("nndl-model"), "format_version": np.array(1), "sizes": np.array([784, 100_000, 10])}
    shapes = {"weights_0": ((100_000, 784), "<f8"), "biases_0": ((100_000, 1), "<f8")}
    shapes |= {"weights_1": ((10, 100_000), "<f8"), "biases_1": ((10, 1), "<f8")}
    path.write_bytes(npz_bomb(shapes, small))
    nndl("evaluate", path).refused("nndl reads at most 134,217,728 from this file")


def test_a_gzip_pickle_bomb_stops_at_the_files_budget(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip_bomb(b""))
    assert path.stat().st_size < 2 * MiB
    nndl("train", "--data", path).refused("holds more than 134,217,728 bytes of data; refusing to read it")


@pytest.mark.parametrize(
    "images, message",
    [
        ((2**18, 28, 28), "more than nndl reads from this file"),  # 205 MB claimed honestly, over the budget
        ((60_000, 28, 28), "holds more data than its header claims"),  # 47 MB claimed, a gigabyte held
    ],
)
def test_a_gzip_idx_bomb_costs_at_most_its_budget(tmp_path, images, message):
    folder = tmp_path / "idx"
    folder.mkdir()
    header = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">3I", *images)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip_bomb(header))
    (folder / "train-labels-idx1-ubyte").write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 1) + b"\0")
    # a small, sound test pair, so the reader gets as far as the bomb
    (folder / "t10k-images-idx3-ubyte").write_bytes(struct.pack(">BBBB3I", 0, 0, 8, 3, 1, 28, 28) + bytes(784))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 1) + b"\0")
    nndl("train", "--data", folder).refused(message)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 1_000_000, "its JSON nests too deeply"),
        ("[" + "7" * 1_000_000 + "]", "an integer of 1,000,000 digits"),
        ("[" + "0," * 2_500_000 + "0]", "holds up to 2,500,002 JSON values; nndl reads at most 2,000,000"),
        ('"' + "a" * 20 * MiB + '"', "is not an nndl history file"),
        ("{" + ",".join(f'"{k:x}": "{k:x}"' for k in range(600_000)) + "}", "holds up to 1,200,000 JSON strings"),
        ("{" + ",".join(f'"{k:x}": "{k:x}"' for k in range(450_000)) + "}", "is not an nndl history file"),
    ],
    ids=["deep", "long number", "many values", "long string", "many strings", "many strings, under the cap"],
)
def test_json_history_bombs_are_one_line(tmp_path, text, message):
    path = tmp_path / "h.json"
    path.write_text(text)
    nndl("plot", "history", path, "--out", tmp_path / "h.png").refused(message)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_float_pixels_that_are_not_numbers_are_one_line(tmp_path, capsys, bad):
    images = np.full((12, 16), 0.5, np.float32)
    images[3, 4] = bad
    np.savez(tmp_path / "d.npz", x_train=images, y_train=np.arange(12) % 10, x_test=images[:2], y_test=np.arange(2))
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--sizes", "16", "10"]) == 2
    err = capsys.readouterr().err
    assert "float images hold NaN or infinite values" in err and err.count("\n") == 1


@permissions
def test_an_unreadable_data_folder_is_one_line(tmp_path, tiny_data):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(tiny_data, folder / "tiny.npz")
    folder.chmod(0)
    try:
        nndl("train", "--data", folder, unprivileged=True).refused("cannot read the folder")
        nndl("train", "--data", folder / "tiny.npz", unprivileged=True).refused("Permission denied")
    finally:
        folder.chmod(0o755)


# -- crafted checkpoints ------------------------------------------------------------


@pytest.fixture(scope="module")
def stopped_run(tiny_data, tmp_path_factory) -> Path:
    """A checkpoint of a tiny run (30 training examples, mini-batch 5)
    stopped inside epoch 1 of 2, before mini-batch 3 of 6."""
    folder = tmp_path_factory.mktemp("ckpt")
    config = TrainConfig(sizes=(16, 5, 10), epochs=2, batch_size=5, data=str(tiny_data), engine="numpy")
    train(config, log=None, checkpoint=folder / "done.npz")
    with np.load(folder / "done.npz") as f:
        members = dict(f)
    members |= {"order": np.random.default_rng(0).permutation(30), "batch": np.array(3), "epoch": np.array(1)}
    members["history"] = np.array(json.dumps([asdict(EpochResult(0, 0.1, 1, 12, 1 / 12, 0.4))]))
    np.savez(folder / "run.npz", **members)
    return folder / "run.npz"


def crafted(stopped: Path, folder: Path, **changes) -> Path:
    with np.load(stopped) as f:
        members = dict(f)
    settings = json.loads(str(members["settings"]))
    if "engine" in changes:
        settings["engine"] = changes.pop("engine")
    members |= changes | {"settings": np.array(json.dumps(settings))}
    path = folder / "crafted.npz"
    np.savez(path, **members)
    return path


@pytest.mark.parametrize("engine", ["reference", "numpy", "numba"])
def test_a_checkpoint_whose_order_is_not_the_datas_is_refused(stopped_run, tmp_path, engine):
    """A permutation of 500 places for 30 examples: on the compiled engine
    it would index outside the data.  Refused, on every engine, in one line."""
    order = np.random.default_rng(1).permutation(500)
    path = crafted(stopped_run, tmp_path, order=order, batch=np.array(50), engine=engine)
    r = nndl("train", "--resume", path)
    assert r.returncode != -signal.SIGSEGV
    r.refused("its saved order has 500 places; the training data has 30")


@FUZZ
@given(length=st.integers(1, 80), batch=st.integers(-2, 20), seed=st.integers(0, 3))
def test_any_saved_order_is_refused_or_is_a_permutation_of_the_data(stopped_run, tmp_path, length, batch, seed):
    order = np.random.default_rng(seed).permutation(length)
    path = crafted(stopped_run, tmp_path, order=order, batch=np.array(batch))
    try:
        net, history = resume(path, log=None)
    except NNDLError as e:
        assert "\n" not in str(e)
    else:
        assert length == 30 and 1 <= batch < 6 and len(history) == 2  # the only acceptable order: one of the data


# -- output paths: checked before any work --------------------------------------------


def output_commands(path: str) -> dict[str, list[str]]:
    """Commands that would work for minutes before writing to ``path``."""
    return {
        "train --save": ["train", "--epochs", "10000", "--save", path],
        "train --checkpoint": ["train", "--epochs", "10000", "--checkpoint", path],
        "train --history": ["train", "--epochs", "10000", "--history", path],
        "train --plot": ["train", "--epochs", "10000", "--plot", path],
        "sweep --out": ["sweep", "--eta", "1", "2", "3", "--epochs", "1000", "--out", path],
        "plot --out": ["plot", "digits", "--out", path],
        "bench --output": ["bench", "--output", path],
    }


KEPT = b"a file someone keeps"


@pytest.fixture(scope="module")
def bad_outputs(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """Paths that are no place for a file nndl writes, and what the refusal says."""
    folder = tmp_path_factory.mktemp("outputs")
    (folder / "a-folder.png").mkdir()
    (folder / "kept.png").write_bytes(KEPT)
    (folder / "link.png").symlink_to(folder / "kept.png")
    os.mkfifo(folder / "fifo.png")
    device = "/dev/null"
    if os.geteuid() == 0:  # a device with a name any command takes (plots want .png)
        device = str(folder / "null.png")
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return {
        "a device": (device, "it is not a regular file"),
        "a folder": (str(folder / "a-folder.png"), "it is a folder"),
        "a symlink": (str(folder / "link.png"), "it is a symbolic link"),
        "a FIFO": (str(folder / "fifo.png"), "it is not a regular file"),
        "a missing folder": (str(folder / "missing" / "x.png"), "does not exist"),
        "an unwritable folder": ("/proc/x.png", "cannot create files in /proc"),
    }


@pytest.mark.parametrize("command", list(output_commands("x")))
@pytest.mark.parametrize(
    "kind", ["a device", "a folder", "a symlink", "a FIFO", "a missing folder", "an unwritable folder"]
)
def test_outputs_are_checked_before_any_work(bad_outputs, command, kind, capsys):
    path, words = bad_outputs[kind]
    if path == "/dev/null" and command in ("train --plot", "plot --out"):
        words = "the output must be a .png file"  # not root: no device of that name to be made
    start = time.monotonic()
    assert main(output_commands(path)[command]) == 2
    out, err = capsys.readouterr()
    assert words in err and err.count("\n") == 1 and "Epoch" not in out
    assert time.monotonic() - start < SECONDS
    assert Path(bad_outputs["a symlink"][0]).resolve().read_bytes() == KEPT


def test_show_input_is_checked_before_any_work(digit_model, capsys):
    assert main(["predict", str(digit_model), "/nonexistent.png", "--show-input", "/dev/null"]) == 2
    assert "cannot write into /dev/null: /dev/null is not a folder" in capsys.readouterr().err


@permissions
def test_an_unwritable_folder_is_found_before_training(tmp_path, tiny_data):
    locked, closed = tmp_path / "locked", tmp_path / "closed"
    for folder, mode in ((locked, 0o555), (closed, 0)):
        folder.mkdir()
        folder.chmod(mode)
    try:
        r = nndl("train", "--data", tiny_data, *TINY, "--save", locked / "m.npz", unprivileged=True)
        r.refused(f"cannot write {locked / 'm.npz'}: cannot create files in {locked} (Permission denied)")
        assert "Epoch" not in r.out
        r = nndl("train", "--data", tiny_data, *TINY, "--history", closed / "h.json", unprivileged=True)
        r.refused(f"cannot write {closed / 'h.json'}: Permission denied")
    finally:
        locked.chmod(0o755)
        closed.chmod(0o755)


def test_two_runs_at_once_cannot_share_a_checkpoint(tmp_path, tiny_data):
    path = tmp_path / "run.npz"
    args = [sys.executable, "-m", "nndl", "train", "--data", tiny_data, *TINY, "--epochs", "3", "--checkpoint", path]
    runs = [subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    runs.append(subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = sorted((p.wait(timeout=120), p.communicate()[1]) for p in runs)
    assert [code for code, _ in results] == [0, 2], results
    assert f"checkpoint {path} already exists" in results[1][1]
    assert load_checkpoint(path).position.epoch == 3


# -- the command line in a pipeline, and stopped twice -----------------------------------


@pytest.mark.parametrize(
    "args",
    [["train", *TINY, "--epochs", "3"], ["evaluate", "MODEL"], ["predict", "MODEL", "IMAGE", "--json"]],
    ids=["train", "evaluate", "predict"],
)
def test_a_closed_pipe_ends_quietly(tmp_path, tiny_data, digit_model, args):
    image = tmp_path / "seven.png"
    draw(7).save(image)
    args = [str(digit_model) if a == "MODEL" else str(image) if a == "IMAGE" else a for a in args]
    if args[0] != "predict":
        args += ["--data", str(tiny_data)]
    if args[0] == "evaluate":
        small = Network([16, 5, 10], seed=0).save(tmp_path / "small.npz")
        args[1] = str(small)
    reader, writer = os.pipe()
    os.close(reader)  # nobody will read what the command prints
    try:
        r = nndl(*args, stdout=writer)
    finally:
        os.close(writer)
    assert r.returncode == 128 + signal.SIGPIPE and r.err == "", r.err


def test_train_into_head_prints_one_line_and_no_traceback(tiny_data):
    command = f"{sys.executable} -m nndl train --data {tiny_data} {' '.join(TINY)} --epochs 200 | head -1"
    r = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert r.stdout.startswith("Epoch 0: ") and r.stdout.count("\n") == 1
    assert r.stderr == "", r.stderr


def test_a_second_signal_stops_at_once_and_says_what_it_did(tmp_path):
    path = tmp_path / "run.npz"
    args = [sys.executable, "-m", "nndl", "train", "--sizes", "784", "10", "10", "--epochs", "20", "--checkpoint"]
    proc = subprocess.Popen([*args, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    assert first.startswith("Epoch 0: "), first
    proc.send_signal(signal.SIGINT)  # asks the run to stop at the next check ...
    proc.send_signal(signal.SIGTERM)  # ... and this one, at once
    out, err = proc.communicate(timeout=120)
    assert proc.returncode in (128 + signal.SIGINT, 128 + signal.SIGTERM), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "stopped at once by a second signal" in err
    assert f"{path} holds the run as its last save left it; go on with: nndl train --resume {path}" in err
    assert load_checkpoint(path).config.epochs == 20  # whole, as the last save left it


# -- structured files, generated --------------------------------------------------------

HISTORY = {
    "settings": TrainConfig().to_dict(),
    "epochs": [
        asdict(EpochResult(0, 0.5, 9000, 10000, 0.9, 0.05)),
        asdict(EpochResult(1, 0.4, 9100, 10000, 0.91, 0.04)),
    ],
}


#: What a field of an epoch's record may hold: mostly plausible numbers, now and then anything.
FIELD = st.one_of(
    *[st.floats(0, 1)] * 4, st.integers(0, 10_000), st.none(), st.floats() | st.text(max_size=3) | st.booleans()
)
RECORD = st.fixed_dictionaries(
    {"epoch": st.integers(-1, 5)},
    optional={name: FIELD for name in EpochResult.__dataclass_fields__ if name != "epoch"},
)
#: History files with fields missing, records in any order, settings doctored -- or near a real one.
STRUCTURED = st.fixed_dictionaries(
    {"epochs": st.lists(RECORD, max_size=6)},
    optional={"settings": st.just(HISTORY["settings"]) | near(HISTORY["settings"])},
)
HISTORIES = st.one_of(STRUCTURED, STRUCTURED, STRUCTURED, near(HISTORY))


@FUZZ
@given(doc=HISTORIES)
@example(doc={"epochs": [{"epoch": 0, "accuracy": 0.5}, {"epoch": 1, "accuracy": 0.6, "cost": 0.1}]})  # cost missing
@example(doc={"epochs": [], "settings": {"sizes": [], "init": []}})  # a start that is not a name
def test_any_history_loads_and_plots_or_is_one_line(tmp_path_factory, doc):
    """Fields dropped, changed or of other types: a history file loads (and
    its learning curves draw) or it is one line naming the problem."""
    from nndl import plots

    path = tmp_path_factory.mktemp("h") / "h.json"
    path.write_text(json.dumps(doc))
    try:
        history = History.load(path)
        assert all(isinstance(e.epoch, int) and isinstance(e.seconds, (int, float)) for e in history)
        plots.learning_curves(history)
    except NNDLError as e:
        assert str(e) and "\n" not in str(e)


IMAGES = {
    np.uint8: None,
    np.int16: None,
    np.float32: st.floats(-1, 2, width=32) | st.sampled_from([np.nan, np.inf, -np.inf]),
    np.float64: st.floats(-1, 2) | st.sampled_from([np.nan, np.inf, -np.inf]),
}
LABELS = {np.uint8: None, np.int64: st.integers(-3, 1500), np.float32: st.floats(-3, 1500, width=32)}


def split_arrays(n: int):
    """Images and labels of a split of ``n`` examples, of any dtype, values and (nearly) any count."""
    images = st.sampled_from(list(IMAGES)).flatmap(
        lambda t: hnp.arrays(t, st.tuples(st.just(n), st.integers(1, 5)), elements=IMAGES[t])
    )
    labels = st.sampled_from(list(LABELS)).flatmap(
        lambda t: hnp.arrays(t, st.integers(n - 1, n + 1), elements=LABELS[t])
    )
    return st.tuples(images, labels)


@FUZZ
@given(train_part=st.integers(6, 12).flatmap(split_arrays), test_part=st.integers(1, 4).flatmap(split_arrays))
def test_any_npz_data_set_is_read_whole_and_right_or_is_one_line(tmp_path_factory, train_part, test_part):
    """Whatever an ``.npz`` data set holds -- NaN, infinities, negative or
    huge labels, bytes or floats, mismatched counts -- what loads keeps the
    promises of a Dataset, and the rest is one line."""
    path = tmp_path_factory.mktemp("d") / "d.npz"
    np.savez(path, x_train=train_part[0], y_train=train_part[1], x_test=test_part[0], y_test=test_part[1])
    try:
        data = load(path)
    except NNDLError as e:
        assert "\n" not in str(e)
        return
    for split in (data.train, data.validation, data.test):
        assert len(split.images) == len(split.labels) > 0 and split.images.shape[1] == data.n_inputs
        assert split.labels.min() >= 0 and split.labels.max() < 1000
        if split.images.dtype != np.uint8:
            assert np.isfinite(split.images).all() and 0 <= split.images.min() and split.images.max() <= 1
    assert len(data.train) + len(data.validation) == len(train_part[1])


@FUZZ
@given(
    sizes=st.lists(st.integers(1, 12), min_size=2, max_size=4),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**32),
)
def test_models_round_trip_bit_for_bit(tmp_path_factory, sizes, dtype, seed):
    net = Network(sizes, seed=seed, dtype=dtype)
    back = Network.load(net.save(tmp_path_factory.mktemp("m") / "m.npz", {"seed": seed}))
    assert back.sizes == sizes and back.dtype == np.dtype(dtype)
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert a.dtype == b.dtype and np.array_equal(a, b) and b.flags.writeable
