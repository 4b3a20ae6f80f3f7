"""Real images as MNIST digits: any picture of one handwritten digit in, the
28 x 28 input the network was trained on out.

MNIST's digits were made from scans of handwriting: each digit was fitted
into a 20 x 20 box keeping its aspect ratio (anti-aliased, so with grey
levels), then placed in a 28 x 28 field so that its centre of mass sits at
the field's centre.  Ink is bright (255) on a black (0) background, and the
network reads ``byte / 256``.  A photo, a scan or a drawing must go through
the same steps, or the network sees something it never learnt:

1. to grey; transparent pixels are background;
2. invert when the background is light (dark ink on white paper);
3. crop to the ink's bounding box;
4. scale to fit 20 x 20, keeping the aspect ratio;
5. place by centre of mass in 28 x 28;
6. as bytes, so that ``byte / 256`` lies in [0, 1) like the training data.

Images are read with Pillow, bounded in bytes (:data:`MAX_FILE_BYTES`) and
pixels (:data:`MAX_PIXELS`, checked from the header before decoding);
anything Pillow cannot read becomes a one-line :class:`~nndl.errors.DataError`.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from .errors import DataError, require
from .files import atomic_write, read_bytes

if TYPE_CHECKING:
    import PIL.Image

#: The largest image file (in bytes) nndl reads.
MAX_FILE_BYTES = 32 * 2**20
#: The largest image (width x height, from its header) nndl decodes.
MAX_PIXELS = 40_000_000
#: Larger images are reduced to this many pixels a side before the work.
WORK_SIDE = 1024
#: MNIST's geometry: the digit's box and the field it is centred in.
BOX, FIELD = 20, 28
#: Ink fainter than this fraction of the darkest stroke is paper, not ink
#: (JPEG ringing, paper texture, scanner noise).
NOISE_FLOOR = 0.2
#: An image whose ink differs from its background by less than this many
#: grey levels (of 255) holds no digit.
MIN_CONTRAST = 16


def pillow() -> ModuleType:
    """Pillow's ``PIL.Image``, or a one-line error naming the extra to install."""
    return require("PIL.Image", "reading images", "predict")


def open_image(source: bytes | str | os.PathLike, name: str | None = None) -> PIL.Image.Image:
    """Decode an image file (a path, or the file's bytes) with Pillow.

    The header's width x height is checked against :data:`MAX_PIXELS`
    before any pixel is decoded, so a small file claiming a huge image (a
    decompression bomb) costs nothing.  Only the first frame of an animation
    is used; the EXIF orientation of photos is applied.  Returns a
    ``PIL.Image.Image``; raises :class:`DataError` naming the file.
    """
    Image = pillow()
    from PIL import ImageOps

    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), name or "the image"
    else:
        name = name or str(source)
        data = read_bytes(source, MAX_FILE_BYTES)
    if not data:
        raise DataError(f"{name} is empty, not an image")
    try:
        with warnings.catch_warnings():
            # Pillow warns of what it recovered from (odd EXIF, skipped TIFF
            # tags); the outcome is what counts, and a bomb is an error.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise DataError(
                    f"{name} is {width} x {height} pixels, more than the {MAX_PIXELS:,} nndl reads; make it smaller"
                )
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: no need for more
            # pixels than the work uses.
            img.draft(None, (WORK_SIDE, WORK_SIDE))
            img.load()
            img = ImageOps.exif_transpose(img)
    except DataError:
        raise
    except Image.UnidentifiedImageError:
        raise DataError(
            f"{name} is not an image in a format Pillow reads (PNG, JPEG, GIF, BMP, TIFF, WebP ...)"
        ) from None
    except Exception as e:  # Pillow's decoders raise many types on broken input
        raise DataError(f"{name} is not a readable image ({_one_line(e)})") from None
    if min(img.size) < 1:
        raise DataError(f"{name} has no pixels ({img.size[0]} x {img.size[1]})")
    return img


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def grey(img: PIL.Image.Image) -> np.ndarray:
    """The image as grey levels ``(height, width)`` in [0, 255], float32.

    Step 1.  Colour becomes luminance.  Transparent pixels are background:
    they take the grey opposite to the ink's (white behind dark strokes,
    black behind light ones), so strokes drawn on a transparent canvas read
    as a digit on paper.  Images larger than :data:`WORK_SIDE` a side are
    reduced first (area-averaging keeps thin strokes as faint grey).
    """
    Image = pillow()
    if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        a = np.asarray(img, dtype=np.float32)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(a.max()), 1.0)
        img = Image.fromarray((np.clip(a, 0, top) * (255.0 / top)).astype(np.uint8))
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    try:
        if has_alpha and img.mode in ("P", "PA"):
            img = img.convert("RGBA")  # the palette's transparency, resolved
        img = img.convert("LA" if has_alpha else "L")
    except (ValueError, OSError) as e:
        raise DataError(f"cannot make a grey image of Pillow's mode {img.mode} ({_one_line(e)})") from None
    if max(img.size) > WORK_SIDE:
        img = img.copy()
        img.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    a = np.array(img, dtype=np.float32)
    if not has_alpha:
        return a
    g, alpha = a[..., 0], a[..., 1] / 255.0
    if alpha.min() >= 1.0:
        return g
    weight = alpha.sum()
    ink = float((g * alpha).sum() / weight) if weight > 0 else 0.0
    background = 255.0 if ink < 128 else 0.0
    return g * alpha + background * (1.0 - alpha)


def to_mnist(img: PIL.Image.Image) -> np.ndarray:
    """Preprocess a ``PIL.Image`` as MNIST's digits were made.

    Returns the 28 x 28 ``uint8`` image the network reads (as ``byte / 256``):
    bright ink on black, the ink's bounding box fitted into 20 x 20 keeping
    its aspect ratio, its centre of mass at pixel (14, 14).  Raises
    :class:`DataError` if the image holds no ink.
    """
    Image = pillow()
    g = grey(img)
    # Step 2: the border is mostly paper; light paper means dark ink.
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    background = float(np.median(border))
    ink = g - background if background < 128 else background - g
    np.clip(ink, 0, None, out=ink)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise DataError(
            f"the image is blank: its darkest and lightest marks differ by {peak:.0f} of 255 grey levels, "
            f"fewer than {MIN_CONTRAST}"
        )
    ink /= peak
    ink[ink < NOISE_FLOOR] = 0.0
    # Step 3: the ink's bounding box.
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # Step 4: longer side to 20, anti-aliased.
    h, w = ink.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    digit = np.clip(np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.LANCZOS)), 0, None)
    # Thin strokes fade when shrunk; MNIST's strokes are saturated.
    digit /= max(float(digit.max()), 1e-6)
    # Step 5: centre of mass to (14, 14).
    ys, xs = np.indices(digit.shape)
    mass = digit.sum()
    cy, cx = float((ys * digit).sum() / mass), float((xs * digit).sum() / mass)
    top, left = round(FIELD / 2 - cy), round(FIELD / 2 - cx)
    field = np.zeros((FIELD, FIELD), np.float32)
    # A lopsided digit may not fit once centred; what falls outside is cut, as in MNIST.
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + digit.shape[0], FIELD), min(left + digit.shape[1], FIELD)
    field[y0:y1, x0:x1] = digit[y0 - top : y1 - top, x0 - left : x1 - left]
    # Step 6: bytes; byte / 256 is in [0, 1) as for the training data.
    return np.round(np.clip(field, 0, 1) * 255).astype(np.uint8)


def load_digit(source: bytes | str | os.PathLike, name: str | None = None) -> np.ndarray:
    """Read an image (a path or the file's bytes) and preprocess it with
    :func:`to_mnist`: the 28 x 28 ``uint8`` input for the network."""
    if not isinstance(source, (bytes, bytearray, memoryview)):
        name = name or str(source)
    img = open_image(source, name)
    try:
        return to_mnist(img)
    except DataError as e:
        raise DataError(f"{name or 'the image'}: {e}") from None


def save_digit(path: str | os.PathLike, digit: np.ndarray) -> Path:
    """Write a 28 x 28 ``uint8`` input as a PNG (bright ink on black, as the
    network sees it), atomically."""
    Image = pillow()
    return atomic_write(path, lambda f: Image.fromarray(np.asarray(digit, np.uint8)).save(f, "PNG"))
