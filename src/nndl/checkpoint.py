"""Checkpoints: a training run saved so that it can go on exactly where it stopped.

A checkpoint is an ``.npz`` file (read without pickle, like a model file)
holding everything the run depends on:

* the network's ``sizes``, ``weights_<l>`` and ``biases_<l>``;
* the run's ``settings`` (a :class:`~nndl.config.TrainConfig`, as JSON);
* the ``epoch`` reached and, for an epoch cut short, its shuffled ``order``
  and the next mini-batch ``batch``;
* the ``history`` of the epochs finished (JSON);
* the random generator's state, ``rng`` (JSON): the shuffles still to come;
* a ``fingerprint`` of the data, so a run never goes on with other data.

SGD's only randomness is the generator, and the order of an epoch cut short
is saved, so a resumed run repeats the uninterrupted run's arithmetic
exactly: its parameters come out bit for bit the same.

:class:`Checkpointer` writes checkpoints during a run (every write atomic:
a crash leaves the previous checkpoint whole) and turns SIGINT and SIGTERM
into a request to stop at the next mini-batch boundary.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import numpy as np

from . import loop, modelfile
from .config import TrainConfig
from .data import Dataset
from .errors import ConfigError, DataError, NNDLError
from .files import NpzReader, check_output, open_npz, write_npz
from .history import EpochResult, History, epoch_record
from .loop import Interrupted, Position
from .network import Network

#: Checkpoint files written by this version of nndl.
CHECKPOINT_FORMAT = 1
KIND = "nndl-checkpoint"


@dataclass
class Checkpoint:
    """A training run as a checkpoint file holds it."""

    network: Network
    config: TrainConfig
    position: Position
    history: History
    fingerprint: str


def fingerprint(data: Dataset) -> str:
    """A digest of every image and label of ``data``: equal digests, equal data."""
    h = hashlib.blake2b(digest_size=16)
    for split in (data.train, data.validation, data.test):
        for a in (split.images, split.labels):
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(np.ascontiguousarray(a).data.cast("B"))
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, saved: Checkpoint, *, exclusive: bool = False) -> Path:
    """Write ``saved`` to ``path`` atomically (with ``exclusive``, only if
    ``path`` does not exist yet).  Non-finite parameters are refused: a
    diverged run never replaces a good checkpoint."""
    net = saved.network
    if not all(np.isfinite(p).all() for p in net.weights + net.biases):
        raise DataError(f"refusing to save non-finite weights or biases to {path}")
    arrays = modelfile.arrays(net.sizes, net.weights, net.biases, saved.config.to_dict())
    arrays["epoch"] = np.array(saved.position.epoch, dtype=np.int64)
    if saved.position.order is not None:
        arrays["order"] = np.asarray(saved.position.order, dtype=np.int64)
        arrays["batch"] = np.array(saved.position.batch, dtype=np.int64)
    arrays["history"] = np.array(json.dumps([asdict(e) for e in saved.history]))
    arrays["rng"] = np.array(json.dumps(net.rng.bit_generator.state))
    arrays["fingerprint"] = np.array(saved.fingerprint)
    return write_npz(path, KIND, CHECKPOINT_FORMAT, arrays, exclusive=exclusive)


def claim(path: str | os.PathLike, network: Network, config: TrainConfig, data: Dataset) -> Path:
    """Write the start of a new run to the checkpoint ``path``, which must not
    exist: of two runs started at once on one path, one takes it and the
    other gets a :class:`~nndl.errors.ConfigError`, before any training."""
    start = Checkpoint(network, config, Position(), History(), fingerprint(data))
    try:
        return save_checkpoint(path, start, exclusive=True)
    except FileExistsError:
        raise ConfigError(
            f"checkpoint {path} already exists; resume it (--resume {path}) or remove it to start afresh"
        ) from None


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and check a checkpoint written by :func:`save_checkpoint`.

    Everything is checked against everything else (the settings against the
    parameters, the position against the settings, the history against the
    position), so a damaged or doctored file is refused with
    :class:`~nndl.errors.DataError` instead of training on nonsense.
    """
    with open_npz(path) as npz:
        npz.check_format(KIND, CHECKPOINT_FORMAT, "an nndl checkpoint")
        for key in ("settings", "epoch", "history", "rng", "fingerprint"):
            if key not in npz:
                raise DataError(f"{path} is not a complete checkpoint: it has no {key!r}")
        net = Network.from_parameters(modelfile.from_npz(npz))
        try:
            config = TrainConfig.from_dict(net.settings)
        except NNDLError as e:
            raise DataError(f"{path}: its settings are invalid: {e}") from None
        if list(config.sizes) != net.sizes or config.dtype != net.dtype.name:
            raise DataError(f"{path}: its settings do not match its parameters")
        epoch = _integer(npz, "epoch", 0, config.epochs)
        position = Position(epoch)
        if "order" in npz:
            if epoch == config.epochs:
                raise DataError(f"{path}: a finished run cannot be inside an epoch")
            order = npz.read("order", limit=8 * 2**32)
            if order.ndim != 1 or order.dtype.kind not in "iu" or not loop.is_permutation(order):
                raise DataError(f"{path}: order must be a permutation of the training examples")
            n_batches = -(-len(order) // config.batch_size)
            position = Position(epoch, order.astype(np.intp), _integer(npz, "batch", 0, n_batches - 1))
        history = _history(npz.json("history"), epoch, path)
        rng = _generator(npz.json("rng"), path)
        digest = npz.text("fingerprint", limit=64)
    net.rng = rng
    return Checkpoint(net, config, position, history, digest)


class StoppedAtOnce(KeyboardInterrupt):
    """A second signal during a run that :class:`Checkpointer` saves: it
    stops at once.  ``checkpoint`` is the file the last save left whole;
    ``signum`` the signal."""

    def __init__(self, message: str, checkpoint: Path, signum: int) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.signum = signum


class Checkpointer:
    """Saves a run to ``path`` after every epoch and when it is interrupted.

    Inside a ``with`` block (in the main thread) SIGINT and SIGTERM no longer
    kill the run: they set a flag that :meth:`stop` reports, SGD stops at the
    next check (within :data:`~nndl.loop.BATCHES_PER_UPDATE`
    mini-batches) with :class:`~nndl.loop.Interrupted`, and on the way out
    the checkpoint is written and the exception says where.  A second signal
    stops at once, with the last checkpoint written still whole.
    """

    def __init__(
        self, path: str | os.PathLike, network: Network, config: TrainConfig, history: History, data: Dataset
    ) -> None:
        check_output(path)
        self.path = Path(path)
        self.network, self.config, self.history = network, config, history
        self.fingerprint = fingerprint(data)
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def save(self, position: Position) -> Path:
        """Write the run, as it stands at ``position``, to the checkpoint."""
        run = Checkpoint(self.network, self.config, position, self.history, self.fingerprint)
        return save_checkpoint(self.path, run)

    def stop(self) -> bool:
        """Whether a signal has asked the run to stop."""
        return self.signum is not None

    def after(self, on_epoch: Callable[[EpochResult], None] | None) -> Callable[[EpochResult], None]:
        """An ``on_epoch`` callback that saves the checkpoint, then calls ``on_epoch``."""

        def saved_then(result: EpochResult) -> None:
            self.save(Position(result.epoch + 1))
            if on_epoch is not None:
                on_epoch(result)

        return saved_then

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # asked twice: stop now, saying what that leaves
            name = signal.Signals(signum).name
            if not self.path.exists():
                raise KeyboardInterrupt(f"stopped at once by a second signal ({name}); nothing was saved")
            raise StoppedAtOnce(
                f"stopped at once by a second signal ({name}); {self.path} holds the run as its last save left it",
                self.path,
                signum,
            )
        self.signum = signum

    def __enter__(self) -> Checkpointer:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:  # a second signal during the last save still says what it did
            if isinstance(error, Interrupted):
                error.signum = self.signum
                error.checkpoint = self.save(error.position)
                name = signal.Signals(self.signum).name if self.signum else "request"
                error.args = (f"{error.args[0]} by {name}; the run is saved in {error.checkpoint}",)
        finally:
            for s, handler in self._previous.items():
                signal.signal(s, handler)
            self._previous.clear()


# -- checking what a checkpoint holds ----------------------------------------


def _integer(npz: NpzReader, key: str, low: int, high: int) -> int:
    if key not in npz:
        raise DataError(f"{npz.path} has no {key!r}")
    a = npz.read(key, limit=8)
    if a.shape != () or a.dtype.kind not in "iu" or not low <= int(a) <= high:
        raise DataError(f"{npz.path}: {key} must be an integer from {low} to {high}, got {a.tolist()!r}")
    return int(a)


def _history(records: object, epochs: int, path: object) -> History:
    """The history of ``epochs`` finished epochs, each record checked."""
    if not isinstance(records, list) or len(records) != epochs:
        raise DataError(f"{path}: its history must list the {epochs} epochs finished")
    history = History([epoch_record(r, f"{path}: its history") for r in records])
    for j, e in enumerate(history):
        if e.epoch != j:
            raise DataError(f"{path}: its history's record of epoch {j} says epoch {e.epoch}")
    return history


def _generator(state: Any, path: object) -> np.random.Generator:
    """A generator in the saved state (NumPy's default bit generator, PCG64)."""
    if not (isinstance(state, dict) and state.get("bit_generator") == "PCG64"):
        raise DataError(f"{path}: its random generator state is not a PCG64 state")
    rng = np.random.Generator(np.random.PCG64())
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise DataError(f"{path}: its random generator state is invalid ({e})") from None
    return rng


__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "Checkpointer",
    "StoppedAtOnce",
    "fingerprint",
    "load_checkpoint",
    "save_checkpoint",
]
