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
everyone watching.

A run is four small pieces around one lock: :class:`~.controls.Controls`
(the commands' state machine), the training thread's hooks (here),
a :class:`~.painter.Painter` fed typed events, and a
:class:`~.broadcast.Broadcast` to the watchers, each with a bounded queue.

Memory stays bounded however long the session: at most :data:`MAX_RUNS`
runs are kept, and only the last :data:`KEEP_DETAIL` keep their per-epoch
pictures and their model; older runs keep their settings and per-epoch
results, for comparing curves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import engines
from ..config import TrainConfig
from ..data import Dataset, load
from ..errors import ConfigError, NNDLError
from ..gradients import probe
from ..history import EpochResult, History, run_labels
from ..inputs import as_float
from ..loop import Interrupted, Position, Watch
from ..modelfile import Parameters
from ..network import Network
from ..train import on_engine, train
from .broadcast import Broadcast, Watcher, event
from .controls import ENDED, Controls, RunStateError
from .painter import SAMPLES, Costs, End, Event, Painter, Picture, StateChange, epoch_record, png

#: The settings a run from the lab takes: ``nndl train``'s, named as its flags.
KEYS = ("sizes", "epochs", "batch_size", "eta", "seed", "dtype", "engine", "init")
#: The lab's own bounds, tighter than ``nndl train``'s.
MAX_HIDDEN = 1000
MAX_EPOCHS = 100
MAX_BATCH = 10_000
MAX_PARAMETERS = 4_000_000
#: Engines the lab trains on (the notes' compiled PyTensor model takes the command line).
LAB_ENGINES = ("auto", "reference", "numpy", "numba", "torch")
#: Runs kept in a session (the oldest is forgotten first).
MAX_RUNS = 20
#: Runs, the latest, that keep their pictures and model; older ones keep their results.
KEEP_DETAIL = 3
#: Bytes of parameter copies that may wait for the painter before training waits for it.
PENDING_BYTES = 32 * 2**20
#: Test digits placed on the map of the hidden layer.
MAP_DIGITS = 500
#: Event streams open at once, over all runs.
MAX_WATCHERS = 32
#: The longest a command waits for the training thread to reach a mini-batch boundary.
COMMAND_WAIT = 60.0

#: The chapter's experiments, one click each on the page.
PRESETS = [
    {"name": "The chapter's run", "settings": {}},
    {"name": "η = 0.001 (too small)", "settings": {"eta": 0.001}},
    {"name": "η = 100 (too large)", "settings": {"eta": 100.0}},
    {"name": "100 hidden neurons", "settings": {"sizes": [784, 100, 10]}},
    {"name": "Three hidden layers", "settings": {"sizes": [784, 30, 30, 30, 10]}},
]

log = logging.getLogger(__name__)


class Gone(NNDLError):
    """Something the lab no longer keeps (HTTP 410)."""


class TooMany(NNDLError):
    """More event streams than the lab serves at once (HTTP 503)."""


class NoSuchRun(NNDLError):
    """A run or a frame the lab never had (HTTP 404)."""


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


def map_index(n: int) -> np.ndarray:
    """Which of ``n`` test digits the map of the hidden layer places:
    :data:`MAP_DIGITS` of them (all if fewer), drawn with seed 0."""
    return np.sort(np.random.default_rng(0).choice(n, min(MAP_DIGITS, n), replace=False))


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


class Run:
    """One training run of the lab and everything watchers have been told about it.

    The state is ``training``, ``paused``, or one it ends in: ``finished``,
    ``stopped`` (by :meth:`stop`) or ``failed`` (``error`` says why, e.g. a
    diverged run).  Commands (:meth:`pause`, :meth:`resume`, :meth:`step`,
    :meth:`stop`) return once the training thread has done what they ask, so
    their answer is the state the run is in.

    Its pieces share one lock (``_cond``): ``controls`` (the commands),
    ``painter`` (what the watchers have been told) and ``broadcast`` (the
    watchers).  The training thread queues :mod:`~nndl.serve.painter` events
    in ``_todo``; the painter thread draws and publishes them in order.
    """

    def __init__(self, lab: Lab, id: int, config: TrainConfig, data: Dataset, paused: bool = False) -> None:
        self.lab, self.id, self.config, self.data = lab, id, config, data
        self.settings = {k: config.to_dict()[k] for k in KEYS}
        self._saved_settings = config.to_dict()  # what a model file records, as nndl train --save
        self.batches = -(-len(data.train) // config.batch_size)
        self._cond = threading.Condition()
        self._todo: deque[Event] = deque()  # for the painter thread
        self._pending = 0  # bytes of parameter copies in _todo
        self.controls = Controls(id, self.batches, paused, self._queue)
        self.painter = Painter(
            data[config.eval],
            self.batches,
            **lab.watching(data, config),
        )
        self.broadcast = Broadcast(self._snapshot)
        self._latest: Parameters | None = None  # the parameters at the last look or epoch's end
        self._predicted: np.ndarray | None = None  # the evaluation's answers after the last epoch
        # made here, so that the run says from the start whether it trains the book's code as shipped
        self.net: Network | None = on_engine(None, config)
        #: The line :func:`nndl.engines.changed_code` says when the book's code
        #: has been changed (which code, which engine runs it), else None.
        self.notice = engines.changed_code(self.net)
        self.started = time.time()
        self._trainer = threading.Thread(target=self._train, name=f"nndl-lab-run-{id}", daemon=True)
        self._painter = threading.Thread(target=self._paint, name=f"nndl-lab-painter-{id}", daemon=True)

    @property
    def state(self) -> str:
        return self.controls.state

    @property
    def frames(self) -> list[dict]:
        return self.painter.frames

    def begin(self) -> None:
        self._painter.start()
        self._trainer.start()

    # -- commands ---------------------------------------------------------------

    def status(self) -> dict:
        """The run in brief: id, settings, state, position, results so far,
        and the ``notice`` that it trains changed book code (or None)."""
        with self._cond:
            return {
                "id": self.id,
                "settings": self.settings,
                "state": self.controls.state,
                "position": dict(self.controls.position),
                "error": self.painter.shown["error"],
                "notice": self.notice,
                "epochs": [epoch_record(r) for r in self.painter.results],
                "frames": len(self.painter.frames),
                "watchers": len(self.broadcast),
            }

    def pause(self) -> dict:
        return self._command(self.controls.pause)

    def resume(self) -> dict:
        return self._command(self.controls.resume)

    def step(self, unit: str = "batch") -> dict:
        """Train one mini-batch (``unit="batch"``) or the rest of the epoch
        (``"epoch"``) and pause again."""
        return self._command(lambda: self.controls.step(unit))

    def stop(self, wait: bool = True) -> dict:
        return self._command(self.controls.stop, wait)

    def wait_paused(self) -> None:
        """Wait until a run started paused has paused and said so."""
        with self._cond:
            self._wait(self.controls.paused)

    def _command(self, command: Callable[[], Callable[[], bool] | None], wait: bool = True) -> dict:
        """Do ``command`` (lock held), wake the training thread, and wait for what it returns."""
        with self._cond:
            done = command()
            self._cond.notify_all()
            if done is not None and wait:
                self._wait(done)
        return self.status()

    def _wait(self, done: Callable[[], bool]) -> None:
        """Wait (lock held) until ``done()``: the training thread reaches a
        look at most :data:`~.controls.BATCHES_PER_LOOK` mini-batches later, and the
        painter then tells the watchers, so a command's answer is what they see."""
        self._cond.wait_for(done, timeout=COMMAND_WAIT)

    # -- what the run made --------------------------------------------------------

    def parameters(self) -> Parameters:
        """The network as it stands: at the end, at the pause, or, while
        training, at the last look (at most :data:`~.controls.BATCHES_PER_LOOK`
        mini-batches ago)."""
        with self._cond:
            if self.state == "failed":
                raise RunStateError(f"run {self.id} failed ({self.painter.shown['error']}); it has no model")
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
            return History(list(self.painter.results), self.config.to_dict())

    def frame(self, done: int) -> dict:
        """What the page shows after ``done`` epochs (0: before training)."""
        with self._cond:
            frames = self.painter.frames
            if not frames and self.lab.forgotten(self):
                raise Gone(f"run {self.id}'s pictures are no longer kept (the lab keeps the last {KEEP_DETAIL})")
            if not (isinstance(done, int) and 0 <= done < len(frames)):
                raise NoSuchRun(f"run {self.id} has pictures after 0 to {len(frames) - 1} epochs, not {done}")
            return frames[done]

    def forget_detail(self) -> None:
        """Drop the pictures, running costs and model of an ended run (its results stay)."""
        with self._cond:
            self.painter.forget()
            self._latest = None

    # -- watching ---------------------------------------------------------------

    def watch(self, loop: asyncio.AbstractEventLoop) -> Watcher:
        """A new watcher whose first event is the whole state so far."""
        with self._cond:
            return self.broadcast.watch(loop)

    def unwatch(self, watcher: Watcher) -> None:
        with self._cond:
            self.broadcast.unwatch(watcher)

    def take(self, watcher: Watcher) -> tuple[list[str], bool]:
        """The events waiting for ``watcher``, and whether the stream is over
        (the run has ended and said so, or the lab is closing)."""
        with self._cond:
            items = self.broadcast.take(watcher)
            return items, watcher.closed or self.painter.shown["state"] in ENDED

    def _snapshot(self) -> str:
        """Everything watchers have been told, as one ``snapshot`` event (lock held)."""
        told = self.painter
        return event(
            "snapshot",
            {
                "id": self.id,
                "settings": self.settings,
                **told.shown,
                "notice": self.notice,
                "epochs": [epoch_record(r) for r in told.results],
                "points": told.points,
                "frames": len(told.frames),
                "frame": told.frames[-1] if told.frames else None,
                "gradients": told.gradients,
                "samples": self.lab.samples(),
            },
        )

    def _queue(self, item: Event) -> None:
        """(lock held) Hand ``item`` to the painter thread."""
        self._todo.append(item)
        self._cond.notify_all()

    # -- the training thread -------------------------------------------------------

    def _train(self) -> None:
        outcome, error = "finished", None
        try:
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
            self._queue(End(outcome, error))

    def _pace(self, position: Position) -> int:
        """How many mini-batches to train from ``position``: where the lab looks, pauses and stops."""
        self._look(position.epoch, position.batch)
        with self._cond:
            while (n := self.controls.next(position.epoch, position.batch)) is None:
                self._cond.wait()
            return n

    def _trained(self, position: Position, costs: np.ndarray) -> None:
        """Mini-batches trained, with their costs: for the painter's running cost."""
        with self._cond:
            self._queue(Costs(position.epoch, position.batch, costs))

    def _on_epoch(self, result: EpochResult) -> None:
        self._look(result.epoch + 1, 0, result, self._predicted)
        with self._cond:
            self.controls.position = {"epoch": result.epoch + 1, "batch": 0, "batches": self.batches}

    def _look(
        self, epoch: int, batch: int, result: EpochResult | None = None, predicted: np.ndarray | None = None
    ) -> None:
        """Keep a copy of the parameters (what the model download gives while
        training), and hand it to the painter to draw after each epoch
        (``result`` given) and before the first.  The painter keeps up easily
        (a frame costs it far less than an epoch); should it fall
        :data:`PENDING_BYTES` behind, training waits, so memory stays bounded."""
        assert self.net is not None  # set before training starts
        params = _copy(self.net, self._saved_settings)
        draw = result is not None or (epoch == 0 and batch == 0 and self._latest is None)
        picture = Picture(params, epoch, result, predicted) if draw else None
        size = picture.nbytes if picture else 0
        with self._cond:
            self._cond.wait_for(
                lambda: self._pending + size <= PENDING_BYTES or not self._todo or self.controls.stopping
            )
            self._latest = params
            if picture:
                self._pending += size
                self._queue(picture)

    # -- the painter thread --------------------------------------------------------

    def _paint(self) -> None:
        _lower_priority()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._todo))
                item = self._todo.popleft()
                if isinstance(item, Picture):
                    self._pending -= item.nbytes
                self._cond.notify_all()
            try:
                with self.lab.one_blas_thread() if isinstance(item, Picture) else contextlib.nullcontext():
                    item = self.painter.draw(item)
            except Exception:  # a bug in drawing must not hang the run: say so and go on
                log.exception("run %d: drawing failed", self.id)
                continue
            with self._cond:
                if isinstance(item, End):
                    self.controls.end(item.outcome)
                try:
                    for kind, data in self.painter.tell(item):
                        self.broadcast.publish(kind, data)
                except Exception:
                    log.exception("run %d: telling the watchers failed", self.id)
                if isinstance(item, StateChange):
                    self.controls.told(item)
                self._cond.notify_all()
            if isinstance(item, End):
                self.lab.ended(self)
                return


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
        self._map_digits: dict | None = None
        self._watching: dict[tuple, dict] = {}  # what painters measure on, per outputs and dtype
        self._watching_lock = threading.Lock()  # apart from _lock: a Run asks while start holds that
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
            run.wait_paused()
        return run

    def get(self, id: int) -> Run:
        with self._lock:
            if id not in self._runs:
                raise NoSuchRun(f"there is no run {id}" + (" any more" if 0 < id < self._next else ""))
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
            self._samples = {"png": png(images.reshape(-1, side)), "labels": test.labels[:k].tolist(), "side": side}
        return self._samples

    def watching(self, data: Dataset, config: TrainConfig) -> dict:
        """What a run's painter measures each frame on: the fixed mini-batch
        of the gradient sizes (``probe``) and the map digits' inputs
        (``map_inputs``), made once and shared by every run on ``data`` with
        ``config``'s outputs and precision (only read, never changed); a
        lab's runs all train on its one data set."""
        key = (config.sizes[-1], config.dtype)
        with self._watching_lock:
            if key not in self._watching:
                dtype = np.dtype(config.dtype)
                self._watching[key] = {
                    "probe": probe(data.train, config.sizes[-1], dtype=dtype),
                    "map_inputs": as_float(data.test.images[map_index(len(data.test))], dtype),
                }
            return self._watching[key]

    def map_digits(self) -> dict:
        """The digits the map places: their pictures as one PNG strip, labels and indices in the test set."""
        if self._map_digits is None:
            test = self.data.test
            index = map_index(len(test))
            side = int(round(np.sqrt(test.images.shape[1])))
            self._map_digits = {
                "png": png(test.images[index].reshape(-1, side)),
                "labels": test.labels[index].tolist(),
                "index": index.tolist(),
                "side": side,
            }
        return self._map_digits

    def watchers(self) -> int:
        with self._lock:
            runs = list(self._runs.values())
        return sum(len(r.broadcast) for r in runs)

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
                r.broadcast.close()


__all__ = [
    "ENDED",
    "KEYS",
    "SAMPLES",
    "Gone",
    "Lab",
    "NoSuchRun",
    "Run",
    "RunStateError",
    "TooMany",
    "Watcher",
    "settings",
]
