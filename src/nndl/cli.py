"""The ``nndl`` command: parses flags, calls the library, prints.

Every command is a pair of functions: ``add_<name>(subparsers)`` declares
its flags, and the function it sets as ``run`` does the work by calling
the library.  An :class:`~nndl.errors.NNDLError` becomes one line on stderr
and exit status 2.
"""

from __future__ import annotations

import argparse
import signal
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
    # Settings default to None so --resume can tell which were given;
    # TrainConfig holds the defaults.
    p.add_argument("--sizes", type=int, nargs="+", metavar="N", help="layer widths (default: 784 30 10)")
    p.add_argument("--epochs", type=int, help="passes over the training data (default: 10)")
    p.add_argument("--batch-size", type=int, metavar="M", help="mini-batch size (default: 10)")
    p.add_argument("--eta", type=float, help="learning rate (default: 3.0)")
    p.add_argument("--seed", type=int, help="random seed for the initial weights and the shuffles (default: 0)")
    p.add_argument(
        "--data", metavar="PATH", help="mnist.pkl.gz, an .npz file or a folder of IDX files (default: bundled MNIST)"
    )
    p.add_argument("--dtype", choices=["float32", "float64"], help="floating-point precision (default: float64)")
    p.add_argument("--eval", choices=["test", "validation"], help="data to score after each epoch (default: test)")
    p.add_argument("--save", metavar="MODEL.npz", help="write the trained model here")
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="save the run here after every epoch and on Ctrl-C or SIGTERM (which then stop it cleanly)",
    )
    p.add_argument(
        "--resume",
        metavar="PATH",
        help="go on with the run saved in this checkpoint, with its own settings (it keeps saving there)",
    )
    p.set_defaults(run=run_train)


#: ``nndl train``'s flags that set the run's settings: --resume takes them from the checkpoint.
SETTINGS = {"sizes": "--sizes", "epochs": "--epochs", "batch_size": "--batch-size", "eta": "--eta"}
SETTINGS |= {"seed": "--seed", "dtype": "--dtype", "eval": "--eval"}


def run_train(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .files import check_folder
    from .train import TrainConfig, resume, train

    if args.save:
        check_folder(args.save)
    given = {name: getattr(args, name) for name in SETTINGS if getattr(args, name) is not None}
    log = lambda line: print(line, flush=True)  # noqa: E731
    if args.resume:
        if given:
            flags = ", ".join(SETTINGS[name] for name in given)
            raise ConfigError(f"--resume goes on with the checkpoint's own settings; drop {flags}")
        net, history = resume(args.resume, data=args.data, progress=None, log=log, checkpoint=args.checkpoint)
    else:
        if "sizes" in given:
            given["sizes"] = tuple(given["sizes"])
        config = TrainConfig(**given, data=args.data).validate()
        net, history = train(config, progress=None, log=log, checkpoint=args.checkpoint)
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


COMMANDS = [add_train, add_evaluate]


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
    except KeyboardInterrupt as e:
        # Interrupted (a KeyboardInterrupt) says where the run was saved.
        saved = getattr(e, "checkpoint", None)
        again = f"; go on with: nndl {args.command} --resume {saved}" if saved else ""
        print(f"nndl {args.command}: {e or 'interrupted'}{again}", file=sys.stderr)
        return 128 + (getattr(e, "signum", None) or signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
