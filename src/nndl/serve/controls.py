"""A lab run's commands as a state machine: what the learner asked, and how
far the training thread goes before it looks again.

:class:`Controls` holds no lock and starts no thread: its owner (a
:class:`~nndl.serve.lab.Run`) calls every method with its lock held, wakes
the training thread after a command, and waits on its condition for the
predicate a command returns.  The state is ``training``, ``paused``, or one
a run ends in (:data:`ENDED`); each change goes to ``tell`` as a
:class:`~nndl.serve.painter.StateChange`, for the painter to publish in
order with everything else.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..errors import ConfigError, NNDLError
from .painter import StateChange

#: Mini-batches a running run trains between two looks at its commands: a pause takes effect within them.
BATCHES_PER_LOOK = 1000
#: States a run ends in.
ENDED = ("finished", "stopped", "failed")
#: What a learner can ask of a run.
COMMANDS = ("pause", "resume", "step", "stop")


class RunStateError(NNDLError):
    """A command the run cannot take in the state it is in, or a start while
    another run trains (HTTP 409)."""


class Controls:
    """The commands of run ``id`` (``batches`` mini-batches an epoch), started
    paused or not.  ``mode`` is what the learner asked: ``run``, ``pause``,
    ``step`` (one mini-batch) or ``epoch`` (the rest of the epoch)."""

    def __init__(self, id: int, batches: int, paused: bool, tell: Callable[[StateChange], None]) -> None:
        self.id, self.batches, self.tell = id, batches, tell
        self.state = "training"
        self.position = {"epoch": 0, "batch": 0, "batches": batches}
        self.mode = "pause" if paused else "run"
        self.stopping = False
        self.pauses = 0  # how often the watchers have been told the run paused: a step waits for the next
        self.said = self.heard = 0  # state changes made, and heard by the watchers

    # -- commands: each returns what to wait for ---------------------------------

    def pause(self) -> Callable[[], bool]:
        self._not_ended("there is nothing to pause")
        if self.mode == "run":
            self.mode = "pause"
        return self.paused

    def resume(self) -> None:
        self._not_ended("start a new run instead")
        self.mode = "run"
        if self.state == "paused":
            self.set_state("training")

    def step(self, unit: str = "batch") -> Callable[[], bool]:
        """One mini-batch (``unit="batch"``) or the rest of the epoch (``"epoch"``), then pause."""
        if unit not in ("batch", "epoch"):
            raise ConfigError(f"a step is one 'batch' or one 'epoch', got {json.dumps(unit)[:40]}")
        self._not_ended("there is nothing to step")
        if self.state != "paused" or self.mode != "pause":
            raise RunStateError(f"run {self.id} is training; pause it before stepping")
        pauses = self.pauses
        self.mode = "step" if unit == "batch" else "epoch"
        return lambda: self.pauses > pauses or self.ended

    def stop(self) -> Callable[[], bool]:
        if self.state in ("finished", "failed"):
            raise RunStateError(f"run {self.id} has already {self.state}")
        self.stopping = True
        return lambda: self.ended

    def paused(self) -> bool:
        """Whether the run has paused and the watchers have been told, or has ended."""
        return self.ended or (self.state == "paused" and self.heard == self.said)

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    def _not_ended(self, instead: str) -> None:
        if self.ended:
            raise RunStateError(f"run {self.id} has {self.state}; {instead}")

    # -- the training thread's side ------------------------------------------------

    def next(self, epoch: int, batch: int) -> int | None:
        """At mini-batch ``batch`` of ``epoch``: how many mini-batches to train
        before looking again (0: stop), or None to wait for a command."""
        self.position = {"epoch": epoch, "batch": batch, "batches": self.batches}
        if self.stopping:
            return 0
        if self.mode == "pause":
            if self.state != "paused":
                self.set_state("paused")
            return None
        if self.state != "training":
            self.set_state("training")
        if self.mode == "step":
            self.mode = "pause"
            return 1
        if self.mode == "epoch":
            self.mode = "pause"
            return self.batches - batch
        return min(BATCHES_PER_LOOK, self.batches - batch)

    def set_state(self, state: str, error: str | None = None) -> None:
        self.state = state
        self.said += 1
        self.tell(StateChange(state, dict(self.position), error, self.said))

    # -- the painter's side ------------------------------------------------------------

    def told(self, change: StateChange) -> None:
        """The watchers have been told ``change``."""
        if change.state == "paused":
            self.pauses += 1
        self.heard = change.said

    def end(self, outcome: str) -> None:
        """The run ended (after the watchers were told all before it)."""
        self.state = outcome


__all__ = ["BATCHES_PER_LOOK", "COMMANDS", "ENDED", "Controls", "RunStateError"]
