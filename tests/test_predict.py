"""``nndl predict`` and ``nndl serve`` from the command line, and the default model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from drawing import draw, mnist_on_paper
from PIL import Image

from nndl.network import Network
from nndl.predict import CACHE_ENV, default_model, default_model_path
from nndl.train import TrainConfig


def nndl(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nndl", *args], capture_output=True, text=True, timeout=300, env=env or os.environ
    )


@pytest.fixture
def images(tmp_path, mnist, digit_model):
    """Three MNIST test digits the model reads right, as a person's files:
    dark on light, a small PNG scan, a large JPEG and a large PNG."""
    net = Network.load(digit_model)
    right = np.flatnonzero(net.predict(mnist.test.images[:40]) == mnist.test.labels[:40])[:3]
    paths, labels = [], []
    for k, (side, ext) in zip(right, [(28, "png"), (300, "jpg"), (120, "png")]):
        path = tmp_path / f"digit{k}.{ext}"
        mnist_on_paper(mnist.test.images[k], side).convert("RGB").save(path)
        paths.append(str(path))
        labels.append(int(mnist.test.labels[k]))
    return paths, labels


def test_predict_prints_path_digit_and_scores(digit_model, images):
    paths, labels = images
    r = nndl("predict", str(digit_model), *paths)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    for line, path, label in zip(lines, paths, labels):
        head, scores = line.split("   ")
        assert head == f"{path}: {label}"
        values = [float(s) for s in scores.split()]
        assert len(values) == 10 and int(np.argmax(values)) == label


def test_predict_json_and_show_input(digit_model, images, tmp_path):
    paths, labels = images
    shown = tmp_path / "seen"
    r = nndl("predict", "--json", "--model", str(digit_model), *paths, "--show-input", str(shown))
    assert r.returncode == 0, r.stderr
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    assert [a["path"] for a in answers] == paths
    assert [a["digit"] for a in answers] == labels
    assert all(len(a["scores"]) == 10 for a in answers)
    for path in paths:
        seen = np.asarray(Image.open(shown / (os.path.basename(path).rsplit(".", 1)[0] + ".png")))
        assert seen.shape == (28, 28) and seen.max() == 255 and seen[0].max() == 0


def test_bad_image_is_one_line_and_exit_2(digit_model, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("shopping list")
    for args, words in [
        ([str(text)], "notes.png is not an image"),
        ([str(tmp_path / "gone.png")], "no such file"),
    ]:
        r = nndl("predict", str(digit_model), *args)
        assert r.returncode == 2
        assert words in r.stderr and "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1
        assert r.stdout == ""


def test_default_model_is_trained_once_then_cached(tmp_path, monkeypatch):
    """Without a model file the default settings are trained once, written
    (atomically) to the cache folder, and read from there afterwards."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    small = TrainConfig(sizes=(784, 10, 10), epochs=1)
    heard: list[str] = []
    first = default_model(small, say=heard.append)
    path = default_model_path(small)
    assert path.parent == tmp_path / "cache" and path.exists()
    assert "training the default one" in heard[0] and str(path) in heard[0]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left
    heard.clear()
    again = default_model(small, say=heard.append)
    assert heard == [f"Using the default model {path}"]
    assert all(np.array_equal(a, b) for a, b in zip(first.weights, again.weights))
    # other settings get their own file
    assert default_model_path(TrainConfig()) != path
    # a cached file damaged later is made again, not fatal
    path.write_bytes(path.read_bytes()[:100])
    heard.clear()
    again = default_model(small, say=heard.append)
    assert "unusable" in heard[0] and "training the default one" in heard[1]
    assert all(np.array_equal(a, b) for a, b in zip(first.weights, again.weights))  # same seed, same model
    assert Network.load(path).sizes == [784, 10, 10]


def test_predict_without_model_uses_the_default_settings(tmp_path):
    """The real default: TrainConfig() trained on first use, said on stderr."""
    env = {**os.environ, CACHE_ENV: str(tmp_path)}
    seven = tmp_path / "seven.png"
    draw(7, canvas=(400, 400), box=(150, 120, 220), pen=22).save(seven)
    r = nndl("predict", str(seven), env=env)
    assert r.returncode == 0, r.stderr
    assert "training the default one (784 30 10, 10 epochs, mini-batch 10, eta 3.0)" in r.stderr
    assert r.stdout.startswith(f"{seven}: 7")
    r = nndl("predict", "--json", str(seven), env=env)
    assert "Using the default model" in r.stderr and "Epoch" not in r.stderr
    assert json.loads(r.stdout)["digit"] == 7
    model = Network.load(next(tmp_path.glob("model-*.npz")))
    assert model.sizes == [784, 30, 10]


def test_serve_refuses_a_busy_port(digit_model):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = nndl("serve", "--model", str(digit_model), "--port", str(port))
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1 port {port}" in r.stderr and "Traceback" not in r.stderr
