"""Digits as a person hands them over: drawn with a pen on paper, as image files."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

# Strokes of a few digits in a unit box (x, y in [0, 1], y down).
STROKES = {
    1: [[(0.55, 0.0), (0.5, 1.0)]],
    7: [[(0.1, 0.05), (0.9, 0.05), (0.4, 1.0)]],
    0: [[(0.5 + 0.42 * np.sin(t), 0.5 - 0.5 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]],
}


def draw(
    digit: int,
    canvas: tuple[int, int] = (600, 400),
    box: tuple[int, int, int] = (40, 60, 240),
    pen: int = 24,
    paper="white",
    ink="black",
    mode: str = "RGB",
) -> Image.Image:
    """``digit``'s strokes drawn with a ``pen``-wide nib into a square of side
    ``box[2]`` whose top-left corner is ``box[:2]``, on a ``canvas`` (w, h)."""
    img = Image.new(mode, canvas, paper)
    d = ImageDraw.Draw(img)
    left, top, side = box
    for stroke in STROKES[digit]:
        pts = [(left + x * side, top + y * side) for x, y in stroke]
        d.line(pts, fill=ink, width=pen, joint="curve")
        for x, y in pts[:: len(pts) - 1]:  # round ends
            d.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=ink)
    return img


def encode(img: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def mnist_on_paper(image: np.ndarray, side: int = 28) -> Image.Image:
    """An MNIST digit (784 bytes, light on black) as dark ink on white paper,
    scaled to ``side`` pixels."""
    img = Image.fromarray(255 - image.reshape(28, 28))
    return img if side == 28 else img.resize((side, side), Image.Resampling.BICUBIC)
