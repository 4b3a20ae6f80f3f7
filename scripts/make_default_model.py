"""Make nndl's default model: the network ``nndl predict`` and ``nndl serve``
use when no model file is given, made to read real handwriting.

It is still the chapter's network -- sigmoid neurons, the quadratic cost,
mini-batch SGD with the book's eta -- trained differently from the
notebook's run (``nndl train``, which stays as it is):

* 100 hidden neurons instead of 30;
* weights start as N(0, 1/n_in) rather than N(0, 1) (chapter 3's
  initialisation): with N(0, 1) most of 100 hidden neurons start saturated,
  and some runs never learn to answer some digits at all;
* every epoch trains on freshly distorted copies of the training digits
  (:mod:`nndl.expand`, chapter 3's expanded data): turned, scaled, slanted,
  moved and written with a thicker or thinner pen;
* eta shrinks a little each epoch, so the last steps settle rather than
  jump about;
* all 60,000 of MNIST's training digits (its training and validation parts;
  the test part stays unseen, to measure it).

The same seed rebuilds the same file byte for byte on the same machine
with the same versions of NumPy and Numba (the record names them): every
random draw comes from the seed, and the compiled engine sums in a fixed
order.  Run::

    python scripts/make_default_model.py               # writes src/nndl/resources/default-model.{npz,json}
    python scripts/make_default_model.py --out DIR     # elsewhere
    python scripts/make_default_model.py --check       # rebuild in a temporary folder; compare with the shipped file
    python scripts/make_default_model.py --handwriting # also run benchmarks/handwriting.py and record its figures

Needs the ``fast`` extra (Numba); ``--handwriting`` also the handwriting
benchmark's fonts and scikit-learn.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import nndl
from nndl import Network
from nndl.expand import Distortion, epoch_images
from nndl.predict import BUNDLED_MODEL, BUNDLED_RECORD

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "src" / "nndl" / "resources"

SIZES = (784, 100, 10)
EPOCHS = 60
BATCH_SIZE = 10
ETA = 3.0
#: eta in epoch ``j`` is ``ETA * DECAY ** j``: from 3.0 down to about 0.27.
DECAY = 0.96
SEED = 0
DISTORTION = Distortion(rotate=10.0, scale=0.1, shear=0.2, shift=1.5, stroke=0.3)


def settings() -> dict:
    """Everything that decides the model, as stored in the model file."""
    return {
        "sizes": list(SIZES),
        "epochs": EPOCHS,
        "batch_size": BATCH_SIZE,
        "eta": ETA,
        "eta_decay": DECAY,
        "seed": SEED,
        "dtype": "float32",
        "engine": "numba",
        "init": "normal, divided by sqrt(n_in)",
        "data": "bundled MNIST, training and validation parts (60,000 digits)",
        "expand": DISTORTION.to_dict(),
    }


def make(out: Path, log=print) -> tuple[Path, dict]:
    """Train the default model and write it, and its record, to ``out``."""
    data = nndl.load()
    images = np.concatenate([data.train.images, data.validation.images])
    labels = np.concatenate([data.train.labels, data.validation.labels])
    net = Network(SIZES, seed=SEED, dtype=np.float32, engine="numba")
    net.weights = [w / np.float32(np.sqrt(w.shape[1])) for w in net.weights]
    t0 = time.perf_counter()
    for epoch in range(EPOCHS):
        eta = ETA * DECAY**epoch
        history = net.SGD((epoch_images(images, SEED, epoch, DISTORTION), labels), 1, BATCH_SIZE, eta, log=None)
        log(f"Epoch {epoch}: eta {eta:.3f}, {history.epochs[-1].seconds:.2f} s training")
    log(f"Trained in {time.perf_counter() - t0:.0f} s")
    out.mkdir(parents=True, exist_ok=True)
    path = net.save(out / BUNDLED_MODEL, settings())
    correct = net.evaluate(data.test)
    record = {
        "made_by": "python scripts/make_default_model.py",
        "settings": settings(),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "versions": {"numpy": np.__version__, "numba": __import__("numba").__version__},
        "accuracy": {"mnist_test": correct / len(data.test)},
    }
    log(f"MNIST's test digits: {correct} / {len(data.test)}")
    write_record(out, record)
    return path, record


def write_record(out: Path, record: dict) -> None:
    (out / BUNDLED_RECORD).write_text(json.dumps(record, indent=2) + "\n")


def handwriting(model: Path) -> dict[str, float]:
    """Run ``benchmarks/handwriting.py`` on ``model``; the accuracy on each source."""
    bench = ROOT / "benchmarks" / "handwriting.py"
    r = subprocess.run([sys.executable, str(bench), "--model", str(model)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"benchmarks/handwriting.py failed: {r.stderr.strip()}")
    print(r.stdout)
    found = re.findall(r"^  (\S+) +all +: +(\d+) / +(\d+)", r.stdout, re.M)
    return {source.replace("-", "_"): int(right) / int(total) for source, right, total in found}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=RESOURCES, help="folder to write the model and its record to")
    p.add_argument("--check", action="store_true", help="rebuild in a temporary folder and compare with --out's")
    p.add_argument("--handwriting", action="store_true", help="also measure it with benchmarks/handwriting.py")
    args = p.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            path, _ = make(Path(tmp))
            same = path.read_bytes() == (args.out / BUNDLED_MODEL).read_bytes()
        print(f"The rebuilt model is {'byte for byte' if same else 'NOT'} the one in {args.out}")
        return 0 if same else 1
    path, record = make(args.out)
    if args.handwriting:
        record["accuracy"].update(handwriting(path))
        write_record(args.out, record)
    print(f"Wrote {path} and {args.out / BUNDLED_RECORD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
