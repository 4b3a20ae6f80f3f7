"""Reading digits from images with a trained network.

:func:`predict_images` turns image files into :class:`Prediction` s through
:mod:`nndl.images`' MNIST preprocessing.  :func:`default_model` is the
network ``predict`` and ``serve`` use when no model file is given: the
default settings (``TrainConfig()``, the notebook's run) trained once, then
kept in the user's cache folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import CACHE_ENV, cache_dir  # noqa: F401 (CACHE_ENV: the variable users set, named here too)
from .errors import DataError
from .modelfile import MODEL_FORMAT
from .network import Network
from .train import TrainConfig, train

#: The most images one ``predict`` call reads.
MAX_IMAGES = 100_000


@dataclass
class Prediction:
    """What the network made of one image: the most activated output
    ``digit``, all ten output activations ``scores``, and the 28 x 28
    ``input`` (``uint8``) it was given."""

    digit: int
    scores: list[float]
    input: np.ndarray
    path: str | None = None

    def to_dict(self) -> dict:
        d = {"digit": self.digit, "scores": self.scores}
        return d if self.path is None else {"path": self.path, **d}


def predict_digits(net: Network, inputs: np.ndarray, paths: Sequence[str | None] | None = None) -> list[Prediction]:
    """Run ``net`` on 28 x 28 ``uint8`` inputs ``(n, 28, 28)``."""
    inputs = np.asarray(inputs, np.uint8)
    if net.sizes[0] != inputs[0].size or net.sizes[-1] != 10:
        raise DataError(f"the model reads {net.sizes[0]} pixels into {net.sizes[-1]} classes; digits need 784 into 10")
    scores = net.scores(inputs.reshape(len(inputs), -1))
    paths = paths or [None] * len(inputs)
    return [
        Prediction(int(s.argmax()), [round(float(v), 6) for v in s], x, p) for s, x, p in zip(scores, inputs, paths)
    ]


def predict_images(net: Network, paths: Sequence[str | os.PathLike]) -> list[Prediction]:
    """Read each image, preprocess it as MNIST was made
    (:func:`nndl.images.load_digit`) and classify it with ``net``.

    Every image is read before any is classified, so a bad file stops the
    call with a :class:`DataError` naming it and nothing half done.
    """
    from .images import load_digit

    if not 1 <= len(paths) <= MAX_IMAGES:
        raise DataError(f"give from 1 to {MAX_IMAGES:,} images, got {len(paths):,}")
    inputs = np.stack([load_digit(p) for p in paths])
    return predict_digits(net, inputs, [str(p) for p in paths])


def default_model_path(config: TrainConfig | None = None) -> Path:
    """The cache file for a model trained with ``config`` (default: the
    default settings); its name carries the settings' fingerprint, so other
    settings never reuse it."""
    config = config or TrainConfig()
    settings = json.dumps({"model_format": MODEL_FORMAT, **config.to_dict()}, sort_keys=True)
    return cache_dir() / f"model-{hashlib.sha256(settings.encode()).hexdigest()[:12]}.npz"


def default_model(config: TrainConfig | None = None, say: Callable[[str], None] | None = None) -> Network:
    """The network trained with ``config`` (the default settings unless
    told otherwise), trained on first use and then read from the cache.

    ``say`` hears where the model comes from (and the epochs while it
    trains).  The cache file is written atomically, so two programs training
    at once, or one interrupted, never leave a broken file behind.
    """
    config = config or TrainConfig()
    say = say or (lambda line: None)
    path = default_model_path(config)
    if path.exists():
        try:
            net = Network.load(path)
        except DataError as e:  # damaged since it was written: make it again
            say(f"The cached default model is unusable ({e}); training it again")
        else:
            say(f"Using the default model {path}")
            return net
    say(
        f"No model given: training the default one ({' '.join(map(str, config.sizes))}, {config.epochs} epochs, "
        f"mini-batch {config.batch_size}, eta {config.eta}) once; it will be kept in {path}"
    )
    net, history = train(config, log=say)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the cache folder {path.parent}: {e.strerror}") from None
    net.save(path, history.settings)
    say(f"Saved the default model to {path}")
    return net


def load_model(path: str | os.PathLike | None, say: Callable[[str], None] | None = None) -> Network:
    """The model file at ``path``, or the :func:`default_model` if None."""
    return default_model(say=say) if path is None else Network.load(path)
