"""How well ``nndl predict`` reads handwriting it has never seen.

Two sources of handwriting collected apart from NIST, so nothing MNIST was
made from:

* ``optdigits``: the UCI "Optical Recognition of Handwritten Digits" set as
  scikit-learn bundles it (``sklearn.datasets.load_digits``: 1,797 digits by
  43 writers, 8 x 8 cells of 0..16 ink, made by E. Alpaydin and C. Kaynak);
  the coarse 8 x 8 grid loses much of each stroke's shape.
* ``fonts``: the digits of eleven fonts made from, or after, people's handwriting,
  packaged by Debian (see :data:`FONTS`; install them with
  ``apt-get install fonts-dkg-handwriting fonts-breip fonts-bwht fonts-klee
  fonts-rufscript fonts-humor-sans``).  Each font is one writer's one way
  of writing each digit, drawn with Pillow at full resolution in
  ``--variants`` versions: a pen a little thinner or thicker (a stroke of
  0-4 pixels added around the glyph at 160 pixels), turned by up to 8
  degrees, placed anywhere in its box.  Fonts not installed are left out
  and named in the report.

Each digit is rendered as a person would hand it over, dark ink on light
paper, in two ways:

* ``small``: a 28 x 28 scan, the digit 18-24 pixels tall, a little off
  centre, grey or bluish ink, paper noise;
* ``large``: a digit 80-400 pixels tall drawn off-centre on a canvas of
  300-900 pixels a side, with uneven paper;

each alternately as PNG and JPEG.  Then ``nndl predict --json [MODEL]``
reads all of them, and the accuracy is reported per source, kind and
format, per digit, and per font.
Without ``--model`` nndl's default model (the one shipped in the package)
is used.

Two controls say where the errors come from.  The first 898 of MNIST's test
digits go through the same rendering and preprocessing (``mnist-control``):
if they read as well as MNIST's test set does, rendering and preprocessing
lose nothing.  ``--reference`` also reads the same 28 x 28 inputs with
3-nearest neighbours over MNIST's training digits, a much stronger MNIST
reader than the chapter's network.

Run::

    pip install ".[predict]" scikit-learn
    apt-get install fonts-dkg-handwriting fonts-breip fonts-bwht fonts-klee fonts-rufscript fonts-humor-sans
    python benchmarks/handwriting.py [--model MODEL.npz] [--limit N] [--variants V] [--keep DIR] [--reference]

It appends its result, with the command that produced it, to
``benchmarks/results/handwriting.txt``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import record  # benchmarks/_results.py, beside this script
from PIL import Image, ImageDraw, ImageFont

#: Handwriting fonts as Debian installs them: name -> (file, Debian package, licence, whose hand).
#: Left out: fonts-femkeklaver, whose digits are sketched hollow outlines, not written strokes.
FONTS = {
    "dkg-handwriting": ("truetype/fifthhorseman/dkg.ttf", "fonts-dkg-handwriting", "GPL-3+", "Daniel Kahn Gillmor"),
    "breip": ("truetype/breip/Breip.ttf", "fonts-breip", "OFL-1.0", "Adam Breipohl"),
    **{
        f"because-we-{name.lower()}": (
            f"opentype/bwht/BecauseWe{name}-Regular.otf",
            "fonts-bwht",
            "OFL-1.1",
            "a Red Hat contributor (Because We Had To)",
        )
        for name in ("Build", "Connect", "Create", "Learn", "Mentor", "Organize")
    },
    "klee-one": ("truetype/klee/KleeOne-Regular.ttf", "fonts-klee", "OFL-1.1", "Fontworks, by pencil and pen"),
    "rufscript": (
        "truetype/rufscript/Rufscript010.ttf",
        "fonts-rufscript",
        "GPL-3+ with font exception",
        "Hiran Venugopalan",
    ),
    "humor-sans": (
        "truetype/humor-sans/Humor-Sans.ttf",
        "fonts-humor-sans",
        "OFL-1.1",
        "Michael Ciuffo, after xkcd's lettering",
    ),
}
FONT_DIR = Path("/usr/share/fonts")
#: The size glyphs are drawn at, before any rendering.
GLYPH_PX = 160


def ink_image(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Ink coverage ``grid`` (values in [0, 1], any size) as ink at
    ``height x width``: smoothly interpolated, then given the hard edges of a
    pen stroke."""
    ink = np.asarray(Image.fromarray(grid.astype(np.float32)).resize((width, height), Image.BICUBIC))
    t = np.clip((np.clip(ink, 0, 1) - 0.3) / 0.35, 0, 1)
    return t * t * (3 - 2 * t)


def on_paper(ink: np.ndarray, paper: np.ndarray, ink_rgb: np.ndarray) -> np.ndarray:
    """Dark ink laid on light paper (both RGB), as an 8-bit RGB image."""
    a = ink[..., None]
    return np.clip(paper * (1 - a) + ink_rgb * a, 0, 255).round().astype(np.uint8)


def render_small(grid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    side = int(rng.integers(18, 25))
    width = max(4, round(side * rng.uniform(0.85, 1.0)))
    ink = np.zeros((28, 28), np.float32)
    top, left = (int(rng.integers(0, 28 - n + 1)) for n in (side, width))
    # pen strokes at 8x the scan's resolution, then averaged over each scanned pixel
    fine = ink_image(grid, 8 * side, 8 * width)
    ink[top : top + side, left : left + width] = fine.reshape(side, 8, width, 8).mean(axis=(1, 3))
    paper = rng.uniform(200, 250) + rng.normal(0, 4, (28, 28, 1))
    return on_paper(ink, paper, _ink_colour(rng))


def render_large(grid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = int(rng.integers(300, 900)), int(rng.integers(300, 900))
    side = int(rng.integers(80, min(400, int(0.8 * min(h, w)))))
    width = round(side * rng.uniform(0.8, 1.0))
    ink = np.zeros((h, w), np.float32)
    # off-centre: the digit's box anywhere, usually far from the middle
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - width + 1))
    ink[top : top + side, left : left + width] = ink_image(grid, side, width)
    yy, xx = np.mgrid[0:h, 0:w]
    light = rng.uniform(215, 250) - rng.uniform(0, 25) * (xx / w) * (yy / h)  # a shadow across one corner
    paper = light[..., None] + rng.normal(0, 3, (h, w, 1))
    return on_paper(ink, paper, _ink_colour(rng))


def _ink_colour(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        return np.full(3, rng.uniform(10, 70))  # pencil or black pen
    return np.array([rng.uniform(10, 50), rng.uniform(20, 60), rng.uniform(90, 150)])  # blue ballpoint


def glyph(font: ImageFont.FreeTypeFont, digit: int, rng: np.random.Generator) -> np.ndarray:
    """One written ``digit`` in ``font`` as ink in [0, 1] on a square grid:
    a pen 0-4 pixels thicker, turned by up to 8 degrees, anywhere in a box
    it fills 80-100 %."""
    stroke = int(rng.integers(0, 5))
    size = 2 * GLYPH_PX
    ink = Image.new("L", (size, size), 0)
    ImageDraw.Draw(ink).text(
        (size // 2, size // 2), str(digit), font=font, fill=255, anchor="mm", stroke_width=stroke, stroke_fill=255
    )
    ink = ink.rotate(float(rng.uniform(-8, 8)), resample=Image.Resampling.BICUBIC)
    ink = ink.crop(ink.getbbox())
    side = round(max(ink.size) / rng.uniform(0.8, 1.0))
    grid = np.zeros((side, side), np.float32)
    top, left = (int(rng.integers(0, side - n + 1)) for n in (ink.size[1], ink.size[0]))
    grid[top : top + ink.size[1], left : left + ink.size[0]] = np.asarray(ink, np.float32) / 255.0
    return grid


def installed_fonts() -> dict[str, ImageFont.FreeTypeFont]:
    """The fonts of :data:`FONTS` that are installed here."""
    return {
        name: ImageFont.truetype(str(FONT_DIR / file), GLYPH_PX)
        for name, (file, *_) in FONTS.items()
        if (FONT_DIR / file).is_file()
    }


def font_digits(variants: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """``variants`` versions of each digit in each installed font: ink
    grids, labels and font names, in a shuffled order (so that ``--limit``
    keeps a mix of fonts and digits, and PNG and JPEG alternate over each
    font's digits rather than with the digit)."""
    fonts = installed_fonts()
    made = [(glyph(font, d, rng), d, name) for _ in range(variants) for name, font in fonts.items() for d in range(10)]
    made = [made[i] for i in rng.permutation(len(made))]
    return [g for g, *_ in made], np.array([d for _, d, _ in made]), [name for *_, name in made]


def sources(limit: int | None, variants: int = 0, seed: int = 0) -> dict[str, tuple[list, np.ndarray, list]]:
    """Ink grids in [0, 1], labels and writers (a font, or ``""``): the
    unseen handwriting, and MNIST's own test digits as a control for the
    rendering and the preprocessing."""
    from sklearn.datasets import load_digits

    import nndl

    digits = load_digits()
    test = nndl.load().test
    n = limit or len(digits.target)
    found = {
        "optdigits": (list(digits.images[:n] / 16.0), digits.target[:n], [""] * n),
        "mnist-control": (
            list(test.images[: n // 2].reshape(-1, 28, 28) / 255.0),
            test.labels[: n // 2],
            [""] * (n // 2),
        ),
    }
    if variants:
        grids, labels, fonts = font_digits(variants, np.random.default_rng([seed, 1]))
        found["fonts"] = (grids[:limit], labels[:limit], fonts[:limit])
    return found


def render_all(folder: Path, limit: int | None, variants: int, seed: int) -> list[tuple[Path, int, str, str, str, str]]:
    """Every digit of every source drawn small and large, alternately as PNG and JPEG."""
    rng = np.random.default_rng(seed)
    made = []
    for source, (grids, labels, writers) in sources(limit, variants, seed).items():
        for i, (grid, label, writer) in enumerate(zip(grids, labels, writers)):
            for kind, render in (("small", render_small), ("large", render_large)):
                fmt = "png" if (i + (kind == "large")) % 2 == 0 else "jpeg"
                path = folder / f"{source}-{kind}-{i:04d}-{label}.{'png' if fmt == 'png' else 'jpg'}"
                img = Image.fromarray(render(grid, rng))
                if fmt == "png":
                    img.save(path)
                else:
                    img.save(path, quality=int(rng.integers(75, 95)))
                made.append((path, int(label), source, kind, fmt, writer))
    return made


def nearest_neighbours(inputs: Path, made) -> dict[str, int]:
    """A reference reader of the same 28 x 28 inputs: 3-nearest neighbours
    among MNIST's 50,000 training digits (scikit-learn), about 97 % right on
    MNIST's test set.  What it misses is hard for any MNIST-trained reader."""
    from sklearn.neighbors import KNeighborsClassifier

    import nndl

    train = nndl.load().train
    knn = KNeighborsClassifier(3).fit(train.images.astype(np.float32), train.labels)
    X = np.stack([np.asarray(Image.open(inputs / f"{path.stem}.png"), np.float32).ravel() for path, *_ in made])
    return {path.name: int(d) for (path, *_), d in zip(made, knn.predict(X))}


def as_stored(model: str | None, limit: int | None) -> float:
    """The model's accuracy on the control digits as MNIST stores them."""
    from nndl.predict import load_model

    net = load_model(model)
    grids, labels, _ = sources(limit)["mnist-control"]
    return float(
        (net.predict((np.array(grids) * 255).round().astype(np.uint8).reshape(len(grids), -1)) == labels).mean()
    )


def accuracy_lines(made, predicted: dict[str, int], title: str) -> list[str]:
    def right(rows) -> int:
        return sum(predicted[p.name] == label for p, label, *_ in rows)

    def score(rows) -> str:
        return f"{right(rows):4} / {len(rows):4} ({100 * right(rows) / len(rows):5.1f} %)"

    def per_digit(rows) -> str:
        by_digit = [[r for r in rows if r[1] == d] for d in range(10)]
        return " ".join(f"{d}:{100 * right(r) / len(r):.0f}%" for d, r in enumerate(by_digit))

    lines = [title]
    present = [source for source in ("optdigits", "fonts", "mnist-control") if any(m[2] == source for m in made)]
    for source in present:
        for kind in ("small", "large"):
            for fmt in ("png", "jpeg"):
                lines.append(
                    f"  {source:13} {kind:5} {fmt:4}: {score([m for m in made if m[2:5] == (source, kind, fmt)])}"
                )
            lines.append(f"  {source:13} {kind:5} all : {score([m for m in made if m[2:4] == (source, kind)])}")
        rows = [m for m in made if m[2] == source]
        lines.append(f"  {source:13} all       : {score(rows)}")
        if source != "mnist-control":
            lines.append(f"  {source:13} per digit : {per_digit(rows)}")
    for font in [name for name in FONTS if any(m[5] == name for m in made)]:
        rows = [m for m in made if m[5] == font]
        lines.append(f"  font {font:22}: {score(rows)}  {per_digit(rows)}")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="a model file (default: nndl's default model)")
    p.add_argument("--limit", type=int, help="use only the first N digits")
    p.add_argument("--variants", type=int, default=16, help="versions of each digit in each font (0: no fonts)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", metavar="DIR", help="keep the rendered images and the 28 x 28 inputs here")
    p.add_argument("--reference", action="store_true", help="also score a 3-nearest-neighbour reader (slow)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        made = render_all(folder, args.limit, args.variants, args.seed)
        inputs = folder / "inputs"
        cmd = [sys.executable, "-m", "nndl", "predict", "--json", *([args.model] if args.model else [])]
        cmd += [str(path) for path, *_ in made] + ["--show-input", str(inputs)]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"nndl predict failed: {r.stderr.strip()}")
        predicted = {Path(o["path"]).name: o["digit"] for o in map(json.loads, r.stdout.splitlines())}
        lines = accuracy_lines(made, predicted, f"nndl predict ({args.model or 'the default model'}):")
        if args.variants:
            missing = [f"{name} ({FONTS[name][1]})" for name in FONTS if name not in installed_fonts()]
            lines.append(f"  fonts not installed, left out: {', '.join(missing) or 'none'}")
        lines.append(f"  {len(made)} images read in {seconds:.1f} s")
        lines.append(
            f"  mnist-control as MNIST stores them (no rendering): {100 * as_stored(args.model, args.limit):.1f} %"
        )
        if args.reference:
            lines += accuracy_lines(made, nearest_neighbours(inputs, made), "reference, 3-NN on MNIST, same inputs:")
    report = "\n".join(lines)
    print(report)
    record("handwriting", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
