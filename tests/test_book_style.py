"""The book's way of writing the chapter runs too: an ``update_mini_batch``
that loops over the mini-batch's ``(x, y)`` tuples, a ``backprop`` for one
example, and the chapter's session with its two imports from nndl.

The methods here follow the chapter's equations (BP1-BP4 and the update
rule), one example at a time."""

from __future__ import annotations

import numpy as np
import pytest

from nndl import History, Network, engines, load
from nndl.bench.peers import BookNetwork
from nndl.history import EpochResult
from nndl.network import sigmoid, sigmoid_prime

#: w -> w - (eta/m) sum_x dC_x/dw, and the same for b, summing each example's
#: gradient as backprop gives it for its column: the book's loop, as the
#: benchmark's peer writes it.
update_one_example_at_a_time = BookNetwork.update_mini_batch


def backprop_of_one_example(self, x, y):
    """The gradient of C_x = ||y - a^L||^2 / 2 for the column x."""
    a, zs = [x], []
    for b, w in zip(self.biases, self.weights):  # z^l = w^l a^{l-1} + b^l, a^l = sigma(z^l)
        zs.append(np.dot(w, a[-1]) + b)
        a.append(sigmoid(zs[-1]))
    grad_b, grad_w = [None] * len(self.biases), [None] * len(self.weights)
    delta = self.cost_derivative(a[-1], y) * sigmoid_prime(zs[-1])  # BP1
    for layer in range(len(self.weights) - 1, -1, -1):
        grad_b[layer] = delta  # BP3
        grad_w[layer] = np.dot(delta, a[layer].transpose())  # BP4
        if layer > 0:
            delta = np.dot(self.weights[layer].transpose(), delta) * sigmoid_prime(zs[layer - 1])  # BP2
    return grad_b, grad_w


STYLES = {
    "book update": {"update_mini_batch": update_one_example_at_a_time},
    "book backprop": {"backprop": backprop_of_one_example},
    "both": {"update_mini_batch": update_one_example_at_a_time, "backprop": backprop_of_one_example},
}


@pytest.fixture(scope="module")
def small():
    data = load()
    return (data.train.images[:500], data.train.labels[:500]), (data.test.images[:300], data.test.labels[:300])


def trained(net: Network, small) -> tuple[Network, History]:
    train, test = small
    history = net.SGD(train, 2, 10, 3.0, test_data=test, log=None)
    return net, history


def assert_same_result(net: Network, history: History, small) -> None:
    reference, want = trained(Network([784, 20, 10], seed=0, engine="reference"), small)
    for a, b in zip(net.weights + net.biases, reference.weights + reference.biases):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert [e.correct for e in history] == [e.correct for e in want]


@pytest.mark.parametrize("style", STYLES)
def test_book_style_methods_in_a_subclass_train_as_the_reference(small, style):
    BookStyle = type("BookStyle", (Network,), dict(STYLES[style]))
    net, history = trained(BookStyle([784, 20, 10], seed=0), small)
    assert_same_result(net, history, small)


@pytest.mark.parametrize("style", STYLES)
def test_book_style_methods_in_place_of_nndls_train_as_the_reference(small, style, monkeypatch):
    """As if written into network.py: the class itself changed."""
    for name, method in STYLES[style].items():
        monkeypatch.setattr(Network, name, method)
    net, history = trained(Network([784, 20, 10], seed=0), small)
    assert engines.select(net, small[0][0], 10) is None
    monkeypatch.undo()
    assert_same_result(net, history, small)


def test_the_reference_hands_update_mini_batch_the_books_list_of_tuples(small):
    seen = []

    class Looking(Network):
        def update_mini_batch(self, mini_batch, eta):
            seen.append([(x.shape, y.shape) for x, y in mini_batch])
            super().update_mini_batch(mini_batch, eta)

    Looking([784, 20, 10], seed=0).SGD((small[0][0][:25], small[0][1][:25]), 1, 10, 3.0, log=None)
    assert [len(batch) for batch in seen] == [10, 10, 5]
    assert all(shapes == ((784, 1), (10, 1)) for batch in seen for shapes in batch)


# -- the chapter's session -----------------------------------------------------


def test_the_chapters_session_runs_with_its_imports_from_nndl(monkeypatch, capsys):
    from nndl import mnist_loader

    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    from nndl import network

    assert isinstance(training_data, list) and len(training_data) == 50_000
    assert len(list(validation_data)) == 10_000 and len(list(test_data)) == 10_000
    x, y = training_data[0]
    assert x.shape == (784, 1) and y.shape == (10, 1) and isinstance(test_data[0][1], int)
    net = network.Network([784, 30, 10])
    result = net.SGD(training_data, 1, 10, 3.0, test_data=test_data[:1000])  # the book's 30 epochs, cut short
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Epoch 0"]
    assert int(lines[-1].split()[2]) > 500  # unseeded, as in the book: some starts learn more slowly than others
    assert repr(result) == f"History(1 epoch, last {result[-1].correct} / 1000)"


def test_a_history_shows_as_one_short_line():
    assert repr(History()) == "History(no epochs)"
    one = History([EpochResult(0, 1.0)])
    assert repr(one) == "History(1 epoch)"
    many = History([EpochResult(j, 0.1, 9000 + j, 10000, 0.9, 0.1) for j in range(30)])
    assert repr(many) == "History(30 epochs, last 9029 / 10000)"
