"""A training run: its settings, checked once, and the run itself.

:class:`TrainConfig` holds what ``nndl train`` takes as flags; its defaults
are the notebook's run (``[784, 30, 10]``, 10 epochs, mini-batch 10,
eta 3.0).  :func:`train` loads the data, builds the network and runs SGD.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from . import engines
from .data import Dataset, load
from .errors import ConfigError
from .network import EpochResult, History, Network

#: Upper bounds on what a user may ask for.
MAX_EPOCHS = 100_000
MAX_BATCH = 1_000_000


@dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run; defaults are the notebook's run."""

    sizes: tuple[int, ...] = (784, 30, 10)
    epochs: int = 10
    batch_size: int = 10
    eta: float = 3.0
    seed: int | None = 0
    dtype: str = "float32"  # as accurate here as the book's float64, and faster
    eval: str = "test"
    data: str | None = None
    engine: str = "auto"
    device: str = "cpu"
    extra: dict = field(default_factory=dict, compare=False)

    def validate(self) -> TrainConfig:
        """Check every setting, raising :class:`ConfigError` naming the first
        one out of range and the value given."""
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


def train(
    config: TrainConfig = TrainConfig(),
    *,
    data: Dataset | None = None,
    progress: bool | None = False,
    log: Callable[[str], None] | None = print,
    on_epoch: Callable[[EpochResult], None] | None = None,
) -> tuple[Network, History]:
    """Run the training ``config`` describes and return the trained
    network and its history (whose ``settings`` are ``config``'s)."""
    config.validate()
    data = load(config.data) if data is None else data
    net = Network(config.sizes, seed=config.seed, dtype=config.dtype, engine=config.engine, device=config.device)
    config.check_data(data)
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
