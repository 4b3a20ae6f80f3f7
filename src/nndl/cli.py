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
        "--dtype", choices=["float32", "float64"], default="float64", help="floating-point precision (default: float64)"
    )
    p.add_argument(
        "--eval",
        choices=["test", "validation"],
        default="test",
        help="data to evaluate on after each epoch (default: test)",
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


# -- nndl baseline ---------------------------------------------------------------


def add_baseline(sub) -> None:
    p = sub.add_parser(
        "baseline",
        help="the chapter's baselines: average darkness, an SVM",
        description="Score one of the chapter's baselines on the test images: 'darkness' guesses the digit "
        "whose mean darkness is closest; 'svm' is scikit-learn's SVC (RBF kernel, C=1) trained on the "
        "training images, which takes minutes on all 50,000.",
    )
    p.add_argument("method", choices=["darkness", "svm"], help="which baseline")
    p.add_argument(
        "--gamma",
        choices=["auto", "scale"],
        default="auto",
        help="svm only: 'auto' is 1/pixels, as in the book; 'scale' is scikit-learn's default today (default: auto)",
    )
    p.add_argument("--limit", type=int, metavar="N", help="train on the first N training images only (a quick run)")
    p.add_argument("--data", metavar="PATH", help="data set (default: bundled MNIST)")
    p.set_defaults(run=run_baseline)


def run_baseline(args: argparse.Namespace) -> int:
    from . import baselines
    from .data import load

    data = load(args.data)
    if args.method == "darkness":
        result = baselines.darkness(data, limit=args.limit)
    else:
        result = baselines.svm(data, gamma=args.gamma, limit=args.limit, progress=None, log=_say)
    _say(f"{result.name}, trained on {result.train_size:,} images, {result.seconds:.1f} s")
    print(result.line())
    return 0


# -- nndl sweep ------------------------------------------------------------------


def add_sweep(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="train a grid of networks (eta x hidden size x seed) in parallel",
        description="Train one [784, HIDDEN, 10] network per combination of --eta, --hidden and --seed, "
        "in parallel on this machine (--jobs) or on a Dask cluster (--dask), and write a CSV table with "
        "one row per run: settings, final and best test accuracy, seconds.",
    )
    p.add_argument("--eta", type=float, nargs="+", default=[3.0], metavar="ETA", help="learning rates (default: 3.0)")
    p.add_argument("--hidden", type=int, nargs="+", default=[30], metavar="N", help="hidden-layer sizes (default: 30)")
    p.add_argument("--epochs", type=int, default=10, help="epochs per run (default: 10)")
    p.add_argument("--batch-size", type=int, default=10, metavar="M", help="mini-batch size (default: 10)")
    p.add_argument("--seed", type=int, nargs="+", default=[0], metavar="S", help="seeds (default: 0)")
    p.add_argument("--out", required=True, metavar="RESULTS.csv", help="write the table here")
    p.add_argument("--plot", metavar="F.png", help="also draw accuracy against eta per hidden size")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="runs at once on this machine; -1: one per CPU")
    p.add_argument(
        "--dask", metavar="ADDRESS", help="run on the Dask cluster whose scheduler is here, e.g. tcp://10.0.0.5:8786"
    )
    p.add_argument("--limit-train", type=int, metavar="N", help="train on the first N training images only")
    p.add_argument("--data", metavar="PATH", help="data set (default: bundled MNIST); must exist on every worker")
    p.set_defaults(run=run_sweep)


def run_sweep(args: argparse.Namespace) -> int:
    from . import sweep

    configs = sweep.grid(args.eta, args.hidden, args.epochs, args.seed, args.batch_size, args.data)
    sweep.check_outputs(args.out, args.plot)
    rows = sweep.sweep(configs, jobs=args.jobs, dask=args.dask, limit_train=args.limit_train, log=_say)
    _say(f"Wrote {sweep.write_csv(rows, args.out)}")
    if args.plot:
        _say(f"Wrote {sweep.plot(rows, args.plot)}")
    return 0


COMMANDS = [add_train, add_evaluate, add_baseline, add_sweep]


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
