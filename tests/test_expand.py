"""Expanded data: each distortion checked against an exact picture of it
(NumPy's rotations and shifts, a max/min filter), the compiled and NumPy
paths against each other, and the draws for reproducibility and range."""

from __future__ import annotations

import numpy as np
import pytest

from nndl import ConfigError, DataError, Dataset, Network, TrainConfig, train
from nndl import expand as E
from nndl.loop import Position

pytestmark = pytest.mark.filterwarnings("ignore::numba.NumbaPerformanceWarning") if E.numba else []

PATHS = ["numpy"] + (["numba"] if E.numba else [])


def distort(images: np.ndarray, params: np.ndarray, path: str) -> np.ndarray:
    if path == "numba":
        return E.distort(images, params)
    out = np.zeros_like(images)
    E.distort_numpy(images, params, out)
    return out


def one(image: np.ndarray, path: str, **amounts) -> np.ndarray:
    """``image`` (28 x 28) distorted by the given amounts (others: none)."""
    a = {"angle": 0, "scale": 1, "shear": 0, "shift_x": 0, "shift_y": 0, "stroke": 0, **amounts}
    return distort(image.reshape(1, -1), E.distortion_params(**a), path).reshape(image.shape)


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.test.images[:300]


@pytest.mark.parametrize("path", PATHS)
def test_exact_distortions(digits, path):
    for image in digits[:20].reshape(-1, 28, 28):
        assert np.array_equal(one(image, path), image)
        # a quarter turn lands every pixel on a pixel: rot90, clockwise as shown (y points down)
        assert np.array_equal(one(image, path, angle=90), np.rot90(image, -1))
        assert np.array_equal(one(image, path, angle=-90), np.rot90(image, 1))
        # whole-pixel shifts; what leaves the field is lost, what enters is blank
        moved = np.zeros_like(image)
        moved[2:, :-3] = image[:-2, 3:]
        assert np.array_equal(one(image, path, shift_x=-3, shift_y=2), moved)
        # a half-pixel shift averages neighbours (bilinear), rounded to bytes
        half = np.floor((image.astype(float) + np.pad(image, ((0, 0), (1, 0)))[:, :-1]) / 2 + 0.5)
        assert np.array_equal(one(image, path, shift_x=0.5), half)
        # the stroke change mixes each pixel with its four neighbours' max (thicker) or min (thinner)
        p = np.pad(image.astype(float), 1)
        near = np.stack([p[1:-1, 1:-1], p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])
        assert np.array_equal(one(image, path, stroke=1), near.max(axis=0))
        assert np.array_equal(one(image, path, stroke=-1), near.min(axis=0))
        thicker = image + 0.5 * (near.max(axis=0) - image)
        assert np.array_equal(one(image, path, stroke=0.5), np.floor(thicker + 0.5))


@pytest.mark.parametrize("path", PATHS)
def test_scaling_about_the_centre(path):
    """A 2-pixel square at the centre, doubled, is a 4-pixel square there."""
    image = np.zeros((28, 28), np.uint8)
    image[13:15, 13:15] = 200
    big = one(image, path, scale=2)
    assert big[12:16, 12:16].min() > 0 and int(big.sum()) == pytest.approx(4 * int(image.sum()), rel=0.05)
    assert np.array_equal(big, big[::-1, ::-1])  # still centred


def test_compiled_and_numpy_agree(digits):
    if not E.numba:
        pytest.skip("needs the fast extra (Numba) for the compiled path")
    params = E.draw_distortions(len(digits), np.random.default_rng(1), E.Distortion(rotate=30, shear=0.5, stroke=1))
    a, b = distort(digits, params, "numba"), distort(digits, params, "numpy")
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 1 and np.count_nonzero(diff) <= 0.001 * diff.size
    assert not np.array_equal(a, digits)


def test_draws_are_reproducible_and_within_bounds(digits):
    a = E.epoch_images(digits, seed=3, epoch=5)
    assert a.dtype == np.uint8 and a.shape == digits.shape
    assert np.array_equal(a, E.epoch_images(digits.copy(), seed=3, epoch=5))
    assert not np.array_equal(a, E.epoch_images(digits, seed=3, epoch=6))
    assert not np.array_equal(a, E.epoch_images(digits, seed=4, epoch=5))
    d = E.Distortion(rotate=10, scale=0.1, shear=0.2, shift=1.5, stroke=0.6)
    p = E.draw_distortions(20_000, np.random.default_rng(0), d)
    det = p[:, 0] * p[:, 3] - p[:, 1] * p[:, 2]  # 1 / scale^2: slant and turn keep areas
    assert 1 / 1.1**2 <= det.min() < 1 / 1.09**2 and 1 / 0.91**2 < det.max() <= 1 / 0.9**2
    for column, bound in ((4, 1.5), (5, 1.5), (6, 0.6)):
        assert 0.98 * bound < np.abs(p[:, column]).max() <= bound
    # no distortion at all: the images themselves
    assert np.array_equal(E.expand(digits, np.random.default_rng(0), E.Distortion(0, 0, 0, 0, 0)), digits)


def test_expanded_digits_are_still_the_digits(mnist, digit_model):
    """Oracle: a network trained on plain MNIST reads the distorted test
    digits almost as well as the plain ones; wildly distorted ones it cannot."""
    net = Network.load(digit_model)
    images, labels = mnist.test.images[:1000], mnist.test.labels[:1000]
    plain = (net.predict(images) == labels).mean()
    expanded = (net.predict(E.epoch_images(images, seed=0, epoch=0)) == labels).mean()
    wild = E.Distortion(rotate=45, scale=0.5, shear=1, shift=8, stroke=1)
    assert plain - 0.2 <= expanded < plain
    assert (net.predict(E.expand(images, np.random.default_rng(0), wild)) == labels).mean() < 0.4


def test_training_on_expanded_data_is_reproducible(mnist):
    def run():
        net = Network([784, 10, 10], seed=2)
        history = E.sgd(net, mnist.train.head(1000), 2, 10, 3.0, mnist.test.head(500), seed=5, log=None)
        return net, history

    (a, ha), (b, hb) = run(), run()
    assert [e.epoch for e in ha.epochs] == [0, 1] and ha.epochs[-1].total == 500
    assert all(np.array_equal(x, y) for x, y in zip(a.weights + a.biases, b.weights + b.biases))
    assert [e.correct for e in ha.epochs] == [e.correct for e in hb.epochs]


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda d: E.expand(d.astype(np.float32), np.random.default_rng(0)), DataError, "must be uint8"),
        (lambda d: E.expand(d[:, :780], np.random.default_rng(0)), DataError, "must be square, got 780"),
        (lambda d: E.expand(d, np.random.default_rng(0), E.Distortion(rotate=90)), ConfigError, "rotate must be"),
        (lambda d: E.expand(d, np.random.default_rng(0), E.Distortion(stroke=-1)), ConfigError, "stroke must be"),
        (lambda d: E.epoch_images(d, seed=-1, epoch=0), ConfigError, "seed must be a non-negative integer"),
        (lambda d: E.distort(d, np.zeros((3, 7))), ConfigError, "params must have shape (300, 7)"),
    ],
)
def test_bad_input_is_one_line(digits, call, error, words):
    with pytest.raises(error) as e:
        call(digits)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_one_way_to_train_on_expanded_data(mnist, monkeypatch):
    """``nndl train --expand`` trains through :func:`nndl.expand.sgd`, which
    numbers the epochs itself and, cut short, goes on from where it stopped
    to the uninterrupted run's parameters, bit for bit."""
    data = Dataset(mnist.train.head(1000), mnist.validation.head(100), mnist.test.head(300))
    seeds = []
    sgd = E.sgd
    monkeypatch.setattr(E, "sgd", lambda *args, **options: seeds.append(options["seed"]) or sgd(*args, **options))
    trained, history = train(TrainConfig(sizes=(784, 10, 10), epochs=3, seed=5, expand=True), data=data, log=None)
    assert seeds == [5]
    whole = Network([784, 10, 10], seed=5, dtype="float32")
    lines: list[str] = []
    whole_history = sgd(whole, data.train, 3, 10, 3.0, data.test, seed=5, log=lines.append)
    assert [e.epoch for e in whole_history] == [0, 1, 2] and [line[:8] for line in lines] == [
        "Epoch 0:",
        "Epoch 1:",
        "Epoch 2:",
    ]
    assert [e.correct for e in whole_history] == [e.correct for e in history]
    assert all(np.array_equal(a, b) for a, b in zip(whole.weights + whole.biases, trained.weights + trained.biases))
    cut = Network([784, 10, 10], seed=5, dtype="float32")
    cut_history = sgd(cut, data.train, 1, 10, 3.0, data.test, seed=5, log=None)
    sgd(cut, data.train, 3, 10, 3.0, data.test, seed=5, log=None, history=cut_history, start=Position(1))
    assert [e.epoch for e in cut_history] == [0, 1, 2]
    assert all(np.array_equal(a, b) for a, b in zip(whole.weights + whole.biases, cut.weights + cut.biases))
