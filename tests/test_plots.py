"""Pictures, history files and ``nndl plot``: each figure checked against
the numbers it was drawn from, each command's PNG read back."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

import nndl
from nndl import plots
from nndl.cli import main
from nndl.errors import DataError, MissingExtraError
from nndl.history import EpochResult, History
from nndl.network import Network
from nndl.train import TrainConfig, train

SMALL = dict(sizes=(784, 8, 10), epochs=3, batch_size=5, eta=2.0, seed=1)


@pytest.fixture
def tiny(tmp_path, tiny_arrays):
    path = tmp_path / "tiny.npz"
    np.savez(path, **tiny_arrays)
    return path


@pytest.fixture
def model(tmp_path, tiny):
    """A small network trained on the tiny data, saved; with its data."""
    net, history = train(TrainConfig(data=str(tiny), **SMALL), log=None)
    path = net.save(tmp_path / "model.npz", history.settings)
    return path, net, nndl.load(tiny)


def png_shape(path) -> tuple[int, ...]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.std() > 0.01  # not a blank canvas
    return image.shape


# -- the figures, against their data -------------------------------------------------


def test_digits_shows_each_image_with_its_label(mnist):
    fig = plots.digits(mnist.test.images[:12], mnist.test.labels[:12], ncols=5)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 12 and len(fig.axes) == 15  # 3 rows of 5, the last 3 empty
    for ax, image, label in zip(shown, mnist.test.images, mnist.test.labels):
        assert ax.get_title() == str(label)
        np.testing.assert_array_equal(ax.images[0].get_array(), image.reshape(28, 28) / 256)


def test_learning_curves_plot_the_history(tmp_path, tiny):
    runs = [train(TrainConfig(data=str(tiny), **{**SMALL, "eta": eta}), log=None)[1] for eta in (0.5, 3.0)]
    monitored = train(TrainConfig(data=str(tiny), **SMALL), log=None, monitor_training=True)[1]
    fig = plots.learning_curves([*runs, monitored])
    acc, cost = fig.axes
    lines = {line.get_label(): line for line in acc.lines}
    assert set(lines) == {
        "η = 0.5, test data",
        "η = 3, test data",
        "η = 2, test data",
        "η = 2, training data",
    }
    np.testing.assert_allclose(lines["η = 3, test data"].get_ydata(), [100 * a for a in runs[1].accuracy])
    np.testing.assert_allclose(lines["η = 2, training data"].get_ydata(), [100 * e.train_accuracy for e in monitored])
    assert [line.get_ydata().tolist() for line in cost.lines][0] == runs[0].cost
    assert acc.get_xlabel() == "epoch" and "%" in acc.get_ylabel() and cost.get_title() == "Quadratic cost"
    assert png_shape(plots.save(fig, tmp_path / "c.png")) == (460, 1100, 4)


def test_training_accuracy_is_measured_on_the_training_data(tiny):
    net, history = train(TrainConfig(data=str(tiny), **{**SMALL, "epochs": 1}), log=None, monitor_training=True)
    data = nndl.load(tiny)
    assert history[0].train_accuracy == net.evaluate(data.train) / len(data.train)
    assert history[0].train_cost == pytest.approx(net.cost(data.train))
    plain = train(TrainConfig(data=str(tiny), **SMALL), log=None)[1]
    assert all(e.train_accuracy is None for e in plain)  # off unless asked for


def test_run_labels_name_what_differs():
    base = TrainConfig().to_dict()
    assert plots.run_labels([base, {**base, "sizes": [784, 100, 10]}]) == ["sizes 784-30-10", "sizes 784-100-10"]
    assert plots.run_labels([base]) == ["sizes 784-30-10, η = 3, mini-batch 10"]
    assert plots.run_labels([base, base]) == ["run 1", "run 2"]
    assert plots.run_labels([{}]) == [""]
    scaled = {**base, "init": "scaled"}
    assert plots.run_labels([base, scaled]) == ["start N(0, 1)", "start N(0, 1/n_in)"]
    assert plots.run_labels([scaled]) == ["sizes 784-30-10, η = 3, mini-batch 10, start N(0, 1/n_in)"]
    older = {k: v for k, v in base.items() if k != "init"}  # a history from before the start was a setting
    assert plots.run_labels([older, base]) == ["run 1", "run 2"]
    fig = plots.learning_curves(History([EpochResult(0, 1.0, 1, 2, 0.5, 0.1)]))
    assert fig.get_suptitle() == "Learning curves" and fig.legends[0].texts[0].get_text() == "evaluation data"


def test_weights_draws_each_hidden_neurons_incoming_weights(model):
    _, net, _ = model
    fig = plots.weights(net, count=5)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 5
    for j, image in enumerate(images):
        np.testing.assert_array_equal(image.get_array(), net.weights[0][j].reshape(28, 28))
        assert image.norm.vmin == -image.norm.vmax  # centred at 0
        assert image.get_cmap().name == "RdBu_r"
    with pytest.raises(nndl.ConfigError, match="no hidden layer"):
        plots.weights(Network([784, 10]))


def test_confusion_matrix_against_a_loop_and_evaluate(model):
    _, net, data = model
    predicted = net.predict(data.test.images)
    counts = plots.confusion_matrix(data.test.labels, predicted, 10)
    loop = np.zeros((10, 10), int)
    for t, p in zip(data.test.labels, predicted):
        loop[t, p] += 1
    np.testing.assert_array_equal(counts, loop)
    assert np.trace(counts) == net.evaluate(data.test)
    fig = plots.confusion(net, data.test)
    texts = [int(t.get_text()) for t in fig.axes[0].texts]
    assert texts == counts.ravel().tolist()
    assert fig.axes[0].get_xlabel() == "predicted digit" and fig.axes[0].get_ylabel() == "true digit"


def test_mistakes_are_wrong_and_most_confident_first(model):
    _, net, data = model
    fig = plots.mistakes(net, data.test, count=6)
    captions = [ax.get_title() for ax in fig.axes if ax.images]
    assert len(captions) == 6
    scores = net.scores(data.test.images)
    # oracle: every wrong answer's confidence, sorted by a plain loop
    wrong = sorted(
        ((-scores[i].max(), i) for i in range(len(data.test)) if scores[i].argmax() != data.test.labels[i]),
    )
    for caption, (_, i) in zip(captions, wrong):
        assert caption == f"true {data.test.labels[i]}\npredicted {scores[i].argmax()}"


def test_step_vs_sigmoid(tmp_path):
    fig = plots.step_vs_sigmoid()
    step, sig = fig.axes[0].lines
    z = sig.get_xdata()
    np.testing.assert_allclose(sig.get_ydata(), 1 / (1 + np.exp(-z)))
    np.testing.assert_array_equal(step.get_ydata(), z > 0)
    assert png_shape(plots.save(fig, tmp_path / "s.png")) == (400, 700, 4)


def test_plots_without_matplotlib_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "nndl.plots")
    monkeypatch.delattr(nndl, "plots")
    with pytest.raises(MissingExtraError, match=r"pip install \"nndl\[plots\]\""):
        from nndl import plots  # noqa: F401


# -- history files ---------------------------------------------------------------------


def test_history_round_trip(tmp_path):
    h = History([EpochResult(0, 0.5, 90, 100, 0.9, 0.07, 0.91, 0.06), EpochResult(1, 0.4)], {"eta": 3.0})
    assert History.load(h.save(tmp_path / "h.json")) == h


def test_history_is_written_after_every_epoch(tmp_path, tiny):
    path = tmp_path / "h.json"
    seen = []

    def look(result):
        seen.append(json.loads(path.read_text()))

    _, history = train(TrainConfig(data=str(tiny), **SMALL), log=None, history_path=path, on_epoch=look)
    assert [len(d["epochs"]) for d in seen] == [1, 2, 3]
    assert seen[0]["settings"] == history.settings and seen[0]["settings"]["eta"] == 2.0
    assert History.load(path) == history


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "not a JSON history file"),
        ("[1, 2]", "expected an object with a list 'epochs'"),
        ('{"epochs": [], "settings": 3}', "'settings' must be an object"),
        ('{"epochs": [{"seconds": 1}]}', "integer 'epoch'"),
        ('{"epochs": [{"epoch": 0, "accuracy": "high"}]}', "accuracy must be a number, got 'high'"),
        ('{"epochs": [{"epoch": 0, "cost": NaN}]}', "cost must be a number, got nan"),
    ],
)
def test_bad_history_files_are_data_errors(tmp_path, text, message):
    path = tmp_path / "h.json"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        History.load(path)


# -- nndl plot and nndl train --history/--plot ---------------------------------------------


@pytest.mark.slow
def test_each_plot_command_writes_a_png(tmp_path, tiny, model, capsys):
    model_path, _, _ = model
    history = tmp_path / "h.json"
    train(TrainConfig(data=str(tiny), **SMALL), log=None, history_path=history)
    commands = {
        "digits": ["digits", "--data", str(tiny), "--count", "7", "--cols", "4"],
        "history": ["history", str(history), str(history)],
        "weights": ["weights", str(model_path)],
        "confusion": ["confusion", str(model_path), "--data", str(tiny)],
        "mistakes": ["mistakes", str(model_path), "--data", str(tiny), "--count", "3"],
    }
    shapes = {}
    for name, args in commands.items():
        out = tmp_path / f"{name}.png"
        assert main(["plot", *args, "--out", str(out)]) == 0
        assert capsys.readouterr().err == f"Wrote {out}\n"
        shapes[name] = png_shape(out)
    assert shapes["digits"] == (2 * 140 + 50, 480, 4)  # 2 rows of 4 cells, a title
    assert len({s for s in shapes.values()}) == 5


def test_train_writes_history_and_plot(tmp_path, tiny):
    history, plot = tmp_path / "h.json", tmp_path / "curve.png"
    r = subprocess.run(
        [sys.executable, "-m", "nndl", "train", "--data", str(tiny), "--sizes", "784", "8", "10", "--epochs", "2"]
        + ["--history", str(history), "--plot", str(plot), "--monitor-training"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert f"Wrote the learning curves to {plot}" in r.stderr and str(history) in r.stderr
    h = History.load(history)
    assert [e.epoch for e in h] == [0, 1] and h.settings["sizes"] == [784, 8, 10]
    assert all(e.train_accuracy is not None for e in h)
    assert [f"Epoch {e.epoch}: {e.correct} / 20" for e in h] == [line.split(" (")[0] for line in r.stdout.splitlines()]
    png_shape(plot)


@pytest.mark.parametrize(
    "args, message",
    [
        (["plot", "history", "{bad}"], "not a JSON history file"),
        (["plot", "history", "/nonexistent/h.json"], "no such file: /nonexistent/h.json"),
        (["plot", "history", *["{h}"] * 21], "at most 20 history files"),
        (["plot", "digits", "--count", "401"], "count must be from 1 to 400, got 401"),
        (["plot", "digits", "--count", "0"], "count must be from 1 to 400, got 0"),
        (["plot", "digits", "--start", "10000", "--part", "test"], "start must be from 0 to 9999"),
        (["plot", "digits", "--cols", "0"], "ncols must be an integer from 1 to 50, got 0"),
        (["plot", "digits", "--out", "d.jpg"], "must be a .png file, got d.jpg"),
        (["plot", "digits", "--out", "/nonexistent/d.png"], "folder /nonexistent does not exist"),
        (["plot", "weights", "{bad}"], "not a valid .npz file"),
        (["plot", "weights", "{m}", "--count", "0"], "count must be an integer from 1 to 400, got 0"),
        (["plot", "mistakes", "{m}", "--count", "500"], "count must be an integer from 1 to 400, got 500"),
        (["plot", "confusion", "/nonexistent/m.npz"], "no such file: /nonexistent/m.npz"),
        (["train", "--history", "/nonexistent/h.json"], "folder /nonexistent does not exist"),
        (["train", "--plot", "/nonexistent/c.png"], "folder /nonexistent does not exist"),
        (["train", "--plot", "curve.svg"], "must be a .png file, got curve.svg"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, model, capsys, args, message):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00garbage")
    history = tmp_path / "h.json"
    History([EpochResult(0, 1.0, 1, 2, 0.5, 0.1)]).save(history)
    args = [a.format(bad=bad, h=history, m=model[0]) for a in args]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert out == ""  # train stopped before its first epoch


# -- the live figure -------------------------------------------------------------------


def live_run(mnist, on_epoch) -> Network:
    net = Network([784, 12, 10], seed=0)
    train, test = mnist.train, mnist.test
    net.SGD(
        (train.images[:600], train.labels[:600]),
        2,
        10,
        3.0,
        (test.images[:200], test.labels[:200]),
        log=None,
        on_epoch=on_epoch,
    )
    return net


def test_live_figure_follows_the_run_headless(mnist):
    trained = Network([784, 12, 10], seed=0)
    live = plots.live(trained, epochs=2)
    train, test = mnist.train, mnist.test
    history = trained.SGD(
        (train.images[:600], train.labels[:600]),
        2,
        10,
        3.0,
        (test.images[:200], test.labels[:200]),
        log=None,
        on_epoch=live,
    )
    assert [r.epoch for r in live.results] == [0, 1]
    accuracy, cost, pictured, _bar = live.figure.axes
    assert list(accuracy.lines[0].get_ydata()) == [100 * a for a in history.accuracy]
    assert list(cost.lines[0].get_ydata()) == history.cost
    # the weights as they are now, neuron 0 top left, neuron 1 beside it
    mosaic = pictured.images[0].get_array()
    assert np.array_equal(mosaic[:28, :28], trained.weights[0][0].reshape(28, 28))
    assert np.array_equal(mosaic[:28, 30:58], trained.weights[0][1].reshape(28, 28))
    assert live.figure.get_suptitle().endswith(history[-1].line())


def test_live_figure_in_jupyter_is_replaced_in_place(mnist, monkeypatch):
    import IPython
    import IPython.display

    shown = []

    class Handle:
        def update(self, picture):
            shown.append(("update", picture))

    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Kernel", (), {"kernel": object()})())
    monkeypatch.setattr(
        IPython.display, "display", lambda picture, display_id: shown.append(("show", picture)) or Handle()
    )
    live_run(mnist, plots.live())
    assert [kind for kind, _ in shown] == ["show", "update"]
    assert all(p.data.startswith(b"\x89PNG") for _, p in shown)


def test_histories_from_sgd_are_labelled_by_the_setting_that_differs(mnist):
    """Two ``net.SGD`` runs differing in eta: the legend says so, as for
    ``nndl train``'s history files."""
    small = (mnist.train.images[:500], mnist.train.labels[:500])
    runs = [
        nndl.Network([784, 10, 10], seed=0).SGD(small, 1, 10, eta, test_data=mnist.test, log=None) for eta in (3.0, 0.5)
    ]
    fig = plots.learning_curves(runs)
    assert [t.get_text() for t in fig.legends[0].texts] == ["η = 3, evaluation data", "η = 0.5, evaluation data"]
    # against a run of nndl train, only the settings both recorded and that differ
    other = History([EpochResult(0, 1.0, 1, 2, 0.5, 0.1)], {**TrainConfig(sizes=(784, 10, 10)).to_dict(), "eta": 3.0})
    assert "None" not in " ".join(plots.run_labels([runs[0].settings, other.settings]))


def test_a_legend_names_data_that_is_not_a_path(tmp_path):
    """A history file may say anything: a number as its data is still a label."""
    for n, data in enumerate((3, "x.npz")):
        History([EpochResult(0, 1.0, 1, 2, 0.5, 0.1)], {"data": data}).save(tmp_path / f"h{n}.json")
    out = tmp_path / "curves.png"
    assert main(["plot", "history", str(tmp_path / "h0.json"), str(tmp_path / "h1.json"), "--out", str(out)]) == 0
    assert png_shape(out)[2] == 4
    assert plots.run_labels([{"data": 3}, {"data": "/x/mine.npz"}, {"data": None}]) == [
        "data 3",
        "data mine.npz",
        "bundled MNIST",
    ]
