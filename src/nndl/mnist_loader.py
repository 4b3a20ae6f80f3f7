"""The book's ``mnist_loader``: the chapter's session runs with its two
imports written as ``from nndl import ...``::

    from nndl import mnist_loader
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    from nndl import network
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

The functions are those of :mod:`nndl.data`, reading the bundled MNIST.
``load_data_wrapper`` returns lists, as the book's does in Python 2 (ports
of the book to Python 3 return ``zip`` objects, which run out after one
pass, so they are often wrapped in ``list(...)``; that works here too).
"""

from .data import load_data, load_data_wrapper, vectorized_result

__all__ = ["load_data", "load_data_wrapper", "vectorized_result"]
