"""The ``nndl`` command: parses flags, calls the library, prints.

Every command is a pair of functions: ``add_<name>(subparsers)`` declares
its flags, and the function it sets as ``run`` does the work by calling
the library.  An :class:`~nndl.errors.NNDLError` becomes one line on stderr
and exit status 2.
"""

from __future__ import annotations

import argparse
import gc
import os
import select
import signal
import sys
from collections.abc import Sequence

from . import __version__
from .errors import ConfigError, NNDLError


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _say(message: str) -> None:
    """Status messages go to stderr, so stdout holds only results."""
    print(message, file=sys.stderr, flush=True)


# -- nndl train ---------------------------------------------------------------


def add_train(sub) -> None:
    from .config import INITS, TrainConfig

    d = TrainConfig()  # the defaults, shown from where they live
    p = sub.add_parser(
        "train",
        help="train a network (no flags: the notebook's run)",
        description="Train a sigmoid network with mini-batch SGD. With no flags this is the notebook's run: "
        f"sizes {' '.join(map(str, d.sizes))}, {d.epochs} epochs, mini-batch {d.batch_size}, eta {d.eta}, "
        "on the bundled MNIST.",
    )
    # Settings default to None so --resume can tell which were given.
    pt = TrainConfig(engine="pytensor")
    sizes = " ".join(map(str, d.sizes))
    p.add_argument("--sizes", type=int, nargs="+", metavar="N", help=f"layer widths (default: {sizes})")
    p.add_argument("--epochs", type=int, help=f"passes over the training data (default: {d.epochs})")
    p.add_argument("--batch-size", type=int, metavar="M", help=f"mini-batch size (default: {d.batch_size})")
    p.add_argument(
        "--eta",
        type=float,
        help=f"learning rate, the book's eta (default: {d.eta}; with --engine pytensor {pt.eta}, "
        "which is the notes' 3/m on the summed cost)",
    )
    p.add_argument("--seed", type=int, help=f"random seed for the initial weights and the shuffles (default: {d.seed})")
    p.add_argument(
        "--init",
        choices=INITS,
        help=f"how the weights start: standard, N(0, 1) as in chapter 1, or scaled, N(0, 1/n_in) as in chapter 3 "
        f"(default: {d.init})",
    )
    p.add_argument(
        "--data", metavar="PATH", help="mnist.pkl.gz, an .npz file or a folder of IDX files (default: bundled MNIST)"
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        help=f"floating-point precision (default: {d.dtype}, as accurate here as the book's float64 and faster; "
        f"{pt.dtype} with --engine pytensor)",
    )
    p.add_argument("--eval", choices=["test", "validation"], help=f"data to score after each epoch (default: {d.eval})")
    p.add_argument(
        "--expand",
        action="store_true",
        default=None,
        help="train each epoch on a fresh small distortion of every training digit (turned, scaled, slanted, "
        "shifted, thicker or thinner), as chapter 3 expands the data",
    )
    p.add_argument("--save", metavar="MODEL.npz", help="write the trained model here")
    p.add_argument(
        "--history", metavar="H.json", help="write the settings and per-epoch results here, after every epoch"
    )
    p.add_argument("--plot", metavar="FILE.png", help="draw the learning curves here at the end")
    p.add_argument(
        "--monitor-training",
        action="store_true",
        help="also measure accuracy and cost on the training data after every epoch (slower)",
    )
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
    _add_engine(p, default=None)
    p.set_defaults(run=run_train)


def _add_engine(p: argparse.ArgumentParser, default: str | None = "auto") -> None:
    from .config import ENGINES

    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=default,
        help="how to compute the SGD steps: auto (the fastest here), reference (the book's backpropagation as "
        "written), numpy, numba, torch -- all the same mathematics, equal to float rounding -- or pytensor, the "
        "notes' symbolic model (default: auto)",
    )
    p.add_argument(
        "--device", choices=["cpu", "cuda"], default=default and "cpu", help="cuda trains on a GPU through PyTorch"
    )


#: ``nndl train``'s flags that set the run's settings: --resume takes them from the checkpoint.
SETTINGS = {"sizes": "--sizes", "epochs": "--epochs", "batch_size": "--batch-size", "eta": "--eta"}
SETTINGS |= {"seed": "--seed", "dtype": "--dtype", "eval": "--eval", "engine": "--engine", "device": "--device"}
SETTINGS |= {"expand": "--expand", "init": "--init"}


def run_train(args: argparse.Namespace) -> int:
    from .config import TrainConfig
    from .errors import ConfigError
    from .files import check_output
    from .train import resume, train

    # checked before training, so a typo loses no work
    for path in (args.save, args.history, args.checkpoint):
        if path:
            check_output(path)
    plots = _plots(args.plot) if args.plot else None
    given = {name: getattr(args, name) for name in SETTINGS if getattr(args, name) is not None}
    log = lambda line: print(line, flush=True)  # noqa: E731
    common = dict(
        progress=None,
        log=log,
        checkpoint=args.checkpoint,
        history_path=args.history,
        monitor_training=args.monitor_training,
        status=_say,
    )
    if args.resume:
        if given:
            flags = ", ".join(SETTINGS[name] for name in given)
            raise ConfigError(f"--resume goes on with the checkpoint's own settings; drop {flags}")
        net, history = resume(args.resume, data=args.data, **common)
    else:
        if "sizes" in given:
            given["sizes"] = tuple(given["sizes"])
        config = TrainConfig(**given, data=args.data).validate()
        net, history = train(config, **common)
    if args.save:
        _say(f"Saved the model to {net.save(args.save, history.settings)}")
    if args.history:
        _say(f"Wrote the history to {args.history}")
    if plots:
        _say(f"Wrote the learning curves to {plots.save(plots.learning_curves(history), args.plot)}")
    return 0


# -- nndl evaluate --------------------------------------------------------------


def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a saved model",
        description="Print correct / total and the accuracy of a saved model, then the same for each digit (label).",
    )
    p.add_argument("model", metavar="MODEL.npz")
    p.add_argument("--data", metavar="PATH", help="data set to score on (default: bundled MNIST)")
    p.add_argument("--eval", choices=["test", "validation"], default="test", help="which part (default: test)")
    p.add_argument(
        "--engine",
        choices=["numpy", "pytensor"],
        default="numpy",
        help="compute the outputs with NumPy or with the notes' compiled PyTensor model (default: numpy)",
    )
    p.set_defaults(run=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from . import engines

    net, split = _model_and_data(args)
    labels = split.y
    right = engines.predict(net, split.images, args.engine) == labels
    correct = int(right.sum())
    print(f"{correct} / {len(split)} ({100 * correct / len(split):.2f} %)")
    # per digit: how many of each there are, and how many of those are right
    totals = np.bincount(labels, minlength=net.sizes[-1])
    hits = np.bincount(labels[right], minlength=len(totals))
    width = len(str(totals.max()))
    for digit, (n, k) in enumerate(zip(totals, hits)):
        score = f"({100 * k / n:.2f} %)" if n else "(none in the set)"
        print(f"  {digit}: {k:{width}} / {n:{width}} {score}")
    return 0


def _model_and_data(args: argparse.Namespace):
    """The model ``args.model`` and the part ``args.eval`` of ``args.data``, checked to fit."""
    from .config import TrainConfig
    from .data import load
    from .network import Network
    from .train import on_engine

    net = Network.load(args.model)
    data = load(args.data)
    config = TrainConfig(sizes=tuple(net.sizes), engine=getattr(args, "engine", "auto"))
    config.check_data(data)
    return on_engine(net, config, status=_say), data[args.eval]


# -- nndl plot ------------------------------------------------------------------


def _plots(out: str | None = None):
    """nndl.plots, or a one-line error naming the extra to install; ``out``,
    the PNG to be written, is checked first, before any work."""
    from . import plots

    if out is not None:
        plots.check_png(out)
    return plots


def add_plot(sub) -> None:
    p = sub.add_parser(
        "plot",
        help="draw digits, learning curves, weights, a confusion matrix, mistakes, robustness or a hidden-layer map "
        "as a PNG",
        description="Draw a picture as a PNG file (needs the 'plots' extra).",
    )
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND", parser_class=_Parser)

    def kind(name: str, help: str, run, default_out: str) -> argparse.ArgumentParser:
        k = kinds.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        k.add_argument(
            "--out", metavar="FILE.png", default=default_out, help=f"the PNG file to write (default: {default_out})"
        )
        k.set_defaults(run=run)
        return k

    def data_flags(k, default_part: str, flag: str = "--eval") -> None:
        k.add_argument("--data", metavar="PATH", help="data set (default: bundled MNIST)")
        k.add_argument(
            flag,
            dest="eval",
            choices=["train", "validation", "test"],
            default=default_part,
            help=f"which part of the data (default: {default_part})",
        )

    k = kind("digits", "a grid of digits with their labels", run_plot_digits, "digits.png")
    data_flags(k, "train", flag="--part")
    k.add_argument("--start", type=int, default=0, help="index of the first digit (default: 0)")
    k.add_argument("--count", type=int, default=40, help="how many digits (default: 40)")
    k.add_argument("--cols", type=int, default=10, help="digits per row (default: 10)")

    k = kind(
        "history",
        "learning curves of one or more runs saved with 'nndl train --history'",
        run_plot_history,
        "history.png",
    )
    k.add_argument("histories", nargs="+", metavar="H.json")

    k = kind("weights", "each hidden neuron's incoming weights as an image", run_plot_weights, "weights.png")
    k.add_argument("model", metavar="MODEL.npz")
    k.add_argument("--count", type=int, help="how many hidden neurons (default: all, up to 400)")

    k = kind("confusion", "the confusion matrix of a saved model", run_plot_confusion, "confusion.png")
    k.add_argument("model", metavar="MODEL.npz")
    data_flags(k, "test")

    k = kind("mistakes", "the mistakes a saved model makes most confidently", run_plot_mistakes, "mistakes.png")
    k.add_argument("model", metavar="MODEL.npz")
    data_flags(k, "test")
    k.add_argument("--count", type=int, default=20, help="how many mistakes (default: 20)")

    k = kind(
        "robustness",
        "test accuracy of one or more models as the test digits are shifted, rotated, thinned or thickened and noised",
        run_plot_robustness,
        "robustness.png",
    )
    k.add_argument("models", nargs="+", metavar="MODEL.npz", help="models to compare ('default': the default model)")
    data_flags(k, "test")
    k.add_argument(
        "--sample", type=int, default=2000, help="measure on this many digits drawn with --seed (default: 2000)"
    )
    k.add_argument("--seed", type=int, default=0, help="seed of the sample, directions and noise (default: 0)")

    k = kind(
        "map",
        "the test digits placed by their hidden activations (PCA, and t-SNE with scikit-learn)",
        run_plot_map,
        "map.png",
    )
    k.add_argument("model", metavar="MODEL.npz", help="a model file ('default': the default model)")
    data_flags(k, "test")
    k.add_argument("--sample", type=int, default=2000, help="place this many digits drawn with --seed (default: 2000)")
    k.add_argument("--seed", type=int, default=0, help="seed of the sample and of t-SNE (default: 0)")
    k.add_argument("--layer", type=int, default=-1, help="which hidden layer: 2 is the first (default: the last)")
    k.add_argument("--no-tsne", action="store_true", help="PCA only (t-SNE takes tens of seconds)")


def _write(plots, fig, args: argparse.Namespace) -> int:
    _say(f"Wrote {plots.save(fig, args.out)}")
    return 0


def run_plot_digits(args: argparse.Namespace) -> int:
    from .data import load

    plots = _plots(args.out)
    split = load(args.data)[args.eval]
    if not 0 <= args.start < len(split):
        raise ConfigError(
            f"start must be from 0 to {len(split) - 1} ({args.eval} part: {len(split)} images), got {args.start}"
        )
    if not 1 <= args.count <= plots.MAX_IMAGES:
        raise ConfigError(f"count must be from 1 to {plots.MAX_IMAGES}, got {args.count}")
    part = slice(args.start, args.start + args.count)
    name = {"train": "Training", "validation": "Validation", "test": "Test"}[args.eval]
    title = f"{name} digits {part.start} to {min(part.stop, len(split)) - 1}"
    return _write(plots, plots.digits(split.images[part], split.labels[part], ncols=args.cols, title=title), args)


def run_plot_history(args: argparse.Namespace) -> int:
    from .history import History

    plots = _plots(args.out)
    if len(args.histories) > plots.MAX_RUNS:
        raise ConfigError(f"at most {plots.MAX_RUNS} history files at once, got {len(args.histories)}")
    return _write(plots, plots.learning_curves([History.load(h) for h in args.histories]), args)


def run_plot_weights(args: argparse.Namespace) -> int:
    from .network import Network

    plots = _plots(args.out)
    return _write(plots, plots.weights(Network.load(args.model), count=args.count), args)


def run_plot_confusion(args: argparse.Namespace) -> int:
    plots = _plots(args.out)
    return _write(plots, plots.confusion(*_model_and_data(args)), args)


def run_plot_mistakes(args: argparse.Namespace) -> int:
    plots = _plots(args.out)
    return _write(plots, plots.mistakes(*_model_and_data(args), count=args.count), args)


def _model(path: str):
    """The model file ``path``, or the default model for ``default``."""
    from .network import Network
    from .predict import load_model

    return load_model(None, say=_say) if path == "default" else Network.load(path)


def _split(net, args: argparse.Namespace):
    from .config import TrainConfig
    from .data import load

    data = load(args.data)
    TrainConfig(sizes=tuple(net.sizes)).check_data(data)
    return data[args.eval]


def run_plot_robustness(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .robustness import robustness

    plots = _plots(args.out)
    if len(args.models) > plots.MAX_RUNS:
        raise ConfigError(f"at most {plots.MAX_RUNS} models at once, got {len(args.models)}")
    nets = {name: _model(name) for name in args.models}
    names = {name: "default model" if name == "default" else Path(name).name for name in args.models}
    curves = {}
    for name, net in nets.items():
        split = _split(net, args)
        sample = None if args.sample >= len(split) else args.sample
        curves[names[name]] = robustness(net, split, sample=sample, seed=args.seed)
        shown = ", ".join(f"{c.distortion} {100 * c.accuracies[-1]:.1f} %" for c in curves[names[name]].values())
        _say(f"{names[name]}: at the largest amounts {shown}")
    n = next(iter(next(iter(curves.values())).values())).n
    which = f"all {n:,} {args.eval} digits" if n == len(split) else f"{n:,} {args.eval} digits (seed {args.seed})"
    title = f"Accuracy on {which}, distorted"
    return _write(plots, plots.robustness(curves, title=title), args)


def run_plot_map(args: argparse.Namespace) -> int:
    from . import hiddenmap

    plots = _plots(args.out)
    net = _model(args.model)
    split = _split(net, args)
    sample = None if args.sample >= len(split) else args.sample
    maps = [hiddenmap.hidden_map(net, split, "pca", sample=sample, seed=args.seed, layer=args.layer)]
    if args.no_tsne:
        pass
    elif hiddenmap.has_tsne():
        _say(f"t-SNE on {len(maps[0].xy):,} digits (tens of seconds; --no-tsne skips it)")
        maps.append(hiddenmap.hidden_map(net, split, "tsne", sample=sample, seed=args.seed, layer=args.layer))
    else:
        _say('PCA only: a t-SNE map needs scikit-learn (pip install "nndl[sklearn]")')
    return _write(plots, plots.hidden_map(maps), args)


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


# -- nndl predict ---------------------------------------------------------------


def add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="read handwritten digits from image files",
        description="Classify images of handwritten digits (PNG, JPEG, ...; any size; dark on light or light on "
        "dark). Each is preprocessed as MNIST was made: cropped to the ink, fitted into 20x20 with its strokes "
        "made about as thick as MNIST's, centred by mass in 28x28. Prints each path, the predicted digit and the "
        "ten output activations. Without a model file, the default model shipped with nndl reads them.",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="[MODEL.npz] IMAGE ...: a model file (else --model, else the default model), then the images",
    )
    p.add_argument("--model", metavar="MODEL.npz", help="model file, as an alternative to naming it first")
    p.add_argument("--json", action="store_true", help='one JSON object per image: {"path", "digit", "scores"}')
    p.add_argument("--show-input", metavar="DIR", help="write the 28x28 inputs the network saw here, as PNG")
    p.set_defaults(run=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from .images import pillow
    from .predict import load_model, predict_images

    pillow()  # a missing extra is said before a default model is trained
    if args.show_input:
        from .files import check_output

        check_output(args.show_input, folder=True)
    model, images = args.model, args.paths
    if model is None and images[0].lower().endswith(".npz"):
        model, images = images[0], images[1:]
    if not images:
        raise ConfigError(f"give one or more images after the model, got only {model}")
    net = load_model(model, say=_say)
    predictions = predict_images(net, images)
    for p in predictions:
        if args.json:
            print(json.dumps(p.to_dict()))
        else:
            print(f"{p.path}: {p.digit}   " + " ".join(f"{s:.3f}" for s in p.scores))
    if args.show_input:
        _save_inputs(Path(args.show_input), predictions)
    return 0


def _save_inputs(folder, predictions) -> None:
    from pathlib import Path

    from .images import save_digit

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the folder {folder}: {e.strerror}") from None
    used: set[str] = set()
    for p in predictions:
        stem = name = Path(p.path).stem
        k = 1
        while name in used:
            k += 1
            name = f"{stem}-{k}"
        used.add(name)
        save_digit(folder / f"{name}.png", p.input)
    _say(f"Wrote the {len(predictions)} inputs the network saw to {folder}")


# -- nndl serve ---------------------------------------------------------------


def add_serve(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="a web page to draw digits for the network to read",
        description="Serve a page where you draw a digit and watch the network's ten scores, look inside the "
        "network, teach it the digit you meant and keep your own handwriting set, and the JSON API behind it "
        "(POST /api/predict with an image file as the body).",
    )
    p.add_argument("--model", metavar="MODEL.npz", help="model file (default: the default model)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on; 0 picks a free one (default: 8000)")
    p.add_argument(
        "--dataset", metavar="DIR", help="folder of your handwriting set (default: handwriting in your data folder)"
    )
    p.add_argument("--save-to", metavar="NEW.npz", help="write the network taught on the page to this new file")
    p.add_argument(
        "--token",
        help="the secret every request must carry (default: $NNDL_TOKEN; beyond 127.0.0.1 a new random one)",
    )
    p.add_argument(
        "--no-token",
        action="store_true",
        help="ask no secret even when listening beyond this machine (anyone who can reach the port may use it)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name the server also answers to on 127.0.0.1 (e.g. a reverse proxy's); may be repeated",
    )
    p.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from .predict import load_model
    from .serve import check_installed, check_save_to, check_token, serve

    check_installed()
    save_to = None if args.save_to is None else check_save_to(args.save_to)
    if args.token is not None and args.no_token:
        raise ConfigError("--token and --no-token contradict each other: give one")
    token = args.token if args.token is not None else None if args.no_token else os.environ.get("NNDL_TOKEN")
    token = None if token is None else check_token(token)
    net = load_model(args.model, say=_say)
    serve(
        net,
        args.host,
        args.port,
        say=_say,
        token=token,
        no_token=args.no_token,
        allow_hosts=args.allow_host,
        dataset=args.dataset,
        save_to=save_to,
    )
    return 0


# -- nndl bench ---------------------------------------------------------------


def add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="measure training speed against other libraries",
        description="Time the notebook's run as a command (nndl train, from start to exit) and, each in its own "
        "process, every nndl engine and the book's algorithm, NumPy, scikit-learn, PyTorch and JAX (those "
        "installed), then sweep nndl over mini-batch and hidden-layer sizes.  Takes several minutes on a quiet "
        "machine; --quick checks that everything runs.",
    )
    p.add_argument("--quick", action="store_true", help="tiny subsets and few epochs: a smoke test")
    p.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="measure only these: nndl engines (auto numba numpy reference torch) and peers "
        "(book book-exp numpy sklearn torch jax)",
    )
    p.add_argument(
        "--peers-python",
        metavar="PYTHON",
        help="run the peers and nndl's torch engine with this Python, that of an environment with nndl[bench] "
        "installed, so that nndl itself is measured as 'pip install .' gives it (default: this Python for all)",
    )
    p.add_argument("--output", default="nndl-bench.md", metavar="PATH", help="Markdown report (default: nndl-bench.md)")
    p.set_defaults(run=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    import os
    import time

    from .bench.run import check_python, machine, run
    from .files import atomic_write, check_output

    check_output(args.output)  # checked first: the run takes minutes
    peers = check_python(args.peers_python) if args.peers_python else None
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    body = run(quick=args.quick, only=args.only, say=_say, peers_python=args.peers_python)
    command = " ".join(
        ["nndl bench"] + (["--quick"] if args.quick else []) + (["--only", *args.only] if args.only else [])
    )
    command += (" --peers-python PYTHON" if peers else "") + f" --output {args.output}"
    end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    where = f"\n\nPeers and nndl's torch engine ran in another environment (PYTHON): {peers}." if peers else ""
    text = (
        f"# Training speed\n\nWritten by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n"
        f"Machine: {machine()}.{where}\n\nLoad average (1, 5, 15 minutes) at the start: {load}; at the end: {end}."
        f"\n\n{body}"
    )
    print(body, end="")
    _say(f"Wrote {atomic_write(args.output, lambda f: f.write(text.encode()))}")
    return 0


COMMANDS = [add_train, add_evaluate, add_plot, add_baseline, add_sweep, add_predict, add_serve, add_bench]


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
        _last_word(f"nndl {args.command}: error: {e}")
        return 2
    except KeyboardInterrupt as e:
        # Interrupted (a KeyboardInterrupt) says where the run was saved.
        saved = getattr(e, "checkpoint", None)
        again = f"; go on with: nndl {args.command} --resume {saved}" if saved else ""
        _last_word(f"nndl {args.command}: {str(e) or 'interrupted'}{again}")
        return 128 + (getattr(e, "signum", None) or signal.SIGINT)
    except BrokenPipeError:
        # The reader went away (``nndl train | head -1``): stop quietly, as
        # programs in a pipeline do.  Anything else broken is a bug.
        if not (_reader_gone(sys.stdout) or _reader_gone(sys.stderr)):
            raise
        _silence(sys.stdout)
        _silence(sys.stderr)
        return 128 + signal.SIGPIPE


def _last_word(line: str) -> None:
    """Print ``line`` on stderr, unless nobody reads it any more."""
    try:
        print(line, file=sys.stderr, flush=True)
    except BrokenPipeError:
        _silence(sys.stderr)


def _reader_gone(stream) -> bool:
    """Whether ``stream`` is a pipe whose reading end is closed."""
    try:
        poll = select.poll()
        poll.register(stream.fileno(), select.POLLOUT)
    except (AttributeError, OSError, ValueError):  # not a real file (tests capture output)
        return False
    return any(events & select.POLLERR for _, events in poll.poll(0))


def _silence(stream) -> None:
    """Point the real ``stream`` at /dev/null, so that what is left in its
    buffer cannot fail again when Python flushes it on the way out."""
    if stream not in (sys.__stdout__, sys.__stderr__) or not _reader_gone(stream):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


def command() -> int:
    """The ``nndl`` command: :func:`main`, in a process that ends right after.

    Its last act tells the garbage collector to leave every object alone
    (``gc.freeze``): the process is exiting, and the collector's final pass
    over the hundreds of thousands of objects Numba holds would take a few
    tenths of a second to free memory the operating system reclaims anyway.
    """
    try:
        return main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    sys.exit(command())
