"""How well a network reads digits it was not shown: test accuracy as the
test digits are shifted, turned, written thinner or thicker, and noised.

MNIST's digits are centred by their mass in a 28 x 28 field and written
with a similar pen; a network trained on them alone learns that too.  Each
curve here moves every test digit by one amount of one distortion and
counts how many the network still reads right::

    accuracy(d) = (1/n) #{ x in test : argmax a^L(distorted(x, d)) = label(x) }

The geometric distortions and the stroke change are :mod:`nndl.expand`'s
own (:func:`~nndl.expand.distortion_params` and
:func:`~nndl.expand.distort`, the code ``nndl train --expand`` trains
with), so a model trained on expanded data is measured with the very
distortions it saw, at amounts beyond them.  Shifts move each digit
whole pixels left, right, up or down and rotations turn it clockwise or
anticlockwise, the direction drawn for each digit from ``seed``; noise adds
Gaussian noise of standard deviation ``sigma`` (a fraction of full ink) to
every pixel.  At amount 0 no pixel changes, so the first point of every
curve is the network's plain test accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .data import Split
from .errors import ConfigError
from .expand import distort, distortion_params
from .network import Network

#: Each distortion: its unit, the amounts measured by default, and the most allowed.
DISTORTIONS: dict[str, dict] = {
    "shift": {"unit": "pixels", "amounts": (0, 1, 2, 3, 4, 5, 6), "limit": 8.0},
    "rotate": {"unit": "degrees", "amounts": (0, 5, 10, 15, 20, 30, 40, 50, 60), "limit": 180.0},
    "stroke": {"unit": "pixel each side", "amounts": (-1.0, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1.0), "limit": 1.0},
    "noise": {"unit": "std. dev., fraction of full ink", "amounts": (0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6), "limit": 1.0},
}

#: The most test digits one curve point is measured on.
MAX_SAMPLE = 100_000


@dataclass
class Curve:
    """Accuracy (a fraction) at each amount of one distortion, on ``n`` digits."""

    distortion: str
    unit: str
    amounts: list[float]
    accuracies: list[float] = field(default_factory=list)
    n: int = 0

    def to_dict(self) -> dict:
        return {"distortion": self.distortion, "unit": self.unit, "amounts": self.amounts,
                "accuracies": self.accuracies, "n": self.n}  # fmt: skip


def distorted(images: np.ndarray, distortion: str, amount: float, seed: int = 0) -> np.ndarray:
    """``images`` ``(n, 784)`` ``uint8`` with every digit distorted by ``amount``
    of ``distortion`` (one of :data:`DISTORTIONS`); the directions of shifts
    and turns and the noise are drawn from ``seed``.  Amount 0 returns the
    images unchanged, pixel for pixel."""
    _check_amount(distortion, amount)
    n = len(images)
    rng = np.random.default_rng(seed)
    if distortion == "noise":
        noise = rng.standard_normal(images.shape) * (255.0 * amount)
        return np.clip(np.rint(images + noise), 0, 255).astype(np.uint8)
    zero = np.zeros(n)
    if distortion == "shift":
        # one of the four directions for each digit: whole pixels, so no blur
        step = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])[rng.integers(0, 4, n)] * amount
        params = distortion_params(zero, 1.0, zero, step[:, 0], step[:, 1], zero)
    elif distortion == "rotate":
        params = distortion_params(rng.choice([-1.0, 1.0], n) * amount, 1.0, zero, zero, zero, zero)
    else:  # stroke: thicker (> 0) or thinner (< 0), as --expand's
        params = distortion_params(zero, 1.0, zero, zero, zero, np.full(n, float(amount)))
    return distort(images, params)


def robustness(
    net: Network,
    data: Split,
    amounts: Mapping[str, Sequence[float]] | None = None,
    *,
    sample: int | None = None,
    seed: int = 0,
) -> dict[str, Curve]:
    """The accuracy curves of ``net`` on ``data`` (a test
    :class:`~nndl.data.Split`): for each distortion in ``amounts`` (default:
    all of :data:`DISTORTIONS` at their default amounts), the fraction of
    digits read right at each amount.  ``sample`` measures on that many
    digits drawn from ``seed`` instead of all; every point uses the same
    digits and, for each amount, the same directions and noise."""
    amounts = {k: v["amounts"] for k, v in DISTORTIONS.items()} if amounts is None else amounts
    images, labels = data.images, data.labels
    if sample is not None:
        if not (isinstance(sample, int) and 1 <= sample <= min(len(data), MAX_SAMPLE)):
            raise ConfigError(f"sample must be a whole number from 1 to {min(len(data), MAX_SAMPLE)}, got {sample!r}")
        pick = np.sort(np.random.default_rng(seed).choice(len(data), sample, replace=False))
        images, labels = images[pick], labels[pick]
    curves = {}
    for name, values in amounts.items():
        if name not in DISTORTIONS:
            raise ConfigError(f"distortion must be one of {', '.join(DISTORTIONS)}, got {name!r}")
        curve = Curve(name, DISTORTIONS[name]["unit"], [float(a) for a in values], n=len(labels))
        for a in curve.amounts:
            predicted = net.predict(distorted(images, name, a, seed))
            curve.accuracies.append(float(np.mean(predicted == labels)))
        curves[name] = curve
    return curves


def _check_amount(distortion: str, amount: float) -> None:
    if distortion not in DISTORTIONS:
        raise ConfigError(f"distortion must be one of {', '.join(DISTORTIONS)}, got {distortion!r}")
    limit = DISTORTIONS[distortion]["limit"]
    low = -limit if distortion in ("shift", "rotate", "stroke") else 0.0
    if not (isinstance(amount, (int, float)) and not isinstance(amount, bool) and low <= amount <= limit):
        raise ConfigError(f"{distortion} must be a number from {low:g} to {limit:g}, got {amount!r}")


__all__ = ["DISTORTIONS", "Curve", "distorted", "robustness"]
