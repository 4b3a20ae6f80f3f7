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
4. scale to fit 20 x 20, keeping the aspect ratio -- first to four times
   that size, where a pen much thinner or thicker than MNIST's is made
   thicker or thinner (:func:`even_strokes`), so that a fine pen on a big
   sheet does not shrink to a faint trace; then down to 20 x 20, the
   strongest ink at full intensity;
5. place by centre of mass in 28 x 28;
6. as bytes, so that ``byte / 256`` lies in [0, 1) like the training data.

Images are decoded with Pillow, as untrusted input:

* only raster formats Pillow decodes itself are tried (:data:`FORMATS`):
  never EPS or PostScript (which Pillow hands to Ghostscript, a program), PDF
  or any other format that runs something;
* the file is at most :data:`MAX_FILE_BYTES`, and its width x height, read
  from the header, at most :data:`MAX_PIXELS` before a pixel is decoded
  (JPEG is decoded already reduced, so that photos of any common size fit);
  only the first frame of an animation or page of a TIFF is read;
* the decoded image is reduced to at most :data:`WORK_SIDE` pixels a side
  before any other work, so the memory one image costs is bounded by
  :data:`MAX_PIXELS` x 4 bytes and a little more;
* float images holding NaN or infinity, and anything Pillow cannot read,
  become a one-line :class:`~nndl.errors.DataError`.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING

import numpy as np

from .errors import DataError, require
from .files import atomic_write, open_regular

#: The image formats nndl decodes (Pillow's names): raster formats Pillow
#: decodes itself.  EPS, PDF and the rest are never tried.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")

if TYPE_CHECKING:
    import PIL.Image

#: The largest image file (in bytes) nndl reads.
MAX_FILE_BYTES = 32 * 2**20
#: The largest image (width x height, as decoded) nndl decodes: 64 MiB as
#: Pillow holds it (4 bytes a pixel) at most.
MAX_PIXELS = 16_000_000
#: The most frames an animation may declare (only the first is read).
MAX_FRAMES = 10_000
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
#: Strokes are measured, thickened and thinned with the digit's box this
#: many pixels a side: four pixels for each of MNIST's.
WORK_BOX = 4 * BOX
#: MNIST's stroke widths in pixels of its 20 x 20 box, as :func:`stroke_width`
#: measures them: from the 10th to the 90th percentile of its training
#: digits (median 1.9).  Pens outside this range are brought to its edge.
STROKE_RANGE = (1.4, 2.7)


def pillow() -> ModuleType:
    """Pillow's ``PIL.Image``, or a one-line error naming the extra to install."""
    return require("PIL.Image", "reading images", "predict")


def open_image(source: bytes | str | os.PathLike, name: str | None = None) -> PIL.Image.Image:
    """Decode an image file (a path, or the file's bytes) with Pillow.

    Only the formats in :data:`FORMATS` are tried.  The width x height is
    checked against :data:`MAX_PIXELS` before any pixel is decoded, so a
    small file claiming a huge image (a decompression bomb) costs nothing.
    Only the first frame of an animation is used; the EXIF orientation of
    photos is applied; an image larger than :data:`WORK_SIDE` a side comes
    back reduced to it.  Returns a ``PIL.Image.Image``; raises
    :class:`DataError` naming the file.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = name or "the image"
        if len(source) > MAX_FILE_BYTES:
            raise DataError(f"{name} is {len(source):,} bytes; nndl reads images of at most {MAX_FILE_BYTES:,}")
        return _decode(io.BytesIO(source), len(source), name)
    name = name or str(source)
    with open_regular(Path(source)) as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise DataError(f"{name} is {size:,} bytes; nndl reads images of at most {MAX_FILE_BYTES:,}")
        return _decode(f, size, name)


def _decode(fp: IO[bytes], size: int, name: str) -> PIL.Image.Image:
    """Decode the image in the open file ``fp`` of ``size`` bytes (see :func:`open_image`)."""
    Image = pillow()
    from PIL import ImageOps

    if not size:
        raise DataError(f"{name} is empty, not an image")
    try:
        with warnings.catch_warnings():
            # Pillow warns of what it recovered from (odd EXIF, skipped TIFF
            # tags); the outcome is what counts, and a bomb is an error.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(fp, formats=FORMATS)
            # PNG (APNG) and WebP declare their frames in the header; GIF and
            # TIFF would have to be walked, so their count is never asked.
            frames = getattr(img, "n_frames", 1) if img.format in ("PNG", "WEBP") else 1
            if frames > MAX_FRAMES:
                raise DataError(f"{name} declares {frames:,} frames; nndl reads images of at most {MAX_FRAMES:,}")
            # JPEG can decode at 1/2, 1/4 or 1/8 scale: no need for more
            # pixels than the work uses.
            img.draft(None, (WORK_SIDE, WORK_SIDE))
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise DataError(
                    f"{name} is {width} x {height} pixels, more than the {MAX_PIXELS:,} pixels nndl decodes; "
                    "make it smaller"
                )
            img.load()
            if img.mode == "F":
                _check_finite(img, name)
            img = ImageOps.exif_transpose(_reduced(img))
    except DataError:
        raise
    except Image.UnidentifiedImageError:
        raise DataError(f"{name} is not an image in a format nndl reads ({', '.join(FORMATS)})") from None
    except Exception as e:  # Pillow's decoders raise many types on broken input
        raise DataError(f"{name} is not a readable image ({_one_line(e)})") from None
    if min(img.size) < 1:
        raise DataError(f"{name} has no pixels ({img.size[0]} x {img.size[1]})")
    return img


def _check_finite(img: PIL.Image.Image, name: str) -> None:
    """Refuse a float image holding NaN or infinity (read a strip at a time)."""
    width, height = img.size
    step = max(1, 2**20 // max(width, 1))
    for top in range(0, height, step):
        if not np.isfinite(np.asarray(img.crop((0, top, width, min(top + step, height))))).all():
            raise DataError(f"{name} is a float image holding NaN or infinite values")


def _reduced(img: PIL.Image.Image) -> PIL.Image.Image:
    """``img``, or a copy at most :data:`WORK_SIDE` a side (area-averaged, so
    thin strokes stay as faint grey).  Palette and bilevel images become
    grey (or grey with alpha) first, since resampling works on values."""
    Image = pillow()
    width, height = img.size
    if max(width, height) <= WORK_SIDE:
        return img
    if img.mode in ("1", "P", "PA"):
        transparent = img.mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if transparent else "L")
    scale = WORK_SIDE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = img.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
    small.info = {**img.info, "exif": img.getexif().tobytes()}  # keeps the photo's orientation
    return small


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
    img = _reduced(img)
    if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        a = np.asarray(img, dtype=np.float32)
        if not np.isfinite(a).all():
            raise DataError("the image holds NaN or infinite values")
        top = 65535.0 if img.mode.startswith("I;16") else max(float(a.max()), 1.0)
        img = Image.fromarray((np.clip(a, 0, top) * (255.0 / top)).astype(np.uint8))
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    try:
        if has_alpha and img.mode in ("P", "PA"):
            img = img.convert("RGBA")  # the palette's transparency, resolved
        img = img.convert("LA" if has_alpha else "L")
    except (ValueError, OSError) as e:
        raise DataError(f"cannot make a grey image of Pillow's mode {img.mode} ({_one_line(e)})") from None
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
    return fit_mnist(ink_of(img))


def ink_of(img: PIL.Image.Image) -> np.ndarray:
    """Steps 1 to 3: the ink of a ``PIL.Image`` as floats in [0, 1] (1 the
    darkest stroke, paper 0), cropped to its bounding box."""
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
    return _cropped(ink)


def _cropped(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def fit_mnist(ink: np.ndarray) -> np.ndarray:
    """Steps 4 to 6: ink cropped to its box (floats in [0, 1]) as the 28 x 28
    ``uint8`` input, fitted into 20 x 20 and centred by mass."""
    Image = pillow()
    # Step 4: at four times the size, strokes as thick as MNIST's; then the
    # longer side to 20, anti-aliased.
    work = even_strokes(work_size(np.asarray(ink, np.float32)))
    h, w = work.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    digit = np.clip(np.asarray(Image.fromarray(work).resize(size, Image.Resampling.LANCZOS)), 0, None)
    # MNIST's strokes are saturated: the strongest ink to full intensity.
    digit /= max(float(digit.max()), 1e-6)
    return centred(digit)


def work_size(ink: np.ndarray) -> np.ndarray:
    """Ink (floats in [0, 1]) with its longer side from :data:`WORK_BOX` to
    twice that.  A larger image keeps the most ink of each block of pixels
    (so a line one pixel wide stays a line, at full intensity, rather than
    fading to grey); a smaller one is enlarged smoothly."""
    Image = pillow()
    longest = max(ink.shape)
    if longest < WORK_BOX:
        scale = WORK_BOX / longest
        size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
        return np.clip(np.asarray(Image.fromarray(ink).resize(size, Image.Resampling.BICUBIC)), 0, 1)
    f = longest // WORK_BOX
    if f == 1:
        return ink
    h, w = -(-ink.shape[0] // f), -(-ink.shape[1] // f)
    blocks = np.zeros((h * f, w * f), np.float32)
    blocks[: ink.shape[0], : ink.shape[1]] = ink
    return blocks.reshape(h, f, w, f).max(axis=(1, 3))


def stroke_width(ink: np.ndarray) -> float:
    """The mean width, in pixels, of the strokes of ``ink`` (pixels over
    0.5): twice the inked area over the length of its outline, as a stroke
    ``w`` wide and ``L`` long covers ``w L`` pixels inside an outline of
    about ``2 L``."""
    inked = np.pad(np.asarray(ink) > 0.5, 1)
    outline = np.count_nonzero(inked[1:] != inked[:-1]) + np.count_nonzero(inked[:, 1:] != inked[:, :-1])
    return 2 * np.count_nonzero(inked) / max(outline, 1)


def even_strokes(work: np.ndarray) -> np.ndarray:
    """Ink at :func:`work_size` with its strokes made as thick as MNIST's.

    A pen thinner than :data:`STROKE_RANGE` (scaled to the box) is
    thickened, a pixel each side at a time, until it is in range; a thicker
    one is thinned likewise while it stays in range (and keeps most of its
    ink, so thin parts of a thick digit survive).  Pens in range, like
    MNIST's own, are left alone.  Each step takes the largest (or smallest)
    value over a cross, then over a square, so strokes grow and shrink
    about equally in every direction.
    """
    lo, hi = (w / BOX for w in STROKE_RANGE)  # widths per pixel of the box
    width = stroke_width(work)
    if width == 0:  # only faint ink: no stroke to measure
        return work
    if width < lo * max(work.shape):
        for step in range(WORK_BOX):
            work = _rank(np.pad(work, 1), np.maximum, step)
            if stroke_width(work) >= lo * max(work.shape):
                break
    elif width > hi * max(work.shape):
        area = np.count_nonzero(work > 0.5)
        for step in range(WORK_BOX):
            thinner = _rank(work, np.minimum, step)
            if stroke_width(thinner) < hi * max(work.shape) or np.count_nonzero(thinner > 0.5) < area / 3:
                break
            work = thinner
        work = _cropped(work)
    return work


def _rank(a: np.ndarray, pick: np.ufunc, step: int) -> np.ndarray:
    """``pick`` (np.maximum or np.minimum) of each pixel and its neighbours:
    the four beside it on even steps, all eight on odd ones."""
    p = np.pad(a, 1)
    h, w = a.shape
    offsets = [(0, 1), (2, 1), (1, 0), (1, 2)] + ([(0, 0), (0, 2), (2, 0), (2, 2)] if step % 2 else [])
    return pick.reduce([a] + [p[i : i + h, j : j + w] for i, j in offsets])


def centred(digit: np.ndarray) -> np.ndarray:
    """Step 5 and 6: a digit (floats, at most 20 x 20) placed in 28 x 28 with
    its centre of mass at (14, 14), as bytes."""
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
