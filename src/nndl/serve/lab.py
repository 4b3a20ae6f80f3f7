"""The training lab: runs started from a web page (or any program), watched as they learn.

A :class:`Lab` holds the runs of a session, one training at a time.  Each
:class:`Run` trains in its own thread through :func:`nndl.train` -- the code
``nndl train`` runs, so the same settings and seed give the same model bit
for bit -- with a ``pace`` hook (a :class:`~nndl.loop.Watch`) that lets a
learner pause, step one mini-batch or one epoch, resume and stop.

Watching costs the training thread almost nothing: the engines measure each
mini-batch's cost as they train it and the evaluation's answers as it
counts them, so training runs in long groups of mini-batches and the lab
only reads what they measured.  It hands that, and after every epoch a copy
of the parameters (a few hundred kilobytes for the chapter's network), to
the run's *painter* thread, which turns the costs into the running training
cost and draws what the page shows -- every hidden neuron's weights as a
picture (quantised to bytes, one PNG), the confusion matrix on the test
data, the answers to a few test digits -- and sends each as an event to
everyone watching.  Each watcher has a bounded
queue: one that falls behind is sent the whole state afresh instead of
everything it missed, so a slow client neither holds up training nor the
other watchers, nor makes memory grow.

Memory stays bounded however long the session: at most :data:`MAX_RUNS`
runs are kept, and only the last :data:`KEEP_DETAIL` keep their per-epoch
pictures and their model; older runs keep their settings and per-epoch
results, for comparing curves.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .. import engines
from ..config import TrainConfig
from ..data import Dataset, load
from ..errors import ConfigError, NNDLError
from ..gradients import gradient_sizes, probe
from ..hiddenmap import activations, pca
from ..history import EpochResult, History, run_labels
from ..inputs import as_float
from ..loop import Interrupted, Position, Watch
from ..modelfile import Parameters
from ..network import Network
from ..train import on_engine, train

#: The settings a run from the lab takes: ``nndl train``'s, named as its flags.
KEYS = ("sizes", "epochs", "batch_size", "eta", "seed", "dtype", "engine")
#: The lab's own bounds, tighter than ``nndl train``'s.
MAX_HIDDEN = 1000
MAX_EPOCHS = 100
MAX_BATCH = 10_000
MAX_PARAMETERS = 4_000_000
#: Engines the lab trains on (the notes' compiled PyTensor model takes the command line).
LAB_ENGINES = ("auto", "reference", "numpy", "numba", "torch")
#: Mini-batches per point of the running training cost (the mean of their costs).
BATCHES_PER_POINT = 100
#: Mini-batches a running run trains between two looks at its commands: a pause takes effect within them.
BATCHES_PER_LOOK = 1000
#: Progress events sent per second at most (each carries the points since the last).
PROGRESS_RATE = 20
#: Hidden neurons whose incoming weights are pictured.
MAX_PICTURED = 100
#: Test digits shown with the network's answers.
SAMPLES = 16
#: Test digits placed on the map of the hidden layer.
MAP_DIGITS = 500
#: Runs kept in a session (the oldest is forgotten first).
MAX_RUNS = 20
#: Runs, the latest, that keep their pictures and model; older ones keep their results.
KEEP_DETAIL = 3
#: Running-cost points kept per run (thinned by half beyond).
MAX_POINTS = 4000
#: Bytes of parameter copies that may wait for the painter before training waits for it.
PENDING_BYTES = 32 * 2**20
#: Events a watcher may fall behind by before it is sent the whole state afresh.
WATCHER_QUEUE = 256
#: Event streams open at once, over all runs.
MAX_WATCHERS = 32
#: The longest a command waits for the training thread to reach a mini-batch boundary.
COMMAND_WAIT = 60.0
#: States a run ends in.
ENDED = ("finished", "stopped", "failed")

#: The chapter's experiments, one click each on the page.
PRESETS = [
    {"name": "The chapter's run", "settings": {}},
    {"name": "η = 0.001 (too small)", "settings": {"eta": 0.001}},
    {"name": "η = 100 (too large)", "settings": {"eta": 100.0}},
    {"name": "100 hidden neurons", "settings": {"sizes": [784, 100, 10]}},
    {"name": "Three hidden layers", "settings": {"sizes": [784, 30, 30, 30, 10]}},
]

log = logging.getLogger(__name__)


class RunStateError(NNDLError):
    """A command the run cannot take in the state it is in, or a start while
    another run trains (HTTP 409)."""


class Gone(NNDLError):
    """Something the lab no longer keeps (HTTP 410)."""


class TooMany(NNDLError):
    """More event streams than the lab serves at once (HTTP 503)."""


def settings(body: Any, data: Dataset | None = None) -> tuple[TrainConfig, bool]:
    """The :class:`TrainConfig` (and whether to start paused) of a lab run,
    from a JSON object with keys among :data:`KEYS` and ``paused``; those
    left out take ``nndl train``'s defaults.  A bad value raises
    :class:`ConfigError` with the message ``nndl train`` gives, or one of the
    lab's own bounds (:data:`MAX_HIDDEN`, :data:`MAX_EPOCHS`)."""
    if not isinstance(body, dict):
        raise ConfigError(f"the settings must be a JSON object, got {json.dumps(body)[:60]}")
    unknown = sorted(set(body) - set(KEYS) - {"paused"})
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r:.40}; the settings are {', '.join(KEYS)} and paused")
    paused = body.get("paused", False)
    if not isinstance(paused, bool):
        raise ConfigError(f"paused must be true or false, got {json.dumps(paused)[:40]}")
    config = TrainConfig.from_dict({k: body[k] for k in KEYS if k in body})
    hidden = config.sizes[1:-1]
    if any(n > MAX_HIDDEN for n in hidden):
        raise ConfigError(f"hidden layers may have at most {MAX_HIDDEN} neurons here, got sizes {list(config.sizes)}")
    if config.epochs > MAX_EPOCHS:
        raise ConfigError(f"epochs must be at most {MAX_EPOCHS} here, got {config.epochs}")
    if config.batch_size > MAX_BATCH:
        raise ConfigError(f"batch size must be at most {MAX_BATCH:,} here, got {config.batch_size:,}")
    n_params = sum(x * y + y for x, y in zip(config.sizes[:-1], config.sizes[1:]))
    if n_params > MAX_PARAMETERS:
        raise ConfigError(
            f"sizes {list(config.sizes)} make {n_params:,} weights and biases; the lab trains at most "
            f"{MAX_PARAMETERS:,}"
        )
    if config.engine not in LAB_ENGINES:
        raise ConfigError(f"the lab trains on engines {', '.join(LAB_ENGINES)}; got {config.engine!r}")
    engines.check(config.engine, config.device)
    if data is not None:
        config.check_data(data)
    return config, paused


def _event(kind: str, data: dict) -> str:
    """One Server-Sent Event."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'), allow_nan=False)}\n\n"


def _png(pixels: np.ndarray) -> str:
    """A grey ``uint8`` image as a base64 PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", optimize=False, compress_level=6)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _lower_priority() -> None:
    """Run the calling thread at the lowest CPU priority (Linux: threads
    have their own nice value), so that on a busy machine the painter takes
    only CPU time that training and other programs leave."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _copy(net: Network, settings: dict) -> Parameters:
    """A snapshot of ``net``'s parameters (contiguous copies, never changed afterwards)."""
    return Parameters(
        list(net.sizes), [np.array(w) for w in net.weights], [np.array(b) for b in net.biases], settings, net.seed
    )


class Watcher:
    """One client's stream of a run's events: a bounded queue of encoded
    events, filled by the run's threads and emptied by the client's
    coroutine on ``loop``.  When the client falls :data:`WATCHER_QUEUE`
    events behind, the queue is dropped and the next read gets the whole
    state afresh."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int = WATCHER_QUEUE) -> None:
        self.loop, self.limit = loop, limit
        self.wake = asyncio.Event()
        self.items: deque[str] = deque()
        self.lagging = False
        self.closed = False

    def put(self, text: str) -> None:
        """Queue an event (called with the run's lock held, from any thread)."""
        if self.closed:
            return
        if len(self.items) >= self.limit:
            self.items.clear()
            self.lagging = True
        else:
            self.items.append(text)
        self.signal()

    def signal(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.wake.set)
        except RuntimeError:  # the event loop has closed: nobody is reading
            self.closed = True


class Run:
    """One training run of the lab and everything watchers have been told about it.

    The state is ``training``, ``paused``, or one it ends in: ``finished``,
    ``stopped`` (by :meth:`stop`) or ``failed`` (``error`` says why, e.g. a
    diverged run).  Commands (:meth:`pause`, :meth:`resume`, :meth:`step`,
    :meth:`stop`) return once the training thread has done what they ask, so
    their answer is the state the run is in.
    """

    def __init__(self, lab: Lab, id: int, config: TrainConfig, data: Dataset, paused: bool = False) -> None:
        self.lab, self.id, self.config, self.data = lab, id, config, data
        self.settings = {k: config.to_dict()[k] for k in KEYS}
        self._saved_settings = config.to_dict()  # what a model file records, as nndl train --save
        self.batches = -(-len(data.train) // config.batch_size)
        self._cond = threading.Condition()
        # the training thread's side, what commands act on
        self.state = "training"
        self.position = {"epoch": 0, "batch": 0, "batches": self.batches}
        self._mode = "pause" if paused else "run"  # run, pause, step (one mini-batch) or epoch
        self._stopping = False
        self._pauses = 0  # how often the painter has told watchers the run paused: a step waits for the next
        self._said = self._told = 0  # state changes made, and told to the watchers
        self._latest: Parameters | None = None  # the parameters at the last look or epoch's end
        self._predicted: np.ndarray | None = None  # the evaluation's answers after the last epoch
        self._todo: deque[tuple] = deque()  # for the painter
        self._pending = 0  # bytes of parameter copies in _todo
        # what watchers have been told, kept for those who join late
        self.shown = {"state": "training", "position": dict(self.position), "error": None}
        self.results: list[EpochResult] = []
        self.points: list[list[float]] = []
        self.frames: list[dict] = []
        self.gradients: list[list[dict]] = []  # each frame's gradient sizes, for the chart over the whole run
        self.watchers: set[Watcher] = set()
        self.started = time.time()
        self._trainer = threading.Thread(target=self._train, name=f"nndl-lab-run-{id}", daemon=True)
        self._painter = threading.Thread(target=self._paint, name=f"nndl-lab-painter-{id}", daemon=True)

    # -- commands ---------------------------------------------------------------

    def begin(self) -> None:
        self._painter.start()
        self._trainer.start()

    def status(self) -> dict:
        """The run in brief: id, settings, state, position, results so far."""
        with self._cond:
            return {
                "id": self.id,
                "settings": self.settings,
                "state": self.state,
                "position": dict(self.position),
                "error": self.shown["error"],
                "epochs": [self._epoch_record(r) for r in self.results],
                "frames": len(self.frames),
                "watchers": len(self.watchers),
            }

    def pause(self) -> dict:
        with self._cond:
            if self.state in ENDED:
                raise RunStateError(f"run {self.id} has {self.state}; there is nothing to pause")
            if self._mode == "run":
                self._mode = "pause"
                self._cond.notify_all()
            self._wait(self._paused)
        return self.status()

    def _paused(self) -> bool:
        """(lock held) Whether the run has paused and watchers have been told, or has ended."""
        return self.state in ENDED or (self.state == "paused" and self._told == self._said)

    def resume(self) -> dict:
        with self._cond:
            if self.state in ENDED:
                raise RunStateError(f"run {self.id} has {self.state}; start a new run instead")
            self._mode = "run"
            if self.state == "paused":
                self._set_state("training")
            self._cond.notify_all()
        return self.status()

    def step(self, unit: str = "batch") -> dict:
        """Train one mini-batch (``unit="batch"``) or the rest of the epoch
        (``"epoch"``) and pause again."""
        if unit not in ("batch", "epoch"):
            raise ConfigError(f"a step is one 'batch' or one 'epoch', got {json.dumps(unit)[:40]}")
        with self._cond:
            if self.state in ENDED:
                raise RunStateError(f"run {self.id} has {self.state}; there is nothing to step")
            if self.state != "paused" or self._mode != "pause":
                raise RunStateError(f"run {self.id} is training; pause it before stepping")
            pauses = self._pauses
            self._mode = "step" if unit == "batch" else "epoch"
            self._cond.notify_all()
            self._wait(lambda: self._pauses > pauses or self.state in ENDED)
        return self.status()

    def stop(self, wait: bool = True) -> dict:
        with self._cond:
            if self.state in ("finished", "failed"):
                raise RunStateError(f"run {self.id} has already {self.state}")
            self._stopping = True
            self._cond.notify_all()
            if wait:
                self._wait(lambda: self.state in ENDED)
        return self.status()

    def _wait(self, done: Callable[[], bool]) -> None:
        """Wait (lock held) until ``done()``: the training thread reaches a
        look at most :data:`BATCHES_PER_LOOK` mini-batches later, and the
        painter then tells the watchers, so a command's answer is what they see."""
        self._cond.wait_for(done, timeout=COMMAND_WAIT)

    # -- what the run made --------------------------------------------------------

    def parameters(self) -> Parameters:
        """The network as it stands: at the end, at the pause, or, while
        training, at the last look (at most :data:`BATCHES_PER_LOOK`
        mini-batches ago)."""
        with self._cond:
            if self.state == "failed":
                raise RunStateError(f"run {self.id} failed ({self.shown['error']}); it has no model")
            if self._latest is None:
                if self.lab.forgotten(self):
                    raise Gone(f"run {self.id}'s model is no longer kept (the lab keeps the last {KEEP_DETAIL})")
                raise RunStateError(f"run {self.id} has not trained yet")
            return self._latest

    def network(self) -> Network:
        return Network.from_parameters(self.parameters())

    def model_bytes(self) -> bytes:
        """The model file (``.npz``) of :meth:`parameters`, as ``nndl train --save`` writes it."""
        params = self.parameters()
        with tempfile.TemporaryDirectory(prefix="nndl-lab-") as folder:
            path = Network.from_parameters(params).save(Path(folder) / "model.npz", params.settings)
            return path.read_bytes()

    def history(self) -> History:
        """The epochs finished, as ``nndl train --history`` writes them."""
        with self._cond:
            return History(list(self.results), self.config.to_dict())

    def frame(self, done: int) -> dict:
        """What the page shows after ``done`` epochs (0: before training)."""
        with self._cond:
            if not self.frames and self.lab.forgotten(self):
                raise Gone(f"run {self.id}'s pictures are no longer kept (the lab keeps the last {KEEP_DETAIL})")
            if not (isinstance(done, int) and 0 <= done < len(self.frames)):
                raise KeyError(f"run {self.id} has pictures after 0 to {len(self.frames) - 1} epochs, not {done}")
            return self.frames[done]

    def forget_detail(self) -> None:
        """Drop the pictures, running costs and model of an ended run (its results stay)."""
        with self._cond:
            self.frames, self.points, self.gradients, self._latest = [], [], [], None

    # -- watching ---------------------------------------------------------------

    def watch(self, loop: asyncio.AbstractEventLoop) -> Watcher:
        """A new watcher whose first event is the whole state so far."""
        watcher = Watcher(loop)
        with self._cond:
            watcher.put(self._snapshot())
            self.watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        with self._cond:
            watcher.closed = True
            self.watchers.discard(watcher)

    def take(self, watcher: Watcher) -> tuple[list[str], bool]:
        """The events waiting for ``watcher``, and whether the stream is over
        (the run has ended and said so, or the lab is closing)."""
        with self._cond:
            if watcher.lagging:
                watcher.items.clear()
                watcher.lagging = False
                watcher.items.append(self._snapshot())
            items = list(watcher.items)
            watcher.items.clear()
            return items, watcher.closed or self.shown["state"] in ENDED

    def _snapshot(self) -> str:
        """Everything watchers have been told, as one ``snapshot`` event (lock held)."""
        return _event(
            "snapshot",
            {
                "id": self.id,
                "settings": self.settings,
                **self.shown,
                "epochs": [self._epoch_record(r) for r in self.results],
                "points": self.points,
                "frames": len(self.frames),
                "frame": self.frames[-1] if self.frames else None,
                "gradients": self.gradients,
                "samples": self.lab.samples(),
            },
        )

    def _publish(self, kind: str, data: dict) -> None:
        """Send an event to every watcher (lock held)."""
        text = _event(kind, data)
        for w in self.watchers:
            w.put(text)

    def _set_state(self, state: str, error: str | None = None) -> None:
        """(lock held) Change the state and queue the news for the painter to publish in order."""
        self.state = state
        self._said += 1
        self._todo.append(("state", state, dict(self.position), error, self._said))
        self._cond.notify_all()

    @staticmethod
    def _epoch_record(r: EpochResult) -> dict:
        return {**asdict(r), "line": r.line()}

    # -- the training thread -------------------------------------------------------

    def _train(self) -> None:
        outcome, error = "finished", None
        try:
            self.net = on_engine(None, self.config)
            train(self.config, data=self.data, net=self.net, log=None, on_epoch=self._on_epoch, pace=_Pace(self))
        except Interrupted:
            outcome = "stopped"
        except NNDLError as e:
            outcome, error = "failed", str(e)
        except Exception as e:  # a bug: end the run and say so rather than leave the page waiting
            log.exception("run %d failed", self.id)
            outcome, error = "failed", f"internal error: {e!r:.200}"
        self.net = self._predicted = None  # the run is over: its network (and its engine's buffers) may go
        with self._cond:
            self._todo.append(("end", outcome, error))
            self._cond.notify_all()

    def _pace(self, position: Position) -> int:
        """How many mini-batches to train from ``position``: where the lab looks, pauses and stops."""
        self._look("look", position.epoch, position.batch)
        with self._cond:
            self.position = {"epoch": position.epoch, "batch": position.batch, "batches": self.batches}
            while True:
                if self._stopping:
                    return 0
                if self._mode == "pause":
                    if self.state != "paused":
                        self._set_state("paused")
                    self._cond.wait()
                    continue
                if self.state != "training":
                    self._set_state("training")
                if self._mode == "step":
                    self._mode = "pause"
                    return 1
                if self._mode == "epoch":
                    self._mode = "pause"
                    return self.batches - position.batch
                return min(BATCHES_PER_LOOK, self.batches - position.batch)

    def _trained(self, position: Position, costs: np.ndarray) -> None:
        """Mini-batches trained, with their costs: for the painter's running cost."""
        with self._cond:
            self._todo.append(("costs", position.epoch, position.batch, costs))
            self._cond.notify_all()

    def _on_epoch(self, result: EpochResult) -> None:
        self._look("epoch", result.epoch + 1, 0, result, self._predicted)
        with self._cond:
            self.position = {"epoch": result.epoch + 1, "batch": 0, "batches": self.batches}

    def _look(
        self,
        kind: str,
        epoch: int,
        batch: int,
        result: EpochResult | None = None,
        predicted: np.ndarray | None = None,
    ) -> None:
        """Keep a copy of the parameters (what the model download gives while
        training), and hand it to the painter to draw after each epoch and
        before the first.  The painter keeps up easily (a frame costs it far
        less than an epoch); should it fall :data:`PENDING_BYTES` behind,
        training waits, so memory stays bounded."""
        assert self.net is not None  # set before training starts
        params = _copy(self.net, self._saved_settings)
        draw = kind == "epoch" or (epoch == 0 and batch == 0 and self._latest is None)
        size = sum(a.nbytes for a in params.weights + params.biases) if draw else 0
        with self._cond:
            self._cond.wait_for(lambda: self._pending + size <= PENDING_BYTES or not self._todo or self._stopping)
            self._latest = params
            if draw:
                self._pending += size
                self._todo.append(("frame", params, epoch, result, predicted))
                self._cond.notify_all()

    # -- the painter thread --------------------------------------------------------

    def _paint(self) -> None:
        _lower_priority()
        pending: list[list[float]] = []  # cost points not yet sent
        sent = 0.0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._todo))
                item = self._todo.popleft()
                if item[0] == "frame":
                    self._pending -= sum(a.nbytes for a in item[1].weights + item[1].biases)
                self._cond.notify_all()
            kind = item[0]
            try:
                if kind == "costs":
                    _, epoch, first, costs = item
                    points = self._points(epoch, first, costs)
                    with self._cond:
                        self.points += points
                        pending += points
                        if len(self.points) > MAX_POINTS:
                            self.points = self.points[::2]
                        batch = first + len(costs)
                        self.shown["position"] = {"epoch": epoch, "batch": batch, "batches": self.batches}
                        if time.monotonic() - sent >= 1 / PROGRESS_RATE:
                            self._publish("progress", {"position": self.shown["position"], "points": pending})
                            pending, sent = [], time.monotonic()
                elif kind == "frame":
                    _, params, epoch, result, predicted = item
                    with self.lab.one_blas_thread():
                        frame = self._draw(Network.from_parameters(params), epoch, predicted)
                    with self._cond:
                        self.frames.append(frame)
                        self.gradients.append(frame["gradients"])
                        self.shown["position"] = {"epoch": epoch, "batch": 0, "batches": self.batches}
                        if result is not None:
                            self.results.append(result)
                        self._publish("progress", {"position": self.shown["position"], "points": pending})
                        pending, sent = [], time.monotonic()
                        if result is not None:
                            self._publish(
                                "epoch",
                                {"epoch": self._epoch_record(result), "frame": frame, "frames": len(self.frames)},
                            )
                        else:  # the picture before training
                            self._publish("frame", {"frame": frame, "frames": len(self.frames)})
                elif kind == "state":
                    _, state, position, error, said = item
                    with self._cond:
                        if pending:
                            self._publish("progress", {"position": self.shown["position"], "points": pending})
                            pending = []
                        self.shown.update(state=state, position=position, error=error)
                        self._publish("state", dict(self.shown))
                        if state == "paused":
                            self._pauses += 1
                        self._told = said
                        self._cond.notify_all()
                else:  # the end
                    _, outcome, error = item
                    with self._cond:
                        self.state = outcome
                        self.shown.update(state=outcome, error=error)
                        self._publish("state", dict(self.shown))
                        self._cond.notify_all()
                    self.lab.ended(self)
                    return
            except Exception:  # a bug in drawing must not hang the run: say so and go on
                log.exception("run %d: drawing failed", self.id)

    def _points(self, epoch: int, first: int, costs: np.ndarray) -> list[list[float]]:
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

    def _draw(self, net: Network, done: int, predicted: np.ndarray | None = None) -> dict:
        """The frame after ``done`` epochs: weights picture, confusion, answers
        (``predicted``: the evaluation's answers, if it gave them), each
        layer's gradient sizes on a fixed mini-batch, and the map of the
        hidden layer.  Drawn from a copy of the parameters in the painter
        thread, so the training thread never waits for them."""
        test = self.data[self.config.eval]
        k = min(SAMPLES, len(test))
        if predicted is None:
            predicted = net.predict(test.images)
        activation = net.scores(test.images[:k]).max(axis=1)
        n = net.sizes[-1]
        labels = test.labels.astype(np.int64)
        confusion = np.bincount(labels * n + predicted, minlength=n * n).reshape(n, n)
        w = net.weights[0][:MAX_PICTURED]
        if self._scale is None:  # one colour scale for the whole run, set by the starting weights
            self._scale = float(np.percentile(np.abs(w), 99.5)) or 1.0
        q = np.clip(np.rint(128 + 127 * (w / self._scale)), 1, 255).astype(np.uint8)
        side = int(round(np.sqrt(w.shape[1])))
        picture = _png(q.reshape(-1, side)) if side * side == w.shape[1] else None
        return {
            "done": done,
            "weights": {"png": picture, "count": len(w), "of": net.sizes[1], "side": side, "scale": self._scale},
            "confusion": confusion.tolist(),
            "answers": predicted[:k].tolist(),
            "confidence": [round(float(a), 3) for a in activation[:k]],
            "gradients": self._gradients(net),
            "map": self._map(net),
        }

    def _gradients(self, net: Network) -> list[dict]:
        """Each layer's mean |dC/dw| and |delta| on the run's fixed mini-batch."""
        if self._probe is None:
            self._probe = probe(self.data.train, net.sizes[-1], dtype=net.dtype)
        return [
            {"layer": g.layer, "weight": float(f"{g.weight:.4g}"), "delta": float(f"{g.delta:.4g}")}
            for g in gradient_sizes(net, *self._probe)
        ]

    def _map(self, net: Network) -> dict | None:
        """The lab's map digits placed by the PCA of the last hidden layer's
        activations, each axis turned to agree with the last frame's (a
        principal direction's sign is arbitrary; this keeps the map from
        flipping between epochs)."""
        if net.num_layers < 3:
            return None
        if self._map_inputs is None:  # the map digits as the network reads them, made once a run
            self._map_inputs = as_float(self.data.test.images[self.lab.map_index()], net.dtype)
        hidden, predicted = activations(net, self._map_inputs)
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

    _scale: float | None = None
    _probe: tuple[np.ndarray, np.ndarray] | None = None
    _last_map: np.ndarray | None = None
    _map_inputs: np.ndarray | None = None
    net: Network | None = None


class _Pace(Watch):
    """A run's hold on its training (see :class:`~nndl.loop.Watch`): how far
    to go, the costs trained and the evaluation's answers, all to the run."""

    answers = True

    def __init__(self, run: Run) -> None:
        self.run = run

    def __call__(self, position: Position) -> int:
        return self.run._pace(position)

    def trained(self, position: Position, costs: np.ndarray) -> None:
        self.run._trained(position, costs)

    def evaluated(self, epoch: int, predicted: np.ndarray) -> None:
        self.run._predicted = predicted


class Lab:
    """The runs of a session, on ``data`` (default: the bundled MNIST,
    loaded on the first start)."""

    def __init__(self, data: Dataset | None = None) -> None:
        self._data = data
        self._lock = threading.Lock()
        self._runs: dict[int, Run] = {}
        self._next = 1
        self._samples: dict | None = None
        self._map_index: np.ndarray | None = None
        self._map_digits: dict | None = None
        self._blas: Any = None  # threadpoolctl's controller, made on first use
        self.closed = False

    @property
    def data(self) -> Dataset:
        with self._lock:
            if self._data is None:
                self._data = load()
            return self._data

    def start(self, body: Any) -> Run:
        """Start a run with the settings in ``body`` (see :func:`settings`)."""
        data = self.data
        config, paused = settings(body, data)
        with self._lock:
            if self.closed:
                raise RunStateError("the lab is shutting down")
            busy = [r for r in self._runs.values() if r.state not in ENDED]
            if busy:
                raise RunStateError(f"run {busy[0].id} is still {busy[0].state}; stop it before starting another")
            run = Run(self, self._next, config, data, paused)
            self._next += 1
            self._runs[run.id] = run
            while len(self._runs) > MAX_RUNS:
                del self._runs[min(self._runs)]
        run.begin()
        if paused:
            with run._cond:
                run._wait(run._paused)
        return run

    def get(self, id: int) -> Run:
        with self._lock:
            if id not in self._runs:
                raise KeyError(f"there is no run {id}" + (" any more" if 0 < id < self._next else ""))
            return self._runs[id]

    def runs(self) -> list[dict]:
        """Every run kept, oldest first, each labelled by the settings in which the runs differ."""
        with self._lock:
            runs = list(self._runs.values())
        statuses = [r.status() for r in runs]
        for s, label in zip(statuses, run_labels([s["settings"] for s in statuses]) if statuses else []):
            s["label"] = label
        return statuses

    def one_blas_thread(self) -> contextlib.AbstractContextManager:
        """A context in which BLAS uses one thread: the painter's small matrix
        products then run without waking (and waiting for) BLAS's other
        threads, which the training thread and other programs need."""
        if self._blas is None:
            try:
                from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
            except ImportError:  # without it, BLAS keeps its own threads
                return contextlib.nullcontext()
            self._blas = ThreadpoolController()
        return self._blas.limit(limits=1, user_api="blas")

    def samples(self) -> dict:
        """The test digits shown with the network's answers (their pictures once, as PNG)."""
        if self._samples is None:
            test = self.data.test
            k = min(SAMPLES, len(test))
            images = test.images[:k]
            side = int(round(np.sqrt(images.shape[1])))
            self._samples = {"png": _png(images.reshape(-1, side)), "labels": test.labels[:k].tolist(), "side": side}
        return self._samples

    def map_digits(self) -> dict:
        """The test digits the map places (their pictures as one PNG strip, their labels)."""
        if self._map_digits is None:
            test, index = self.data.test, self.map_index()
            side = int(round(np.sqrt(test.images.shape[1])))
            self._map_digits = {
                "png": _png(test.images[index].reshape(-1, side)),
                "labels": test.labels[index].tolist(),
                "index": index.tolist(),
                "side": side,
            }
        return self._map_digits

    def map_index(self) -> np.ndarray:
        """Which test digits the map places: :data:`MAP_DIGITS` of them, drawn once with seed 0."""
        if self._map_index is None:
            n = len(self.data.test)
            pick = np.random.default_rng(0).choice(n, min(MAP_DIGITS, n), replace=False)
            self._map_index = np.sort(pick)
        return self._map_index

    def watchers(self) -> int:
        with self._lock:
            runs = list(self._runs.values())
        return sum(len(r.watchers) for r in runs)

    def watch(self, run: Run, loop: asyncio.AbstractEventLoop) -> Watcher:
        if self.watchers() >= MAX_WATCHERS:
            raise TooMany(f"{MAX_WATCHERS} event streams are open already; close one and try again")
        return run.watch(loop)

    def ended(self, run: Run) -> None:
        """A run ended: runs before the last :data:`KEEP_DETAIL` forget their details."""
        with self._lock:
            older = sorted(self._runs)[:-KEEP_DETAIL]
            runs = [self._runs[i] for i in older]
        for r in runs:
            if r.state in ENDED:
                r.forget_detail()

    def forgotten(self, run: Run) -> bool:
        with self._lock:
            return run.state in ENDED and run.id in sorted(self._runs)[:-KEEP_DETAIL]

    def close(self, timeout: float = 5.0) -> None:
        """Stop every run and end every event stream (the server is shutting down)."""
        with self._lock:
            self.closed = True
            runs = list(self._runs.values())
        for r in runs:
            with contextlib.suppress(RunStateError):
                r.stop(wait=False)
        deadline = time.monotonic() + timeout
        for r in runs:
            for t in (r._trainer, r._painter):
                if t.is_alive():
                    t.join(max(0.0, deadline - time.monotonic()))
            with r._cond:
                for w in r.watchers:
                    w.closed = True
                    w.signal()


__all__ = ["KEYS", "Lab", "Run", "RunStateError", "Watcher", "settings"]
