"""How well ``nndl predict`` reads handwriting it has never seen.

The digits are the UCI "Optical Recognition of Handwritten Digits" set as
scikit-learn bundles it (``sklearn.datasets.load_digits``: 1,797 digits by
43 writers, 8 x 8 cells of 0..16 ink, made by E. Alpaydin and C. Kaynak) --
handwriting collected apart from NIST, so nothing MNIST was made from.
Each digit is rendered as a person would hand it over, dark ink on light
paper, in two ways:

* ``small``: a 28 x 28 scan, the digit filling most of it, a little off
  centre, grey or bluish ink, paper noise;
* ``large``: a digit 80-400 pixels tall drawn off-centre on a canvas of
  300-900 pixels a side, with uneven paper;

each alternately as PNG and JPEG.  Then ``nndl predict --json MODEL`` reads
all of them, and the accuracy is reported per kind and format.  Without
``--model`` the default model (the default settings, trained once) is used.

Run::

    pip install ".[predict]" scikit-learn
    python benchmarks/handwriting.py [--model MODEL.npz] [--limit N] [--keep DIR]

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
from PIL import Image


def ink_image(cells: np.ndarray, height: int, width: int, crisp: bool) -> np.ndarray:
    """The 8 x 8 cells (0..16) as ink coverage in [0, 1] at ``height x width``,
    smoothly interpolated; ``crisp`` gives strokes the hard edges of a pen."""
    ink = np.asarray(Image.fromarray((cells / 16.0).astype(np.float32)).resize((width, height), Image.BICUBIC))
    ink = np.clip(ink, 0, 1)
    if crisp:
        t = np.clip((ink - 0.3) / 0.35, 0, 1)
        ink = t * t * (3 - 2 * t)
    return ink


def on_paper(ink: np.ndarray, paper: np.ndarray, ink_rgb: np.ndarray) -> np.ndarray:
    """Dark ink laid on light paper (both RGB), as an 8-bit RGB image."""
    a = ink[..., None]
    return np.clip(paper * (1 - a) + ink_rgb * a, 0, 255).round().astype(np.uint8)


def render_small(cells: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    side = int(rng.integers(18, 25))
    width = max(4, round(side * rng.uniform(0.85, 1.0)))
    ink = np.zeros((28, 28), np.float32)
    top, left = (int(rng.integers(0, 28 - n + 1)) for n in (side, width))
    ink[top : top + side, left : left + width] = ink_image(cells, side, width, crisp=False)
    paper = rng.uniform(200, 250) + rng.normal(0, 4, (28, 28, 1))
    return on_paper(ink, paper, _ink_colour(rng))


def render_large(cells: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = int(rng.integers(300, 900)), int(rng.integers(300, 900))
    side = int(rng.integers(80, min(400, int(0.8 * min(h, w)))))
    width = round(side * rng.uniform(0.8, 1.0))
    ink = np.zeros((h, w), np.float32)
    # off-centre: the digit's box anywhere, usually far from the middle
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - width + 1))
    ink[top : top + side, left : left + width] = ink_image(cells, side, width, crisp=True)
    yy, xx = np.mgrid[0:h, 0:w]
    light = rng.uniform(215, 250) - rng.uniform(0, 25) * (xx / w) * (yy / h)  # a shadow across one corner
    paper = light[..., None] + rng.normal(0, 3, (h, w, 1))
    return on_paper(ink, paper, _ink_colour(rng))


def _ink_colour(rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.5:
        return np.full(3, rng.uniform(10, 70))  # pencil or black pen
    return np.array([rng.uniform(10, 50), rng.uniform(20, 60), rng.uniform(90, 150)])  # blue ballpoint


def render_all(folder: Path, limit: int | None, seed: int) -> list[tuple[Path, int, str, str]]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    cells, labels = digits.images, digits.target
    if limit:
        cells, labels = cells[:limit], labels[:limit]
    rng = np.random.default_rng(seed)
    made = []
    for i, (c, label) in enumerate(zip(cells, labels)):
        for kind, render in (("small", render_small), ("large", render_large)):
            fmt = "png" if (i + (kind == "large")) % 2 == 0 else "jpeg"
            path = folder / f"{kind}-{i:04d}-{label}.{'png' if fmt == 'png' else 'jpg'}"
            img = Image.fromarray(render(c, rng))
            if fmt == "png":
                img.save(path)
            else:
                img.save(path, quality=int(rng.integers(75, 95)))
            made.append((path, int(label), kind, fmt))
    return made


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="a model file (default: nndl's default model)")
    p.add_argument("--limit", type=int, help="use only the first N digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", metavar="DIR", help="keep the rendered images and the 28 x 28 inputs here")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        made = render_all(folder, args.limit, args.seed)
        cmd = [sys.executable, "-m", "nndl", "predict", "--json", *([args.model] if args.model else [])]
        cmd += [str(path) for path, *_ in made]
        if args.keep:
            cmd += ["--show-input", str(folder / "inputs")]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"nndl predict failed: {r.stderr.strip()}")
        predicted = {Path(o["path"]).name: o["digit"] for o in map(json.loads, r.stdout.splitlines())}

    lines = []
    total = right = 0
    for kind in ("small", "large"):
        for fmt in ("png", "jpeg"):
            rows = [(path, label) for path, label, k, f in made if k == kind and f == fmt]
            ok = sum(predicted[path.name] == label for path, label in rows)
            total, right = total + len(rows), right + ok
            lines.append(f"{kind:5} {fmt:4}: {ok:4} / {len(rows):4} ({100 * ok / len(rows):.1f} %)")
    confusion = np.zeros((10, 10), int)
    for path, label, *_ in made:
        confusion[label, predicted[path.name]] += 1
    per_digit = " ".join(f"{d}:{100 * confusion[d, d] / confusion[d].sum():.0f}%" for d in range(10))
    lines.append(f"all       : {right:4} / {total:4} ({100 * right / total:.1f} %)")
    lines.append(f"per digit : {per_digit}")
    lines.append(f"{len(made)} images through nndl predict in {seconds:.1f} s")
    report = "\n".join(lines)
    print(report)
    out = Path(__file__).with_name("results") / "handwriting.txt"
    out.parent.mkdir(exist_ok=True)
    command = "python benchmarks/handwriting.py " + " ".join(sys.argv[1:])
    with open(out, "a") as f:
        f.write(f"$ {command.strip()}\n# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n{report}\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
