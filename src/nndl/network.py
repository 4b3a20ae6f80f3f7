"""The chapter's network: sigmoid neurons, quadratic cost, mini-batch SGD.

This is the book's ``network.py`` with its names and signatures, written
in matrix form: a mini-batch of ``m`` examples is a matrix whose ``m``
columns are the examples, so every equation of the chapter reads as it does
for one example, with ``m`` columns instead of one::

    z^l = w^l a^{l-1} + b^l            a^l = sigma(z^l)
    delta^L = (a^L - y) * sigma'(z^L)
    delta^l = ((w^{l+1})^T delta^{l+1}) * sigma'(z^l)
    dC/db^l = delta^l                  dC/dw^l = delta^l (a^{l-1})^T

The cost is the quadratic cost ``C = 1/(2n) sum_x ||y(x) - a^L(x)||^2``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import engines
from .errors import ConfigError, DataError, NNDLError
from .files import NpzReader, atomic_write, open_npz, read_json, write_npz

#: Model files written by this version of nndl.
MODEL_FORMAT = 1
#: The largest number of weights and biases a network may have.
MAX_PARAMETERS = 2**28
#: The largest number of layers a network may have.
MAX_LAYERS = 64
#: Examples per forward pass when evaluating (bounds memory: 6 MB of float64 inputs).
EVAL_CHUNK = 1_000
#: Mini-batches trained between progress-bar updates.
BATCHES_PER_UPDATE = 100
#: The largest history file (JSON) nndl reads.
MAX_HISTORY_BYTES = 64 * 2**20


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The sigmoid function ``1 / (1 + e^{-z})``.

    Written as ``(1 + tanh(z/2)) / 2``, which is the same function but never
    overflows, so large ``|z|`` (the book's eta = 100 experiment) saturates
    cleanly at 0 or 1 instead of warning.
    """
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid function: ``sigma(z) (1 - sigma(z))``."""
    s = sigmoid(z)
    return s * (1 - s)


class DivergedError(NNDLError):
    """Training produced non-finite weights or biases."""


@dataclass
class Position:
    """Where a training run stands: the next ``epoch`` to train and, inside
    an epoch cut short, its shuffled ``order`` and the next mini-batch
    ``batch`` (``order`` is None at an epoch boundary)."""

    epoch: int = 0
    order: np.ndarray | None = None
    batch: int = 0


class Interrupted(KeyboardInterrupt):
    """Training stopped early because ``stop()`` asked it to.

    It is a :class:`KeyboardInterrupt`, so code that handles Ctrl-C handles
    it.  ``position`` says where to go on from, ``history`` holds the epochs
    finished; whoever saves a checkpoint adds its ``checkpoint`` path.
    """

    def __init__(self, position: Position, history: History | None = None, signum: int | None = None) -> None:
        where = (
            f"after epoch {position.epoch - 1}"
            if position.order is None
            else f"in epoch {position.epoch} before mini-batch {position.batch}"
        )
        super().__init__(f"interrupted {where}")
        self.position = position
        self.history = history
        self.signum = signum
        self.checkpoint: Path | None = None


@dataclass
class EpochResult:
    """What one epoch of training achieved.

    ``correct``, ``total``, ``accuracy`` and ``cost`` are measured on the
    evaluation data (``None`` when there was none); ``seconds`` is the time
    spent training, evaluation excluded.  ``train_accuracy`` and
    ``train_cost`` are the same measures on the training data, filled in only
    when a run asks for them (they cost a pass over the training data).
    """

    epoch: int
    seconds: float
    correct: int | None = None
    total: int | None = None
    accuracy: float | None = None
    cost: float | None = None
    train_accuracy: float | None = None
    train_cost: float | None = None

    def line(self) -> str:
        """The book's per-epoch line, with the accuracy and the time added."""
        if self.total is None:
            return f"Epoch {self.epoch} complete ({self.seconds:.2f} s)"
        return f"Epoch {self.epoch}: {self.correct} / {self.total} ({100 * self.accuracy:.2f} %, {self.seconds:.2f} s)"


@dataclass
class History:
    """The per-epoch results of a training run, and the settings it used."""

    epochs: list[EpochResult] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.epochs)

    def __getitem__(self, i: int) -> EpochResult:
        return self.epochs[i]

    def __iter__(self):
        return iter(self.epochs)

    @property
    def accuracy(self) -> list[float | None]:
        return [e.accuracy for e in self.epochs]

    @property
    def cost(self) -> list[float | None]:
        return [e.cost for e in self.epochs]

    def to_dict(self) -> dict:
        return {"settings": self.settings, "epochs": [asdict(e) for e in self.epochs]}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls([EpochResult(**e) for e in d["epochs"]], dict(d.get("settings", {})))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the history (settings and per-epoch results) as JSON, atomically."""
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"
        return atomic_write(path, lambda f: f.write(text.encode()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read a history file written by :meth:`save` (or ``nndl train --history``),
        checking every field, so a damaged file is a :class:`DataError`."""
        d = read_json(path, limit=MAX_HISTORY_BYTES, what="a JSON history file")
        if not isinstance(d, dict) or not isinstance(d.get("epochs"), list):
            raise DataError(f"{path} is not an nndl history file: expected an object with a list 'epochs'")
        if not isinstance(d.get("settings", {}), dict):
            raise DataError(f"{path}: 'settings' must be an object")
        return cls.from_dict(
            {"settings": d.get("settings", {}), "epochs": [_epoch_fields(e, path) for e in d["epochs"]]}
        )


class Network:
    """A feedforward network of sigmoid neurons.

    The list ``sizes`` contains the number of neurons in the respective
    layers: ``Network([784, 30, 10])`` has 784 inputs, a hidden layer of 30
    neurons and 10 outputs.  Weights and biases start as draws from the
    standard normal distribution N(0, 1); the input layer has no biases.
    ``weights[l]`` has shape ``(n_out, n_in)``, ``biases[l]`` ``(n_out, 1)``.

    ``seed`` makes a run reproducible bit for bit: the same seed gives the
    same initial parameters and the same shuffles.  ``dtype`` is float64 as
    in the book, or float32.

    ``engine`` chooses how training runs (:mod:`nndl.engines`): ``"auto"``
    (the fastest available), ``"reference"`` (:meth:`backprop` per
    mini-batch, the code to read), ``"numpy"``, ``"numba"`` or ``"torch"``;
    ``device`` is ``"cpu"`` or ``"cuda"`` (through PyTorch).  All compute
    the same steps, equal to float rounding.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        seed: int | None = None,
        dtype: np.typing.DTypeLike = np.float64,
        *,
        engine: str = "auto",
        device: str = "cpu",
    ) -> None:
        self.sizes = _check_sizes(sizes)
        self.num_layers = len(self.sizes)
        self.dtype = _check_dtype(dtype)
        engines.check(engine, device)
        self.engine, self.device = engine, device
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        # Drawn in float64 and rounded, so float32 and float64 networks with
        # one seed start from the same values.
        self.biases = [self.rng.standard_normal((y, 1)).astype(self.dtype) for y in self.sizes[1:]]
        self.weights = [
            self.rng.standard_normal((y, x)).astype(self.dtype) for x, y in zip(self.sizes[:-1], self.sizes[1:])
        ]

    def __repr__(self) -> str:
        return f"Network({self.sizes}, dtype={self.dtype.name})"

    # -- the chapter's methods ---------------------------------------------

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        """Return the output of the network for input ``a``.

        ``a`` is a column ``(n_in, 1)`` as in the book, or a matrix whose
        columns are several inputs.
        """
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)
        return a

    def SGD(
        self,
        training_data,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        test_data=None,
        *,
        progress: bool | None = False,
        log: Callable[[str], None] | None = print,
        on_epoch: Callable[[EpochResult], None] | None = None,
        history: History | None = None,
        start: Position | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> History:
        """Train the network using mini-batch stochastic gradient descent.

        ``training_data`` is the book's list of ``(x, y)`` tuples, a
        :class:`~nndl.data.Split`, or a pair of arrays ``(X, y)`` with ``X``
        ``(n, n_in)`` and ``y`` the labels ``(n,)`` or desired outputs
        ``(n, n_out)``.  If ``test_data`` is given (the book's list of
        ``(x, label)`` tuples, a Split or ``(X, labels)``), the network is
        evaluated on it after each epoch and a line ``Epoch N: correct /
        total`` is passed to ``log`` (``print`` by default, None for silence).

        Each epoch shuffles the training data, cuts it into mini-batches of
        ``mini_batch_size`` (the last one may be smaller) and applies
        :meth:`update_mini_batch` to each with learning rate ``eta``.
        ``progress`` shows a progress bar on stderr (None: only on a
        terminal).  Returns the :class:`History` of the run.

        To go on with a run cut short, pass its ``history`` (appended to) and
        the :class:`Position` to ``start`` from.  ``stop`` is asked between
        small groups of mini-batches and after each epoch; when it answers
        True training stops with :class:`Interrupted`, which says where.
        """
        inputs, targets = _training_arrays(training_data, self.sizes)
        targets = targets.astype(self.dtype, copy=False)
        test = None if test_data is None else _test_arrays(test_data, self.sizes)
        history = History() if history is None else history
        start = Position() if start is None else start
        for j in range(start.epoch, epochs):
            try:
                result = self.train_epoch(
                    inputs,
                    targets,
                    mini_batch_size,
                    eta,
                    epoch=j,
                    progress=progress,
                    start=start if j == start.epoch else None,
                    stop=stop,
                )
            except Interrupted as e:
                e.history = history
                raise
            if test is not None:
                result.correct, result.cost = self._evaluate_arrays(*test)
                result.total = len(test[1])
                result.accuracy = result.correct / result.total
            history.epochs.append(result)
            if log is not None:
                log(result.line())
            if on_epoch is not None:
                on_epoch(result)
            if stop is not None and j + 1 < epochs and stop():
                raise Interrupted(Position(j + 1), history)
        return history

    def update_mini_batch(self, mini_batch, eta: float) -> None:
        """Update the network's weights and biases by applying gradient
        descent using backpropagation to a single mini batch.

        ``mini_batch`` is a list of ``(x, y)`` tuples (or a pair of column
        matrices ``(x, y)``) and ``eta`` is the learning rate::

            w -> w - eta dC/dw,    b -> b - eta dC/db

        with the gradient averaged over the mini-batch.
        """
        x, y = _columns(mini_batch)
        self._step(x.astype(self.dtype, copy=False), y.astype(self.dtype, copy=False), eta)

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Return ``(nabla_b, nabla_w)``, the gradient of the cost with
        respect to the biases and weights, layer by layer.

        ``x`` is an input column ``(n_in, 1)`` and ``y`` its desired output
        ``(n_out, 1)``, as in the book -- or matrices of ``m`` such columns,
        in which case the gradient is that of the mini-batch's cost
        ``C = 1/(2m) sum ||y - a^L||^2``, the mean of the per-example
        gradients.
        """
        m = x.shape[1]
        nabla_b = [np.zeros_like(b) for b in self.biases]
        nabla_w = [np.zeros_like(w) for w in self.weights]
        # feedforward, storing every weighted input z and activation a
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = w @ activation + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # backward pass
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta.sum(axis=1, keepdims=True) / m
        nabla_w[-1] = delta @ activations[-2].T / m
        # l counts layers from the end: l = 1 is the output layer, l = 2 the
        # last hidden layer, and so on.
        for l in range(2, self.num_layers):
            delta = (self.weights[-l + 1].T @ delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = delta.sum(axis=1, keepdims=True) / m
            nabla_w[-l] = delta @ activations[-l - 1].T / m
        return nabla_b, nabla_w

    def evaluate(self, test_data) -> int:
        """Return the number of test inputs for which the network outputs the
        correct result: the index of the most activated output neuron."""
        correct, _ = self._evaluate_arrays(*_test_arrays(test_data, self.sizes))
        return correct

    def cost_derivative(self, output_activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the vector of partial derivatives dC_x/da for the output
        activations: ``a - y`` for the quadratic cost."""
        return output_activations - y

    # -- beyond the book ----------------------------------------------------

    def train_epoch(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        mini_batch_size: int,
        eta: float,
        *,
        epoch: int = 0,
        progress: bool | None = False,
        start: Position | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> EpochResult:
        """Run one epoch of SGD over ``inputs`` ``(n, n_in)`` (uint8 bytes or
        floats) and desired outputs ``targets`` ``(n, n_out)``.

        The order is a fresh permutation drawn from the network's generator,
        unless ``start`` carries the order of an epoch cut short and the
        mini-batch to go on from.  ``stop`` is asked after every
        :data:`BATCHES_PER_UPDATE` mini-batches; if it answers True,
        :class:`Interrupted` is raised with the position reached.

        Raises :class:`DivergedError` as soon as a number overflows or the
        parameters stop being finite.
        """
        from tqdm import tqdm

        n = len(inputs)
        resumed = start is not None and start.order is not None
        order = start.order if resumed else self.rng.permutation(n)
        n_batches = -(-n // mini_batch_size)
        begin = start.batch if resumed else 0
        bar = tqdm(
            total=n_batches, initial=begin, desc=f"Epoch {epoch}", unit="batch", leave=False, disable=_quiet(progress)
        )
        t0 = time.perf_counter()
        try:
            for first in range(begin, n_batches, BATCHES_PER_UPDATE):
                last = min(first + BATCHES_PER_UPDATE, n_batches)
                # Overflow is where divergence starts: stop there, not an epoch later.
                with np.errstate(over="raise", invalid="raise"):
                    self._train_batches(inputs, targets, order, mini_batch_size, eta, first, last)
                bar.update(last - first)
                if stop is not None and last < n_batches and stop():
                    self._check_finite(epoch, eta)
                    raise Interrupted(Position(epoch, order, last))
        except FloatingPointError:
            raise DivergedError(
                f"training diverged in epoch {epoch}: the numbers overflowed (eta = {eta}); try a smaller eta"
            ) from None
        finally:
            bar.close()
        seconds = time.perf_counter() - t0
        self._check_finite(epoch, eta)
        return EpochResult(epoch=epoch, seconds=seconds)

    def _check_finite(self, epoch: int, eta: float) -> None:
        if not all(np.isfinite(p).all() for p in self.weights + self.biases):
            raise DivergedError(
                f"training diverged in epoch {epoch}: weights or biases are no longer finite "
                f"(eta = {eta}); try a smaller eta"
            )

    def _train_batches(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        order: np.ndarray,
        mini_batch_size: int,
        eta: float,
        first: int,
        last: int,
    ) -> None:
        """Apply :meth:`update_mini_batch`'s step to mini-batches ``first`` to
        ``last - 1`` of an epoch, mini-batch ``k`` being the examples
        ``order[k * mini_batch_size : (k + 1) * mini_batch_size]``.

        A faster engine, when one is chosen, does the same here; the code
        below is the reference."""
        engine = engines.select(self, inputs, mini_batch_size)
        if engine is not None:
            engine.train_batches(self, inputs, targets, order, mini_batch_size, eta, first, last)
            return
        for k in range(first, last):
            idx = order[k * mini_batch_size : (k + 1) * mini_batch_size]
            self._step(_as_float(inputs[idx], self.dtype).T, targets[idx].T, eta)

    def _step(self, x: np.ndarray, y: np.ndarray, eta: float) -> None:
        """One step of gradient descent on the mini-batch of columns ``x``, ``y``."""
        nabla_b, nabla_w = self.backprop(x, y)
        for b, nb in zip(self.biases, nabla_b):
            b -= eta * nb
        for w, nw in zip(self.weights, nabla_w):
            w -= eta * nw

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Output activations ``(n, n_out)`` for the rows of ``X`` ``(n, n_in)``
        (uint8 bytes or floats in [0, 1])."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise DataError(f"inputs must have shape (n, {self.sizes[0]}), got {X.shape}")
        out = [self.feedforward(_as_float(X[k : k + EVAL_CHUNK], self.dtype).T).T for k in range(0, len(X), EVAL_CHUNK)]
        return np.concatenate(out) if out else np.empty((0, self.sizes[-1]), self.dtype)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The predicted class (most activated output) for each row of ``X``."""
        return self.scores(X).argmax(axis=1)

    def cost(self, data) -> float:
        """The quadratic cost ``1/(2n) sum ||y - a||^2`` over labelled data."""
        return self._evaluate_arrays(*_test_arrays(data, self.sizes))[1]

    def _evaluate_arrays(self, X: np.ndarray, labels: np.ndarray) -> tuple[int, float]:
        correct, sq = 0, 0.0
        for k in range(0, len(X), EVAL_CHUNK):
            a = self.feedforward(_as_float(X[k : k + EVAL_CHUNK], self.dtype).T)
            lab = labels[k : k + EVAL_CHUNK]
            correct += int((a.argmax(axis=0) == lab).sum())
            a[lab, np.arange(len(lab))] -= 1.0
            sq += float(np.square(a, dtype=np.float64).sum())
        return correct, sq / (2 * len(X))

    # -- model files -------------------------------------------------------

    def save(self, path: str | os.PathLike, settings: dict | None = None) -> Path:
        """Write the network to an ``.npz`` model file, atomically.

        The file holds ``sizes``, each layer's ``weights_<l>`` and
        ``biases_<l>``, the format version and the training ``settings``
        (as JSON); it is read back without pickle by :meth:`load`.
        """
        return write_npz(path, "nndl-model", MODEL_FORMAT, self._arrays(settings))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Read a model file written by :meth:`save`; its training settings
        are in the returned network's ``settings`` attribute."""
        with open_npz(path) as npz:
            npz.check_format("nndl-model", MODEL_FORMAT, "an nndl model")
            return cls._from_npz(npz)

    def _arrays(self, settings: dict | None) -> dict[str, np.ndarray]:
        """The arrays of a model file: sizes, parameters and settings."""
        arrays = {"sizes": np.array(self.sizes, dtype=np.int64), "settings": np.array(json.dumps(settings or {}))}
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            arrays[f"weights_{l}"] = w
            arrays[f"biases_{l}"] = b
        return arrays

    @classmethod
    def _from_npz(cls, npz: NpzReader) -> Network:
        """The network stored in an open model (or checkpoint) file, every
        array checked against the shapes ``sizes`` implies before it is read."""
        path = npz.path
        if "sizes" not in npz:
            raise DataError(f"{path} holds no layer sizes")
        sizes = npz.read("sizes", limit=8 * MAX_LAYERS)
        if sizes.ndim != 1 or sizes.dtype.kind not in "iu":
            raise DataError(f"{path}: sizes must be a list of integers, got {sizes.dtype} {sizes.shape}")
        net = cls.__new__(cls)
        net.sizes = _check_sizes(sizes.tolist(), where=f"{path}: ")
        net.num_layers = len(net.sizes)
        net.weights, net.biases = [], []
        for l, (n_in, n_out) in enumerate(zip(net.sizes[:-1], net.sizes[1:])):
            net.weights.append(_param(npz, f"weights_{l}", (n_out, n_in)))
            net.biases.append(_param(npz, f"biases_{l}", (n_out, 1)))
        settings = npz.json("settings") if "settings" in npz else {}
        if not isinstance(settings, dict):
            raise DataError(f"{path}: settings must be a JSON object, got {type(settings).__name__}")
        seed = settings.get("seed")
        if seed is not None and not (isinstance(seed, int) and 0 <= seed < 2**63):
            raise DataError(f"{path}: settings hold seed {str(seed)[:40]!r}; expected a non-negative integer")
        dtypes = {p.dtype for p in net.weights + net.biases}
        if len(dtypes) != 1:
            raise DataError(f"{path}: parameters of mixed dtypes {sorted(map(str, dtypes))}")
        net.dtype = dtypes.pop()
        net.seed = seed
        net.rng = np.random.default_rng(seed)
        net.settings = settings
        net.engine, net.device = "auto", "cpu"
        return net


# --------------------------------------------------------------------------
# Checking and adapting what callers pass in


def _check_sizes(sizes, where: str = "") -> list[int]:
    try:
        sizes = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}sizes must be a list of layer widths, got {sizes!r}") from None
    if not 2 <= len(sizes) <= MAX_LAYERS:
        raise ConfigError(f"{where}sizes must name 2 to {MAX_LAYERS} layers, got {sizes}")
    if min(sizes) < 1:
        raise ConfigError(f"{where}every layer needs at least 1 neuron, got sizes {sizes}")
    n_params = sum(x * y + y for x, y in zip(sizes[:-1], sizes[1:]))
    if n_params > MAX_PARAMETERS:
        raise ConfigError(f"{where}sizes {sizes} make {n_params:,} parameters; at most {MAX_PARAMETERS:,} are allowed")
    return sizes


def _epoch_fields(e, path) -> dict:
    """One epoch of a history file, checked: an integer ``epoch``, numbers or
    null for the rest; unknown fields are ignored."""
    if not isinstance(e, dict) or not _is_number(e.get("epoch"), int):
        raise DataError(f"{path}: each epoch must be an object with an integer 'epoch', got {str(e)[:80]}")
    known = {name: e.get(name) for name in EpochResult.__dataclass_fields__}
    known["seconds"] = known["seconds"] or 0.0
    for name, value in known.items():
        if value is not None and not _is_number(value, (int, float)):
            raise DataError(f"{path}: epoch {e['epoch']}: {name} must be a number, got {value!r:.80}")
    return known


def _is_number(value, types) -> bool:
    if isinstance(value, bool) or not isinstance(value, types):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _check_dtype(dtype) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise ConfigError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _param(npz: NpzReader, key: str, shape: tuple[int, int]) -> np.ndarray:
    if key not in npz:
        raise DataError(f"{npz.path}: missing {key}")
    a = npz.read(key, limit=shape[0] * shape[1] * 8)
    if a.shape != shape or a.dtype not in (np.float32, np.float64):
        raise DataError(f"{npz.path}: {key} must be float32/float64 of shape {shape}, got {a.dtype} {a.shape}")
    if not np.isfinite(a).all():
        raise DataError(f"{npz.path}: {key} holds non-finite values")
    return a  # NpzReader.read gives a fresh, writable array: no copy needed


def _quiet(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: None lets tqdm show the bar only on a terminal."""
    return None if progress is None else not progress


def _as_float(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Inputs as floats: bytes become ``byte / 256``, floats pass through."""
    if x.dtype == np.uint8:
        x = x.astype(dtype)
        x *= dtype.type(1 / 256)
        return x
    return x.astype(dtype, copy=False)


def _columns(mini_batch) -> tuple[np.ndarray, np.ndarray]:
    """The book's list of ``(x, y)`` column tuples as two column matrices."""
    if isinstance(mini_batch, tuple) and len(mini_batch) == 2 and isinstance(mini_batch[0], np.ndarray):
        return mini_batch
    xs, ys = zip(*mini_batch)
    return np.hstack(xs), np.hstack(ys)


def _one_hot(labels: np.ndarray, n_out: int, dtype: np.dtype) -> np.ndarray:
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= n_out:
        raise DataError(
            f"labels must lie in 0..{n_out - 1} for {n_out} output neurons, got {labels.min()}..{labels.max()}"
        )
    out = np.zeros((len(labels), n_out), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def _pair(data, sizes: list[int], what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X (n, n_in), y)`` from a Split, a pair of arrays or the book's list."""
    from .data import Split

    if isinstance(data, Split):
        X, y = data.images, data.labels
    elif isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        X, y = np.asarray(data[0]), np.asarray(data[1])
    else:
        data = list(data)
        if not data:
            raise DataError(f"{what} is empty")
        X = np.stack([np.asarray(x).reshape(-1) for x, _ in data])
        first = np.asarray(data[0][1])
        y = (
            np.stack([np.asarray(t).reshape(-1) for _, t in data])
            if first.size > 1
            else np.array([int(t) for _, t in data])
        )
    if X.ndim != 2 or X.shape[1] != sizes[0]:
        raise DataError(f"{what}: inputs must have shape (n, {sizes[0]}) for sizes {sizes}, got {X.shape}")
    if len(X) != len(y):
        raise DataError(f"{what}: {len(X)} inputs but {len(y)} targets")
    if len(X) == 0:
        raise DataError(f"{what} is empty")
    return X, y


def _training_arrays(data, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    X, y = _pair(data, sizes, "training data")
    if y.ndim == 1:
        return X, _one_hot(y.astype(np.int64), sizes[-1], np.float64)
    if y.shape[1] != sizes[-1]:
        raise DataError(f"training data: desired outputs must have {sizes[-1]} columns, got {y.shape}")
    return X, y.astype(np.float64)


def _test_arrays(data, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    X, y = _pair(data, sizes, "test data")
    if y.ndim == 2:  # one-hot rows, as in the book's training data
        y = y.argmax(axis=1)
    return X, y.astype(np.int64)
