"""Robustness curves: no distortion is the plain test accuracy (``nndl
evaluate``'s), amount 0 changes no pixel, the distortions are ``--expand``'s
own, and ``nndl plot robustness`` draws the curves it measured."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nndl import ConfigError, Network
from nndl import expand as E
from nndl.cli import main
from nndl.robustness import DISTORTIONS, distorted, robustness


@pytest.mark.parametrize("kind", list(DISTORTIONS))
def test_amount_zero_changes_no_pixel(mnist, kind):
    images = mnist.test.images[:500]
    out = distorted(images, kind, 0, seed=3)
    assert out.dtype == np.uint8 and np.array_equal(out, images)


def test_the_distortions_are_expands(mnist):
    images = mnist.test.images[:50]
    # a rotation by 30 degrees, either way, is --expand's rotation of that amount
    turned = distorted(images, "rotate", 30, seed=1)
    clockwise = E.distort(images, E.distortion_params(np.full(50, 30.0), 1.0, 0.0, 0.0, 0.0, 0.0))
    anti = E.distort(images, E.distortion_params(np.full(50, -30.0), 1.0, 0.0, 0.0, 0.0, 0.0))
    assert all(np.array_equal(t, c) or np.array_equal(t, a) for t, c, a in zip(turned, clockwise, anti))
    assert not np.array_equal(turned, clockwise) and not np.array_equal(turned, anti)  # both directions drawn
    # a thicker stroke: the same bytes as --expand's stroke change
    thick = E.distort(images, E.distortion_params(0.0, 1.0, 0.0, 0.0, 0.0, np.full(50, 0.5)))
    assert np.array_equal(distorted(images, "stroke", 0.5), thick)
    # a shift of 2 moves each digit 2 whole pixels along one axis (what leaves the field is lost)
    moved = distorted(images, "shift", 2, seed=1).reshape(-1, 28, 28)
    for before, after in zip(images.reshape(-1, 28, 28), moved):
        padded = np.pad(before, 2)
        shifts = [padded[2 - dy : 30 - dy, 2 - dx : 30 - dx] for dy, dx in ((2, 0), (-2, 0), (0, 2), (0, -2))]
        assert any(np.array_equal(s, after) for s in shifts)


def test_noise_has_the_asked_spread(mnist):
    images = mnist.test.images[:200]
    noised = distorted(images, "noise", 0.1, seed=0).astype(float)
    mid = (images > 60) & (images < 195)  # where clipping to 0..255 does not bite
    assert np.std(noised[mid] - images[mid]) == pytest.approx(25.5, rel=0.05)
    assert np.array_equal(distorted(images, "noise", 0.1, seed=0), distorted(images, "noise", 0.1, seed=0))


def test_bad_amounts_are_one_line(mnist):
    with pytest.raises(ConfigError, match="rotate must be a number from -180 to 180, got 400"):
        distorted(mnist.test.images[:2], "rotate", 400)
    with pytest.raises(ConfigError, match="distortion must be one of shift, rotate, stroke, noise, got 'blur'"):
        robustness(Network([784, 5, 10], seed=0), mnist.test, {"blur": [1]})


def test_zero_distortion_is_evaluates_accuracy(digit_model, mnist, capsys):
    assert main(["evaluate", str(digit_model)]) == 0
    correct = int(re.match(r"(\d+) / 10000", capsys.readouterr().out).group(1))
    net = Network.load(digit_model)
    curves = robustness(net, mnist.test, {k: [0, v["amounts"][-1]] for k, v in DISTORTIONS.items()})
    for c in curves.values():
        assert c.n == 10_000 and c.accuracies[0] == correct / 10_000
        assert c.accuracies[1] < c.accuracies[0] - 0.05  # the largest amount hurts


def test_a_sample_is_fixed_by_its_seed(digit_model, mnist):
    net = Network.load(digit_model)
    a = robustness(net, mnist.test, {"rotate": [0, 20]}, sample=300, seed=4)
    b = robustness(net, mnist.test, {"rotate": [0, 20]}, sample=300, seed=4)
    assert a["rotate"].accuracies == b["rotate"].accuracies and a["rotate"].n == 300
    # the sample's accuracy at 0 is the network's on those very digits
    pick = np.sort(np.random.default_rng(4).choice(10_000, 300, replace=False))
    assert a["rotate"].accuracies[0] == np.mean(net.predict(mnist.test.images[pick]) == mnist.test.labels[pick])


def test_plot_robustness_draws_each_models_curves(tmp_path, digit_model, mnist, capsys):
    from nndl import plots

    net = Network.load(digit_model)
    curves = {"one": robustness(net, mnist.test, {"shift": [0, 3]}, sample=200)}
    fig = plots.robustness(curves)
    (line,) = fig.axes[0].lines
    np.testing.assert_allclose(line.get_ydata(), [100 * a for a in curves["one"]["shift"].accuracies])
    out = tmp_path / "r.png"
    assert main(["plot", "robustness", str(digit_model), str(digit_model), "--sample", "100", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", "robustness", str(digit_model), "--sample", "0", "--out", str(out)]) == 2
    assert "sample must be a whole number from 1 to 10000, got 0" in capsys.readouterr().err
