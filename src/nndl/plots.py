"""Pictures of the chapter: the digits, how a run learns, what the hidden
neurons look for, and what the network gets wrong.

Every function takes nndl's own objects -- image arrays and labels, a
:class:`~nndl.history.History`, a :class:`~nndl.network.Network` with a
:class:`~nndl.data.Split` -- and returns a matplotlib ``Figure``.  The
figures are made without pyplot, so nothing here needs a display or touches
matplotlib's global state: in a notebook a returned figure shows itself
(after ``%matplotlib inline``), and :func:`save` writes one to a PNG file.
Needs the ``plots`` extra (matplotlib).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, DataError, require

require("matplotlib", "nndl.plots", "plots")

from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .data import Split  # noqa: E402
from .files import atomic_write, check_output  # noqa: E402
from .history import EpochResult, History, run_labels  # noqa: E402
from .network import Network, sigmoid  # noqa: E402

#: The most images one grid may hold.
MAX_IMAGES = 400
#: The most training runs one learning-curve figure may overlay.
MAX_RUNS = 20
#: Resolution of saved figures, in dots per inch.
DPI = 100
#: How the hidden-layer maps' methods are named on a figure.
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE"}


# -- digits -------------------------------------------------------------------


def digits(
    images: np.ndarray,
    labels: Sequence[int] | None = None,
    *,
    ncols: int = 10,
    title: str | None = None,
) -> Figure:
    """A grid of digits, each with its label above it.

    ``images`` are rows of pixels ``(n, 784)`` (``uint8`` bytes or floats in
    [0, 1]) or square images ``(n, 28, 28)``; they are drawn dark on light,
    as the book prints them.  At most :data:`MAX_IMAGES` images.
    """
    squares = _squares(images)
    if labels is not None and len(labels) != len(squares):
        raise ConfigError(f"got {len(squares)} images but {len(labels)} labels")
    captions = None if labels is None else [str(int(label)) for label in labels]
    fig, _ = _grid(squares, captions, ncols=ncols, title=title, cmap="gray_r", norm=Normalize(0, 1))
    return fig


# -- learning curves ------------------------------------------------------------


def learning_curves(
    histories: History | Sequence[History],
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Accuracy and cost per epoch of one run or several overlaid.

    Each run gets one colour: a solid line for the evaluation data (the
    accuracy and the quadratic cost ``C = 1/(2n) sum_x ||y(x) - a||^2`` that
    :meth:`~nndl.network.Network.SGD` measures after each epoch) and, when
    the history holds them, a dashed line for the training data.  The
    legend names each run by the settings in which the runs differ
    (``labels`` overrides that), so runs with eta 0.5, 3 and 100, or with 30
    and 100 hidden neurons, read at a glance.
    """
    runs = [histories] if isinstance(histories, History) else list(histories)
    if not 1 <= len(runs) <= MAX_RUNS:
        raise ConfigError(f"learning curves take 1 to {MAX_RUNS} histories, got {len(runs)}")
    labels = run_labels([h.settings for h in runs]) if labels is None else list(labels)
    if len(labels) != len(runs):
        raise ConfigError(f"got {len(runs)} histories but {len(labels)} labels")
    if not any(e.accuracy is not None or e.train_accuracy is not None for h in runs for e in h):
        raise DataError("the histories hold no accuracy or cost to plot: train with evaluation data")

    if len(runs) == 1:  # one run: its settings go in the title, the legend names the data
        title = title or ("Learning curves: " + labels[0] if labels[0] else "Learning curves")
        labels = [""]
    fig = _figure(11, 4.6)
    ax_acc, ax_cost = fig.subplots(1, 2)
    colors = _colors(len(runs))
    for h, label, color in zip(runs, labels, colors):
        evaluated_on = f"{h.settings.get('eval', 'evaluation')} data"
        for part, style, acc, cost in (
            (evaluated_on, "-", [e.accuracy for e in h], [e.cost for e in h]),
            ("training data", "--", [e.train_accuracy for e in h], [e.train_cost for e in h]),
        ):
            # each measure on its own epochs: a history may lack some of them
            measured = [(e.epoch, a) for e, a in zip(h, acc) if a is not None]
            costed = [(e.epoch, c) for e, c in zip(h, cost) if c is not None]
            if not measured:
                continue
            name = f"{label}, {part}" if label else part
            marker = "o" if len(measured) <= 30 else None
            kw = dict(color=color, linestyle=style, marker=marker, markersize=4, label=name)
            ax_acc.plot([x for x, _ in measured], [100 * a for _, a in measured], **kw)
            ax_cost.plot([x for x, _ in costed], [c for _, c in costed], **kw)
    ax_acc.set(title="Accuracy", xlabel="epoch", ylabel="correctly classified (%)")
    ax_cost.set(title="Quadratic cost", xlabel="epoch", ylabel="cost C")
    for ax in (ax_acc, ax_cost):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    n_entries = len(ax_acc.get_legend_handles_labels()[0])
    fig.legend(*ax_acc.get_legend_handles_labels(), loc="outside lower center", ncols=min(3, n_entries), frameon=False)
    fig.suptitle(title or "Learning curves", fontsize="x-large")
    return fig


# -- what the network learned ---------------------------------------------------------


def weights(net: Network, *, count: int | None = None, ncols: int = 10, title: str | None = None) -> Figure:
    """Each hidden neuron's incoming weights ``w^2_{jk}`` drawn as an image.

    Pixel ``k`` of neuron ``j``'s picture is the weight from input pixel
    ``k`` to hidden neuron ``j``: red where a dark pixel raises the neuron's
    weighted input ``z_j``, blue where it lowers it, white at 0, one colour
    scale for all neurons.  Shows the first ``count`` neurons of the first
    hidden layer (all of them, up to :data:`MAX_IMAGES`, by default).
    """
    if net.num_layers < 3:
        raise ConfigError(f"the network has no hidden layer (sizes {net.sizes}), so no hidden neurons to draw")
    w = net.weights[0]
    count = min(len(w), MAX_IMAGES) if count is None else _check_count(count, "count")
    shown = _squares(w[:count], what="the weights into each hidden neuron")
    # one symmetric scale, set by the bulk of the weights rather than a rare extreme
    vmax = float(np.percentile(np.abs(shown), 99.5)) or 1.0
    captions = [f"neuron {j}" for j in range(len(shown))]
    name = f"Incoming weights of {'the' if count >= len(w) else f'the first {len(shown)} of'} {len(w)} hidden neurons"
    fig, image = _grid(shown, captions, ncols=ncols, title=title or name, cmap="RdBu_r", norm=Normalize(-vmax, vmax))
    fig.colorbar(image, ax=fig.axes, shrink=0.6, label="weight", extend="both")
    return fig


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Counts ``M[i, j]`` of examples with true class ``i`` predicted as ``j``."""
    labels, predicted = np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape or labels.ndim != 1:
        raise ConfigError(
            f"labels and predictions must be two lists of one length, got {labels.shape} and {predicted.shape}"
        )
    n = int(max(labels.max(initial=-1), predicted.max(initial=-1)) + 1) if n_classes is None else n_classes
    return np.bincount(labels * n + predicted, minlength=n * n).reshape(n, n)


def confusion(net: Network, data: Split, *, title: str | None = None) -> Figure:
    """The confusion matrix of ``net`` on ``data``, every count written in
    its cell: row = the true digit, column = the network's answer, so the
    diagonal holds the correct answers and everything else the mistakes."""
    predicted = net.predict(data.images)
    counts = confusion_matrix(data.labels, predicted, max(net.sizes[-1], int(data.labels.max()) + 1))
    n = len(counts)
    correct = int(np.trace(counts))
    size = min(2.5 + 0.6 * n, 14)
    fig = _figure(size + 1.2, size)
    ax = fig.subplots()
    # colour on a square-root scale so the few mistakes show beside a full diagonal
    from matplotlib.colors import PowerNorm

    image = ax.imshow(counts, cmap="Blues", norm=PowerNorm(0.5, vmin=0, vmax=max(1, counts.max())))
    if n <= 30:
        threshold = 0.45 * counts.max()
        fontsize = 10 if n <= 12 else 7
        for (i, j), c in np.ndenumerate(counts):
            color = "white" if c > threshold else ("black" if c else "0.6")
            ax.text(j, i, str(c), ha="center", va="center", color=color, fontsize=fontsize)
    ticks = np.arange(n) if n <= 30 else MaxNLocator(integer=True).tick_values(0, n - 1)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set(xlabel="predicted digit", ylabel="true digit")
    fig.colorbar(image, ax=ax, shrink=0.8, label="examples")
    ax.set_title(
        title or f"Confusion matrix: {correct:,} / {len(predicted):,} correct ({100 * correct / len(predicted):.2f} %)"
    )
    return fig


def mistakes(net: Network, data: Split, *, count: int = 20, ncols: int = 10, title: str | None = None) -> Figure:
    """The ``count`` mistakes the network makes most confidently on ``data``.

    Confidence is the activation ``a^L_j`` of the output neuron the network
    picked: how sure it was of the wrong answer.  Each image is captioned
    with its true label and the network's answer.
    """
    count = _check_count(count, "count")
    scores = net.scores(data.images)
    predicted = scores.argmax(axis=1)
    wrong = np.flatnonzero(predicted != data.labels)
    confidence = scores[wrong, predicted[wrong]]
    worst = wrong[np.argsort(-confidence, kind="stable")][:count]
    name = title or f"The {len(worst)} most confident of {len(wrong):,} mistakes on {len(data):,} images "
    name += "\n(ranked by the activation of the output neuron it picked)"
    if len(worst) == 0:
        fig = _figure(6, 2)
        fig.suptitle(title or f"No mistakes on {len(data):,} images")
        return fig
    captions = [f"true {data.labels[i]}\npredicted {predicted[i]}" for i in worst]
    fig, _ = _grid(
        _squares(data.images[worst]),
        captions,
        ncols=ncols,
        title=name,
        cmap="gray_r",
        norm=Normalize(0, 1),
        caption_lines=2,
    )
    return fig


# -- beyond the test set: distortions, the hidden layer ------------------------------


def robustness(curves: Mapping[str, Mapping[str, Any]], *, title: str | None = None) -> Figure:
    """Accuracy against each distortion, one panel per distortion, one line
    per model: ``curves`` maps a model's name to what
    :func:`nndl.robustness.robustness` returned for it."""
    if not 1 <= len(curves) <= MAX_RUNS:
        raise ConfigError(f"a robustness figure compares 1 to {MAX_RUNS} models, got {len(curves)}")
    kinds = list(next(iter(curves.values())))
    fig = _figure(3.4 * len(kinds) + 0.6, 4.2)
    axes = np.atleast_1d(fig.subplots(1, len(kinds), sharey=True))
    for (name, by_kind), color in zip(curves.items(), _colors(len(curves))):
        for ax, kind in zip(axes, kinds):
            c = by_kind[kind]
            ax.plot(c.amounts, [100 * a for a in c.accuracies], marker="o", markersize=4, color=color, label=name)
    for ax, kind in zip(axes, kinds):
        c = next(iter(curves.values()))[kind]
        ax.set(title=kind, xlabel=f"{kind} ({c.unit})", ylim=(0, 100))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("correctly classified (%)")
    n = next(iter(next(iter(curves.values())).values())).n
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=min(3, len(curves)),
               frameon=False)  # fmt: skip
    fig.suptitle(title or f"Accuracy on {n:,} distorted test digits", fontsize="x-large")
    return fig


def hidden_map(points: Any, *, title: str | None = None) -> Figure:
    """The digits placed by their hidden activations: one panel per method
    of :func:`nndl.hiddenmap.hidden_map`'s answers (``points``: one
    :class:`~nndl.hiddenmap.Map` or several), each digit a dot coloured by
    its label, the misread ones ringed in black."""
    maps = [points] if hasattr(points, "xy") else list(points)
    fig = _figure(6.2 * len(maps) + 1.2, 6.2)
    axes = np.atleast_1d(fig.subplots(1, len(maps)))
    colors = _colors(10)
    for ax, m in zip(axes, maps):
        wrong = m.predicted != m.labels
        for digit in range(int(m.labels.max()) + 1):
            mine = m.labels == digit
            ax.scatter(*m.xy[mine].T, s=6, color=colors[digit % 10], label=str(digit), linewidths=0)
        ax.scatter(*m.xy[wrong].T, s=26, facecolors="none", edgecolors="black", linewidths=0.7,
                   label="misread")  # fmt: skip
        for digit in range(int(m.labels.max()) + 1):  # each digit's name at the middle of its cloud
            mine = (m.labels == digit) & ~wrong
            if mine.any():
                x, y = np.median(m.xy[mine], axis=0)
                ax.text(x, y, str(digit), fontsize=15, weight="bold", ha="center", va="center",
                        color=colors[digit % 10], path_effects=[_outline()])  # fmt: skip
        ax.set(title=f"{METHOD_NAMES[m.method]}: {wrong.sum():,} of {len(wrong):,} misread", xticks=[], yticks=[])
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right center", markerscale=2.5, frameon=False, title="label")
    layer = maps[0].layer
    fig.suptitle(
        title or f"Test digits placed by the activations of hidden layer {layer} ({maps[0].width} neurons)",
        fontsize="x-large",
    )
    return fig


def _outline() -> Any:
    from matplotlib import patheffects

    return patheffects.withStroke(linewidth=3, foreground="white")


# -- from the chapter's start -----------------------------------------------------


def step_vs_sigmoid(z_range: float = 6.0) -> Figure:
    """The perceptron's step function beside the sigmoid ``sigma(z) = 1/(1+e^{-z})``.

    Both take the weighted input ``z = w . x + b``; the sigmoid is a
    smoothed step, so small changes in weights and bias make small changes
    in the output -- what makes learning by gradient descent possible.
    """
    z = np.linspace(-z_range, z_range, 601)
    fig = _figure(7, 4)
    ax = fig.subplots()
    ax.plot(z, (z > 0).astype(float), label="step (perceptron): 1 if z > 0 else 0", linewidth=2, color="0.4")
    ax.plot(z, sigmoid(z), label="sigmoid: 1 / (1 + exp(-z))", linewidth=2, color="C0")
    ax.set(xlabel="weighted input z = w · x + b", ylabel="output", title="From step to sigmoid")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return fig


# -- watching a run learn ------------------------------------------------------------


#: Hidden neurons a live figure pictures.
LIVE_NEURONS = 100


class Live:
    """A figure of a run as it learns, redrawn after every epoch: the test
    accuracy and cost so far, and each hidden neuron's incoming weights
    (:func:`weights`' colours: red raises ``z_j``, blue lowers it, white is
    0, on one scale for the whole run, set by the starting weights).

    Pass it as ``on_epoch``::

        net.SGD(data.train, 10, 10, 3.0, test_data=data.test, on_epoch=plots.live(net))

    In Jupyter the figure is shown once and replaced in place after each
    epoch; elsewhere nothing is shown and ``figure`` holds the latest
    drawing (:func:`save` writes it).  ``net`` (None: curves only) is the
    network being trained; ``epochs`` fixes the x axis at the run's length.
    """

    def __init__(self, net: Network | None = None, *, epochs: int | None = None) -> None:
        self.net, self.epochs = net, epochs
        self.results: list[EpochResult] = []
        self.figure = _figure(13, 4.2)
        self._display: Any = None  # IPython's handle on the figure shown
        self._scale: float | None = None
        if net is not None and net.num_layers >= 3:
            self._scale = float(np.percentile(np.abs(net.weights[0][:LIVE_NEURONS]), 99.5)) or 1.0
        self.draw()

    def __call__(self, result: EpochResult) -> None:
        """Add an epoch's :class:`~nndl.history.EpochResult`, redraw, show."""
        self.results.append(result)
        self.draw()
        self.show()

    def draw(self) -> Figure:
        fig = self.figure
        fig.clear()
        pictured = self.net is not None and self._scale is not None
        ax_acc, ax_cost, *rest = fig.subplots(1, 3 if pictured else 2, width_ratios=[1, 1, 1.1][: 3 if pictured else 2])
        done = [r for r in self.results if r.accuracy is not None]
        epochs = [r.epoch for r in done]
        kw = dict(color="C0", marker="o", markersize=4)
        ax_acc.plot(epochs, [100 * (r.accuracy or 0.0) for r in done], **kw)
        ax_cost.plot(epochs, [r.cost for r in done], **kw)
        last = max([self.epochs - 1 if self.epochs else 0, *epochs, 1])
        ax_acc.set(title="Accuracy", xlabel="epoch", ylabel="correctly classified (%)", xlim=(-0.3, last + 0.3))
        ax_cost.set(title="Quadratic cost", xlabel="epoch", ylabel="cost C", xlim=(-0.3, last + 0.3))
        for ax in (ax_acc, ax_cost):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        if self.net is not None and self._scale is not None:
            (ax_w,) = rest
            w = self.net.weights[0][:LIVE_NEURONS]
            image = ax_w.imshow(_mosaic(w), cmap="RdBu_r", norm=Normalize(-self._scale, self._scale))
            ax_w.set_axis_off()
            n = self.net.sizes[1]
            ax_w.set_title(
                f"Incoming weights of {'the' if len(w) == n else f'the first {len(w)} of'} {n} hidden neurons"
            )
            fig.colorbar(image, ax=ax_w, shrink=0.8, label="weight", extend="both")
        state = done[-1].line() if done else "before training"
        fig.suptitle(f"Watching it learn: {state}", fontsize="large")
        return fig

    def show(self) -> None:
        """Show the figure in Jupyter, in place of its last drawing; elsewhere do nothing."""
        try:
            from IPython import get_ipython
            from IPython.display import Image, display
        except ImportError:
            return
        shell = get_ipython()
        if shell is None or not hasattr(shell, "kernel"):
            return
        import io

        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=DPI)
        picture = Image(data=buf.getvalue(), format="png")
        if self._display is None:
            self._display = display(picture, display_id=True)
        else:
            self._display.update(picture)


def live(net: Network | None = None, *, epochs: int | None = None) -> Live:
    """A :class:`Live` figure of ``net`` learning, to pass as ``on_epoch``."""
    return Live(net, epochs=epochs)


def _mosaic(w: np.ndarray, gap: int = 2) -> np.ndarray:
    """Rows of ``w`` as square pictures in a near-square grid, NaN (blank) between them."""
    side = math.isqrt(w.shape[1])
    if side * side != w.shape[1]:
        raise DataError(f"the weights have {w.shape[1]} inputs, not a square number, so they cannot be drawn")
    n = len(w)
    cols = math.ceil(math.sqrt(n))
    rows = -(-n // cols)
    out = np.full((rows * (side + gap) - gap, cols * (side + gap) - gap), np.nan)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (side + gap) : r * (side + gap) + side, c * (side + gap) : c * (side + gap) + side] = w[k].reshape(
            side, side
        )
    return out


# -- writing ------------------------------------------------------------------------


def save(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` to the PNG file ``path``, atomically; returns the path."""
    return atomic_write(check_png(path), lambda f: fig.savefig(f, format="png", dpi=DPI))


def check_png(path: str | os.PathLike) -> Path:
    """``path`` if a PNG can be written there: it ends in ``.png`` and its folder exists."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"the output must be a .png file, got {path}")
    check_output(path)
    return path


# -- helpers ---------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i) for i in range(n)]


def _check_count(count: int, name: str) -> int:
    if not (isinstance(count, (int, np.integer)) and 1 <= count <= MAX_IMAGES):
        raise ConfigError(f"{name} must be an integer from 1 to {MAX_IMAGES}, got {count!r}")
    return int(count)


def _squares(images: np.ndarray, what: str = "images") -> np.ndarray:
    """Images as floats in [0, 1] of shape ``(n, side, side)``."""
    images = np.asarray(images)
    if images.ndim == 2:
        side = math.isqrt(images.shape[1])
        if side * side != images.shape[1]:
            raise DataError(f"{what} have {images.shape[1]} pixels, not a square number, so they cannot be drawn")
        images = images.reshape(len(images), side, side)
    if images.ndim != 3:
        raise DataError(f"{what} must have shape (n, pixels) or (n, rows, cols), got {images.shape}")
    if not 1 <= len(images) <= MAX_IMAGES:
        raise ConfigError(f"can draw 1 to {MAX_IMAGES} images at once, got {len(images)}")
    return images / 256 if images.dtype == np.uint8 else images.astype(np.float64)


def _grid(
    images: np.ndarray,
    captions: Sequence[str] | None,
    *,
    ncols: int,
    title: str | None,
    cmap: str,
    norm: Normalize | None,
    caption_lines: int = 1,
) -> tuple[Figure, AxesImage]:
    """``images`` in rows of ``ncols``, each captioned; returns the figure and
    the last image drawn (for a colour bar)."""
    if not (isinstance(ncols, (int, np.integer)) and 1 <= ncols <= 50):
        raise ConfigError(f"ncols must be an integer from 1 to 50, got {ncols!r}")
    n = len(images)
    ncols = min(int(ncols), n)
    nrows = -(-n // ncols)
    cell = 1.2
    caption = 0.0 if captions is None else 0.2 * caption_lines
    fig = _figure(max(cell * ncols, 4.5), (cell + caption) * nrows + (0.5 if title else 0))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    image: AxesImage | None = None
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < n:
            image = ax.imshow(images[k], cmap=cmap, norm=norm, interpolation="nearest")
            if captions is not None:
                ax.set_title(captions[k], fontsize=9, pad=3)
    if title:
        fig.suptitle(title, fontsize="large")
    assert image is not None  # n >= 1: the callers check
    return fig, image
