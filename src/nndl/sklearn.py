"""The chapter's network as a scikit-learn classifier.

:class:`NNDLClassifier` wraps :class:`~nndl.network.Network` in
scikit-learn's estimator contract, so the book's network drops into
``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and the rest::

    from nndl import load
    from nndl.sklearn import NNDLClassifier

    data = load()
    clf = NNDLClassifier(hidden_layer_sizes=(30,), epochs=10, eta=3.0, random_state=0)
    clf.fit(data.train.X(), data.train.y).score(data.test.X(), data.test.y)  # 0.9462, as nndl train

The network is the chapter's, unchanged: sigmoid neurons, the quadratic
cost, mini-batch SGD.  Its input layer is as wide as ``X`` and its output
layer has one neuron per class; the labels can be anything scikit-learn
accepts as classes (digits, strings ...), mapped in sorted order to the
output neurons.  Like the book's network it expects inputs of about [0, 1]
(MNIST's ``byte / 256``): larger features still work but saturate the
sigmoids, so scale them first (``MinMaxScaler`` in a ``Pipeline``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .config import MAX_BATCH, MAX_EPOCHS, check_dtype, check_eta, check_integer
from .errors import ConfigError, require
from .network import Network

require("sklearn", "nndl.sklearn", "sklearn")

from sklearn.base import BaseEstimator, ClassifierMixin  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402
from sklearn.utils.multiclass import check_classification_targets  # noqa: E402
from sklearn.utils.validation import check_is_fitted, validate_data  # noqa: E402


class NNDLClassifier(ClassifierMixin, BaseEstimator):
    """A sigmoid network trained by mini-batch SGD on the quadratic cost.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(30,)
        Neurons in each hidden layer; ``(30,)`` with MNIST makes the book's
        ``Network([784, 30, 10])``.  ``()`` makes a network with no hidden
        layer.
    epochs : int, default=10
        Passes over the training data in :meth:`fit`.
    batch_size : int, default=10
        Mini-batch size ``m``.
    eta : float, default=3.0
        Learning rate: each step is ``w -> w - eta dC/dw``.
    dtype : {"float64", "float32"}, default="float64"
        Floating-point precision of the weights and the arithmetic.
    random_state : int, RandomState instance or None, default=None
        Seed for the initial weights and the shuffles.  An int ``s`` gives
        exactly ``Network(sizes, seed=s)``'s run.
    verbose : bool, default=False
        Print the book's ``Epoch N complete`` line after each epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels; output neuron ``j`` stands for ``classes_[j]``.
    n_features_in_ : int
        Width of ``X`` seen in :meth:`fit`: the input layer's size.
    network_ : Network
        The trained network, ``sizes = [n_features_in_, *hidden_layer_sizes, n_classes]``.
    history_ : History
        Per-epoch timings of the last call to :meth:`fit` or :meth:`partial_fit`.
    """

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (30,),
        epochs: int = 10,
        batch_size: int = 10,
        eta: float = 3.0,
        dtype: str = "float64",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.epochs = epochs
        self.batch_size = batch_size
        self.eta = eta
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # -- training -------------------------------------------------------------

    def fit(self, X: ArrayLike, y: ArrayLike) -> NNDLClassifier:
        """Build a fresh network for ``X`` ``(n, n_features)`` and labels ``y``
        ``(n,)`` and train it for ``epochs`` epochs of mini-batch SGD."""
        dtype = self._check_params()
        X, y = validate_data(self, X, y, dtype=dtype)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        self._build(dtype)
        return self._train(X, y_index, self.epochs)

    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None) -> NNDLClassifier:
        """Train for one epoch on ``X``, ``y``, continuing from where the
        last call left off.

        The first call builds the network and must name every class the
        data will ever hold in ``classes`` (output neurons cannot be added
        later); later calls may leave it out.
        """
        dtype = self._check_params()
        first = not hasattr(self, "network_")
        X, y = validate_data(self, X, y, dtype=dtype, reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ConfigError("classes must be given on the first call to partial_fit, got None")
            self.classes_ = np.unique(classes)
            self._build(dtype)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ConfigError(f"classes must stay {self.classes_.tolist()} across partial_fit calls, got {classes!r}")
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ConfigError(f"y holds labels not in classes {self.classes_.tolist()}: {unknown.tolist()}")
        return self._train(X, np.searchsorted(self.classes_, y), 1)

    def _build(self, dtype: np.dtype) -> None:
        sizes = [self.n_features_in_, *self.hidden_layer_sizes, len(self.classes_)]
        self.network_ = Network(sizes, seed=self._seed(), dtype=dtype)

    def _train(self, X: ArrayLike, y_index: np.ndarray, epochs: int) -> NNDLClassifier:
        self.history_ = self.network_.SGD(
            (X, y_index), epochs, self.batch_size, self.eta, log=print if self.verbose else None
        )
        return self

    def _seed(self) -> int | None:
        """An int seed for :class:`Network` from ``random_state``."""
        if self.random_state is None or isinstance(self.random_state, numbers.Integral):
            return None if self.random_state is None else int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _check_params(self) -> np.dtype:
        """Check every parameter, naming the first one out of range."""
        hidden = self.hidden_layer_sizes
        if not (
            isinstance(hidden, (tuple, list))
            and all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and int(h) >= 1 for h in hidden)
        ):
            raise ConfigError(f"hidden_layer_sizes must be a tuple of positive integers, got {hidden!r}")
        check_integer("epochs", self.epochs, 1, MAX_EPOCHS)
        check_integer("batch_size", self.batch_size, 1, MAX_BATCH)
        check_eta(self.eta)
        rs = self.random_state
        if not (rs is None or isinstance(rs, (numbers.Integral, np.random.RandomState))) or isinstance(rs, bool):
            raise ConfigError(f"random_state must be None, an integer or a RandomState, got {rs!r}")
        if isinstance(rs, numbers.Integral) and not 0 <= int(rs) < 2**63:
            raise ConfigError(f"random_state must be a non-negative integer, got {rs!r}")
        return check_dtype(self.dtype)

    # -- prediction -----------------------------------------------------------

    def _activations(self, X: ArrayLike) -> np.ndarray:
        """Output activations ``a^L`` ``(n, n_classes)`` for the rows of ``X``."""
        check_is_fitted(self)
        checked: np.ndarray = validate_data(self, X, dtype=self.network_.dtype, reset=False)
        return self.network_.scores(checked)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The class of the most activated output neuron, for each row of ``X``."""
        a = self._activations(X)
        return self.classes_[a.argmax(axis=1)]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Output activations normalised to sum to 1 across the classes.

        The network is trained on the quadratic cost with sigmoid outputs,
        so its activations are scores in (0, 1), not probabilities; dividing
        each row by its sum gives numbers scikit-learn can use as
        probabilities (their argmax is :meth:`predict`'s class), but they are
        not calibrated.  A row whose outputs are all 0 gets equal shares.
        """
        a = self._activations(X).astype(np.float64)
        total = a.sum(axis=1, keepdims=True)
        uniform = np.full_like(a, 1 / a.shape[1])
        return np.divide(a, total, out=uniform, where=total > 0)
