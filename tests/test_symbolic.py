"""The PyTensor engine against the NumPy network, finite differences and the CLI.

Compiling a PyTensor function costs seconds, so the tests share one network
on the pytensor engine (``snet``, whose engine keeps its compiled model) and
give it the parameters and generator state each test needs.  Functions
compiled only to check a graph use the ``FAST_COMPILE`` mode, which compiles
in well under a second.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import numpy as np
import pytensor
import pytensor.tensor as T
import pytest

from nndl import Network, TrainConfig
from nndl.cli import main
from nndl.data import Split, load
from nndl.engines import engine_for
from nndl.errors import ConfigError
from nndl.loop import train_range
from nndl.symbolic import MLP, gradient_updates, notes_model

pytestmark = pytest.mark.pytensor

SIZES = [784, 30, 10]


@pytest.fixture(scope="module")
def snet() -> Network:
    return Network(SIZES, seed=0, dtype="float64", engine="pytensor")


def like(snet: Network, net: Network) -> Network:
    """``snet`` with ``net``'s parameters and generator state."""
    snet.weights = [w.copy() for w in net.weights]
    snet.biases = [b.copy() for b in net.biases]
    snet.rng = copy.deepcopy(net.rng)
    return snet


def mini_batch(m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``m`` MNIST training images as columns ``(784, m)`` and their desired outputs ``(10, m)``."""
    train = load().train
    idx = np.random.default_rng(seed).choice(len(train), m, replace=False)
    return Split(train.images[idx], train.labels[idx]).X().T, np.eye(10)[train.y[idx]].T


def steps(before: Network, after: Network) -> list[np.ndarray]:
    return [a - b for a, b in zip(after.weights + after.biases, before.weights + before.biases)]


def relative_difference(xs: list[np.ndarray], ys: list[np.ndarray]) -> float:
    return max(np.linalg.norm(x - y) / np.linalg.norm(y) for x, y in zip(xs, ys))


@pytest.mark.parametrize("m, eta", [(10, 6.0), (10, 3.0), (7, 0.5)])
def test_one_compiled_step_equals_one_numpy_step(snet, m, eta):
    """The pytensor engine's step (the summed cost at learning rate eta / (2m))
    is the book's step with eta, to rounding."""
    start = Network(SIZES, seed=m)
    numpy_net, pytensor_net = copy.deepcopy(start), like(snet, start)
    x, y = mini_batch(m, seed=m)
    numpy_net.update_mini_batch((x, y), eta)
    train_range(pytensor_net, x.T, y.T, np.arange(m), m, eta, 0, 1)
    numpy_steps, pytensor_steps = steps(start, numpy_net), steps(start, pytensor_net)
    assert min(np.abs(s).max() for s in numpy_steps) > 1e-6  # every layer really moved
    assert relative_difference(pytensor_steps, numpy_steps) <= 1e-12


def test_the_notes_learning_rate_3_over_m_is_the_books_eta_6():
    """The notes' train function, learning rate 3/10 on the summed squared
    error, makes the step the book makes with eta = 6 (and twice the step
    of the book's default eta = 3)."""
    start = Network(SIZES, seed=5)
    x, y = mini_batch(10, seed=5)
    mlp = MLP(start.weights, start.biases, [T.sigmoid, T.sigmoid])
    X, Y = T.matrix("X"), T.matrix("Y")
    cost = mlp.squared_error(X, Y)
    train = pytensor.function([X, Y], cost, updates=gradient_updates(cost, mlp.params, 3.0 / 10), mode="FAST_COMPILE")
    summed = train(x, y)
    after = copy.deepcopy(start)
    after.weights = [layer.W.get_value() for layer in mlp.layers]
    after.biases = [layer.b.get_value() for layer in mlp.layers]
    notes_steps = steps(start, after)
    book = {}
    for eta in (6.0, 3.0):
        net = copy.deepcopy(start)
        net.update_mini_batch((x, y), eta)
        book[eta] = steps(start, net)
    assert relative_difference(notes_steps, book[6.0]) <= 1e-12
    assert relative_difference([s / 2 for s in notes_steps], book[3.0]) <= 1e-12
    # the cost it returned is the summed one: 2m times the book's mean cost
    assert summed == pytest.approx(2 * 10 * start.cost((x.T, y.T.argmax(axis=1))), rel=1e-12)


def test_symbolic_gradients_agree_with_finite_differences():
    rng = np.random.default_rng(3)
    sizes = [5, 4, 3]
    mlp = MLP(
        [rng.standard_normal((n_out, n_in)) for n_in, n_out in zip(sizes[:-1], sizes[1:])],
        [rng.standard_normal(n_out) for n_out in sizes[1:]],
        [T.sigmoid, T.sigmoid],
    )
    x, y = T.matrix("x"), T.matrix("y")
    cost = mlp.squared_error(x, y)
    f = pytensor.function([x, y], [cost, *pytensor.grad(cost, mlp.params)], mode="FAST_COMPILE")
    xv, yv = rng.random((5, 6)), rng.random((3, 6))
    _, *grads = f(xv, yv)
    h = 1e-6
    for param, grad in zip(mlp.params, grads):
        value = param.get_value()
        numeric = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            for sign in (1, -1):
                shifted = value.copy()
                shifted[i] += sign * h
                param.set_value(shifted)
                numeric[i] += sign * f(xv, yv)[0] / (2 * h)
        param.set_value(value)
        assert np.abs(numeric).max() > 1e-3
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_an_epoch_repeats_the_numpy_engine_with_the_same_seed(snet, tiny_arrays):
    """Same seed, same starting parameters: the same shuffles and steps, so
    the two engines end an epoch with the same network, to rounding."""
    X = tiny_arrays["train_images"].reshape(60, 784)
    labels = tiny_arrays["train_labels"]
    start = Network(SIZES, seed=11)
    numpy_net, pytensor_net = copy.deepcopy(start), like(snet, start)
    h1 = numpy_net.SGD((X, labels), 2, 7, 3.0, test_data=(X, labels), log=None)
    h2 = pytensor_net.SGD((X, labels), 2, 7, 3.0, test_data=(X, labels), log=None)
    assert [e.correct for e in h1] == [e.correct for e in h2]
    assert relative_difference(pytensor_net.weights + pytensor_net.biases, numpy_net.weights + numpy_net.biases) < 1e-12
    assert relative_difference(steps(start, pytensor_net), steps(start, numpy_net)) < 1e-10
    assert pytensor_net.rng.integers(1 << 62) == numpy_net.rng.integers(1 << 62)


def test_compiled_predict_matches_feedforward(snet):
    start = Network(SIZES, seed=2)
    model = engine_for(snet, "pytensor").prepare(snet)
    model.set_parameters(start.weights, start.biases)
    x, _ = mini_batch(25)
    np.testing.assert_allclose(model.predict(x), start.feedforward(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(model.predict(x[:, :1]), start.feedforward(x[:, :1]), rtol=1e-13, atol=1e-15)


def test_notes_model_is_the_notes_starting_point(snet):
    model = notes_model(SIZES, seed=4)
    weights, biases = model.get_parameters()
    reference = Network(SIZES, seed=4)
    assert all(np.array_equal(w, r) for w, r in zip(weights, reference.weights))
    assert all(np.array_equal(b, np.ones_like(r)) for b, r in zip(biases, reference.biases))
    assert float(model.eta.get_value()) == 6.0
    x, y = mini_batch(10)
    assert model.predict(x).shape == (10, 10)
    before = model.train(x, y)
    assert model.train(x, y) < before  # a step downhill


def test_engine_settings():
    assert TrainConfig().eta == 3.0
    assert TrainConfig(engine="pytensor").eta == 6.0
    assert TrainConfig(engine="pytensor", eta=3.0).eta == 3.0
    assert TrainConfig(engine="pytensor").to_dict()["engine"] == "pytensor"
    with pytest.raises(ConfigError, match="engine must be one of .*pytensor; got 'theano'"):
        TrainConfig(engine="theano").validate()


# -- the command line -------------------------------------------------------


@pytest.mark.slow
def test_cli_trains_with_pytensor_and_models_cross_engines(snet, tmp_path, tiny_npz, capsys):
    model = tmp_path / "pt.npz"
    r = subprocess.run(
        [sys.executable, "-m", "nndl", "train", "--engine", "pytensor", "--data", str(tiny_npz),
         "--sizes", "784", "8", "10", "--epochs", "2", "--batch-size", "5", "--seed", "2", "--save", str(model)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    epochs = re.findall(r"^Epoch (\d+): (\d+) / 20 \(", r.stdout, re.M)
    assert [e for e, _ in epochs] == ["0", "1"]
    assert re.search(r"^Compiled the PyTensor model in \d+\.\d\d s$", r.stderr, re.M)
    assert "Traceback" not in r.stderr
    saved = Network.load(model)
    assert saved.settings["engine"] == "pytensor" and saved.settings["eta"] == 6.0
    # A model from either engine scores the same in both.
    other = tmp_path / "np.npz"
    numpy_net = Network([784, 8, 10], seed=2)
    numpy_net.SGD(load(tiny_npz).train, 1, 5, 3.0, log=None)
    numpy_net.save(other)
    for path, correct in [(model, int(epochs[-1][1])), (other, numpy_net.evaluate(load(tiny_npz).test))]:
        for engine in ("numpy", "pytensor"):
            assert main(["evaluate", str(path), "--data", str(tiny_npz), "--engine", engine]) == 0
            assert capsys.readouterr().out.splitlines()[0] == f"{correct} / 20 ({100 * correct / 20:.2f} %)"


def test_evaluate_scores_with_the_engine_it_names(tmp_path, tiny_npz, capsys, monkeypatch):
    """``nndl evaluate --engine pytensor`` computes the outputs with the
    compiled model, ``--engine numpy`` with the network's feedforward: each
    still answers when the other way cannot run, and they agree."""
    from nndl.engines.pytensor import PyTensorEngine

    net = Network([784, 8, 10], seed=2)
    net.SGD(load(tiny_npz).train, 2, 5, 3.0, log=None)
    path = net.save(tmp_path / "m.npz")
    correct = net.evaluate(load(tiny_npz).test)

    def unavailable(*args):
        raise AssertionError("scored the other way")

    answers = {}
    for engine, other in (("pytensor", (Network, "feedforward")), ("numpy", (PyTensorEngine, "predict"))):
        with monkeypatch.context() as m:
            m.setattr(*other, unavailable)
            assert main(["evaluate", str(path), "--data", str(tiny_npz), "--engine", engine]) == 0
        answers[engine] = capsys.readouterr().out.splitlines()
    assert answers["pytensor"] == answers["numpy"]
    assert answers["numpy"][0] == f"{correct} / 20 ({100 * correct / 20:.2f} %)"


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_without_pytensor_the_engine_says_how_to_install_it(monkeypatch, capsys, tmp_path, tiny_npz, command):
    monkeypatch.setitem(sys.modules, "pytensor", None)  # makes `import pytensor` fail
    monkeypatch.delitem(sys.modules, "nndl.symbolic", raising=False)
    args = ["train"] if command == "train" else ["evaluate", str(Network([784, 3, 10]).save(tmp_path / "m.npz"))]
    assert main([*args, "--data", str(tiny_npz), "--engine", "pytensor"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "the PyTensor engine needs the 'pytensor' extra: pip install \"nndl[pytensor]\"" in err
