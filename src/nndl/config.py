"""The settings of a training run: their defaults and their checks, in one place.

:class:`TrainConfig` holds what ``nndl train`` takes as flags; its defaults
are the notebook's run (``[784, 30, 10]``, 10 epochs, mini-batch 10,
eta 3.0).  The command line (its ``--help`` shows these defaults),
:class:`~nndl.network.Network`, the scikit-learn estimator, checkpoints and
the server all check settings with the functions here, so a bad value gets
the same one-line message wherever it is given.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .errors import ConfigError

#: The largest number of weights and biases a network may have.
MAX_PARAMETERS = 2**28
#: The largest number of layers a network may have.
MAX_LAYERS = 64
#: Upper bounds on what a user may ask for.
MAX_EPOCHS = 100_000
MAX_BATCH = 1_000_000
#: The engine names ``Network(engine=...)`` and ``nndl train --engine`` accept.
ENGINES = ("auto", "reference", "numpy", "numba", "torch", "pytensor")
#: How the weights may start (``Network(init=...)``, ``nndl train --init``):
#: ``standard``, N(0, 1) as in chapter 1, or ``scaled``, N(0, 1/n_in) as in chapter 3.
INITS = ("standard", "scaled")
#: The devices ``Network(device=...)`` accepts.
DEVICES = ("cpu", "cuda")
#: Each engine's default eta (the book's eta, on the mean cost of a mini-batch).
ENGINE_ETA = {"auto": 3.0, "pytensor": 6.0}
#: Each engine's default dtype for ``nndl train`` (and so the sweeps and the
#: server): float32 is as accurate here as the book's float64 (see
#: benchmarks/README.md) and faster; the notes' model keeps float64.  Code
#: that mirrors the book keeps the book's float64: ``Network()`` and the
#: scikit-learn estimator, whose users expect float64 results.
ENGINE_DTYPE = {"auto": "float32", "pytensor": "float64"}


def check_sizes(sizes: Any, where: str = "") -> list[int]:
    """``sizes`` as a list of layer widths, or a :class:`ConfigError` naming the problem."""
    try:
        sizes = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}sizes must be a list of layer widths, got {sizes!r:.80}") from None
    if not 2 <= len(sizes) <= MAX_LAYERS:
        raise ConfigError(f"{where}sizes must name 2 to {MAX_LAYERS} layers, got {sizes!s:.80}")
    if min(sizes) < 1:
        raise ConfigError(f"{where}every layer needs at least 1 neuron, got sizes {sizes}")
    n_params = sum(x * y + y for x, y in zip(sizes[:-1], sizes[1:]))
    if n_params > MAX_PARAMETERS:
        raise ConfigError(f"{where}sizes {sizes} make {n_params:,} parameters; at most {MAX_PARAMETERS:,} are allowed")
    return sizes


def check_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as float32 or float64, or a :class:`ConfigError`."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise ConfigError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def check_integer(name: str, value: Any, low: int, high: int) -> int:
    """``value`` if it is an integer from ``low`` to ``high``, else a :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer from {low} to {high}, got {value!r:.80}")
    return int(value)


def check_eta(eta: Any) -> float:
    """``eta`` if it is a finite number > 0, else a :class:`ConfigError`."""
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not math.isfinite(eta) or eta <= 0:
        raise ConfigError(f"eta must be a finite number > 0, got {eta!r:.80}")
    return float(eta)


def check_seed(seed: Any) -> int | None:
    """``seed`` if it is None or a non-negative 64-bit integer, else a :class:`ConfigError`."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r:.80}")
    return seed


def check_init(init: Any) -> str:
    """``init`` if it names a start in :data:`INITS`, else a :class:`ConfigError`."""
    if init not in INITS:
        raise ConfigError(f"init must be one of {', '.join(INITS)}; got {init!r:.80}")
    return init


def check_engine(engine: Any, device: Any) -> None:
    """The names only; :func:`nndl.engines.check` also checks that the engine can run here."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r:.80}")
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}; got {device!r:.80}")
    if device == "cuda" and engine not in ("auto", "torch"):
        raise ConfigError(f"device 'cuda' runs on the torch engine, not on engine {engine!r}")


@dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run; defaults are the notebook's run.

    ``eta`` is the book's learning rate for either ``engine``; left as None
    it becomes the engine's default (:data:`ENGINE_ETA`), and so does
    ``dtype`` (:data:`ENGINE_DTYPE`).  ``expand`` trains each epoch on a
    fresh small distortion of every training digit
    (:func:`nndl.expand.epoch_images`, seeded by ``seed`` and the epoch).
    ``init`` is how the weights start (:data:`INITS`).
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
    expand: bool = False
    init: str = "standard"
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.eta is None:
            object.__setattr__(self, "eta", ENGINE_ETA.get(self.engine, ENGINE_ETA["auto"]))
        if self.dtype is None:
            object.__setattr__(self, "dtype", ENGINE_DTYPE.get(self.engine, ENGINE_DTYPE["auto"]))

    def validate(self) -> TrainConfig:
        """Check every setting, raising :class:`ConfigError` naming the first
        one out of range and the value given.  (Whether the engine can run
        on this machine is checked when the network is built.)"""
        check_sizes(self.sizes)
        check_integer("epochs", self.epochs, 1, MAX_EPOCHS)
        check_integer("batch size", self.batch_size, 1, MAX_BATCH)
        check_eta(self.eta)
        check_seed(self.seed)
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype!r:.80}")
        if not isinstance(self.expand, bool):
            raise ConfigError(f"expand must be true or false, got {self.expand!r:.80}")
        if self.eval not in ("test", "validation"):
            raise ConfigError(f"eval must be 'test' or 'validation', got {self.eval!r:.80}")
        check_init(self.init)
        check_engine(self.engine, self.device)
        return self

    def check_data(self, data: Any) -> None:
        """The first layer must match the pixels of ``data`` (a
        :class:`~nndl.data.Dataset`), the last its classes."""
        n_inputs, n_classes = data.n_inputs, data.n_classes
        if self.sizes[0] != n_inputs:
            raise ConfigError(
                f"sizes must start with the input width of the data, {n_inputs} pixels; got sizes {list(self.sizes)}"
            )
        if self.sizes[-1] != n_classes:
            raise ConfigError(
                f"sizes must end with the number of classes in the data, {n_classes}; got sizes {list(self.sizes)}"
            )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sizes"] = list(self.sizes)
        extra = d.pop("extra")
        return {**d, **extra}

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The config :meth:`to_dict` wrote (or a JSON body with some of its
        keys), checked; keys it does not know go to ``extra``."""
        if not isinstance(d, dict):
            raise ConfigError(f"settings must be an object, got {type(d).__name__}")
        names = {f.name for f in fields(cls)} - {"extra"}
        sizes = d.get("sizes", cls.sizes)
        if not isinstance(sizes, (list, tuple)) or not all(type(n) is int for n in sizes):
            raise ConfigError(f"sizes must be a list of integers, got {str(sizes)[:60]}")
        if not isinstance(d.get("data"), (str, type(None))):
            raise ConfigError(f"data must be a path or null, got {str(d['data'])[:60]}")
        known = {k: v for k, v in d.items() if k in names}
        config = cls(**{**known, "sizes": tuple(sizes)}, extra={k: v for k, v in d.items() if k not in names})
        return config.validate()


__all__ = [
    "DEVICES",
    "ENGINES",
    "ENGINE_DTYPE",
    "ENGINE_ETA",
    "INITS",
    "MAX_BATCH",
    "MAX_EPOCHS",
    "MAX_LAYERS",
    "MAX_PARAMETERS",
    "TrainConfig",
    "check_dtype",
    "check_engine",
    "check_eta",
    "check_init",
    "check_integer",
    "check_seed",
    "check_sizes",
]
