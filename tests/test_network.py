"""The network's mathematics, checked against finite differences and the
per-example form of the book."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

from nndl import Network, NNDLError, sigmoid, sigmoid_prime


def quadratic_cost(net: Network, x: np.ndarray, y: np.ndarray) -> float:
    """sum_x C_x = 1/2 sum ||y - a||^2 over the columns of x (backprop's gradient
    is that of the sum; update_mini_batch divides by m)."""
    return float(np.sum((net.feedforward(x) - y) ** 2) / 2)


def numerical_gradient(net: Network, x, y, eps=1e-6):
    """Centred finite differences of the cost for every parameter."""
    grads = []
    for params in (net.biases, net.weights):
        layer_grads = []
        for p in params:
            g = np.zeros_like(p)
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + eps
                up = quadratic_cost(net, x, y)
                p[i] = old - eps
                down = quadratic_cost(net, x, y)
                p[i] = old
                g[i] = (up - down) / (2 * eps)
            layer_grads.append(g)
        grads.append(layer_grads)
    return grads


@pytest.mark.parametrize("sizes", [[2, 3, 1], [5, 4, 3, 2]])
def test_backprop_matches_finite_differences(sizes):
    rng = np.random.default_rng(1)
    net = Network(sizes, seed=3)
    x = rng.random((sizes[0], 4))
    y = rng.random((sizes[-1], 4))
    nabla_b, nabla_w = net.backprop(x, y)
    num_b, num_w = numerical_gradient(net, x, y)
    for got, want in zip(nabla_b + nabla_w, num_b + num_w):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_backprop_matches_finite_differences_on_mnist(mnist):
    net = Network([784, 30, 10], seed=0)
    x = mnist.train.X()[:3].T
    y = np.eye(10)[mnist.train.y[:3]].T
    nabla_b, nabla_w = net.backprop(x, y)
    eps = 1e-6
    rng = np.random.default_rng(0)
    # every bias, and a random sample of the 23,850 weights
    for l, (b, w) in enumerate(zip(net.biases, net.weights)):
        checks = [("b", i) for i in np.ndindex(b.shape)]
        checks += [("w", tuple(rng.integers(0, s) for s in w.shape)) for _ in range(60)]
        for kind, i in checks:
            p, grad = (b, nabla_b[l]) if kind == "b" else (w, nabla_w[l])
            old = p[i]
            p[i] = old + eps
            up = quadratic_cost(net, x, y)
            p[i] = old - eps
            down = quadratic_cost(net, x, y)
            p[i] = old
            assert grad[i] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-9)


def test_matrix_gradient_is_the_sum_of_per_example_gradients():
    rng = np.random.default_rng(2)
    net = Network([6, 5, 4, 3], seed=1)
    x = rng.random((6, 7))
    y = rng.random((3, 7))
    batch_b, batch_w = net.backprop(x, y)
    per_example = [net.backprop(x[:, [k]], y[:, [k]]) for k in range(7)]
    for l in range(3):
        np.testing.assert_allclose(batch_b[l], np.sum([g[0][l] for g in per_example], axis=0), rtol=1e-12)
        np.testing.assert_allclose(batch_w[l], np.sum([g[1][l] for g in per_example], axis=0), rtol=1e-12)


def test_update_mini_batch_is_the_books_rule():
    """The book: w -> w - (eta/m) sum_x nabla_w C_x."""
    rng = np.random.default_rng(3)
    net = Network([4, 3, 2], seed=5)
    batch = [(rng.random((4, 1)), rng.random((2, 1))) for _ in range(5)]
    expected_w = [w.copy() for w in net.weights]
    expected_b = [b.copy() for b in net.biases]
    for x, y in batch:
        gb, gw = net.backprop(x, y)
        for l in range(2):
            expected_w[l] -= 0.5 / 5 * gw[l]
            expected_b[l] -= 0.5 / 5 * gb[l]
    net.update_mini_batch(batch, 0.5)
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], expected_w[l], rtol=1e-12)
        np.testing.assert_allclose(net.biases[l], expected_b[l], rtol=1e-12)


def test_shapes_and_initialisation_follow_the_book():
    net = Network([784, 30, 10], seed=0)
    assert net.sizes == [784, 30, 10] and net.num_layers == 3
    assert [w.shape for w in net.weights] == [(30, 784), (10, 30)]
    assert [b.shape for b in net.biases] == [(30, 1), (10, 1)]
    all_w = np.concatenate([w.ravel() for w in net.weights])
    assert abs(all_w.mean()) < 0.03 and abs(all_w.std() - 1) < 0.03  # N(0, 1)
    assert net.feedforward(np.zeros((784, 1))).shape == (10, 1)


def test_seed_reproduces_bit_for_bit(mnist):
    def run(seed):
        net = Network([784, 12, 10], seed=seed)
        net.SGD((mnist.train.images[:2000], mnist.train.labels[:2000]), 2, 10, 3.0, log=None)
        return net

    a, b, c = run(4), run(4), run(5)
    for pa, pb in zip(a.weights + a.biases, b.weights + b.biases):
        assert np.array_equal(pa, pb)
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_sigmoid_saturates_without_warnings():
    z = np.array([-1e6, -800.0, -40.0, 0.0, 40.0, 800.0, 1e6])
    with np.errstate(all="raise"):
        s = sigmoid(z)
        sp = sigmoid_prime(z)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert np.all(np.isfinite(sp)) and sp[3] == 0.25
    x = np.linspace(-30, 30, 101)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12, atol=1e-16)


def test_eta_100_runs_cleanly(mnist):
    """The book's eta = 100 experiment: learning fails, but nothing overflows."""
    net = Network([784, 30, 10], seed=0)
    with np.errstate(all="raise"):
        history = net.SGD(
            (mnist.train.images[:3000], mnist.train.labels[:3000]),
            2,
            10,
            100.0,
            test_data=(mnist.test.images[:1000], mnist.test.labels[:1000]),
            log=None,
        )
    assert all(np.isfinite(p).all() for p in net.weights + net.biases)
    assert len(history) == 2


def test_short_run_learns_far_beyond_chance(mnist):
    """10,000 images, three epochs: chance is 10 %, and the cost must fall."""
    net = Network([784, 30, 10], seed=0)
    history = net.SGD(
        (mnist.train.images[:10000], mnist.train.labels[:10000]),
        3,
        10,
        3.0,
        test_data=(mnist.test.images[:2000], mnist.test.labels[:2000]),
        log=None,
    )
    assert history[-1].accuracy > 0.75
    assert history[-1].cost < history[0].cost
    assert history[-1].total == 2000


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_through_training(mnist, dtype):
    net = Network([784, 10, 10], seed=0, dtype=dtype)
    net.SGD((mnist.train.images[:500], mnist.train.labels[:500]), 1, 10, 3.0, log=None)
    assert all(p.dtype == np.dtype(dtype) for p in net.weights + net.biases)


def test_float32_tracks_float64(mnist):
    runs = {}
    for dtype in ("float32", "float64"):
        net = Network([784, 30, 10], seed=0, dtype=dtype)
        h = net.SGD(
            (mnist.train.images[:5000], mnist.train.labels[:5000]),
            1,
            10,
            3.0,
            test_data=(mnist.test.images[:2000], mnist.test.labels[:2000]),
            log=None,
        )
        runs[dtype] = h[-1].accuracy
    assert abs(runs["float32"] - runs["float64"]) < 0.02


def test_sgd_prints_the_books_lines(mnist, capsys):
    net = Network([784, 10, 10], seed=0)
    net.SGD(
        (mnist.train.images[:500], mnist.train.labels[:500]),
        2,
        10,
        3.0,
        test_data=(mnist.test.images[:100], mnist.test.labels[:100]),
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Epoch 0", "Epoch 1"]
    assert all(" / 100 (" in line for line in lines)
    net.SGD((mnist.train.images[:500], mnist.train.labels[:500]), 1, 10, 3.0)
    assert capsys.readouterr().out.startswith("Epoch 0 complete")


def test_save_and_load_round_trip(tmp_path, mnist):
    net = Network([784, 7, 10], seed=2, dtype="float32")
    path = net.save(tmp_path / "m.npz", {"eta": 3.0})
    back = Network.load(path)
    assert back.sizes == net.sizes and back.dtype == np.float32 and back.settings == {"eta": 3.0}
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        assert np.array_equal(a, b)
    assert back.evaluate(mnist.test) == net.evaluate(mnist.test)


def test_predict_and_scores_agree_with_feedforward(mnist):
    net = Network([784, 30, 10], seed=0)
    X = mnist.test.images[:50]
    scores = net.scores(X)
    np.testing.assert_allclose(scores, net.feedforward(mnist.test.X()[:50].T).T, rtol=1e-12)
    assert np.array_equal(net.predict(X), scores.argmax(axis=1))


# -- every bad argument is one line --------------------------------------------


@pytest.fixture(scope="module")
def book_data(mnist):
    """A little of the book's data: lists of (x, y) column tuples."""
    X = mnist.train.X(np.float32)[:60]
    training = [(x.reshape(784, 1), np.eye(10)[[y]].T) for x, y in zip(X, mnist.train.labels[:60])]
    test = [(x.reshape(784, 1), int(y)) for x, y in zip(X[:20], mnist.train.labels[:20])]
    return training, test


def one_line(call) -> str:
    with pytest.raises(NNDLError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300
    return message


@pytest.mark.parametrize(
    "epochs, mini_batch_size, eta, message",
    [
        (1, 0, 3.0, "mini_batch_size must be an integer from 1 to 1000000, got 0"),
        (1, -5, 3.0, "mini_batch_size must be an integer from 1 to 1000000, got -5"),
        (1, 10.0, 3.0, "mini_batch_size must be an integer from 1 to 1000000, got 10.0"),
        (0, 10, 3.0, "epochs must be an integer from 1 to 100000, got 0"),
        (-1, 10, 3.0, "epochs must be an integer from 1 to 100000, got -1"),
        (2.5, 10, 3.0, "epochs must be an integer from 1 to 100000, got 2.5"),
        (1, 10, -3, "eta must be a finite number > 0, got -3"),
        (1, 10, 0, "eta must be a finite number > 0, got 0"),
        (1, 10, "3.0", "eta must be a finite number > 0, got '3.0'"),
        (1, 10, True, "eta must be a finite number > 0, got True"),
    ],
)
def test_bad_sgd_arguments_are_one_line_naming_the_value(book_data, epochs, mini_batch_size, eta, message):
    net = Network([784, 30, 10], seed=0)
    before = [p.copy() for p in net.weights + net.biases]
    assert one_line(lambda: net.SGD(book_data[0], epochs, mini_batch_size, eta, log=None)) == message
    assert all(np.array_equal(a, b) for a, b in zip(before, net.weights + net.biases))  # nothing trained


def test_bad_data_is_one_line_saying_what_was_given(book_data, mnist):
    training, test = book_data
    net = Network([784, 30, 10], seed=0)
    whole = (training, test, test)  # what load_data_wrapper() returns, all three
    arrays = ((np.zeros((5, 784)), np.zeros(5, int)),) * 3  # what load_data() returns, all three
    for given in (whole, arrays):
        assert one_line(lambda: net.SGD(given, 1, 10, 3.0, log=None)) == (  # noqa: B023 (called at once)
            "training data: got a tuple of 3 parts, the whole (training, validation, test) that "
            "load_data_wrapper() (or load_data()) returns; pass one of them"
        )
    net.SGD(tuple(training[:3]), 1, 10, 3.0, log=None)  # three examples in a tuple are no such thing
    assert one_line(lambda: net.SGD(mnist, 1, 10, 3.0, log=None)).startswith(
        "training data: got the whole data set mnist.npz; pass one of its parts (data.train, data.test)"
    )
    odd = [*training[:7], (training[7][0][:783], training[7][1]), *training[8:]]
    assert one_line(lambda: net.SGD(odd, 1, 10, 3.0, log=None)) == (
        "training data: example 7 has inputs of shape (783, 1); example 0's are (784, 1)"
    )
    pairs = zip([x for x, _ in training], [y for _, y in training])
    net.SGD(pairs, 1, 10, 3.0, log=None)
    assert one_line(lambda: net.SGD(pairs, 1, 10, 3.0, log=None)) == (
        "training data is empty; a zip or other iterator runs out after one use: pass list(...) of it"
    )
    assert one_line(lambda: net.SGD([], 1, 10, 3.0, log=None)) == "training data is empty"


def test_a_network_whose_outputs_are_not_the_classes_says_why(book_data):
    four = Network([784, 30, 4], seed=0)
    for call in (four.evaluate, four.cost):
        assert one_line(functools.partial(call, book_data[1])).startswith(
            "test data: labels run from 0 to 9, but the network has 4 output neurons (sizes [784, 30, 4])"
        )


def test_feedforward_takes_the_books_columns_and_says_so(book_data):
    net = Network([784, 30, 10], seed=0)
    x = book_data[0][0][0]
    assert net.feedforward(x).shape == (10, 1)
    assert one_line(lambda: net.feedforward(x.reshape(-1))) == (
        "feedforward takes a column (784, 1), as in the book, or columns (784, m); got shape (784,); "
        "a flat vector becomes a column with a.reshape(784, 1)"
    )


def test_float_pixels_of_0_to_255_warn_once(book_data, monkeypatch):
    from nndl import inputs

    monkeypatch.setattr(inputs, "_warned_pixels", False)
    training = [(x * 255, y) for x, y in book_data[0]]
    net = Network([784, 30, 10], seed=0)
    said = r"^training data: float inputs go up to 25\d(\.\d+)?; the network reads floats in \[0, 1\]"
    with pytest.warns(UserWarning, match=said) as caught:
        net.SGD(training, 1, 10, 3.0, log=None)
    assert caught[0].filename == __file__  # said where the caller called SGD
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.SGD(training, 1, 10, 3.0, log=None)  # said once
        net.SGD(book_data[0], 1, 10, 3.0, log=None)  # pixels in [0, 1]: nothing to say
