"""What a training run achieved, epoch by epoch: :class:`EpochResult` and
:class:`History`, and their JSON form (``nndl train --history``)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, cast

from .errors import DataError
from .files import atomic_write, read_json

#: The largest history file (JSON) nndl reads.
MAX_HISTORY_BYTES = 64 * 2**20


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
        if self.total is None or self.correct is None or self.accuracy is None:
            return f"Epoch {self.epoch} complete ({self.seconds:.2f} s)"
        return f"Epoch {self.epoch}: {self.correct} / {self.total} ({100 * self.accuracy:.2f} %, {self.seconds:.2f} s)"


@dataclass
class History:
    """The per-epoch results of a training run, and the settings it used."""

    epochs: list[EpochResult] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.epochs)

    def __repr__(self) -> str:
        """One short line, so a REPL shows ``net.SGD(...)``'s result at a glance."""
        n = len(self.epochs)
        if n == 0:
            return "History(no epochs)"
        last = self.epochs[-1]
        score = "" if last.total is None else f", last {last.correct} / {last.total}"
        return f"History({n} epoch{'s' if n != 1 else ''}{score})"

    def __getitem__(self, i: int) -> EpochResult:
        return self.epochs[i]

    def __iter__(self) -> Iterator[EpochResult]:
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
    def from_dict(cls, d: dict, where: str = "history") -> History:
        """The history :meth:`to_dict` wrote, every field checked
        (:func:`epoch_record`), so a damaged one is a :class:`DataError`."""
        if not isinstance(d, dict) or not isinstance(d.get("epochs"), list):
            raise DataError(f"{where} is not an nndl history file: expected an object with a list 'epochs'")
        settings = d.get("settings", {})
        if not isinstance(settings, dict):
            raise DataError(f"{where}: 'settings' must be an object")
        return cls([epoch_record(e, where) for e in d["epochs"]], dict(settings))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the history (settings and per-epoch results) as JSON, atomically."""
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"
        return atomic_write(path, lambda f: f.write(text.encode()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read a history file written by :meth:`save` (or ``nndl train --history``),
        checking every field, so a damaged file is a :class:`DataError`."""
        d = read_json(path, limit=MAX_HISTORY_BYTES, what="a JSON history file")
        return cls.from_dict(d, str(path))


def epoch_record(e: Any, where: str = "history") -> EpochResult:
    """One epoch's record, checked: an integer ``epoch``, integers or null
    for ``correct`` and ``total``, finite numbers or null for the rest
    (``seconds`` null or missing is 0); fields it does not know are ignored.
    The one check of an epoch record, for history files and checkpoints."""
    if not isinstance(e, dict) or not _is_number(e.get("epoch"), int):
        raise DataError(f"{where}: each epoch must be an object with an integer 'epoch', got {str(e)[:80]}")
    known: dict[str, Any] = {f.name: e.get(f.name) for f in fields(EpochResult)}
    known["seconds"] = known["seconds"] or 0.0
    for name, value in known.items():
        types = (int,) if name in ("correct", "total") else (int, float)
        if value is not None and not _is_number(value, types):
            raise DataError(f"{where}: epoch {e['epoch']}: {name} must be a number, got {value!r:.80}")
    return EpochResult(**known)


def _is_number(value: Any, types: type | tuple[type, ...]) -> bool:
    """A number of ``types`` that an int64 or a float64 holds: no bool, inf or NaN."""
    if isinstance(value, bool) or not isinstance(value, types):
        return False
    if isinstance(value, int):
        return abs(value) < 2**63
    return math.isfinite(cast(float, value))


#: How each training setting reads in a legend.
_SETTING_NAMES = {
    "sizes": lambda v: "sizes " + "-".join(map(str, v)) if isinstance(v, list) else f"sizes {v}",
    "eta": lambda v: f"η = {v:g}" if isinstance(v, (int, float)) else f"η = {v}",
    "batch_size": lambda v: f"mini-batch {v}",
    "epochs": lambda v: f"{v} epochs",
    "seed": lambda v: f"seed {v}",
    "dtype": lambda v: str(v),
    "data": lambda v: "bundled MNIST" if v is None else f"data {Path(v).name if isinstance(v, str) else v!s:.40}",
    "engine": lambda v: f"engine {v}",
    "init": lambda v: {"standard": "start N(0, 1)", "scaled": "start N(0, 1/n_in)"}.get(str(v), f"start {v!s:.40}"),
}


def run_labels(settings: Sequence[dict]) -> list[str]:
    """Legend labels for runs with these settings: the settings that differ
    between them (``"η = 0.5"``, ``"η = 3"`` ...), or for a single run, its
    network and learning rate (and its start, when not the chapter's)."""
    settings = [{"init": "standard", **s} for s in settings]  # runs from before the choice started so
    keys = [k for k in _SETTING_NAMES if len({repr(s.get(k)) for s in settings}) > 1]
    if not keys:
        if len(settings) > 1:
            return [f"run {i + 1}" for i in range(len(settings))]
        keys = [k for k in ("sizes", "eta", "batch_size") if k in settings[0]]
        keys += ["init"] if settings[0]["init"] != "standard" else []
    # a setting a run did not record is left out of its label, not shown as None
    labels = [", ".join(_SETTING_NAMES[k](s[k]) for k in keys if k in s) for s in settings]
    return labels if len(labels) == 1 else [label or f"run {i + 1}" for i, label in enumerate(labels)]


__all__ = ["EpochResult", "History", "epoch_record", "run_labels"]
