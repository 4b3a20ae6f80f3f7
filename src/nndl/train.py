"""A training run: the data, the network on its engine, SGD, and saving as it goes.

:func:`train` runs what a :class:`~nndl.config.TrainConfig` describes (the
settings and their defaults live in :mod:`nndl.config`): it loads the data,
builds the network on its engine and runs SGD; given a ``checkpoint`` path
it saves the run there after every epoch and when interrupted, and
:func:`resume` goes on from such a checkpoint.  ``nndl train``, the sweeps,
the estimator and the server's training lab all train through here.

Every engine runs the same SGD loop (:mod:`nndl.loop`).  ``pytensor`` is
the notes' model: biases start at 1, the default eta is 6.0 (the notes'
learning rate 3/m on the summed cost) and the default dtype float64, as
Theano's ``floatX``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from . import checkpoint as checkpoints
from .config import MAX_BATCH, MAX_EPOCHS, TrainConfig
from .data import Dataset, load
from .errors import ConfigError, DataError
from .history import EpochResult, History
from .loop import Pace, Position
from .network import Network


def train(
    config: TrainConfig = TrainConfig(),  # noqa: B008 (frozen: one shared default is safe)
    *,
    data: Dataset | None = None,
    net: Network | None = None,
    progress: bool | None = False,
    log: Callable[[str], None] | None = print,
    on_epoch: Callable[[EpochResult], None] | None = None,
    history_path: str | os.PathLike | None = None,
    monitor_training: bool = False,
    status: Callable[[str], None] | None = None,
    checkpoint: str | os.PathLike | None = None,
    pace: Pace | None = None,
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
    save it, and raise :class:`~nndl.loop.Interrupted`.  :func:`resume`
    goes on from the checkpoint.  ``pace`` is passed to
    :meth:`Network.SGD <nndl.network.Network.SGD>`: it is asked before each
    group of mini-batches how many to run (see :func:`nndl.loop.train_epoch`).
    ``net``, if given, is the network to train, as :func:`on_engine` built
    it for ``config`` (so a caller watching the run holds it from the start).
    """
    config.validate()
    preloading = None
    try:
        if data is None:
            if config.data is None:  # the bundled MNIST: start loading the compiled engine while it loads
                from . import engines

                code = Network if net is None else net
                preloading = engines.preload(config.engine, config.sizes, config.batch_size, config.dtype, code)
            data = load(config.data)
        config.check_data(data)
        if checkpoint is not None and Path(checkpoint).exists():
            raise ConfigError(
                f"checkpoint {checkpoint} already exists; resume it (--resume {checkpoint}) "
                "or remove it to start afresh"
            )
        if net is None:
            net = on_engine(None, config, status)
        elif net.sizes != list(config.sizes) or net.dtype != config.dtype:
            raise ConfigError(f"the network {net!r} is not the one the settings describe")
        if checkpoint is not None:
            checkpoints.claim(checkpoint, net, config, data)  # written only if still free: two runs cannot share it
        return _run(
            net,
            config,
            data,
            History(),
            Position(),
            progress,
            log,
            on_epoch,
            checkpoint,
            history_path,
            monitor_training,
            pace,
        )
    finally:
        if preloading is not None:  # never leave Numba loading machine code while the interpreter exits
            preloading.join()


def on_engine(net: Network | None, config: TrainConfig, status: Callable[[str], None] | None = None) -> Network:
    """``net`` (None: a new network) on the engine and device ``config``
    names; a new pytensor network starts its biases at 1, as the notes do,
    and the PyTensor model is compiled now (its time goes to ``status``)."""
    if net is None:
        dtype = cast(str, config.dtype)  # TrainConfig fills in the engine's default
        net = Network(
            config.sizes, seed=config.seed, dtype=dtype, engine=config.engine, device=config.device, init=config.init
        )
        if config.engine == "pytensor":
            for b in net.biases:
                b[...] = 1
    else:
        from . import engines

        engines.check(config.engine, config.device)
        net.engine, net.device = config.engine, config.device
    if config.engine == "pytensor":
        from .engines import engine_for

        model = engine_for(net, "pytensor").prepare(net)  # type: ignore[attr-defined]
        if status is not None:
            status(f"Compiled the PyTensor model in {model.compile_seconds:.2f} s")
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
    saved = checkpoints.load_checkpoint(path)
    config = saved.config
    if isinstance(data, (str, os.PathLike)):  # the same data, moved: the settings follow it
        config = replace(config, data=str(data))
    if not isinstance(data, Dataset):
        data = load(config.data)
    config.check_data(data)
    order = saved.position.order
    if order is not None and len(order) != len(data.train):  # checked apart from the fingerprint, which is no proof
        raise DataError(f"{path}: its saved order has {len(order):,} places; the training data has {len(data.train):,}")
    if checkpoints.fingerprint(data) != saved.fingerprint:
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
    net: Network,
    config: TrainConfig,
    data: Dataset,
    history: History,
    start: Position,
    progress: bool | None,
    log: Callable[[str], None] | None,
    on_epoch: Callable[[EpochResult], None] | None,
    checkpoint: str | os.PathLike | None,
    history_path: str | os.PathLike | None = None,
    monitor_training: bool = False,
    pace: Pace | None = None,
) -> tuple[Network, History]:
    """SGD from ``start`` to ``config.epochs``, saving checkpoints if asked."""
    history.settings = config.to_dict()
    if history_path is not None or monitor_training:
        on_epoch = _recording(net, data, history, on_epoch, history_path, monitor_training)
    eta = cast(float, config.eta)  # TrainConfig fills in the engine's default
    common: dict[str, Any] = dict(test_data=data[config.eval], progress=progress, log=log, history=history, pace=pace)

    def sgd(**hooks: Any) -> None:
        if not config.expand:
            net.SGD(data.train, config.epochs, config.batch_size, eta, start=start, **common, **hooks)
            return
        from . import expand  # each epoch its own distortions of the digits

        seed = config.seed or 0
        expand.sgd(net, data.train, config.epochs, config.batch_size, eta, seed=seed, start=start, **common, **hooks)

    if checkpoint is None:
        sgd(on_epoch=on_epoch)
    else:
        with checkpoints.Checkpointer(checkpoint, net, config, history, data) as saver:
            sgd(on_epoch=saver.after(on_epoch), stop=saver.stop)
    return net, history


def _recording(
    net: Network,
    data: Dataset,
    history: History,
    on_epoch: Callable[[EpochResult], None] | None,
    history_path: str | os.PathLike | None,
    monitor_training: bool,
) -> Callable[[EpochResult], None]:
    """An ``on_epoch`` hook that adds the training-data figures and keeps the
    history file up to date, then calls ``on_epoch``.  ``history`` is the
    run's own, to which each epoch is appended before the hook runs."""
    if history_path is not None:
        history.save(history_path)  # an unwritable path fails now, before any training

    def record(result: EpochResult) -> None:
        if monitor_training:
            correct, result.train_cost = net.accuracy_and_cost(data.train.images, data.train.labels)
            result.train_accuracy = correct / len(data.train)
        if history_path is not None:
            history.save(history_path)
        if on_epoch is not None:
            on_epoch(result)

    return record


__all__ = ["MAX_BATCH", "MAX_EPOCHS", "TrainConfig", "on_engine", "resume", "train"]
