"""The edits of the guide page "Change the book's code", measured.

Each run trains ``Network([784, 30, 10], seed=0)`` on the book's
``load_data_wrapper()`` lists with mini-batches of 10 and prints the
correct test digits and the seconds of each epoch:

* ``shipped``: nndl's code on its fast engine;
* ``reference``: nndl's code on the reference engine;
* ``book``: the book's ``update_mini_batch`` (a loop over the examples, ``eta/len(mini_batch)``);
* ``cross-entropy``: chapter 3's cross-entropy ``cost_derivative``;
* ``tanh``: ``tanh`` for ``sigmoid`` and ``1 - tanh^2`` for ``sigmoid_prime``.

Run::

    python benchmarks/changing.py EDIT [ETA] [--epochs 3]

(ETA: 3.0 unless given).  It appends its result, with the command, to
``benchmarks/results/changing.txt``.
"""

from __future__ import annotations

import argparse

import numpy as np
from _results import record

from nndl import mnist_loader, network


class BookUpdate(network.Network):
    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]


class CrossEntropy(network.Network):
    def cost_derivative(self, output_activations, y):
        return (output_activations - y) / (output_activations * (1 - output_activations))


def tanh(z):
    return np.tanh(z)


def tanh_prime(z):
    return 1 - np.tanh(z) ** 2


def make(edit: str) -> network.Network:
    if edit == "tanh":
        network.sigmoid, network.sigmoid_prime = tanh, tanh_prime
    kinds = {"book": BookUpdate, "cross-entropy": CrossEntropy}
    engine = "reference" if edit == "reference" else "auto"
    return kinds.get(edit, network.Network)([784, 30, 10], seed=0, engine=engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("edit", choices=["shipped", "reference", "book", "cross-entropy", "tanh"])
    parser.add_argument("eta", type=float, nargs="?", default=3.0)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    net = make(args.edit)
    history = net.SGD(training_data, args.epochs, 10, args.eta, test_data=test_data)
    correct = ", ".join(str(e.correct) for e in history)
    seconds = ", ".join(f"{e.seconds:.2f}" for e in history)
    report = f"{args.edit}, eta {args.eta}: correct {correct}; seconds per epoch {seconds}"
    print(report)
    print(f"(appended to {record('changing', report)})")


if __name__ == "__main__":
    main()
