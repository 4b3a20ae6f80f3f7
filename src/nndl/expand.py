"""Expanded training data: chapter 3's way to more data for free.

A digit turned by a few degrees, made a little larger or smaller, moved by
a pixel or written with a thicker or thinner pen is still the same digit.
The book (chapter 3, "Artificially expanding the training data") turns
each of MNIST's training digits a little to get more of them;
:func:`expand` goes further and draws a fresh small distortion of every
digit each epoch, so the network never sees the same image twice and learns
what stays the same::

    x' = stroke(x) sampled at  M (p - c - t) + c     for each pixel p

where ``c`` is the image's centre, ``t`` a shift and ``M`` the inverse of
a rotation, a scaling and a slant (shear) of the digit; ``stroke`` thickens
(``s > 0``) or thins (``s < 0``) every stroke by mixing each pixel with the
largest (or smallest) of its four neighbours: ``x + s (max - x)``.
Pixels between grid points are read by bilinear interpolation.

Everything random is drawn up front from the generator you pass (numbers
in, numbers out), so one seed gives the same images on any machine and
with any number of threads.  With the ``fast`` extra (Numba) an epoch of
50,000 digits is distorted in a few hundredths of a second on two cores;
without it NumPy does the same, a few times slower.

To train with it, give each epoch fresh images::

    from nndl import load, Network
    from nndl.expand import epoch_images

    data = load()
    net = Network([784, 100, 10], seed=0)
    for epoch in range(30):
        images = epoch_images(data.train.images, seed=0, epoch=epoch)
        net.SGD((images, data.train.labels), 1, 10, 3.0, log=None)

or call :func:`sgd`, which does that and keeps one history::

    history = sgd(net, data.train, 30, 10, 3.0, data.test, seed=0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .data import Split
from .errors import ConfigError, DataError
from .history import History
from .loop import Position, run_settings

if TYPE_CHECKING:
    from .network import Network

try:
    import numba
except ImportError:  # the NumPy path below does the same, slower
    numba = None

#: Mixed into the seed so the distortions never share a stream with the
#: network's initial weights and shuffles drawn from the same seed.
STREAM = 0x657870616E64  # "expand"


@dataclass(frozen=True)
class Distortion:
    """How far :func:`expand` may move each digit: each amount is drawn
    uniformly from ``[-x, x]`` (``scale`` from ``[1 - x, 1 + x]``).

    ``rotate`` is in degrees, ``shift`` in pixels, ``shear`` is the slant
    (horizontal pixels per pixel of height) and ``stroke`` the fraction of a
    pixel each side of every stroke gains or loses.
    """

    rotate: float = 10.0
    scale: float = 0.1
    shear: float = 0.2
    shift: float = 1.5
    stroke: float = 0.3

    def validate(self) -> Distortion:
        limits = {"rotate": 45.0, "scale": 0.5, "shear": 1.0, "shift": 8.0, "stroke": 1.0}
        for name, top in limits.items():
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= top):
                raise ConfigError(f"distortion {name} must be a number from 0 to {top}, got {value!r}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def distortion_params(
    angle: ArrayLike, scale: ArrayLike, shear: ArrayLike, shift_x: ArrayLike, shift_y: ArrayLike, stroke: ArrayLike
) -> np.ndarray:
    """Rows ``(m00, m01, m10, m11, tx, ty, s)`` for :func:`distort` from the
    amounts of each distortion (arrays, or numbers for one): the digit is
    slanted by ``shear``, turned by ``angle`` degrees (clockwise as shown,
    with y pointing down), scaled by ``scale`` about the centre, moved by
    ``(shift_x, shift_y)`` pixels, and its strokes changed by ``stroke``.
    ``M`` is the inverse of that linear map: it takes each new pixel back
    to where it comes from."""
    angle, scale, shear, shift_x, shift_y, stroke = np.broadcast_arrays(
        *(np.asarray(a, np.float64) for a in (angle, scale, shear, shift_x, shift_y, stroke))
    )
    cos, sin = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    # the forward map A = scale * R(angle) @ [[1, shear], [0, 1]] on (x, y); M = A^-1
    a00, a01 = scale * cos, scale * (cos * shear - sin)
    a10, a11 = scale * sin, scale * (sin * shear + cos)
    det = a00 * a11 - a01 * a10
    return np.column_stack([a11 / det, -a01 / det, -a10 / det, a00 / det, shift_x, shift_y, stroke]).reshape(-1, 7)


def draw_distortions(n: int, rng: np.random.Generator, distortion: Distortion | None = None) -> np.ndarray:
    """``n`` random distortions (rows of :func:`distortion_params`), each
    amount drawn uniformly within the :class:`Distortion`'s bounds."""
    d = (distortion or Distortion()).validate()
    u = rng.uniform(-1.0, 1.0, size=(n, 6))
    return distortion_params(
        d.rotate * u[:, 0],
        1.0 + d.scale * u[:, 1],
        d.shear * u[:, 2],
        d.shift * u[:, 3],
        d.shift * u[:, 4],
        d.stroke * u[:, 5],
    )


def expand(images: np.ndarray, rng: np.random.Generator, distortion: Distortion | None = None) -> np.ndarray:
    """Each image ``(n, side * side)`` ``uint8`` with a fresh random
    distortion (:class:`Distortion`) drawn from ``rng``; returns a new
    ``uint8`` array of the same shape."""
    images = _check(images)
    return distort(images, draw_distortions(len(images), rng, distortion))


def epoch_images(images: np.ndarray, seed: int, epoch: int, distortion: Distortion | None = None) -> np.ndarray:
    """The training images for epoch ``epoch`` of a run seeded ``seed``:
    :func:`expand` with a generator made from both, so any epoch's images
    can be made again (after a resume, say) without keeping any state."""
    for name, value in (("seed", seed), ("epoch", epoch)):
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0):
            raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
    return expand(images, np.random.default_rng([STREAM, int(seed), int(epoch)]), distortion)


def sgd(
    net: Network,
    training_data: Split | tuple[np.ndarray, np.ndarray],
    epochs: int,
    mini_batch_size: int,
    eta: float,
    test_data: Split | tuple[np.ndarray, np.ndarray] | None = None,
    *,
    seed: int = 0,
    distortion: Distortion | None = None,
    history: History | None = None,
    start: Position | None = None,
    **options: Any,
) -> History:
    """:meth:`Network.SGD <nndl.network.Network.SGD>` on expanded data:
    each epoch ``j`` trains on :func:`epoch_images` of the training images
    (``uint8``; a :class:`~nndl.data.Split` or ``(images, labels)``) for
    ``seed`` and ``j``.  Returns the run's :class:`~nndl.history.History`,
    one entry per epoch.

    As with ``SGD``, a run cut short goes on from its ``history`` and the
    :class:`~nndl.loop.Position` to ``start`` from (its epoch's images are
    made again); ``options`` (``log``, ``progress``, ``on_epoch``, ``stop``,
    ``pace``) go to each epoch's ``SGD``.  ``nndl train --expand`` trains
    through here."""
    if isinstance(training_data, Split):
        images, labels = training_data.images, training_data.labels
    else:
        images, labels = training_data
    if history is None:
        history = History(settings={**run_settings(net, epochs, mini_batch_size, eta), "expand": True})
    start = Position() if start is None else start
    for epoch in range(start.epoch, epochs):
        expanded = epoch_images(images, seed, epoch, distortion)
        at = start if epoch == start.epoch else Position(epoch)
        net.SGD((expanded, labels), epoch + 1, mini_batch_size, eta, test_data, history=history, start=at, **options)
    return history


def distort(images: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Apply the distortions ``params`` (rows of :func:`draw_distortions`)
    to ``images`` ``(n, side * side)`` ``uint8``: compiled when Numba is
    installed, else with NumPy; both give the same bytes but for rare
    rounding ties."""
    images = _check(images)
    params = np.ascontiguousarray(params, dtype=np.float64)
    if params.shape != (len(images), 7):
        raise ConfigError(f"params must have shape ({len(images)}, 7), got {params.shape}")
    side = math.isqrt(images.shape[1])
    out = np.zeros_like(images)
    if _compiled is not None:
        _compiled(images.reshape(-1, side, side), params, out)
    else:
        distort_numpy(images, params, out)
    return out


def _check(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 2 or images.dtype != np.uint8:
        raise DataError(f"images must be uint8 of shape (n, pixels), got {images.dtype} {images.shape}")
    side = math.isqrt(images.shape[1])
    if side * side != images.shape[1] or side < 2:
        raise DataError(f"images must be square, got {images.shape[1]} pixels each")
    return np.ascontiguousarray(images)


# -- NumPy: the same steps on whole chunks of images -------------------------

#: Images distorted at once by the NumPy path (bounds its memory to ~100 MB).
CHUNK = 2048


def distort_numpy(images: np.ndarray, params: np.ndarray, out: np.ndarray) -> None:
    """The distortions with NumPy, :data:`CHUNK` images at a time."""
    side = math.isqrt(images.shape[1])
    c, width = (side - 1) / 2, side + 4
    ys, xs = np.divmod(np.arange(side * side), side)
    for k in range(0, len(images), CHUNK):
        x = images[k : k + CHUNK].reshape(-1, side, side).astype(np.float64)
        p = params[k : k + CHUNK]
        # a zero border of 2 around each image, all images end to end
        buf = np.zeros((len(x), width, width))
        buf[:, 2:-2, 2:-2] = x
        # the stroke change: x + s (max - x) with s > 0, x + s (x - min) with s < 0, over the 4-neighbourhood
        n, so, w, e = buf[:, 1:-3, 2:-2], buf[:, 3:-1, 2:-2], buf[:, 2:-2, 1:-3], buf[:, 2:-2, 3:-1]
        hi = np.maximum(np.maximum(np.maximum(n, so), np.maximum(w, e)), x)
        lo = np.minimum(np.minimum(np.minimum(n, so), np.minimum(w, e)), x)
        s = p[:, 6, None, None]
        buf[:, 2:-2, 2:-2] = np.where(s > 0, x + s * (hi - x), x + s * (x - lo))
        flat = buf.ravel()
        # where each new pixel comes from: M (p - c - t) + c; outside the image reads the zero border
        u, v = xs - c - p[:, 4, None], ys - c - p[:, 5, None]
        sx = np.clip(p[:, 0, None] * u + p[:, 1, None] * v + c, -2.0, side + 0.5)
        sy = np.clip(p[:, 2, None] * u + p[:, 3, None] * v + c, -2.0, side + 0.5)
        x0, y0 = np.floor(sx), np.floor(sy)
        fx, fy = sx - x0, sy - y0
        i = (y0.astype(np.intp) + 2) * width + x0.astype(np.intp) + 2 + (np.arange(len(x)) * width * width)[:, None]
        nw, ne, sw, se = flat[i], flat[i + 1], flat[i + width], flat[i + width + 1]
        top, bottom = nw + fx * (ne - nw), sw + fx * (se - sw)
        out[k : k + CHUNK] = np.minimum(np.floor(top + fy * (bottom - top) + 0.5), 255)


# -- Numba: one image per step, only where its ink can land ------------------

if numba is not None:

    @numba.njit(cache=True, nogil=True)
    def _span(m: float, b: float, lo: float, hi: float, a0: float, a1: float) -> tuple[float, float]:
        """Narrow [lo, hi] to the x with a0 < m x + b < a1."""
        if m > 1e-12:
            return max(lo, (a0 - b) / m), min(hi, (a1 - b) / m)
        if m < -1e-12:
            return max(lo, (a1 - b) / m), min(hi, (a0 - b) / m)
        return (lo, hi) if a0 < b < a1 else (lo, -1.0)

    @numba.njit(cache=True, nogil=True)
    def _distort_one(img: np.ndarray, p: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
        """Distort one image ``img`` ``(side, side)`` into ``out`` (its
        ``side * side`` pixels, zeros) with the parameters ``p``.  ``a`` and
        ``b`` hold ``(side + 4) ** 2`` zeros, and are left so: the image and
        its changed strokes, row after row with a border of 2, so that no
        read needs a bounds check.  Indices are unsigned: Numba then skips
        its check for negative ones, which costs more than the arithmetic."""
        side = img.shape[0]
        w = side + 4
        c = (side - 1) / 2
        # the ink's bounding box
        r0, r1, c0, c1 = side, -1, side, -1
        for y in range(side):
            for x in range(side):
                if img[y, x] != 0:
                    r0, r1 = min(r0, y), max(r1, y)
                    c0, c1 = min(c0, x), max(c1, x)
        if r1 < 0:
            return
        for y in range(r0, r1 + 1):
            for x in range(c0, c1 + 1):
                a[np.uint64((y + 2) * w + x + 2)] = img[y, x]
        # the stroke change; a thicker stroke reaches one pixel beyond the
        # box, but not beyond the image
        s = p[6]
        r0, r1, c0, c1 = max(r0 - 1, 0), min(r1 + 1, side - 1), max(c0 - 1, 0), min(c1 + 1, side - 1)
        for i in range(r0 + 2, r1 + 3):
            for j in range(c0 + 2, c1 + 3):
                q = np.uint64(i * w + j)
                v = a[q]
                if s > 0:
                    b[q] = v + s * (max(max(max(a[q - w], a[q + w]), max(a[q - 1], a[q + 1])), v) - v)
                else:
                    b[q] = v + s * (v - min(min(min(a[q - w], a[q + w]), min(a[q - 1], a[q + 1])), v))
        # each new pixel reads the old at M (p - c - t) + c, which is zero
        # outside the open box (r0 - 1, r1 + 1) x (c0 - 1, c1 + 1): that
        # bounds each row's range of new pixels
        m00, m01, m10, m11, tx, ty = p[0], p[1], p[2], p[3], p[4], p[5]
        for oy in range(side):
            v_ = oy - c - ty
            # sx = m00 ox + bx, sy = m10 ox + by
            bx, by = m01 * v_ + c - m00 * (c + tx), m11 * v_ + c - m10 * (c + tx)
            lo, hi = _span(m00, bx, 0.0, side - 1.0, c0 - 1.0, c1 + 1.0)
            lo, hi = _span(m10, by, lo, hi, r0 - 1.0, r1 + 1.0)
            for ox in range(max(0, math.floor(lo)), min(side - 1, math.ceil(hi)) + 1):
                sx, sy = m00 * ox + bx, m10 * ox + by
                if sx <= c0 - 1 or sx >= c1 + 1 or sy <= r0 - 1 or sy >= r1 + 1:
                    continue
                # in the buffer's coordinates, which are positive: int() is floor()
                sx, sy = sx + 2.0, sy + 2.0
                x0, y0 = int(sx), int(sy)
                fx, fy = sx - x0, sy - y0
                q = np.uint64(y0 * w + x0)
                top = b[q] + fx * (b[q + 1] - b[q])
                bottom = b[q + w] + fx * (b[q + w + 1] - b[q + w])
                out[np.uint64(oy * side + ox)] = min(int(top + fy * (bottom - top) + 0.5), 255)
        for i in range(r0 + 2, r1 + 3):
            for j in range(c0 + 2, c1 + 3):
                q = np.uint64(i * w + j)
                a[q], b[q] = 0.0, 0.0

    @numba.njit(cache=True, nogil=True, parallel=True)
    def _distort_compiled(images: np.ndarray, params: np.ndarray, out: np.ndarray) -> None:
        """:func:`_distort_one` for every image, in blocks shared among the cores."""
        n, side = images.shape[0], images.shape[1]
        per_task = 512
        for q in numba.prange(-(-n // per_task)):
            a, b = np.zeros((side + 4) ** 2), np.zeros((side + 4) ** 2)
            for k in range(q * per_task, min(n, (q + 1) * per_task)):
                _distort_one(images[k], params[k], a, b, out[k])

    _compiled: Callable | None = _distort_compiled
else:
    _compiled = None


__all__ = ["STREAM", "Distortion", "distort", "distortion_params", "draw_distortions", "epoch_images", "expand", "sgd"]
