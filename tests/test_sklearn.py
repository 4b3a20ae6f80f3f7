"""NNDLClassifier: scikit-learn's own estimator checks, and the network inside it."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import check_estimator

from nndl import ConfigError, Network
from nndl.errors import MissingExtraError
from nndl.sklearn import NNDLClassifier


@pytest.fixture(scope="module")
def small(mnist):
    """600 training and 300 test images of MNIST, as floats in [0, 1)."""
    return mnist.train.X()[:600], mnist.train.y[:600], mnist.test.X()[:300], mnist.test.y[:300]


def test_check_estimator_passes_every_check(monkeypatch):
    # Without this variable scikit-learn skips its array-API check; pandas
    # (in the dev extra) lets the pandas-input check run too.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    results = check_estimator(NNDLClassifier(), on_fail=None, on_skip=None)
    not_passed = [(r["check_name"], r["status"], str(r["exception"])[:200]) for r in results if r["status"] != "passed"]
    assert not_passed == []
    assert len(results) > 40


def test_fit_is_the_networks_run(small):
    """An int random_state gives exactly Network(sizes, seed)'s weights and predictions."""
    X, y, Xt, _ = small
    clf = NNDLClassifier(hidden_layer_sizes=(12,), epochs=2, batch_size=10, eta=3.0, random_state=4).fit(X, y)
    net = Network([784, 12, 10], seed=4)
    net.SGD((X, y), 2, 10, 3.0, log=None)
    for a, b in zip(clf.network_.weights + clf.network_.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(clf.predict(Xt), net.predict(Xt))
    assert clf.n_features_in_ == 784 and clf.classes_.tolist() == list(range(10))
    assert len(clf.history_) == 2


def test_any_labels_map_to_output_neurons(small):
    X, y, Xt, yt = small
    digits = NNDLClassifier(hidden_layer_sizes=(10,), epochs=1, random_state=0).fit(X, y)
    # Names that sort like the digits train the same network.
    names = np.array([f"digit {d}" for d in range(10)])
    named = NNDLClassifier(hidden_layer_sizes=(10,), epochs=1, random_state=0).fit(X, names[y])
    assert named.classes_.tolist() == names.tolist()
    np.testing.assert_array_equal(named.predict(Xt), names[digits.predict(Xt)])
    # Sparse, unordered labels: one output neuron per distinct label.
    odd = np.array([-7, 100, 3])[y % 3]
    clf = NNDLClassifier(hidden_layer_sizes=(10,), epochs=3, random_state=0).fit(X, odd)
    assert clf.classes_.tolist() == [-7, 3, 100] and clf.network_.sizes == [784, 10, 3]
    assert set(clf.predict(Xt)) <= {-7, 3, 100}


def test_partial_fit_epochs_add_up_to_fit(small):
    X, y, Xt, _ = small
    whole = NNDLClassifier(hidden_layer_sizes=(8,), epochs=3, random_state=1).fit(X, y)
    steps = NNDLClassifier(hidden_layer_sizes=(8,), epochs=99, random_state=1)
    steps.partial_fit(X, y, classes=np.arange(10))
    steps.partial_fit(X, y)
    steps.partial_fit(X, y, classes=np.arange(10))
    for a, b in zip(whole.network_.weights, steps.network_.weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(whole.predict_proba(Xt), steps.predict_proba(Xt))


def test_partial_fit_needs_all_classes_first(small):
    X, y, _, _ = small
    with pytest.raises(ConfigError, match="classes must be given"):
        NNDLClassifier().partial_fit(X, y)
    clf = NNDLClassifier(epochs=1).partial_fit(X[y < 5], y[y < 5], classes=range(5))
    with pytest.raises(ConfigError, match=r"labels not in classes \[0, 1, 2, 3, 4\]: \[5, 6, 7, 8, 9\]"):
        clf.partial_fit(X, y)
    with pytest.raises(ConfigError, match="classes must stay"):
        clf.partial_fit(X[y < 5], y[y < 5], classes=range(6))


def test_predict_proba_normalises_the_output_activations(small):
    X, y, Xt, _ = small
    clf = NNDLClassifier(hidden_layer_sizes=(10,), epochs=2, random_state=0).fit(X, y)
    p = clf.predict_proba(Xt)
    a = clf.network_.scores(Xt)
    np.testing.assert_allclose(p, a / a.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(p.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.classes_[p.argmax(axis=1)], clf.predict(Xt))
    # Outputs that are all exactly 0 get equal shares rather than 0 / 0.
    clf.network_.biases[-1][:] = -1e4
    np.testing.assert_array_equal(clf.predict_proba(Xt[:3]), np.full((3, 10), 0.1))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"hidden_layer_sizes": (30, 0)}, "hidden_layer_sizes must be a tuple of positive integers, got (30, 0)"),
        ({"hidden_layer_sizes": 30}, "hidden_layer_sizes must be a tuple of positive integers, got 30"),
        ({"epochs": 0}, "epochs must be an integer from 1 to 100000, got 0"),
        ({"batch_size": 2.5}, "batch_size must be an integer from 1 to 1000000, got 2.5"),
        ({"eta": -1.0}, "eta must be a finite number > 0, got -1.0"),
        ({"eta": float("nan")}, "eta must be a finite number > 0, got nan"),
        ({"dtype": "int8"}, "dtype must be float32 or float64, got int8"),
        ({"random_state": "seed"}, "random_state must be None, an integer or a RandomState, got 'seed'"),
        ({"random_state": -3}, "random_state must be a non-negative integer, got -3"),
    ],
)
def test_bad_parameters_are_named_in_fit_not_init(small, params, message):
    X, y, _, _ = small
    clf = NNDLClassifier(**params)  # the constructor only stores
    assert clf.get_params()[next(iter(params))] is params[next(iter(params))]
    with pytest.raises(ConfigError) as e:
        clf.fit(X[:20], y[:20])
    assert str(e.value) == message


def test_float32_and_random_state_objects(small):
    X, y, Xt, _ = small
    clf = NNDLClassifier(hidden_layer_sizes=(), epochs=1, dtype="float32", random_state=np.random.RandomState(0))
    clf.fit(X, y)
    assert clf.network_.sizes == [784, 10]
    assert clf.network_.weights[0].dtype == np.float32 and clf.predict_proba(Xt).dtype == np.float64


@pytest.mark.slow
def test_gridsearch_over_a_pipeline_in_two_processes(mnist):
    """Raw bytes, scaled to [0, 1] in the pipeline; the chapter's eta beats a tiny one."""
    X, y = mnist.train.images[:600], mnist.train.y[:600]
    pipe = Pipeline([("scale", MinMaxScaler()), ("net", NNDLClassifier(epochs=10, random_state=0))])
    grid = {"net__eta": [0.001, 3.0], "net__hidden_layer_sizes": [(10,), (20,)]}
    parallel = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    scores = dict(zip(map(str, parallel.cv_results_["params"]), parallel.cv_results_["mean_test_score"]))
    assert len(scores) == 4
    assert parallel.best_params_["net__eta"] == 3.0 and parallel.best_score_ > 0.5
    assert max(s for p, s in scores.items() if "0.001" in p) < 0.25  # eta = 0.001 barely learns
    assert parallel.score(mnist.test.images[:500], mnist.test.y[:500]) > 0.5
    # The two processes compute what one does.
    serial = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])


def test_without_scikit_learn_the_import_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.delitem(sys.modules, "nndl.sklearn")
    with pytest.raises(MissingExtraError) as e:
        importlib.import_module("nndl.sklearn")
    assert str(e.value).startswith("nndl.sklearn needs the 'sklearn' extra: pip install \"nndl[sklearn]\"")
