"""What each attack on nndl costs: the peak memory and time of the process
that refuses it (or, for an image just under the caps, reads it).

    python benchmarks/attacks.py [--model MODEL.npz] > benchmarks/results/attacks.txt

The attack files are the ones ``tests/test_attacks.py`` builds (its helpers
are used here), and each command runs in its own process, measured alone
(its ``RUSAGE_CHILDREN`` peak, read in a small parent).  The tests assert a
bound (300 MiB); this prints what was measured.
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_attacks import MiB, gzip_bomb, measured, npz_bomb  # noqa: E402


def attacks(folder: Path, model: str) -> dict[str, list]:
    """Each attack's file (written into ``folder``) and the nndl command that reads it."""
    Image.new("I;16", (6300, 6300)).save(folder / "over.png")
    under = Image.new("RGBA", (3999, 3999), "white")
    ImageDraw.Draw(under).line([(600, 400), (3400, 400), (1600, 3600)], fill="black", width=260)
    under.save(folder / "under.png")
    (folder / "bomb.npz").write_bytes(npz_bomb({"x_train": ((2**20, 1024), "u1"), "y_train": ((2**20,), "u1")}))
    small = {"format": np.array("nndl-model"), "format_version": np.array(1), "sizes": np.array([784, 100_000, 10])}
    shapes = {"weights_0": ((100_000, 784), "<f8"), "biases_0": ((100_000, 1), "<f8")}
    shapes |= {"weights_1": ((10, 100_000), "<f8"), "biases_1": ((10, 1), "<f8")}
    (folder / "model.npz").write_bytes(npz_bomb(shapes, small))
    (folder / "mnist.pkl.gz").write_bytes(gzip_bomb(b""))
    idx = folder / "idx"
    idx.mkdir()
    header = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">3I", 60_000, 28, 28)
    (idx / "train-images-idx3-ubyte.gz").write_bytes(gzip_bomb(header))
    (idx / "train-labels-idx1-ubyte").write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 1) + b"\0")
    (folder / "deep.json").write_text("[" * 1_000_000)
    pairs = ",".join(f'"{k:x}": "{k:x}"' for k in range(450_000))
    (folder / "strings.json").write_text("{" + pairs + "}")
    out = folder / "out.png"
    return {
        f"PNG, 6300 x 6300 16-bit grey ({(folder / 'over.png').stat().st_size:,} bytes)": [
            "predict",
            model,
            folder / "over.png",
        ],
        f"PNG, 3999 x 3999 RGBA, read ({(folder / 'under.png').stat().st_size:,} bytes)": [
            "predict",
            model,
            folder / "under.png",
        ],
        f"npz, 1 GiB of zeros ({(folder / 'bomb.npz').stat().st_size:,} bytes)": [
            "train",
            "--data",
            folder / "bomb.npz",
        ],
        f"model, 627 MB of zero weights ({(folder / 'model.npz').stat().st_size:,} bytes)": [
            "evaluate",
            folder / "model.npz",
        ],
        f"pkl.gz, 1 GiB of zeros ({(folder / 'mnist.pkl.gz').stat().st_size:,} bytes)": [
            "train",
            "--data",
            folder / "mnist.pkl.gz",
        ],
        "IDX .gz, 47 MB claimed, 1 GiB held": ["train", "--data", idx],
        "JSON history nested 10^6 deep": ["plot", "history", folder / "deep.json", "--out", out],
        "JSON history of 900,000 strings": ["plot", "history", folder / "strings.json", "--out", out],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file for the image attacks (default: a new [784, 30, 10])")
    args = parser.parse_args()
    print(f"$ python benchmarks/attacks.py\n# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = args.model
        if model is None:
            from nndl import Network

            model = str(Network([784, 30, 10], seed=0).save(folder / "net.npz"))
        for name, command in attacks(folder, model).items():
            r = measured(sys.executable, "-m", "nndl", *command, timeout=300)
            said = r.err.strip().splitlines()[-1] if r.err.strip() else r.out.strip()[:60]
            said = said.replace(str(folder) + "/", "")
            print(f"{name:55s} exit {r.returncode}  {r.peak / MiB:4.0f} MiB  {r.seconds:4.1f} s  {said[:110]}")


if __name__ == "__main__":
    main()
