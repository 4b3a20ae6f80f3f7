"""The ``nndl`` command: parses flags, calls the library, prints.

Every command is a pair of functions: ``add_<name>(subparsers)`` declares
its flags, and the function it sets as ``run`` does the work by calling
the library.  An :class:`~nndl.errors.NNDLError` becomes one line on stderr
and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .errors import NNDLError


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _say(message: str) -> None:
    """Status messages go to stderr, so stdout holds only results."""
    print(message, file=sys.stderr, flush=True)


# -- nndl train ---------------------------------------------------------------


def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a network (no flags: the notebook's run)",
        description="Train a sigmoid network with mini-batch SGD. With no flags this is the "
        "notebook's run: sizes 784 30 10, 10 epochs, mini-batch 10, eta 3.0, on the bundled MNIST.",
    )
    p.add_argument(
        "--sizes", type=int, nargs="+", default=[784, 30, 10], metavar="N", help="layer widths (default: 784 30 10)"
    )
    p.add_argument("--epochs", type=int, default=10, help="passes over the training data (default: 10)")
    p.add_argument("--batch-size", type=int, default=10, metavar="M", help="mini-batch size (default: 10)")
    p.add_argument("--eta", type=float, default=3.0, help="learning rate (default: 3.0)")
    p.add_argument(
        "--seed", type=int, default=0, help="random seed for the initial weights and the shuffles (default: 0)"
    )
    p.add_argument(
        "--data", metavar="PATH", help="mnist.pkl.gz, an .npz file or a folder of IDX files (default: bundled MNIST)"
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="floating-point precision (default: float32; the book's float64 gives the same accuracy, more slowly)",
    )
    p.add_argument(
        "--eval",
        choices=["test", "validation"],
        default="test",
        help="data to evaluate on after each epoch (default: test)",
    )
    p.add_argument(
        "--engine",
        choices=["auto", "reference", "numpy", "numba", "torch"],
        default="auto",
        help="how to compute the SGD steps; all give the same results to float rounding (default: auto, the fastest)",
    )
    p.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="cuda trains on a GPU through PyTorch (default: cpu)"
    )
    p.add_argument("--save", metavar="MODEL.npz", help="write the trained model here")
    p.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    config = TrainConfig(
        sizes=tuple(args.sizes),
        epochs=args.epochs,
        batch_size=args.batch_size,
        eta=args.eta,
        seed=args.seed,
        dtype=args.dtype,
        eval=args.eval,
        data=args.data,
        engine=args.engine,
        device=args.device,
    ).validate()
    net, history = train(config, progress=None, log=lambda line: print(line, flush=True))
    if args.save:
        _say(f"Saved the model to {net.save(args.save, history.settings)}")
    return 0


# -- nndl evaluate --------------------------------------------------------------


def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="score a saved model", description="Print correct / total and the accuracy of a saved model."
    )
    p.add_argument("model", metavar="MODEL.npz")
    p.add_argument("--data", metavar="PATH", help="data set to score on (default: bundled MNIST)")
    p.add_argument("--eval", choices=["test", "validation"], default="test", help="which part (default: test)")
    p.set_defaults(run=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from .data import load
    from .network import Network
    from .train import TrainConfig

    net = Network.load(args.model)
    data = load(args.data)
    TrainConfig(sizes=tuple(net.sizes)).check_data(data)
    split = data[args.eval]
    correct = net.evaluate(split)
    print(f"{correct} / {len(split)} ({100 * correct / len(split):.2f} %)")
    return 0


# -- nndl bench ---------------------------------------------------------------


def add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="measure training speed against other libraries",
        description="Time an epoch of the notebook's training in every nndl engine and in the book's algorithm, "
        "NumPy, scikit-learn, PyTorch and JAX (those installed), each in its own process, then sweep nndl over "
        "mini-batch and hidden-layer sizes.  Takes a few minutes; --quick checks that everything runs.",
    )
    p.add_argument("--quick", action="store_true", help="tiny subsets and few epochs: a smoke test")
    p.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="measure only these: nndl engines (auto numba numpy reference torch) and peers "
        "(book book-exp numpy sklearn torch jax)",
    )
    p.add_argument("--output", default="nndl-bench.md", metavar="PATH", help="Markdown report (default: nndl-bench.md)")
    p.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    import os
    import time
    from pathlib import Path

    from .benchmark import machine, run
    from .errors import DataError
    from .files import atomic_write

    folder = Path(args.output).parent
    if not folder.is_dir():  # checked first: the run takes minutes
        raise DataError(f"cannot write {args.output}: folder {folder} does not exist")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    body = run(quick=args.quick, only=args.only, say=_say)
    command = " ".join(
        ["nndl bench"] + (["--quick"] if args.quick else []) + (["--only", *args.only] if args.only else [])
    )
    command += f" --output {args.output}"
    end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = (
        f"# Training speed\n\nWritten by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n"
        f"Machine: {machine()}.  Load average (1, 5, 15 minutes) at the start: {load}; at the end: {end}.\n\n{body}"
    )
    print(body, end="")
    _say(f"Wrote {atomic_write(args.output, lambda f: f.write(text.encode()))}")
    return 0


COMMANDS = [add_train, add_evaluate, add_bench]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nndl", description="The network of chapter 1 of Neural Networks and Deep Learning.")
    parser.add_argument("--version", action="version", version=f"nndl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except NNDLError as e:
        print(f"nndl {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nndl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
