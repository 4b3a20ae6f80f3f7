"""What users would pick instead: the same training in other code, for the benchmark.

Each peer trains a ``[784, H, 10]`` sigmoid network by mini-batch SGD and is
built by a function ``peer(X, labels, X_test, labels_test, sizes, batch, eta,
dtype, seed)`` that returns ``(epoch, evaluate)``: ``epoch()`` trains one
epoch (shuffle, then every mini-batch in turn), ``evaluate()`` counts the
test images it gets right, as ``nndl train`` does after each epoch.
Building a peer converts the data to its own format; the benchmark times
that apart from the epochs.

* :class:`BookNetwork` -- the book's algorithm, one example at a time, in
  Python 3 (written here for the benchmark), with the sigmoid and its
  derivative as the book's code first had them, scalar functions wrapped
  in ``np.vectorize`` (``book``), or as it has them now, NumPy expressions on the
  whole vector (``book-exp``).
* :func:`vectorized_numpy` -- the obvious NumPy version: each mini-batch a
  matrix, every operation a fresh array.
* :func:`sklearn_mlp` -- scikit-learn's ``MLPClassifier`` (logistic
  units, plain SGD, constant learning rate, no momentum, no L2 penalty).
  Its output layer is softmax with the log-loss, not the quadratic cost.
* :func:`torch_sgd` -- PyTorch: ``nn.Sequential``, ``optim.SGD``, the
  quadratic cost through autograd.
* :func:`jax_scan` -- JAX: one jitted function per epoch, a ``lax.scan`` of
  gradient steps over the mini-batches.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

Epoch = Callable[[], None]
Peer = tuple[Epoch, Callable[[], int]]


class BookNetwork:
    """The chapter's algorithm as the book runs it: a Python loop over the
    examples of each mini-batch, each example's gradient by backprop on
    column vectors, the gradients summed, then one step."""

    def __init__(self, sizes: Sequence[int], seed: int, dtype: DTypeLike, vectorize: bool = True) -> None:
        rng = np.random.default_rng(seed)
        self.sigmoid: Callable[[Any], Any]
        self.sigmoid_prime: Callable[[Any], Any]
        if vectorize:
            self.sigmoid, self.sigmoid_prime = np.vectorize(_sigmoid), np.vectorize(_sigmoid_prime)
        else:
            self.sigmoid, self.sigmoid_prime = _sigmoid, _sigmoid_prime
        self.biases = [rng.standard_normal((n, 1)).astype(dtype) for n in sizes[1:]]
        self.weights = [rng.standard_normal((n, k)).astype(dtype) for k, n in zip(sizes[:-1], sizes[1:])]
        self.random = random.Random(seed)

    def epoch(self, training_data: list[tuple[np.ndarray, np.ndarray]], mini_batch_size: int, eta: float) -> None:
        self.random.shuffle(training_data)
        for k in range(0, len(training_data), mini_batch_size):
            self.update_mini_batch(training_data[k : k + mini_batch_size], eta)

    def update_mini_batch(self, mini_batch: list[tuple[np.ndarray, np.ndarray]], eta: float) -> None:
        sum_b = [np.zeros_like(b) for b in self.biases]
        sum_w = [np.zeros_like(w) for w in self.weights]
        for x, y in mini_batch:
            grad_b, grad_w = self.backprop(x, y)
            sum_b = [s + g for s, g in zip(sum_b, grad_b)]
            sum_w = [s + g for s, g in zip(sum_w, grad_w)]
        rate = eta / len(mini_batch)
        self.biases = [b - rate * s for b, s in zip(self.biases, sum_b)]
        self.weights = [w - rate * s for w, s in zip(self.weights, sum_w)]

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        for b, w in zip(self.biases, self.weights):
            a = self.sigmoid(np.dot(w, a) + b)
        return a

    def evaluate(self, test_data: list[tuple[np.ndarray, int]]) -> int:
        return sum(int(np.argmax(self.feedforward(x)) == y) for x, y in test_data)

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = self.sigmoid(z)
            activations.append(activation)
        grad_b = [np.zeros_like(b) for b in self.biases]  # as the book's backprop starts
        grad_w = [np.zeros_like(w) for w in self.weights]
        delta = (activations[-1] - y) * self.sigmoid_prime(zs[-1])
        grad_b[-1], grad_w[-1] = delta, np.dot(delta, activations[-2].T)
        for l in range(2, len(self.biases) + 1):
            delta = np.dot(self.weights[-l + 1].T, delta) * self.sigmoid_prime(zs[-l])
            grad_b[-l], grad_w[-l] = delta, np.dot(delta, activations[-l - 1].T)
        return grad_b, grad_w


def _sigmoid(z: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-z))


def _sigmoid_prime(z: Any) -> Any:
    return _sigmoid(z) * (1 - _sigmoid(z))


def book(
    X: np.ndarray,
    labels: np.ndarray,
    X_test: np.ndarray,
    labels_test: np.ndarray,
    sizes: Sequence[int],
    batch: int,
    eta: float,
    dtype: DTypeLike,
    seed: int,
    vectorize: bool = True,
) -> Peer:
    eye = np.eye(sizes[-1], dtype=dtype)
    data = [(x.reshape(-1, 1), eye[:, [t]]) for x, t in zip(X.astype(dtype), labels)]
    test = [(x.reshape(-1, 1), int(t)) for x, t in zip(X_test.astype(dtype), labels_test)]
    net = BookNetwork(sizes, seed, dtype, vectorize)
    return (lambda: net.epoch(data, batch, eta)), (lambda: net.evaluate(test))


def book_exp(
    X: np.ndarray,
    labels: np.ndarray,
    X_test: np.ndarray,
    labels_test: np.ndarray,
    sizes: Sequence[int],
    batch: int,
    eta: float,
    dtype: DTypeLike,
    seed: int,
) -> Peer:
    return book(X, labels, X_test, labels_test, sizes, batch, eta, dtype, seed, vectorize=False)


def vectorized_numpy(
    X: np.ndarray,
    labels: np.ndarray,
    X_test: np.ndarray,
    labels_test: np.ndarray,
    sizes: Sequence[int],
    batch: int,
    eta: float,
    dtype: DTypeLike,
    seed: int,
) -> Peer:
    rng = np.random.default_rng(seed)
    X, X_test = X.astype(dtype), X_test.astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[labels]
    ws = [rng.standard_normal((k, n)).astype(dtype) for k, n in zip(sizes[:-1], sizes[1:])]
    bs = [rng.standard_normal(n).astype(dtype) for n in sizes[1:]]

    def epoch() -> None:
        order = rng.permutation(len(X))
        for k in range(0, len(X), batch):
            idx = order[k : k + batch]
            acts = [X[idx]]
            for w, b in zip(ws, bs):
                acts.append(1 / (1 + np.exp(-(acts[-1] @ w + b))))
            delta = (acts[-1] - Y[idx]) * acts[-1] * (1 - acts[-1])
            rate = eta / len(idx)
            for l in range(len(ws) - 1, -1, -1):
                grad_w, grad_b = acts[l].T @ delta, delta.sum(axis=0)
                if l > 0:
                    delta = (delta @ ws[l].T) * acts[l] * (1 - acts[l])
                ws[l] -= rate * grad_w
                bs[l] -= rate * grad_b

    def evaluate() -> int:
        a = X_test
        for w, b in zip(ws, bs):
            a = 1 / (1 + np.exp(-(a @ w + b)))
        return int((a.argmax(axis=1) == labels_test).sum())

    return epoch, evaluate


def sklearn_mlp(
    X: np.ndarray,
    labels: np.ndarray,
    X_test: np.ndarray,
    labels_test: np.ndarray,
    sizes: Sequence[int],
    batch: int,
    eta: float,
    dtype: DTypeLike,
    seed: int,
) -> Peer:
    from sklearn.neural_network import MLPClassifier

    X, X_test = X.astype(dtype), X_test.astype(dtype)
    model = MLPClassifier(
        hidden_layer_sizes=tuple(sizes[1:-1]),
        activation="logistic",
        solver="sgd",
        batch_size=batch,
        learning_rate="constant",
        learning_rate_init=eta / 10,  # its log-loss takes larger steps than the quadratic cost
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        shuffle=True,
        random_state=seed,
    )
    classes = np.arange(sizes[-1])
    return (lambda: model.partial_fit(X, labels, classes=classes)), (
        lambda: int((model.predict(X_test) == labels_test).sum())
    )


def torch_sgd(
    X: np.ndarray,
    labels: np.ndarray,
    X_test: np.ndarray,
    labels_test: np.ndarray,
    sizes: Sequence[int],
    batch: int,
    eta: float,
    dtype: DTypeLike,
    seed: int,
) -> Peer:
    import torch

    torch.manual_seed(seed)
    tdtype = torch.float32 if np.dtype(dtype) == np.float32 else torch.float64
    layers = []
    for k, n in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(k, n), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers).to(tdtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=eta)
    Xt = torch.from_numpy(X.astype(dtype))
    Yt = torch.from_numpy(np.eye(sizes[-1], dtype=dtype)[labels])
    Xt_test, yt_test = torch.from_numpy(X_test.astype(dtype)), torch.from_numpy(labels_test)

    def epoch() -> None:
        order = torch.randperm(len(Xt))
        for k in range(0, len(Xt), batch):
            idx = order[k : k + batch]
            optimizer.zero_grad()
            loss = ((model(Xt[idx]) - Yt[idx]) ** 2).sum() / (2 * len(idx))
            loss.backward()
            optimizer.step()

    def evaluate() -> int:
        with torch.no_grad():
            return int((model(Xt_test).argmax(dim=1) == yt_test).sum())

    return epoch, evaluate


def jax_scan(
    X: np.ndarray,
    labels: np.ndarray,
    X_test: np.ndarray,
    labels_test: np.ndarray,
    sizes: Sequence[int],
    batch: int,
    eta: float,
    dtype: DTypeLike,
    seed: int,
) -> Peer:
    import jax

    if np.dtype(dtype) == np.float64:
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    n = len(X) - len(X) % batch  # lax.scan wants equal mini-batches
    Xj = jnp.asarray(X[:n].astype(dtype))
    Yj = jnp.asarray(np.eye(sizes[-1], dtype=dtype)[labels[:n]])
    rng = np.random.default_rng(seed)
    params = [
        (jnp.asarray(rng.standard_normal((k, m)).astype(dtype)), jnp.asarray(rng.standard_normal(m).astype(dtype)))
        for k, m in zip(sizes[:-1], sizes[1:])
    ]

    Xj_test, yj_test = jnp.asarray(X_test.astype(dtype)), jnp.asarray(labels_test)

    def feedforward(params: Any, a: Any) -> Any:
        for w, b in params:
            a = jax.nn.sigmoid(a @ w + b)
        return a

    def cost(params: Any, x: Any, y: Any) -> Any:
        return jnp.sum((feedforward(params, x) - y) ** 2) / (2 * len(x))

    @jax.jit
    def correct(params: Any) -> Any:
        return jnp.sum(jnp.argmax(feedforward(params, Xj_test), axis=1) == yj_test)

    def step(params: Any, xy: Any) -> tuple[Any, None]:
        grads = jax.grad(cost)(params, *xy)
        return jax.tree_util.tree_map(lambda p, g: p - eta * g, params, grads), None

    @jax.jit
    def run_epoch(params: Any, key: Any) -> Any:
        order = jax.random.permutation(key, n)
        xs = Xj[order].reshape(n // batch, batch, -1)
        ys = Yj[order].reshape(n // batch, batch, -1)
        return jax.lax.scan(step, params, (xs, ys))[0]

    state = {"params": params, "key": jax.random.PRNGKey(seed)}

    def epoch() -> None:
        state["key"], key = jax.random.split(state["key"])
        state["params"] = jax.block_until_ready(run_epoch(state["params"], key))

    return epoch, (lambda: int(correct(state["params"])))


#: name -> (builder, module it needs, pip install command)
PEERS = {
    "book": (book, None, None),
    "book-exp": (book_exp, None, None),
    "numpy": (vectorized_numpy, None, None),
    "sklearn": (sklearn_mlp, "sklearn", "pip install scikit-learn"),
    "torch": (torch_sgd, "torch", "pip install torch==2.13.0 (the CPU build)"),
    "jax": (jax_scan, "jax", "pip install jax jaxlib"),
}
