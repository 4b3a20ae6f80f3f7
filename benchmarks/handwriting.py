"""How well ``nndl predict`` reads handwriting it has never seen.

The digits are the UCI "Optical Recognition of Handwritten Digits" set as
scikit-learn bundles it (``sklearn.datasets.load_digits``: 1,797 digits by
43 writers, 8 x 8 cells of 0..16 ink, made by E. Alpaydin and C. Kaynak) --
handwriting collected apart from NIST, so nothing MNIST was made from.
Each digit is rendered as a person would hand it over, dark ink on light
paper, in two ways:

* ``small``: a 28 x 28 scan, the digit 18-24 pixels tall, a little off
  centre, grey or bluish ink, paper noise;
* ``large``: a digit 80-400 pixels tall drawn off-centre on a canvas of
  300-900 pixels a side, with uneven paper;

each alternately as PNG and JPEG.  Then ``nndl predict --json [MODEL]``
reads all of them, and the accuracy is reported per kind and format.
Without ``--model`` the default model (the default settings, trained once)
is used.

Two controls say where the errors come from.  The first 898 of MNIST's test
digits go through the same rendering and preprocessing (``mnist-control``):
if they read as well as MNIST's test set does, rendering and preprocessing
lose nothing.  ``--reference`` also reads the same 28 x 28 inputs with
3-nearest neighbours over MNIST's training digits, a much stronger MNIST
reader than the chapter's network.

Run::

    pip install ".[predict]" scikit-learn
    python benchmarks/handwriting.py [--model MODEL.npz] [--limit N] [--keep DIR] [--reference]

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


def sources(limit: int | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Ink grids in [0, 1] and labels: the unseen handwriting, and MNIST's
    own test digits as a control for the rendering and the preprocessing."""
    from sklearn.datasets import load_digits

    import nndl

    digits = load_digits()
    test = nndl.load().test
    n = limit or len(digits.target)
    return {
        "optdigits": (digits.images[:n] / 16.0, digits.target[:n]),
        "mnist-control": (test.images[: n // 2].reshape(-1, 28, 28) / 255.0, test.labels[: n // 2]),
    }


def render_all(folder: Path, limit: int | None, seed: int) -> list[tuple[Path, int, str, str, str]]:
    """Every digit of every source drawn small and large, alternately as PNG and JPEG."""
    rng = np.random.default_rng(seed)
    made = []
    for source, (grids, labels) in sources(limit).items():
        for i, (grid, label) in enumerate(zip(grids, labels)):
            for kind, render in (("small", render_small), ("large", render_large)):
                fmt = "png" if (i + (kind == "large")) % 2 == 0 else "jpeg"
                path = folder / f"{source}-{kind}-{i:04d}-{label}.{'png' if fmt == 'png' else 'jpg'}"
                img = Image.fromarray(render(grid, rng))
                if fmt == "png":
                    img.save(path)
                else:
                    img.save(path, quality=int(rng.integers(75, 95)))
                made.append((path, int(label), source, kind, fmt))
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
    from nndl.network import Network
    from nndl.predict import default_model_path

    net = Network.load(model or default_model_path())
    grids, labels = sources(limit)["mnist-control"]
    return float((net.predict((grids * 255).round().astype(np.uint8).reshape(len(grids), -1)) == labels).mean())


def accuracy_lines(made, predicted: dict[str, int], title: str) -> list[str]:
    lines = [title]
    for source in ("optdigits", "mnist-control"):
        for kind in ("small", "large"):
            for fmt in ("png", "jpeg"):
                rows = [(p, label) for p, label, s, k, f in made if (s, k, f) == (source, kind, fmt)]
                ok = sum(predicted[p.name] == label for p, label in rows)
                lines.append(f"  {source:13} {kind:5} {fmt:4}: {ok:4} / {len(rows):4} ({100 * ok / len(rows):.1f} %)")
        rows = [(p, label) for p, label, s, *_ in made if s == source]
        ok = sum(predicted[p.name] == label for p, label in rows)
        lines.append(f"  {source:13} all       : {ok:4} / {len(rows):4} ({100 * ok / len(rows):.1f} %)")
    confusion = np.zeros((10, 10), int)
    for p, label, source, *_ in made:
        if source == "optdigits":
            confusion[label, predicted[p.name]] += 1
    lines.append(
        "  optdigits per digit: "
        + " ".join(f"{d}:{100 * confusion[d, d] / confusion[d].sum():.0f}%" for d in range(10))
    )
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="a model file (default: nndl's default model)")
    p.add_argument("--limit", type=int, help="use only the first N digits")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", metavar="DIR", help="keep the rendered images and the 28 x 28 inputs here")
    p.add_argument("--reference", action="store_true", help="also score a 3-nearest-neighbour reader (slow)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        made = render_all(folder, args.limit, args.seed)
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
        lines.append(f"  {len(made)} images read in {seconds:.1f} s")
        lines.append(
            f"  mnist-control as MNIST stores them (no rendering): {100 * as_stored(args.model, args.limit):.1f} %"
        )
        if args.reference:
            lines += accuracy_lines(made, nearest_neighbours(inputs, made), "reference, 3-NN on MNIST, same inputs:")
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
