"""nndl: the network of chapter 1 of Michael Nielsen's *Neural Networks and
Deep Learning*, as a modern Python package.

The book's names work as in the book, and so do its modules::

    from nndl import mnist_loader
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    from nndl import network
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)
"""

__version__ = "0.1.0"

from . import mnist_loader as mnist_loader  # the book's modules
from . import network as network
from .config import TrainConfig
from .data import Dataset, Split, load, load_data, load_data_wrapper, vectorized_result
from .errors import ConfigError, DataError, NNDLError
from .history import History
from .network import Network, sigmoid, sigmoid_prime
from .perceptron import Perceptron, add_bits, nand
from .train import resume, train

__all__ = [
    "ConfigError",
    "DataError",
    "Dataset",
    "History",
    "NNDLError",
    "Network",
    "Perceptron",
    "Split",
    "TrainConfig",
    "add_bits",
    "load",
    "load_data",
    "load_data_wrapper",
    "nand",
    "resume",
    "sigmoid",
    "sigmoid_prime",
    "train",
    "vectorized_result",
]
