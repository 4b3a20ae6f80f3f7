"""Real images become MNIST digits: cropped, fitted into 20x20, centred by mass."""

from __future__ import annotations

import struct
import time
import zlib

import numpy as np
import pytest
from drawing import draw, encode, mnist_on_paper
from PIL import Image

from nndl import DataError
from nndl.images import BOX, MAX_PIXELS, STROKE_RANGE, even_strokes, load_digit, stroke_width, to_mnist, work_size
from nndl.network import Network


def centre_of_mass(d: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(d.shape)
    return float((ys * d).sum() / d.sum()), float((xs * d).sum() / d.sum())


def ink_box(d: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(d.any(axis=1)), np.flatnonzero(d.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_large_off_centre_digit_ends_centred_like_mnist(mnist):
    # a 0 drawn 240 px tall in the top-left corner of a 600 x 400 sheet of paper
    digit = to_mnist(draw(0, canvas=(600, 400), box=(10, 10, 240)))
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    cy, cx = centre_of_mass(digit.astype(float))
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    h, w = ink_box(digit)
    assert h == 20 and 12 <= w <= 20  # the longer side fits the 20-pixel box
    assert digit.max() == 255 and digit[0].max() == digit[:, 0].max() == 0
    # MNIST's own digits: centre of mass at (14, 14) within a pixel, box at most 20
    for image in mnist.test.images[:50]:
        my, mx = centre_of_mass(image.reshape(28, 28).astype(float))
        assert abs(my - 14) < 1 and abs(mx - 14) < 1
        assert max(ink_box(image.reshape(28, 28))) <= 20


def test_position_and_size_do_not_matter():
    small = to_mnist(draw(7, canvas=(60, 60), box=(5, 5, 40), pen=4))
    large = to_mnist(draw(7, canvas=(900, 700), box=(600, 380, 300), pen=30))
    assert np.abs(small.astype(int) - large.astype(int)).mean() < 12


def test_light_on_dark_is_the_same_digit_as_dark_on_light():
    dark_on_light = to_mnist(draw(7, paper="white", ink="black"))
    light_on_dark = to_mnist(draw(7, paper="black", ink="white"))
    coloured = to_mnist(draw(7, paper=(250, 240, 200), ink=(20, 40, 140)))
    assert np.array_equal(dark_on_light, light_on_dark)
    assert np.abs(dark_on_light.astype(int) - coloured.astype(int)).max() <= 8


@pytest.mark.parametrize("ink", [(0, 0, 0, 255), (255, 255, 255, 255)])
def test_transparent_pixels_are_background(ink):
    # strokes on a fully transparent canvas (whose hidden colour is black) read
    # as the digit whatever the ink's colour
    transparent = draw(1, paper=(0, 0, 0, 0), ink=ink, mode="RGBA")
    on_paper = draw(1)
    assert np.array_equal(to_mnist(transparent), to_mnist(on_paper))
    # and through a PNG file, grey + alpha and palette with a transparent colour
    assert np.array_equal(load_digit(encode(transparent.convert("LA"))), to_mnist(on_paper))
    indices = (np.asarray(transparent)[..., 3] > 0).astype(np.uint8)  # 0: transparent, 1: ink
    palette = Image.fromarray(indices, mode="P")
    palette.putpalette([0, 0, 0, *ink[:3]])
    assert np.array_equal(load_digit(encode(palette, transparency=0)), to_mnist(on_paper))


def test_bytes_read_like_mnist_training_data():
    digit = load_digit(encode(draw(1), "JPEG", quality=85))
    x = digit / 256
    assert 0 <= x.min() and x.max() < 1
    assert np.count_nonzero(digit[:, :4]) == 0  # JPEG noise on the paper stays background


def test_preprocessing_mnist_digits_on_paper_keeps_them_readable(mnist, digit_model):
    """Oracle: MNIST test digits printed dark on light, as 28x28 scans and
    blown up to 200x200, read as well as the raw digits do."""
    net = Network.load(digit_model)
    images, labels = mnist.test.images[:300], mnist.test.labels[:300]
    raw = (net.predict(images) == labels).mean()
    for side in (28, 200):
        seen = np.stack([to_mnist(mnist_on_paper(im, side)) for im in images])
        assert (net.predict(seen.reshape(300, -1)) == labels).mean() >= raw - 0.03


def mnist_width(digit: np.ndarray) -> float:
    """A 28 x 28 digit's stroke width in pixels of MNIST's 20 x 20 box,
    measured as the preprocessing measures it."""
    work = work_size(ink_crop(digit.reshape(28, 28) / 255.0))
    return stroke_width(work) * BOX / max(work.shape)


def ink_crop(d: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(d.any(axis=1)), np.flatnonzero(d.any(axis=0))
    return d[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)


def test_stroke_range_is_mnists(mnist):
    """Oracle: the range pens are brought into is the 10th to 90th
    percentile of MNIST's own training digits."""
    widths = [mnist_width(im) for im in mnist.train.images[:2000]]
    assert np.allclose(np.percentile(widths, [10, 90]), STROKE_RANGE, atol=0.1)
    # and the measure itself: a long bar 6 wide is about 6 wide, whichever way it lies
    bar = np.zeros((700, 700), np.float32)
    bar[50:650, 300:306] = 1
    assert stroke_width(bar) == pytest.approx(6, rel=0.02) and stroke_width(bar.T) == stroke_width(bar)


@pytest.mark.parametrize("digit", [0, 1, 7])
def test_a_fine_pen_on_a_big_sheet_reads_as_thick_as_mnist(digit):
    """A 2-pixel pen on a 400-pixel digit would shrink to a faint trace a
    tenth of a pixel wide; it is thickened to MNIST's range instead and
    looks like the same digit written with a pen of MNIST's width."""
    lo, hi = STROKE_RANGE
    fine = to_mnist(draw(digit, canvas=(900, 700), box=(300, 200, 400), pen=2))
    usual = to_mnist(draw(digit, canvas=(900, 700), box=(300, 200, 400), pen=40))  # 2 pixels of 20
    assert lo - 0.2 <= mnist_width(fine) <= hi and lo <= mnist_width(usual) <= hi
    assert fine.max() == 255 and np.count_nonzero(fine >= 128) >= 0.85 * np.count_nonzero(usual >= 128)
    assert np.abs(fine.astype(int) - usual.astype(int)).mean() < 8
    # a felt marker 6 pixels of 20 wide is thinned into range
    thick = to_mnist(draw(digit, canvas=(900, 700), box=(300, 200, 400), pen=120))
    assert mnist_width(thick) <= hi + 0.3


def test_pens_like_mnists_are_left_alone(mnist):
    """Digits whose strokes are already in MNIST's range go through unchanged."""
    for image in mnist.test.images[:100]:
        work = work_size(ink_crop(image.reshape(28, 28) / 255.0))
        if STROKE_RANGE[0] <= stroke_width(work) * BOX / max(work.shape) <= STROKE_RANGE[1]:
            assert even_strokes(work) is work


def png_header(width: int, height: int) -> bytes:
    """A PNG's signature and header chunk claiming ``width x height`` pixels, and no pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + end


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"not an image at all", "not an image"),
        (encode(draw(1))[:400], "not a readable image"),  # truncated PNG
        (png_header(8000, 8000), f"more than the {MAX_PIXELS:,}"),  # a claimed 64 megapixels
        (png_header(200_000, 200_000), "not a readable image"),  # Pillow's own bomb guard
        (encode(Image.new("L", (50, 50), 255)), "blank"),
    ],
)
def test_bad_images_give_one_line(data, words):
    t0 = time.perf_counter()
    with pytest.raises(DataError) as e:
        load_digit(data, "upload.png")
    message = str(e.value)
    assert words in message and "upload.png" in message and "\n" not in message
    assert time.perf_counter() - t0 < 10  # nothing as large as the claim was decoded (that takes minutes)


def test_image_files(tmp_path):
    path = tmp_path / "seven.png"
    draw(7).save(path)
    assert np.array_equal(load_digit(path), to_mnist(draw(7)))
    with pytest.raises(DataError, match="no such file"):
        load_digit(tmp_path / "missing.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"])
def test_mutated_files_raise_only_data_error(fmt):
    """Bytes flipped, cut, repeated: the result is a digit or a DataError, nothing else."""
    original = encode(draw(7, canvas=(64, 48), box=(10, 4, 40), pen=5), fmt)
    rng = np.random.default_rng(len(fmt))
    outcomes = set()
    for _ in range(150):
        data = bytearray(original)
        for _ in range(int(rng.integers(1, 8))):
            k = int(rng.integers(len(data)))
            data[k] = int(rng.integers(256))
        if rng.random() < 0.3:
            data = data[: int(rng.integers(1, len(data)))]
        if rng.random() < 0.1:
            data = data * 3
        try:
            digit = load_digit(bytes(data), "mutated")
        except DataError as e:
            assert "\n" not in str(e)
            outcomes.add("refused")
        else:
            assert digit.shape == (28, 28) and digit.dtype == np.uint8
            outcomes.add("read")
    assert "refused" in outcomes
