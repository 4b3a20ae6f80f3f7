"""A training run: its settings, checked once, and the run itself.

:class:`TrainConfig` holds what ``nndl train`` takes as flags; its defaults
are the notebook's run (``[784, 30, 10]``, 10 epochs, mini-batch 10,
eta 3.0).  :func:`train` loads the data, builds the network and runs SGD.

Two engines run the same SGD loop: ``numpy`` (the book's backpropagation,
:class:`~nndl.network.Network`) and ``pytensor`` (the notes' symbolic model,
:class:`~nndl.symbolic.SymbolicNetwork`: biases start at 1 and the default
eta is 6.0, the notes' learning rate 3/m on the summed cost).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from .data import Dataset, load
from .errors import ConfigError
from .network import EpochResult, History, Network, _check_sizes

#: Upper bounds on what a user may ask for.
MAX_EPOCHS = 100_000
MAX_BATCH = 1_000_000
#: Each engine's default eta (the book's eta, on the mean cost of a mini-batch).
ENGINE_ETA = {"numpy": 3.0, "pytensor": 6.0}


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
    dtype: str = "float64"
    eval: str = "test"
    data: str | None = None
    extra: dict = field(default_factory=dict, compare=False)
    engine: str = "numpy"

    def __post_init__(self) -> None:
        if self.eta is None:
            object.__setattr__(self, "eta", ENGINE_ETA.get(self.engine, ENGINE_ETA["numpy"]))

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
        if self.engine not in ENGINE_ETA:
            raise ConfigError(f"engine must be 'numpy' or 'pytensor', got {self.engine!r}")
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
) -> tuple[Network, History]:
    """Run the training ``config`` describes and return the trained
    network and its history (whose ``settings`` are ``config``'s).

    ``history_path`` names a JSON file that holds the history so far,
    rewritten (atomically) after every epoch; ``monitor_training`` also
    measures accuracy and cost on the training data after every epoch.

    ``status`` receives messages that are not results, such as the time the
    pytensor engine spent compiling (None: silence)."""
    config.validate()
    data = load(config.data) if data is None else data
    config.check_data(data)
    if config.engine == "pytensor":
        from .symbolic import SymbolicNetwork

        net = SymbolicNetwork(config.sizes, seed=config.seed, dtype=config.dtype)
        if status is not None:
            status(f"Compiled the PyTensor model in {net.compile_seconds:.2f} s")
    else:
        net = Network(config.sizes, seed=config.seed, dtype=config.dtype)
    if history_path is not None or monitor_training:
        on_epoch = _recording(net, data, config, on_epoch, history_path, monitor_training)
    history = net.SGD(
        data.train,
        config.epochs,
        config.batch_size,
        config.eta,
        test_data=data[config.eval],
        progress=progress,
        log=log,
        on_epoch=on_epoch,
    )
    history.settings = config.to_dict()
    return net, history


def _recording(net, data, config, on_epoch, history_path, monitor_training) -> Callable[[EpochResult], None]:
    """An ``on_epoch`` hook that adds the training-data figures and keeps the
    history file up to date, then calls ``on_epoch``."""
    so_far = History(settings=config.to_dict())
    if history_path is not None:
        so_far.save(history_path)  # an unwritable path fails now, before any training

    def record(result: EpochResult) -> None:
        if monitor_training:
            correct, result.train_cost = net._evaluate_arrays(data.train.images, data.train.labels)
            result.train_accuracy = correct / len(data.train)
        if history_path is not None:
            so_far.epochs.append(result)
            so_far.save(history_path)
        if on_epoch is not None:
            on_epoch(result)

    return record
