"""The chapter's baselines: average darkness and the SVM."""

from __future__ import annotations

import re
import sys
from collections import defaultdict

import numpy as np
import pytest
from sklearn.svm import SVC

from nndl import ConfigError, baselines
from nndl.baselines import AverageDarkness
from nndl.cli import main


def nndl(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (MNIST is loaded once): status, stdout, stderr."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_darkness_reproduces_the_books_2225(mnist):
    """The book: 2,225 of the 10,000 test images right (22.25 %)."""
    result = baselines.darkness(mnist)
    assert (result.correct, result.total, result.train_size) == (2225, 10_000, 50_000)
    assert result.line() == "2225 / 10000 (22.25 %)"


def test_darkness_agrees_with_the_books_loop(mnist):
    """The book's algorithm written as its loops: per-digit totals, then the closest mean."""
    X, y = mnist.train.X()[:2000], mnist.train.y[:2000]
    totals, counts = defaultdict(float), defaultdict(int)
    for image, digit in zip(X, y):
        totals[digit] += float(image.sum())
        counts[digit] += 1
    avgs = {d: totals[d] / counts[d] for d in totals}
    Xt = mnist.test.X()[:500]
    expected = [min(avgs, key=lambda d: abs(avgs[d] - float(image.sum()))) for image in Xt]
    model = AverageDarkness().fit(X, y)
    np.testing.assert_allclose(model.means_, [avgs[d] for d in model.classes_])
    np.testing.assert_array_equal(model.predict(Xt), expected)


def test_darkness_cli(capsys):
    status, out, err = nndl(capsys, "baseline", "darkness")
    assert (status, out) == (0, "2225 / 10000 (22.25 %)\n")
    assert "average darkness, trained on 50,000 images" in err


def test_svm_gamma_auto_is_one_over_784(mnist):
    """gamma='auto' is the book's 1/784: the same predictions as SVC(gamma=1/784)."""
    result = baselines.svm(mnist, gamma="auto", limit=300)
    oracle = SVC(kernel="rbf", C=1.0, gamma=1 / 784).fit(mnist.train.X()[:300], mnist.train.y[:300])
    assert result.correct == int((oracle.predict(mnist.test.X()) == mnist.test.y).sum())
    assert (result.total, result.train_size) == (10_000, 300)
    assert 0.5 < result.accuracy < 0.9


def test_svm_cli_labels_gamma_and_limits_training(capsys):
    auto = nndl(capsys, "baseline", "svm", "--limit", "200")
    scale = nndl(capsys, "baseline", "svm", "--limit", "200", "--gamma", "scale")
    for status, out, err in (auto, scale):
        assert status == 0
        assert re.fullmatch(r"\d+ / 10000 \(\d+\.\d\d %\)\n", out)
        assert "trained on 200 images" in err and "expect under a minute" in err
    assert "gamma='auto'" in auto[2] and "the default of the book's day" in auto[2]
    assert "gamma='scale'" in scale[2] and "default today" in scale[2]
    # On MNIST today's default does better.
    assert int(scale[1].split()[0]) > int(auto[1].split()[0])


def test_bad_settings_are_named(mnist, capsys):
    with pytest.raises(ConfigError, match="gamma must be one of auto, scale, got 0.1"):
        baselines.svm(mnist, gamma=0.1)
    with pytest.raises(ConfigError, match="limit must be a positive integer, got 0"):
        baselines.darkness(mnist, limit=0)
    status, _, err = nndl(capsys, "baseline", "svm", "--limit", "-5")
    assert (status, err) == (2, "nndl baseline: error: limit must be a positive integer, got -5\n")


def test_svm_without_scikit_learn_says_how_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.svm", None)
    status, _, err = nndl(capsys, "baseline", "svm", "--limit", "10")
    assert status == 2
    assert err == (
        "nndl baseline: error: the SVM baseline needs the 'sklearn' extra: pip install \"nndl[sklearn]\" "
        '(from a checkout: pip install -e ".[sklearn]")\n'
    )
