"""The notes' "Using Theano" cells, run on PyTensor.

The cells below are written as the notes write them -- Theano's API, the
``theano`` and ``T`` names, shared variables with ``broadcastable``,
``T.grad``, ``theano.function(..., updates=...)`` -- with only the changes
the migration note in the docs (docs/guide/pytensor.md) lists: the two imports, ``T.nnet.sigmoid`` ->
``T.sigmoid``, and Python 3 (``range``, ``print(...)``, a list inside
``np.hstack``).  Their data is nndl's ``load_data_wrapper()``.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from nndl import Network, load_data_wrapper


@pytest.mark.slow
@pytest.mark.pytensor
def test_the_notes_theano_cells_run_on_pytensor(capsys):
    # -- the imports: the only lines that change ------------------------------
    import pytensor as theano
    import pytensor.tensor as T

    # -- the notes' classes, Theano API as it was ------------------------------
    class Layer:
        def __init__(self, W_init, b_init, activation):
            n_output, n_input = W_init.shape
            assert b_init.shape == (n_output,)
            self.W = theano.shared(value=W_init.astype(theano.config.floatX), name="W", borrow=True)
            # a column that broadcasts along the examples
            self.b = theano.shared(
                value=b_init.reshape(n_output, 1).astype(theano.config.floatX),
                name="b",
                borrow=True,
                broadcastable=(False, True),
            )
            self.activation = activation
            self.params = [self.W, self.b]

        def output(self, x):
            lin_output = T.dot(self.W, x) + self.b
            return lin_output if self.activation is None else self.activation(lin_output)

    class MLP:
        def __init__(self, W_init, b_init, activations):
            assert len(W_init) == len(b_init) == len(activations)
            self.layers = []
            for W, b, activation in zip(W_init, b_init, activations):
                self.layers.append(Layer(W, b, activation))
            self.params = []
            for layer in self.layers:
                self.params += layer.params

        def output(self, x):
            for layer in self.layers:
                x = layer.output(x)
            return x

        def squared_error(self, x, y):
            return T.sum((self.output(x) - y) ** 2)

    def gradient_updates(cost, params, learning_rate):
        updates = []
        for param in params:
            updates.append((param, param - learning_rate * T.grad(cost, param)))
        return updates

    # -- the model: [784, 30, 10], N(0, 1) weights, biases 1, sigmoid ----------
    np.random.seed(0)
    random.seed(0)
    layer_sizes = [784, 30, 10]
    W_init, b_init, activations = [], [], []
    for n_input, n_output in zip(layer_sizes[:-1], layer_sizes[1:]):
        W_init.append(np.random.randn(n_output, n_input))
        b_init.append(np.ones(n_output))
        activations.append(T.sigmoid)  # the notes: T.nnet.sigmoid
    with pytest.warns(DeprecationWarning, match="broadcastable"):
        mlp = MLP(W_init, b_init, activations)

    mlp_input = T.matrix("mlp_input")
    mlp_target = T.matrix("mlp_target")
    mini_batch_size = 10
    learning_rate = 3.0 / mini_batch_size
    cost = mlp.squared_error(mlp_input, mlp_target)
    train = theano.function([mlp_input, mlp_target], cost, updates=gradient_updates(cost, mlp.params, learning_rate))
    mlp_output = theano.function([mlp_input], mlp.output(mlp_input))

    # -- the training loop, on a slice of the data so the test stays quick -----
    training_data, validation_data, test_data = load_data_wrapper()
    training_data, test_data = training_data[:10000], test_data[:1000]
    for epoch in range(2):  # the notes: xrange
        random.shuffle(training_data)
        mini_batches = [training_data[k : k + mini_batch_size] for k in range(0, len(training_data), mini_batch_size)]
        for mini_batch in mini_batches:
            X = np.hstack([x for x, y in mini_batch])  # the notes: a generator inside np.hstack
            Y = np.hstack([y for x, y in mini_batch])
            train(X, Y)
        correct = sum(int(np.argmax(mlp_output(x)) == y) for x, y in test_data)
        print("Epoch {}: {} / {}".format(epoch, correct, len(test_data)))  # noqa: UP032 (the notes' format, print() for the print statement)

    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Epoch 0", "Epoch 1"]
    assert all(line.endswith(" / 1000") for line in lines)
    assert int(lines[-1].split()[2]) > 600  # chance is 100
    # The trained parameters, in the book's shapes, make nndl's Network
    # compute what the compiled graph computes.
    W1, b1, W2, b2 = (p.get_value() for p in mlp.params)
    assert [W1.shape, b1.shape, W2.shape, b2.shape] == [(30, 784), (30, 1), (10, 30), (10, 1)]
    assert not np.array_equal(W1, W_init[0])
    net = Network(layer_sizes)
    net.weights, net.biases = [W1, W2], [b1, b2]
    X = np.hstack([x for x, y in test_data])
    # (nndl's sigmoid, 0.5 + 0.5 tanh(z/2), is exact to ~1e-16 absolute, not relative)
    np.testing.assert_allclose(mlp_output(X), net.feedforward(X), rtol=1e-12, atol=1e-15)
    assert net.evaluate(test_data) == int(lines[-1].split()[2])
