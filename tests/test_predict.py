"""``nndl predict`` and ``nndl serve`` from the command line, and the default model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from drawing import draw, mnist_on_paper
from PIL import Image

from nndl import DataError, predict
from nndl.network import Network
from nndl.predict import CACHE_ENV, bundled_model, bundled_record, cached_model, cached_model_path, default_model
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


def test_cached_model_is_trained_once_then_cached(tmp_path, monkeypatch):
    """A model for given settings is trained once, written (atomically) to
    the cache folder, and read from there afterwards."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    small = TrainConfig(sizes=(784, 10, 10), epochs=1)
    heard: list[str] = []
    first = cached_model(small, say=heard.append)
    path = cached_model_path(small)
    assert path.parent == tmp_path / "cache" and path.exists()
    assert "Training a model" in heard[0] and str(path) in heard[0]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left
    heard.clear()
    again = cached_model(small, say=heard.append)
    assert heard == [f"Using the model {path}"]
    assert all(np.array_equal(a, b) for a, b in zip(first.weights, again.weights))
    # other settings get their own file
    assert cached_model_path(TrainConfig()) != path
    # a cached file damaged later is made again, not fatal
    path.write_bytes(path.read_bytes()[:100])
    heard.clear()
    again = cached_model(small, say=heard.append)
    assert "unusable" in heard[0] and "Training a model" in heard[1]
    assert all(np.array_equal(a, b) for a, b in zip(first.weights, again.weights))  # same seed, same model
    assert Network.load(path).sizes == [784, 10, 10]


def test_the_shipped_default_model_is_what_its_record_says(mnist):
    """The default model is in the package: its digest, settings and
    accuracy on MNIST's test digits are those recorded beside it, and the
    settings are those of the script that makes it."""
    import importlib.util

    record = bundled_record()
    net = bundled_model()
    assert net.sizes == record["settings"]["sizes"] and net.settings == record["settings"]
    assert net.evaluate(mnist.test) / len(mnist.test) == record["accuracy"]["mnist_test"] >= 0.98
    script = Path(__file__).resolve().parents[1] / "scripts" / "make_default_model.py"
    spec = importlib.util.spec_from_file_location("make_default_model", script)
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    assert maker.settings() == record["settings"]


def test_predict_without_model_uses_the_shipped_model(tmp_path):
    """No training and nothing cached: the shipped model reads at once."""
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}
    seven = tmp_path / "seven.png"
    draw(7, canvas=(400, 400), box=(150, 120, 220), pen=22).save(seven)
    r = nndl("predict", str(seven), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "Using the default model (784 100 10, trained on expanded MNIST)"
    assert r.stdout.startswith(f"{seven}: 7")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("damage", ["truncate", "replaced", "record"])
def test_a_damaged_default_model_falls_back_to_the_notebooks_run(tmp_path, monkeypatch, damage):
    """A shipped model whose bytes no longer match its digest is never
    used: the notebook's run is trained once and cached instead."""
    folder = tmp_path / "resources"
    folder.mkdir()
    for name in (predict.BUNDLED_MODEL, predict.BUNDLED_RECORD):
        (folder / name).write_bytes((predict.RESOURCES / name).read_bytes())
    model = folder / predict.BUNDLED_MODEL
    raw = bytearray(model.read_bytes())
    if damage == "truncate":
        model.write_bytes(raw[: len(raw) // 2])
    elif damage == "replaced":  # a readable model, but not the one the record describes
        Network([784, 100, 10], seed=1, dtype=np.float32).save(model)
    else:
        (folder / predict.BUNDLED_RECORD).write_text("{not json")
    monkeypatch.setattr(predict, "RESOURCES", folder)
    monkeypatch.setattr(predict, "FALLBACK", TrainConfig(sizes=(784, 10, 10), epochs=1))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(DataError, match="SHA-256" if damage != "record" else "record of the default model"):
        bundled_model()
    heard: list[str] = []
    net = default_model(say=heard.append)
    assert "shipped with nndl is unusable" in heard[0] and "Training a model" in heard[1]
    assert net.sizes == [784, 10, 10] and cached_model_path(predict.FALLBACK).exists()


def test_serve_refuses_a_busy_port(digit_model):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = nndl("serve", "--model", str(digit_model), "--port", str(port))
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1 port {port}" in r.stderr and "Traceback" not in r.stderr
