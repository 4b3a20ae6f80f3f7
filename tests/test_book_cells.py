"""The notes' NumPy cells, as a reader pastes them, with Python 3 syntax."""

from __future__ import annotations

import numpy as np

from nndl import Network, load_data_wrapper


def test_the_notebooks_cells_run_as_written(capsys):
    training_data, validation_data, test_data = load_data_wrapper()
    # cell 5: look at one training digit
    n = 0
    image = training_data[n][0].reshape(28, 28)
    assert image.shape == (28, 28) and 0 <= image.min() and image.max() < 1
    # the training cell, on a slice so the test stays quick
    net = Network([784, 30, 10])
    net.SGD(training_data[:10000], 2, 10, 3.0, test_data=test_data[:1000])
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("Epoch 0: ") and " / 1000" in out[0]
    correct = net.evaluate(test_data[:1000])
    assert correct == int(out[1].split()[2])
    assert correct > 500  # far beyond chance (100)
    # the book's evaluate and feedforward on a single column
    x, label = test_data[0]
    assert net.feedforward(x).shape == (10, 1)
    assert isinstance(int(np.argmax(net.feedforward(x))), int)
