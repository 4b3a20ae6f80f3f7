"""Reading digits from images with a trained network.

:func:`predict_images` turns image files into :class:`Prediction` s through
:mod:`nndl.images`' MNIST preprocessing.  :func:`default_model` is the
network ``predict`` and ``serve`` use when no model file is given: one
shipped in the package, made to read real handwriting (still the chapter's
sigmoid network with the quadratic cost, trained by SGD, but wider and on
expanded data; ``scripts/make_default_model.py`` makes it, and
``resources/default-model.json`` records how and how well it reads).  Should
that file be damaged, the notebook's run is trained once instead and kept in
the user's cache folder (:func:`cached_model`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .cache import CACHE_ENV, cache_dir  # noqa: F401 (CACHE_ENV: the variable users set, named here too)
from .config import TrainConfig
from .errors import DataError
from .modelfile import MODEL_FORMAT
from .network import Network
from .train import train

#: The default model in the package's resources, and the record beside it
#: (its settings, accuracy and SHA-256 digest).
BUNDLED_MODEL, BUNDLED_RECORD = "default-model.npz", "default-model.json"
#: Where they are.
RESOURCES = resources.files("nndl") / "resources"
#: What is trained (once, then cached) should the shipped model be damaged: the notebook's run.
FALLBACK = TrainConfig()
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


def bundled_record() -> dict:
    """The record of the shipped default model: ``settings``, ``sha256``
    and the accuracy measured when it was made."""
    try:
        record = json.loads((RESOURCES / BUNDLED_RECORD).read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"the record of the default model is unreadable ({e})") from None
    if not (isinstance(record, dict) and isinstance(record.get("sha256"), str)):
        raise DataError("the record of the default model holds no sha256 digest")
    return record


def bundled_model() -> Network:
    """The default model shipped in the package, checked against the
    SHA-256 digest in its record; a :class:`DataError` if the two differ."""
    expected = bundled_record()["sha256"]
    with resources.as_file(RESOURCES / BUNDLED_MODEL) as path:
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as e:
            raise DataError(f"cannot read {path}: {e.strerror}") from None
        if digest != expected:
            raise DataError(f"{path} has SHA-256 {digest[:12]}..., not the {expected[:12]}... it was made with")
        return Network.load(path)


def default_model(say: Callable[[str], None] | None = None) -> Network:
    """The network ``predict`` and ``serve`` use without a model file: the
    shipped :func:`bundled_model`, or, if that file is damaged, the
    notebook's run trained once (:func:`cached_model`).  ``say`` hears
    which."""
    say = say or (lambda line: None)
    try:
        net = bundled_model()
    except DataError as e:
        say(f"The default model shipped with nndl is unusable ({e}); using the notebook's run instead")
        return cached_model(FALLBACK, say=say)
    say(f"Using the default model ({' '.join(map(str, net.sizes))}, trained on expanded MNIST)")
    return net


def cached_model_path(config: TrainConfig | None = None) -> Path:
    """The cache file for a model trained with ``config`` (default: the
    default settings); its name carries the settings' fingerprint, so other
    settings never reuse it."""
    config = config or TrainConfig()
    settings = json.dumps({"model_format": MODEL_FORMAT, **config.to_dict()}, sort_keys=True)
    return cache_dir() / f"model-{hashlib.sha256(settings.encode()).hexdigest()[:12]}.npz"


def cached_model(config: TrainConfig | None = None, say: Callable[[str], None] | None = None) -> Network:
    """The network trained with ``config`` (the default settings unless
    told otherwise), trained on first use and then read from the cache.

    ``say`` hears where the model comes from (and the epochs while it
    trains).  The cache file is written atomically, so two programs training
    at once, or one interrupted, never leave a broken file behind.
    """
    config = config or TrainConfig()
    say = say or (lambda line: None)
    path = cached_model_path(config)
    if path.exists():
        try:
            net = Network.load(path)
        except DataError as e:  # damaged since it was written: make it again
            say(f"The cached model is unusable ({e}); training it again")
        else:
            say(f"Using the model {path}")
            return net
    say(
        f"Training a model ({' '.join(map(str, config.sizes))}, {config.epochs} epochs, "
        f"mini-batch {config.batch_size}, eta {config.eta}) once; it will be kept in {path}"
    )
    net, history = train(config, log=say)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the cache folder {path.parent}: {e.strerror}") from None
    net.save(path, history.settings)
    say(f"Saved the model to {path}")
    return net


def load_model(path: str | os.PathLike | None, say: Callable[[str], None] | None = None) -> Network:
    """The model file at ``path``, or the :func:`default_model` if None."""
    return default_model(say=say) if path is None else Network.load(path)
