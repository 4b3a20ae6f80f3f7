"""Inside the network on one drawing, and one step of learning from it:
checked against the network's own feedforward, finite differences, and the
book's update_mini_batch run directly."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from nndl import ConfigError, Network, vectorized_result
from nndl.inside import (
    Lessons,
    NothingToUndo,
    brush,
    column,
    contributions,
    effective_weights,
    input_gradients,
    look,
)


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.test.images[:8].reshape(-1, 28, 28)


def deep(dtype="float64") -> Network:
    return Network([784, 20, 12, 10], seed=3, dtype=dtype)


def truncated(net: Network, layers: int) -> Network:
    """The first ``layers`` layers of ``net`` after the input, as a network of their own."""
    part = Network(net.sizes[: layers + 1], dtype=net.dtype)
    part.weights = [w.copy() for w in net.weights[:layers]]
    part.biases = [b.copy() for b in net.biases[:layers]]
    return part


def z_of(net: Network, x: np.ndarray, layer: int, neuron: int) -> float:
    """The weighted input of ``neuron`` in ``layer`` for input column ``x``, by feedforward."""
    a = truncated(net, layer - 1).feedforward(x) if layer > 1 else x
    return float((net.weights[layer - 1] @ a + net.biases[layer - 1])[neuron, 0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_look_matches_feedforward_layer_by_layer(digits, dtype):
    net = deep(dtype)
    for digit in digits[:3]:
        seen = look(net, digit)
        x = column(digit, net.dtype)
        for l in range(1, net.num_layers):
            assert np.array_equal(seen.activations[l - 1], truncated(net, l).feedforward(x)[:, 0])
        np.testing.assert_allclose(seen.scores, net.scores(digit.reshape(1, -1))[0], rtol=1e-5, atol=1e-6)
        # a = sigma(z), layer by layer
        np.testing.assert_allclose(seen.activations[0], 1 / (1 + np.exp(-seen.zs[0].astype(np.float64))), atol=1e-6)


def test_first_layer_push_is_weights_times_ink(digits):
    net = deep()
    digit = digits[0]
    x = column(digit, np.float64)[:, 0]
    for j in (0, 7, 19):
        push = contributions(net, digit, 1, j)
        assert np.array_equal(push, x * net.weights[0][j])
        assert push.sum() + net.biases[0][j, 0] == pytest.approx(look(net, digit).zs[0][j], rel=1e-12)
        assert np.array_equal(effective_weights(net, digit, 1, j), net.weights[0][j])


@pytest.mark.parametrize("layer, neuron", [(2, 5), (3, 4), (3, 9)])
def test_input_gradient_matches_finite_differences(digits, layer, neuron):
    net = deep()
    x = column(digits[1], np.float64)
    grad = input_gradients(net, x, layer, neuron)[:, 0]
    rng = np.random.default_rng(0)
    inked = np.flatnonzero(x[:, 0] > 0)
    for i in np.concatenate([rng.choice(inked, 12, replace=False), rng.choice(784, 12, replace=False)]):
        e = np.zeros_like(x)
        e[i] = 1e-5
        fd = (z_of(net, x + e, layer, neuron) - z_of(net, x - e, layer, neuron)) / 2e-5
        assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layer, neuron", [(2, 3), (3, 1), (3, 8)])
def test_effective_weights_are_the_mean_gradient_along_the_path(digits, dtype, layer, neuron):
    net = deep(dtype)
    x = column(digits[5], np.float64)
    t = (np.arange(16) + 0.5) / 16
    mean = input_gradients(net, x * t, layer, neuron).mean(axis=1)
    np.testing.assert_allclose(effective_weights(net, digits[5], layer, neuron, steps=16), mean, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("layer, neuron", [(2, 3), (3, 1), (3, 8)])
def test_deeper_pushes_add_up_to_the_change_from_blank_paper(digits, layer, neuron):
    """Integrated gradients: the pushes sum to z(drawing) - z(blank paper),
    more closely the more steps the path takes."""
    net = deep()
    for digit in digits[2:5]:
        x = column(digit, np.float64)
        change = z_of(net, x, layer, neuron) - z_of(net, np.zeros_like(x), layer, neuron)
        coarse = abs(contributions(net, digit, layer, neuron, steps=4).sum() - change)
        fine = abs(contributions(net, digit, layer, neuron, steps=256).sum() - change)
        assert fine <= 1e-3 * max(1.0, abs(change))
        assert fine <= coarse
        # blank paper pushes nothing
        assert not contributions(net, np.zeros((28, 28), np.uint8), layer, neuron).any()


@pytest.mark.parametrize("layer, neuron", [(0, 0), (4, 0), (1, 20), (3, -1), (3, 10)])
def test_a_neuron_that_is_not_there_is_refused(digits, layer, neuron):
    with pytest.raises(ConfigError, match="layer|neuron"):
        contributions(deep(), digits[0], layer, neuron)


# -- teaching ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("eta", [3.0, 0.5, 100.0])
def test_a_lesson_is_the_books_update_mini_batch_of_one(digits, dtype, eta):
    net = deep(dtype)
    oracle = copy.deepcopy(net)
    digit, label = digits[0], 4
    x = digit.reshape(784, 1).astype(net.dtype) / 256  # how the network reads bytes
    oracle.update_mini_batch([(x, vectorized_result(label))], eta)
    lesson = Lessons(net).teach(digit, label, eta)
    for mine, theirs in zip(net.weights + net.biases, oracle.weights + oracle.biases):
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
    assert np.array_equal(lesson.after, oracle.feedforward(x)[:, 0])


def test_a_lesson_reports_what_backpropagation_did(digits):
    net = deep()
    before = copy.deepcopy(net)
    digit, label, eta = digits[3], 7, 0.5
    lesson = Lessons(net).teach(digit, label, eta)
    x = column(digit, np.float64)
    # delta^L = (a - y) * sigma'(z), computed here from the outputs alone
    a = before.feedforward(x)[:, 0]
    y = vectorized_result(label)[:, 0]
    np.testing.assert_allclose(lesson.deltas[-1], (a - y) * a * (1 - a), rtol=1e-12)
    np.testing.assert_array_equal(lesson.before, a)
    # each layer's biases moved by -eta delta, its weights by -eta delta a^T
    for l in range(net.num_layers - 1):
        np.testing.assert_allclose(lesson.bias_changes[l], -eta * lesson.deltas[l], rtol=1e-9, atol=1e-15)
        np.testing.assert_array_equal(lesson.weight_changes[l], net.weights[l] - before.weights[l])
    np.testing.assert_allclose(lesson.weight_changes[0], -eta * np.outer(lesson.deltas[0], x), atol=1e-15)
    # a small step downhill lowers the cost on the example
    assert lesson.cost_after < lesson.cost_before
    assert lesson.cost_before == pytest.approx(0.5 * np.sum((y - a) ** 2))


def test_undo_puts_back_every_parameter_bit_for_bit(digits):
    net = deep("float32")
    lessons = Lessons(net, max_undo=3)
    history = []
    for k in range(5):
        history.append(copy.deepcopy(net))
        lessons.teach(digits[k], k, 3.0)
    assert lessons.steps == 5 and lessons.can_undo == 3
    for k in (4, 3, 2):
        version = lessons.version
        lessons.undo()
        assert lessons.version != version
        for mine, then in zip(net.weights + net.biases, history[k].weights + history[k].biases):
            assert np.array_equal(mine, then)
    with pytest.raises(NothingToUndo, match="no step to undo"):
        lessons.undo()
    assert lessons.steps == 2


@pytest.mark.parametrize("label", [-1, 10, 3.0, "3", True, None])
def test_bad_labels_are_refused(digits, label):
    net = deep()
    with pytest.raises(ConfigError, match="label must be a digit from 0 to 9"):
        Lessons(net).teach(digits[0], label)


@pytest.mark.parametrize("eta", [0, -1.0, 100.5, float("nan"), float("inf"), "3", True])
def test_bad_etas_are_refused_and_nothing_changes(digits, eta):
    net = deep()
    weights = [w.copy() for w in net.weights]
    lessons = Lessons(net)
    with pytest.raises(ConfigError, match="eta must be a number above 0 and at most 100"):
        lessons.teach(digits[0], 1, eta)
    assert lessons.can_undo == 0 and all(np.array_equal(a, b) for a, b in zip(net.weights, weights))


def test_undo_copies_are_bounded_in_memory(monkeypatch):
    from nndl import inside

    net = deep()
    size = sum(p.nbytes for p in net.weights + net.biases)
    monkeypatch.setattr(inside, "MAX_UNDO_BYTES", 3 * size)
    assert Lessons(net).max_undo == 3
    monkeypatch.setattr(inside, "MAX_UNDO_BYTES", size // 2)
    assert Lessons(net).max_undo == 1  # always at least the last step


# -- painting weights by hand ----------------------------------------------------------


def test_the_brush_is_a_sum_of_gaussians():
    got = brush([[3, 4], [10.5, 20]], 1.5).reshape(28, 28)
    assert got[3, 4] == pytest.approx(1 + np.exp(-((7.5**2 + 16**2) / (2 * 1.5**2))))
    r, c = 12, 22
    want = np.exp(-((r - 3) ** 2 + (c - 4) ** 2) / 4.5) + np.exp(-((r - 10.5) ** 2 + (c - 20) ** 2) / 4.5)
    assert got[r, c] == pytest.approx(want)
    assert got.argmax() == 3 * 28 + 4 or got.argmax() in (10 * 28 + 20, 11 * 28 + 20)


def test_painting_changes_one_neuron_and_undo_takes_the_stroke_back_bit_for_bit(digits):
    net = deep("float32")
    lessons = Lessons(net)
    before = copy.deepcopy(net)
    lessons.teach(digits[0], 7, 3.0)
    taught = copy.deepcopy(net)
    w = lessons.paint(5, [[14, 14]], 2.0, 1.5)
    lessons.paint(5, [[14, 15], [15, 15]], 2.0, 1.5, new_stroke=False)  # the same stroke
    lessons.paint(2, [[3, 3]], 1.0, -2.0)  # a second stroke, on another neuron
    assert w[14 * 28 + 14] == pytest.approx(taught.weights[0][5, 14 * 28 + 14] + 1.5, rel=1e-6)
    changed = np.flatnonzero(np.any(net.weights[0] != taught.weights[0], axis=1))
    assert changed.tolist() == [2, 5]
    assert all(np.array_equal(a, b) for a, b in zip(net.weights[1:] + net.biases, taught.weights[1:] + taught.biases))
    assert lessons.steps == 3
    lessons.undo()  # the second stroke
    assert not np.array_equal(net.weights[0][5], taught.weights[0][5]) and np.array_equal(
        net.weights[0][2], taught.weights[0][2]
    )
    lessons.undo()  # the whole first stroke
    for mine, then in zip(net.weights + net.biases, taught.weights + taught.biases):
        assert np.array_equal(mine, then) and mine.dtype == then.dtype
    lessons.undo()  # and the lesson before it
    for mine, then in zip(net.weights + net.biases, before.weights + before.biases):
        assert np.array_equal(mine, then)


@pytest.mark.parametrize(
    "dabs, radius, amount, message",
    [
        ([[30, 1]], 1.0, 1.0, "row and col must be from 0 to 27"),
        ([], 1.0, 1.0, "dabs must be 1 to 64 pairs"),
        ([[1, 2, 3]], 1.0, 1.0, "dabs must be 1 to 64 pairs"),
        ([[1, 2]], 9.0, 1.0, "radius must be a number from 0.5 to 6, got 9.0"),
        ([[1, 2]], 1.0, "up", "amount must be a number from -5 to 5, got 'up'"),
    ],
)
def test_bad_strokes_are_refused_and_nothing_changes(digits, dabs, radius, amount, message):
    net = deep()
    lessons = Lessons(net)
    before = copy.deepcopy(net)
    with pytest.raises(ConfigError, match=message):
        lessons.paint(0, dabs, radius, amount)
    assert lessons.can_undo == 0 and np.array_equal(net.weights[0], before.weights[0])
    with pytest.raises(ConfigError, match="neuron must be from 0 to"):
        lessons.paint(99, [[1, 1]], 1.0, 1.0)
