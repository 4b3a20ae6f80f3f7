"""What a lab run's watchers are told, made from typed events.

The training thread hands over what it measured as small typed events --
:class:`Costs` (mini-batches trained and their costs), :class:`Picture` (a
copy of the parameters, before training and after each epoch),
:class:`StateChange` and :class:`End` -- and the run's painter thread turns
each into what the page shows, through a :class:`Painter`:
:meth:`Painter.draw` does the slow part (a :class:`Picture` becomes a
:class:`Drawn` frame: every hidden neuron's weights as one PNG, the
confusion matrix on the test data, the answers to a few test digits, each
layer's gradient sizes on a fixed mini-batch and the map of the hidden
layer), and
:meth:`Painter.tell` records the event and returns the Server-Sent Events
it makes.  Neither takes a lock nor starts a thread, so a test can feed a
painter events one by one and read what it would send.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from ..data import Split
from ..gradients import gradient_sizes
from ..hiddenmap import activations, pca
from ..history import EpochResult
from ..modelfile import Parameters
from ..network import Network

#: Mini-batches per point of the running training cost (the mean of their costs).
BATCHES_PER_POINT = 100
#: Progress events sent per second at most (each carries the points since the last).
PROGRESS_RATE = 20
#: Hidden neurons whose incoming weights are pictured.
MAX_PICTURED = 100
#: Test digits shown with the network's answers.
SAMPLES = 16
#: Running-cost points kept per run (thinned by half beyond).
MAX_POINTS = 4000


@dataclass(frozen=True)
class Costs:
    """Mini-batches ``first`` onwards of ``epoch`` were trained, with these ``costs``."""

    epoch: int
    first: int
    costs: np.ndarray


@dataclass(frozen=True)
class Picture:
    """The parameters after ``epoch`` epochs (``result``: that epoch's, none
    before training; ``predicted``: the evaluation's answers, if it gave them)."""

    params: Parameters
    epoch: int
    result: EpochResult | None = None
    predicted: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.params.weights + self.params.biases)


@dataclass(frozen=True)
class Drawn:
    """A :class:`Picture` drawn: the ``frame`` the page shows after ``epoch`` epochs."""

    frame: dict
    epoch: int
    result: EpochResult | None = None


@dataclass(frozen=True)
class StateChange:
    """The run is now ``state`` at ``position``; ``said`` counts the changes made."""

    state: str
    position: dict
    error: str | None
    said: int


@dataclass(frozen=True)
class End:
    """The run ended: ``finished``, ``stopped`` or ``failed`` (``error`` says why)."""

    outcome: str
    error: str | None = None


Event = Costs | Picture | Drawn | StateChange | End


def epoch_record(r: EpochResult) -> dict:
    """An epoch's result as the page gets it, with ``nndl train``'s line."""
    return {**asdict(r), "line": r.line()}


def png(pixels: np.ndarray) -> str:
    """A grey ``uint8`` image as a base64 PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", optimize=False, compress_level=6)
    return base64.b64encode(buf.getvalue()).decode("ascii")


class Painter:
    """What the watchers of a run on ``test`` (``batches`` mini-batches an
    epoch) have been told: ``shown`` (state, position, error), the epochs'
    ``results``, the running-cost ``points``, the ``frames`` and each
    frame's ``gradients``.  ``probe`` is the fixed mini-batch ``(x, y)`` the
    gradient sizes are measured on, ``map_inputs`` the rows of the digits the
    map places, as the network reads them (neither given: frames without
    them; both are only read, so runs may share them)."""

    def __init__(
        self,
        test: Split,
        batches: int,
        clock: Callable[[], float] | None = None,
        *,
        probe: tuple[np.ndarray, np.ndarray] | None = None,
        map_inputs: np.ndarray | None = None,
    ) -> None:
        self.test, self.batches, self.clock = test, batches, clock or time.monotonic
        self.probe, self.map_inputs = probe, map_inputs
        self.gradients: list[list[dict] | None] = []
        self._last_map: np.ndarray | None = None
        self.shown: dict = {"state": "training", "position": self.at(0, 0), "error": None}
        self.results: list[EpochResult] = []
        self.points: list[list[float]] = []
        self.frames: list[dict] = []
        self._pending: list[list[float]] = []  # cost points not yet sent
        self._sent = -float("inf")  # when progress was last sent
        self._scale: float | None = None  # one colour scale for the whole run, set by the starting weights

    def at(self, epoch: int, batch: int) -> dict:
        return {"epoch": epoch, "batch": batch, "batches": self.batches}

    def draw(self, event: Event) -> Event:
        """The slow part: a :class:`Picture` becomes :class:`Drawn`; other events pass."""
        if not isinstance(event, Picture):
            return event
        frame = self.frame(Network.from_parameters(event.params), event.epoch, event.predicted)
        return Drawn(frame, event.epoch, event.result)

    def tell(self, event: Event) -> list[tuple[str, dict]]:
        """Record ``event`` (drawn) and return the events the watchers are sent: ``(kind, data)``."""
        said: list[tuple[str, dict]] = []
        if isinstance(event, Costs):
            points = self.running_cost(event.epoch, event.first, event.costs)
            self.points += points
            self._pending += points
            if len(self.points) > MAX_POINTS:
                self.points = self.points[::2]
            self.shown["position"] = self.at(event.epoch, event.first + len(event.costs))
            if self.clock() - self._sent >= 1 / PROGRESS_RATE:
                said.append(self._progress())
        elif isinstance(event, Drawn):
            self.frames.append(event.frame)
            self.gradients.append(event.frame.get("gradients"))
            self.shown["position"] = self.at(event.epoch, 0)
            said.append(self._progress())
            if event.result is not None:
                self.results.append(event.result)
                record = epoch_record(event.result)
                said.append(("epoch", {"epoch": record, "frame": event.frame, "frames": len(self.frames)}))
            else:  # the picture before training
                said.append(("frame", {"frame": event.frame, "frames": len(self.frames)}))
        elif isinstance(event, StateChange):
            if self._pending:
                said.append(self._progress())
            self.shown.update(state=event.state, position=event.position, error=event.error)
            said.append(("state", dict(self.shown)))
        elif isinstance(event, End):
            self.shown.update(state=event.outcome, error=event.error)
            said.append(("state", dict(self.shown)))
        else:
            raise TypeError(f"a painter is told Costs, Drawn, StateChange or End, not {type(event).__name__}")
        return said

    def _progress(self) -> tuple[str, dict]:
        points, self._pending, self._sent = self._pending, [], self.clock()
        return "progress", {"position": self.shown["position"], "points": points}

    def forget(self) -> None:
        """Drop the pictures and running costs (the results stay)."""
        self.frames, self.points, self.gradients, self._last_map = [], [], [], None

    def running_cost(self, epoch: int, first: int, costs: np.ndarray) -> list[list[float]]:
        """The running training cost of mini-batches ``first`` onwards of
        ``epoch`` with ``costs``: one point (position, mean cost) for each
        :data:`BATCHES_PER_POINT` of the epoch's mini-batches, and one where
        the group ends (a single step is a point of its own)."""
        points = []
        k = 0
        while k < len(costs):
            end = min(len(costs), k + BATCHES_PER_POINT - (first + k) % BATCHES_PER_POINT)
            cost = float(np.mean(costs[k:end]))
            if np.isfinite(cost):
                points.append([round(epoch + (first + end) / self.batches, 5), round(cost, 6)])
            k = end
        return points

    def frame(self, net: Network, done: int, predicted: np.ndarray | None = None) -> dict:
        """The frame after ``done`` epochs: weights picture, confusion, answers
        (``predicted``: the evaluation's answers, if it gave them), gradient
        sizes and the map of the hidden layer."""
        test = self.test
        k = min(SAMPLES, len(test))
        if predicted is None:
            predicted = net.predict(test.images)
        activation = net.scores(test.images[:k]).max(axis=1)
        n = net.sizes[-1]
        labels = test.labels.astype(np.int64)
        confusion = np.bincount(labels * n + predicted, minlength=n * n).reshape(n, n)
        w = net.weights[0][:MAX_PICTURED]
        if self._scale is None:
            self._scale = float(np.percentile(np.abs(w), 99.5)) or 1.0
        q = np.clip(np.rint(128 + 127 * (w / self._scale)), 1, 255).astype(np.uint8)
        side = int(round(np.sqrt(w.shape[1])))
        picture = png(q.reshape(-1, side)) if side * side == w.shape[1] else None
        return {
            "done": done,
            "weights": {"png": picture, "count": len(w), "of": net.sizes[1], "side": side, "scale": self._scale},
            "confusion": confusion.tolist(),
            "answers": predicted[:k].tolist(),
            "confidence": [round(float(a), 3) for a in activation[:k]],
            "gradients": self.gradient_sizes(net),
            "map": self.hidden_map(net),
        }

    def gradient_sizes(self, net: Network) -> list[dict] | None:
        """Each layer's mean ``|dC/dw|`` and ``|delta|`` on the run's fixed mini-batch."""
        if self.probe is None:
            return None
        return [
            {"layer": g.layer, "weight": float(f"{g.weight:.4g}"), "delta": float(f"{g.delta:.4g}")}
            for g in gradient_sizes(net, *self.probe)
        ]

    def hidden_map(self, net: Network) -> dict | None:
        """The map digits placed by the PCA of the last hidden layer's
        activations, scaled into [-1, 1], each axis turned to agree with the
        last frame's (a principal direction's sign is arbitrary; this keeps
        the map from flipping between epochs)."""
        if self.map_inputs is None or net.num_layers < 3:
            return None
        hidden, predicted = activations(net, self.map_inputs)
        xy = pca(hidden)
        if self._last_map is not None:
            xy *= np.where((xy * self._last_map).sum(axis=0) < 0, -1.0, 1.0)
        self._last_map = xy
        scale = float(np.abs(xy).max()) or 1.0
        return {
            "layer": net.num_layers - 1,
            "width": hidden.shape[1],
            "xy": np.round(xy / scale, 4).tolist(),
            "predicted": predicted.tolist(),
        }


__all__ = ["Costs", "Drawn", "End", "Event", "Painter", "Picture", "StateChange", "epoch_record", "png"]
