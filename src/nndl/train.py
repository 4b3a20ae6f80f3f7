"""A training run: its settings, checked once, and the run itself.

:class:`TrainConfig` holds what ``nndl train`` takes as flags; its defaults
are the notebook's run (``[784, 30, 10]``, 10 epochs, mini-batch 10,
eta 3.0).  :func:`train` loads the data, builds the network and runs SGD;
given a ``checkpoint`` path it saves the run there after every epoch and
when interrupted, and :func:`resume` goes on from such a checkpoint.

Every engine runs the same SGD loop.  Those of :mod:`nndl.engines`
(``auto``, ``reference``, ``numpy``, ``numba``, ``torch``) arrange the book's
backpropagation in different ways for speed; ``pytensor`` is the notes'
symbolic model (:class:`~nndl.symbolic.SymbolicNetwork`: biases start at 1,
the default eta is 6.0, the notes' learning rate 3/m on the summed cost, and
the default dtype float64, as Theano's ``floatX``).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from . import engines
from .data import Dataset, load
from .errors import ConfigError, DataError
from .network import EpochResult, History, Network, Position, _check_sizes

#: Upper bounds on what a user may ask for.
MAX_EPOCHS = 100_000
MAX_BATCH = 1_000_000
#: Each engine's default eta (the book's eta, on the mean cost of a mini-batch).
ENGINE_ETA = {"auto": 3.0, "pytensor": 6.0}
#: Each engine's default dtype: float32 is as accurate here as the book's
#: float64 (see benchmarks/README.md) and faster; the notes' model keeps float64.
ENGINE_DTYPE = {"auto": "float32", "pytensor": "float64"}


@dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run; defaults are the notebook's run.

    ``eta`` is the book's learning rate for either ``engine``; left as None
    it becomes the engine's default (:data:`ENGINE_ETA`).
    """

    sizes: tuple[int, ...] = (784, 30, 10)
    epochs: int = 10
    batch_size: int = 10
    eta: float | None = None
    seed: int | None = 0
    dtype: str | None = None
    eval: str = "test"
    data: str | None = None
    engine: str = "auto"
    device: str = "cpu"
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.eta is None:
            object.__setattr__(self, "eta", ENGINE_ETA.get(self.engine, ENGINE_ETA["auto"]))
        if self.dtype is None:
            object.__setattr__(self, "dtype", ENGINE_DTYPE.get(self.engine, ENGINE_DTYPE["auto"]))

    def validate(self) -> TrainConfig:
        """Check every setting, raising :class:`ConfigError` naming the first
        one out of range and the value given."""
        _check_sizes(self.sizes)
        if not (isinstance(self.epochs, int) and 1 <= self.epochs <= MAX_EPOCHS):
            raise ConfigError(f"epochs must be an integer from 1 to {MAX_EPOCHS}, got {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and 1 <= self.batch_size <= MAX_BATCH):
            raise ConfigError(f"batch size must be an integer from 1 to {MAX_BATCH}, got {self.batch_size!r}")
        if not (isinstance(self.eta, (int, float)) and math.isfinite(self.eta) and self.eta > 0):
            raise ConfigError(f"eta must be a finite number > 0, got {self.eta!r}")
        if self.seed is not None and not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if self.eval not in ("test", "validation"):
            raise ConfigError(f"eval must be 'test' or 'validation', got {self.eval!r}")
        engines.check(self.engine, self.device)
        return self

    def check_data(self, data: Dataset) -> None:
        """The first layer must match the images, the last the classes."""
        if self.sizes[0] != data.n_inputs:
            raise ConfigError(
                f"sizes must start with the input width of the data, {data.n_inputs} pixels; "
                f"got sizes {list(self.sizes)}"
            )
        if self.sizes[-1] != data.n_classes:
            raise ConfigError(
                f"sizes must end with the number of classes in the data, {data.n_classes}; got sizes {list(self.sizes)}"
            )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sizes"] = list(self.sizes)
        extra = d.pop("extra")
        return {**d, **extra}

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The config :meth:`to_dict` wrote, checked; keys it does not know
        go to ``extra``."""
        names = {f.name for f in fields(cls)} - {"extra"}
        sizes = d.get("sizes", cls.sizes)
        if not (isinstance(sizes, (list, tuple)) and all(isinstance(n, int) for n in sizes)):
            raise ConfigError(f"sizes must be a list of integers, got {str(sizes)[:60]}")
        if not isinstance(d.get("data"), (str, type(None))):
            raise ConfigError(f"data must be a path or null, got {str(d['data'])[:60]}")
        known = {k: v for k, v in d.items() if k in names}
        config = cls(**{**known, "sizes": tuple(sizes)}, extra={k: v for k, v in d.items() if k not in names})
        return config.validate()


def train(
    config: TrainConfig = TrainConfig(),
    *,
    data: Dataset | None = None,
    progress: bool | None = False,
    log: Callable[[str], None] | None = print,
    on_epoch: Callable[[EpochResult], None] | None = None,
    history_path: str | os.PathLike | None = None,
    monitor_training: bool = False,
    status: Callable[[str], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
) -> tuple[Network, History]:
    """Run the training ``config`` describes and return the trained
    network and its history (whose ``settings`` are ``config``'s).

    ``history_path`` names a JSON file that holds the history so far,
    rewritten (atomically) after every epoch; ``monitor_training`` also
    measures accuracy and cost on the training data after every epoch.
    ``status`` receives messages that are not results, such as the time the
    pytensor engine spent compiling (None: silence).

    With a ``checkpoint`` path (which must not exist yet: an earlier run's
    checkpoint is never overwritten) the run is saved there after every
    epoch; SIGINT or SIGTERM then stop it after the current few mini-batches,
    save it, and raise :class:`~nndl.network.Interrupted`.  :func:`resume`
    goes on from the checkpoint.
    """
    config.validate()
    data = load(config.data) if data is None else data
    config.check_data(data)
    if checkpoint is not None and Path(checkpoint).exists():
        raise ConfigError(
            f"checkpoint {checkpoint} already exists; resume it (--resume {checkpoint}) or remove it to start afresh"
        )
    net = on_engine(None, config, status)
    if checkpoint is not None:
        from .checkpoint import claim

        claim(checkpoint, net, config, data)  # written only if still free: two runs cannot share it
    return _run(
        net, config, data, History(), Position(), progress, log, on_epoch, checkpoint, history_path, monitor_training
    )


def on_engine(net: Network | None, config: TrainConfig, status: Callable[[str], None] | None = None) -> Network:
    """``net`` (None: a new network) on the engine and device ``config``
    names; a new pytensor network starts its biases at 1, as the notes do."""
    if config.engine != "pytensor":
        if net is None:
            return Network(
                config.sizes, seed=config.seed, dtype=config.dtype, engine=config.engine, device=config.device
            )
        net.engine, net.device = config.engine, config.device
        return net
    from .symbolic import SymbolicNetwork

    if net is None:
        net = SymbolicNetwork(config.sizes, seed=config.seed, dtype=config.dtype)
    else:
        net = SymbolicNetwork.from_network(net)
    if status is not None:
        status(f"Compiled the PyTensor model in {net.compile_seconds:.2f} s")
    return net


def resume(
    path: str | os.PathLike,
    *,
    data: Dataset | str | os.PathLike | None = None,
    progress: bool | None = False,
    log: Callable[[str], None] | None = print,
    on_epoch: Callable[[EpochResult], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    history_path: str | os.PathLike | None = None,
    monitor_training: bool = False,
    status: Callable[[str], None] | None = None,
) -> tuple[Network, History]:
    """Go on with the run saved in the checkpoint at ``path`` until its
    planned number of epochs, with its own settings.

    The result is bit for bit what the uninterrupted run would have given.
    ``data`` (a Dataset or a path; default: the checkpoint's data) must be
    the very data the run started on.  The run goes on saving to
    ``checkpoint`` (default: ``path`` itself).
    """
    from .checkpoint import fingerprint, load_checkpoint

    saved = load_checkpoint(path)
    config = saved.config
    if isinstance(data, (str, os.PathLike)):  # the same data, moved: the settings follow it
        config = replace(config, data=str(data))
    if not isinstance(data, Dataset):
        data = load(config.data)
    config.check_data(data)
    order = saved.position.order
    if order is not None and len(order) != len(data.train):  # checked apart from the fingerprint, which is no proof
        raise DataError(f"{path}: its saved order has {len(order):,} places; the training data has {len(data.train):,}")
    if fingerprint(data) != saved.fingerprint:
        raise DataError(f"{data.name} is not the data the run in {path} was trained on")
    if checkpoint is None:
        checkpoint = path
    elif Path(checkpoint).exists() and Path(checkpoint).resolve() != Path(path).resolve():
        raise ConfigError(f"checkpoint {checkpoint} already exists; choose another path or remove it")
    net = on_engine(saved.network, config, status)
    return _run(
        net,
        config,
        data,
        saved.history,
        saved.position,
        progress,
        log,
        on_epoch,
        checkpoint,
        history_path,
        monitor_training,
    )


def _run(
    net, config, data, history, start, progress, log, on_epoch, checkpoint, history_path=None, monitor_training=False
) -> tuple[Network, History]:
    """SGD from ``start`` to ``config.epochs``, saving checkpoints if asked."""
    history.settings = config.to_dict()
    if history_path is not None or monitor_training:
        on_epoch = _recording(net, data, history, on_epoch, history_path, monitor_training)
    sgd = functools.partial(
        net.SGD,
        data.train,
        config.epochs,
        config.batch_size,
        config.eta,
        test_data=data[config.eval],
        progress=progress,
        log=log,
        history=history,
        start=start,
    )
    if checkpoint is None:
        sgd(on_epoch=on_epoch)
    else:
        from .checkpoint import Checkpointer

        with Checkpointer(checkpoint, net, config, history, data) as saver:
            sgd(on_epoch=saver.after(on_epoch), stop=saver.stop)
    return net, history


def _recording(net, data, history, on_epoch, history_path, monitor_training) -> Callable[[EpochResult], None]:
    """An ``on_epoch`` hook that adds the training-data figures and keeps the
    history file up to date, then calls ``on_epoch``.  ``history`` is the
    run's own, to which each epoch is appended before the hook runs."""
    if history_path is not None:
        history.save(history_path)  # an unwritable path fails now, before any training

    def record(result: EpochResult) -> None:
        if monitor_training:
            correct, result.train_cost = net._evaluate_arrays(data.train.images, data.train.labels)
            result.train_accuracy = correct / len(data.train)
        if history_path is not None:
            history.save(history_path)
        if on_epoch is not None:
            on_epoch(result)

    return record
