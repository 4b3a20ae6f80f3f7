"""The training loop around the chapter's SGD: epochs, shuffles, progress,
stopping and going on, and divergence.

:meth:`Network.SGD <nndl.network.Network.SGD>` calls :func:`sgd`.  Each
epoch draws a fresh permutation of the training examples from the
network's generator, cuts it into mini-batches and trains them in groups
(:func:`train_epoch`); each group runs on the network's engine
(:mod:`nndl.engines`) or, on the reference engine, through the network's own
:meth:`~nndl.network.Network.update_mini_batch`, one mini-batch at a time.
Between groups the loop updates the progress bar, asks ``pace`` how far to
go next and ``stop`` whether to stop; after each epoch it evaluates and
reports.  A ``pace`` that is a :class:`Watch` also receives each
mini-batch's cost and the evaluation's answers, as the engines measure them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import engines
from .config import MAX_BATCH, MAX_EPOCHS, check_eta, check_integer
from .errors import DataError, NNDLError
from .history import EpochResult, History
from .inputs import MiniBatch, as_float, test_arrays, training_arrays

#: Mini-batches trained between ``stop`` checks (and at least between progress-bar updates).
BATCHES_PER_UPDATE = 100
#: Progress-bar updates per epoch, at most.
BAR_UPDATES = 20

#: ``pace(position)``: how many mini-batches to train from ``position`` before asking again; 0 stops.
Pace = Callable[["Position"], int]


class DivergedError(NNDLError):
    """Training produced non-finite weights or biases."""


@dataclass
class Position:
    """Where a training run stands: the next ``epoch`` to train and, inside
    an epoch, its shuffled ``order`` and the next mini-batch ``batch``
    (``order`` is None at an epoch boundary, before the shuffle)."""

    epoch: int = 0
    order: np.ndarray | None = None
    batch: int = 0


class Interrupted(KeyboardInterrupt):
    """Training stopped early because ``stop()`` or ``pace()`` asked it to.

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


class Watch:
    """A ``pace`` that also watches the run, at no cost to its speed (the
    training lab's): the engines measure what it receives as they go, so
    training need not stop to let it look.  Subclass it and override.

    The loop calls the watch, as any ``pace``, before each group of
    mini-batches (by default: the rest of the epoch); :meth:`trained` after
    each group; and, if :attr:`answers` is true, :meth:`evaluated` after
    each epoch's evaluation, before ``on_epoch``.
    """

    #: Whether the evaluation after each epoch hands :meth:`evaluated` each example's predicted class.
    answers: bool = False

    def __call__(self, position: Position) -> int:
        """How many mini-batches to train from ``position`` before asking again; 0 stops."""
        return sys.maxsize

    def trained(self, position: Position, costs: np.ndarray) -> None:
        """Mini-batches ``position.batch`` to ``position.batch + len(costs) - 1``
        of epoch ``position.epoch`` have been trained; ``costs[i]`` is the
        quadratic cost ``1/(2m) sum_x ||y(x) - a^L(x)||^2`` of the ``i``-th,
        from the forward pass before its step (float64, not to be changed)."""

    def evaluated(self, epoch: int, predicted: np.ndarray) -> None:
        """The predicted class of each evaluation example after epoch ``epoch``
        (an array of its own, not reused)."""


def sgd(
    net: Any,
    training_data: Any,
    epochs: int,
    mini_batch_size: int,
    eta: float,
    test_data: Any = None,
    *,
    progress: bool | None = False,
    log: Callable[[str], None] | None = print,
    on_epoch: Callable[[EpochResult], None] | None = None,
    history: History | None = None,
    start: Position | None = None,
    stop: Callable[[], bool] | None = None,
    pace: Pace | None = None,
) -> History:
    """Epochs ``start.epoch`` to ``epochs - 1`` of mini-batch SGD on ``net``
    (see :meth:`Network.SGD <nndl.network.Network.SGD>`).  Every argument is
    checked here first, by the checks :class:`~nndl.config.TrainConfig` uses."""
    epochs = check_integer("epochs", epochs, 1, MAX_EPOCHS)
    mini_batch_size = check_integer("mini_batch_size", mini_batch_size, 1, MAX_BATCH)
    eta = check_eta(eta)
    inputs, targets = training_arrays(training_data, net.sizes)
    targets = targets.astype(net.dtype, copy=False)
    engines.forget_data(net)  # the arrays may have changed in place since the last call
    test = None if test_data is None else test_arrays(test_data, net.sizes)
    evaluate = None if test is None else engines.evaluator(net, inputs, mini_batch_size)
    history = History(settings=run_settings(net, epochs, mini_batch_size, eta)) if history is None else history
    start = Position() if start is None else start
    watch = pace if isinstance(pace, Watch) else None
    for j in range(start.epoch, epochs):
        try:
            result = train_epoch(
                net,
                inputs,
                targets,
                mini_batch_size,
                eta,
                epoch=j,
                progress=progress,
                start=start if j == start.epoch else None,
                stop=stop,
                pace=pace,
            )
        except Interrupted as e:
            e.history = history
            raise
        if evaluate is not None and test is not None:
            predicted = np.empty(len(test[1]), np.int64) if watch is not None and watch.answers else None
            result.correct, result.cost = evaluate(*test, predicted)
            if watch is not None and predicted is not None:
                watch.evaluated(j, predicted)
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


def run_settings(net: Any, epochs: int, mini_batch_size: int, eta: float) -> dict:
    """The settings of a run of ``net.SGD``, named as ``nndl train`` records
    them, so its history's legend can say how it differs from other runs."""
    dtype = getattr(net, "dtype", None)
    return {
        "sizes": list(net.sizes),
        "epochs": epochs,
        "batch_size": mini_batch_size,
        "eta": float(eta),
        "seed": getattr(net, "seed", None),
        "dtype": getattr(dtype, "name", dtype),
        "engine": getattr(net, "engine", None),
    }


def train_epoch(
    net: Any,
    inputs: np.ndarray,
    targets: np.ndarray,
    mini_batch_size: int,
    eta: float,
    *,
    epoch: int = 0,
    progress: bool | None = False,
    start: Position | None = None,
    stop: Callable[[], bool] | None = None,
    pace: Pace | None = None,
) -> EpochResult:
    """Run one epoch of SGD over ``inputs`` ``(n, n_in)`` (uint8 bytes or
    floats) and desired outputs ``targets`` ``(n, n_out)``.

    The order is a fresh permutation drawn from the network's generator,
    unless ``start`` carries the order of an epoch cut short and the
    mini-batch to go on from (checked against the data first).  Mini-batches
    run in groups: ``pace(position)`` says how many before the next
    question, 0 to stop (a :class:`Watch` receives each group's costs after
    it); without it a group is :data:`BATCHES_PER_UPDATE`
    mini-batches when ``stop()`` is given (asked after each group), a
    twentieth of the epoch when a progress bar shows, else the whole epoch
    (the fewer the groups, the less the engine's per-call cost).  A stop
    raises :class:`Interrupted` with the position reached.

    Raises :class:`DivergedError` as soon as a number overflows or the
    parameters stop being finite.
    """
    n = len(inputs)
    n_batches = -(-n // mini_batch_size)
    if start is not None and start.order is not None:
        order, k = check_position(start, n, n_batches)
    else:
        order, k = net.rng.permutation(n), 0
    bar = progress_bar(progress, total=n_batches, initial=k, desc=f"Epoch {epoch}", unit="batch", leave=False)
    if stop is not None:
        group = BATCHES_PER_UPDATE
    elif bar is not None:
        group = max(BATCHES_PER_UPDATE, -(-n_batches // BAR_UPDATES))
    else:
        group = n_batches
    watch = pace if isinstance(pace, Watch) else None
    costs = None if watch is None else np.empty(n_batches)  # each mini-batch's cost, this epoch
    seconds = 0.0
    try:
        while k < n_batches:
            count = group if pace is None else pace(Position(epoch, order, k))
            if count < 1:
                _check_finite(net, epoch, eta)
                raise Interrupted(Position(epoch, order, k))
            last = min(k + count, n_batches)
            t0 = time.perf_counter()
            # Overflow is where divergence starts: stop there, not an epoch later.
            with np.errstate(over="raise", invalid="raise"):
                train_range(
                    net, inputs, targets, order, mini_batch_size, eta, k, last, None if costs is None else costs[k:last]
                )
            seconds += time.perf_counter() - t0
            if bar is not None:
                bar.update(last - k)
            if watch is not None and costs is not None:
                watch.trained(Position(epoch, order, k), costs[k:last])
            k = last
            if stop is not None and k < n_batches and stop():
                _check_finite(net, epoch, eta)
                raise Interrupted(Position(epoch, order, k))
    except FloatingPointError:
        raise DivergedError(
            f"training diverged in epoch {epoch}: the numbers overflowed (eta = {eta}); try a smaller eta"
        ) from None
    finally:
        if bar is not None:
            bar.close()
    _check_finite(net, epoch, eta)
    return EpochResult(epoch=epoch, seconds=seconds)


def train_range(
    net: Any,
    inputs: np.ndarray,
    targets: np.ndarray,
    order: np.ndarray,
    mini_batch_size: int,
    eta: float,
    first: int,
    last: int,
    costs: np.ndarray | None = None,
) -> None:
    """Mini-batches ``first`` to ``last - 1`` of an epoch, mini-batch ``k``
    being the examples ``order[k * mini_batch_size : (k + 1) * mini_batch_size]``:
    on the network's engine, or one :meth:`~nndl.network.Network.update_mini_batch` call each on
    the reference engine, given the book's list of ``(x, y)`` columns (a
    :class:`~nndl.inputs.MiniBatch`).  ``costs``, if given, receives each mini-batch's
    quadratic cost before its step (see :class:`Watch`); the reference
    measures it with a :meth:`~nndl.network.Network.feedforward` of its own."""
    engine = engines.select(net, inputs, mini_batch_size)
    if engine is not None:
        engine.train_batches(net, inputs, targets, order, mini_batch_size, eta, first, last, costs)
        return
    for k in range(first, last):
        idx = order[k * mini_batch_size : (k + 1) * mini_batch_size]
        x, y = as_float(inputs[idx], net.dtype).T, targets[idx].T
        if costs is not None:
            costs[k - first] = float(np.square(net.feedforward(x) - y, dtype=np.float64).sum()) / (2 * len(idx))
        net.update_mini_batch(MiniBatch(x, y), eta)


def check_position(start: Position, n: int, n_batches: int) -> tuple[np.ndarray, int]:
    """The saved ``order`` and ``batch`` of an epoch cut short, checked
    against the data before any engine indexes with them: ``order`` must be
    a permutation of the ``n`` training examples, ``batch`` a mini-batch of
    the epoch."""
    order = np.asarray(start.order)
    if order.ndim != 1 or order.dtype.kind not in "iu" or len(order) != n:
        raise DataError(
            f"the saved order must list each of the {n} training examples once; "
            f"got {order.dtype} of shape {order.shape}"
        )
    if not is_permutation(order):
        raise DataError(f"the saved order must be a permutation of the {n} training examples")
    if not (isinstance(start.batch, (int, np.integer)) and 0 <= start.batch < n_batches):
        raise DataError(f"the saved position must be a mini-batch from 0 to {n_batches - 1}, got {start.batch!r:.40}")
    return order.astype(np.intp, copy=False), int(start.batch)


def is_permutation(order: np.ndarray) -> bool:
    """Whether the integers ``order`` list each of ``0 .. len(order) - 1`` once."""
    seen = np.zeros(len(order), dtype=bool)
    inside = order[(order >= 0) & (order < len(order))]
    seen[inside] = True
    return len(inside) == len(order) and bool(seen.all())


def _check_finite(net: Any, epoch: int, eta: float) -> None:
    if not all(np.isfinite(p).all() for p in net.weights + net.biases):
        raise DivergedError(
            f"training diverged in epoch {epoch}: weights or biases are no longer finite "
            f"(eta = {eta}); try a smaller eta"
        )


def _quiet(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: None lets tqdm show the bar only on a terminal."""
    return None if progress is None else not progress


def progress_bar(progress: bool | None, **options: Any) -> Any:
    """A tqdm bar on stderr if ``progress`` (None: if stderr is a terminal),
    else None -- and then tqdm is not even imported."""
    if progress is None:
        try:
            progress = sys.stderr.isatty()
        except (AttributeError, ValueError):  # no stderr, or a closed one
            progress = False
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(**options)


__all__ = [
    "BAR_UPDATES",
    "BATCHES_PER_UPDATE",
    "DivergedError",
    "Interrupted",
    "Position",
    "Watch",
    "is_permutation",
    "progress_bar",
    "run_settings",
    "sgd",
    "train_epoch",
    "train_range",
]
