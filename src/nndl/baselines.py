"""The chapter's yardsticks: guessing by darkness, and a support vector machine.

Before the network, the book asks how well simpler ideas do on MNIST:

* **Average darkness.**  A 1 uses less ink than an 8.  For each digit ``d``
  compute the mean total darkness ``D_d = mean_{x of digit d} sum_j x_j``
  over the training images; classify an image by the digit whose ``D_d`` is
  closest to the image's own darkness.  The book: 2,225 of 10,000 right.
* **A support vector machine** with scikit-learn's ``SVC`` as it was set up
  in the book's day: an RBF kernel ``K(x, x') = exp(-gamma ||x - x'||^2)``,
  ``C = 1`` and ``gamma = 1 / 784`` (``gamma='auto'``), trained on the 50,000
  training images.  The book: 9,435 of 10,000.  Today's default,
  ``gamma='scale'`` (``1 / (784 Var[x])``), scores higher.

Each baseline returns a :class:`BaselineResult` for the test images.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .data import Dataset
from .errors import ConfigError, require
from .loop import _quiet

#: gamma settings of :func:`svm`, and what each means.
SVM_GAMMAS = {
    "auto": "gamma = 1 / pixels, the default of the book's day",
    "scale": "gamma = 1 / (pixels * Var[x]), scikit-learn's default today",
}
#: CPU seconds one full run (50,000 training images, gamma='auto') took:
#: fitting, scoring the 10,000 test images.
SVM_FULL_SECONDS = (275, 107)
#: Test images per call to ``SVC.predict`` (one step of the progress bar).
PREDICT_CHUNK = 500


@dataclass(frozen=True)
class BaselineResult:
    """How a baseline did on the test images."""

    name: str
    correct: int
    total: int
    train_size: int
    seconds: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.total

    def line(self) -> str:
        """``correct / total (accuracy %)``, the line the network prints too."""
        return f"{self.correct} / {self.total} ({100 * self.accuracy:.2f} %)"


# -- average darkness -----------------------------------------------------------


class AverageDarkness:
    """The book's average-darkness classifier.

    :meth:`fit` stores ``means_[k]``, the mean total darkness of the
    training images of class ``classes_[k]``; :meth:`predict` picks, for each
    image, the class whose mean is closest to the image's darkness.
    """

    def fit(self, X: np.ndarray, y: np.ndarray) -> AverageDarkness:
        darkness = _darkness(X)
        self.classes_ = np.unique(y)
        self.means_ = np.array([darkness[y == c].mean() for c in self.classes_])
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        gaps = np.abs(_darkness(X)[:, None] - self.means_[None, :])
        return self.classes_[gaps.argmin(axis=1)]


def _darkness(X: np.ndarray) -> np.ndarray:
    """Total darkness ``sum_j x_j`` of each row, summed in float64."""
    return np.asarray(X).sum(axis=1, dtype=np.float64)


def darkness(data: Dataset, limit: int | None = None) -> BaselineResult:
    """Score the average-darkness classifier: fit on (the first ``limit`` of)
    ``data.train``, count the right guesses on ``data.test``."""
    train = data.train.head(limit)
    t0 = time.perf_counter()
    model = AverageDarkness().fit(train.X(), train.y)
    correct = int((model.predict(data.test.X()) == data.test.y).sum())
    return BaselineResult("average darkness", correct, len(data.test), len(train), time.perf_counter() - t0)


# -- support vector machine -----------------------------------------------------


def svm(
    data: Dataset,
    gamma: str = "auto",
    limit: int | None = None,
    *,
    progress: bool | None = False,
    log: Callable[[str], None] | None = None,
) -> BaselineResult:
    """Score an RBF support vector machine (``C = 1``) on ``data.test``,
    trained on (the first ``limit`` of) ``data.train``.

    ``gamma`` is ``'auto'`` (``1 / pixels``, as in the book) or ``'scale'``
    (see :data:`SVM_GAMMAS`).  Training on all 50,000 MNIST images takes
    minutes: ``log`` receives a line saying so, and with ``progress`` a bar
    on stderr shows the time spent fitting, then the test images scored.
    """
    sklearn_svm = require("sklearn.svm", "the SVM baseline", "sklearn")
    if gamma not in SVM_GAMMAS:
        raise ConfigError(f"gamma must be one of {', '.join(SVM_GAMMAS)}, got {gamma!r}")
    from tqdm.auto import tqdm

    train = data.train.head(limit)
    X_test, y_test = data.test.X(np.float32), data.test.y
    if log is not None:
        log(
            f"Training SVC(kernel='rbf', C=1, gamma={gamma!r}) on {len(train):,} images "
            f"({SVM_GAMMAS[gamma]}); expect {_svm_estimate(len(train))}"
        )
    t0 = time.perf_counter()
    model = sklearn_svm.SVC(kernel="rbf", C=1.0, gamma=gamma)
    with _ticking("fitting", progress):
        model.fit(train.X(np.float32), train.y)
    if log is not None:
        log(f"Fitted in {time.perf_counter() - t0:.0f} s with {model.n_support_.sum():,} support vectors; scoring")
    correct = 0
    with tqdm(total=len(y_test), desc="scoring", unit="image", leave=False, disable=_quiet(progress)) as bar:
        for k in range(0, len(y_test), PREDICT_CHUNK):
            chunk = slice(k, k + PREDICT_CHUNK)
            correct += int((model.predict(X_test[chunk]) == y_test[chunk]).sum())
            bar.update(len(y_test[chunk]))
    name = f"SVM (RBF, C=1, gamma={gamma})"
    return BaselineResult(name, correct, len(y_test), len(train), time.perf_counter() - t0)


def _svm_estimate(n: int) -> str:
    """A rough duration for fitting and scoring with ``n`` training images.

    libsvm's fit grows about as ``n^2`` and scoring as the number of support
    vectors, about as ``n``; one run on all 50,000 MNIST images took
    :data:`SVM_FULL_SECONDS` of one CPU core (scikit-learn 1.9, a 2020s x86
    core), a quarter of it scoring.
    """
    fit, score = SVM_FULL_SECONDS
    seconds = fit * (n / 50_000) ** 2 + score * n / 50_000
    if seconds < 60:
        return "under a minute"
    if seconds < 90:
        return "about a minute"
    return f"roughly {seconds / 60:.0f} minutes of one CPU core (longer on a busy machine)"


@contextmanager
def _ticking(desc: str, progress: bool | None) -> Iterator[None]:
    """A bar that shows the seconds spent on one long call with no progress
    of its own (libsvm's fit reports none)."""
    from tqdm.auto import tqdm

    bar = tqdm(desc=desc, bar_format="{desc}: {elapsed}", leave=False, disable=_quiet(progress))
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(1.0):
            bar.refresh()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.close()
