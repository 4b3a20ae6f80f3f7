"""The 4-bit output layer of the chapter's exercise: its weights read a
one-hot output as the digit's bits, and on a trained network its answers
are checked against the digits' binary forms written out by Python."""

from __future__ import annotations

import numpy as np
import pytest

import nndl
from nndl.errors import ConfigError, DataError
from nndl.exercises import binary_digits, binary_layer, bit_accuracy
from nndl.network import sigmoid


def test_binary_digits_are_the_labels_written_in_base_two():
    bits = binary_digits(np.arange(10))
    assert ["".join(map(str, row)) for row in bits] == [format(d, "04b") for d in range(10)]


def test_the_layer_reads_each_one_hot_output_as_its_digits_bits():
    net = nndl.Network([784, 30, 10], seed=0)
    binary = binary_layer(net)
    w, b = binary.weights[-1], binary.biases[-1]
    for d in range(10):
        a = np.eye(10)[:, [d]]
        assert (sigmoid(w @ a + b) > 0.5).ravel().astype(int).tolist() == [int(c) for c in format(d, "04b")]
        assert np.all(np.abs(sigmoid(w @ a + b) - binary_digits([d]).T) < 1e-4)  # c = 10: near 0 and 1
    # the trained layers are copied, not shared, and the network is left as it was
    assert binary.sizes == [784, 30, 10, 4] and net.sizes == [784, 30, 10]
    assert all(np.array_equal(x, y) and x is not y for x, y in zip(binary.weights, net.weights))


@pytest.fixture(scope="module")
def trained(mnist):
    net = nndl.Network([784, 30, 10], seed=0)
    net.SGD((mnist.train.images[:5000], mnist.train.labels[:5000]), 2, 10, 3.0, log=None)
    return net


def test_bit_accuracy_counts_the_bits_python_reads_off_the_outputs(trained, mnist):
    X, labels = mnist.test.images[:2000], mnist.test.labels[:2000]
    binary = binary_layer(trained)
    outputs = binary.scores(X)
    right_bits = right_digits = 0
    for out, label in zip(outputs, labels):
        read = "".join("1" if o > 0.5 else "0" for o in out)
        right_bits += sum(r == c for r, c in zip(read, format(int(label), "04b")))
        right_digits += int(read, 2) == label
    bits, digits = bit_accuracy(binary, (X, labels))
    assert bits == right_bits / (4 * len(labels)) and digits == right_digits / len(labels)
    # where the most active output outweighs all the others together, the
    # bits are the answer's (the module's derivation)
    scores = trained.scores(X)
    clear = scores.max(axis=1) > scores.sum(axis=1) - scores.max(axis=1)
    assert clear.sum() > 1000
    assert np.array_equal(outputs[clear] > 0.5, binary_digits(scores[clear].argmax(axis=1)).astype(bool))
    assert 0.5 < digits < bits < 1


def test_bad_networks_and_labels_get_one_line(trained, mnist):
    with pytest.raises(ConfigError, match="ten outputs"):
        binary_layer(nndl.Network([784, 4]))
    with pytest.raises(ConfigError, match="c must be a finite number > 0, got 0"):
        binary_layer(trained, 0)
    with pytest.raises(ConfigError, match="4 outputs, one per bit; this network has 10"):
        bit_accuracy(trained, mnist.test)
    with pytest.raises(DataError, match="digits 0 to 9"):
        bit_accuracy(binary_layer(trained), (mnist.test.images[:3], np.array([1, 2, 12])))
