"""The ``nndl`` command end to end, run as a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FASHION = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist


def nndl(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nndl", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def epoch_lines(out: str) -> list[tuple[int, int, int]]:
    return [tuple(map(int, m)) for m in re.findall(r"^Epoch (\d+): (\d+) / (\d+) \(", out, re.M)]


@pytest.mark.slow
def test_default_train_is_the_notebooks_run():
    """No flags: [784, 30, 10], 10 epochs, mini-batch 10, eta 3.0 on bundled MNIST."""
    r = nndl("train")
    assert r.returncode == 0, r.stderr
    lines = epoch_lines(r.stdout)
    assert [e for e, _, _ in lines] == list(range(10))
    assert all(total == 10_000 for _, _, total in lines)
    assert lines[-1][1] >= 9350
    assert "Traceback" not in r.stderr


def test_train_save_evaluate(tmp_path, tiny_npz):
    model = tmp_path / "m.npz"
    r = nndl(
        "train",
        "--data",
        str(tiny_npz),
        "--epochs",
        "2",
        "--sizes",
        "784",
        "8",
        "10",
        "--batch-size",
        "5",
        "--eta",
        "1.5",
        "--seed",
        "3",
        "--dtype",
        "float32",
        "--save",
        str(model),
    )
    assert r.returncode == 0, r.stderr
    assert [(e, t) for e, _, t in epoch_lines(r.stdout)] == [(0, 20), (1, 20)]
    assert str(model) in r.stderr
    r2 = nndl("evaluate", str(model), "--data", str(tiny_npz))
    assert r2.returncode == 0, r2.stderr
    total, *per_digit = r2.stdout.splitlines()
    assert re.fullmatch(r"\d+ / 20 \(\d+\.\d\d %\)", total)
    assert int(total.split()[0]) == epoch_lines(r.stdout)[-1][1]
    assert len(per_digit) == 10
    from nndl import Network

    net = Network.load(model)
    assert net.dtype == np.float32 and net.settings["eta"] == 1.5 and net.settings["sizes"] == [784, 8, 10]


def test_eval_on_validation(tiny_npz):
    r = nndl("train", "--data", str(tiny_npz), "--epochs", "1", "--eval", "validation")
    assert r.returncode == 0 and epoch_lines(r.stdout)[0][2] == 10


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--epochs", "0"], "epochs must be an integer from 1"),
        (["train", "--batch-size", "0"], "batch size must be"),
        (["train", "--eta", "-1"], "eta must be a finite number > 0, got -1.0"),
        (["train", "--eta", "nan"], "eta must be a finite number > 0, got nan"),
        (["train", "--sizes", "100", "10"], "input width of the data, 784 pixels; got sizes [100, 10]"),
        (["train", "--sizes", "784", "30", "5"], "number of classes in the data, 10; got sizes [784, 30, 5]"),
        (["train", "--sizes", "784", "0", "10"], "at least 1 neuron"),
        (["train", "--sizes", "784", "100000", "100000", "10"], "parameters; at most"),
        (["train", "--data", "/nonexistent/mnist.pkl.gz"], "no such file or folder: /nonexistent/mnist.pkl.gz"),
        (["train", "--epochs", "three"], "invalid int value: 'three'"),
        (["train", "--dtype", "float16"], "invalid choice: 'float16'"),
        (["evaluate", "/nonexistent/m.npz"], "no such file: /nonexistent/m.npz"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = nndl(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_evaluate_a_test_set_alone_per_digit(tmp_path, digit_model, mnist):
    """A folder of just the t10k pair (as a handwriting set is saved) is read
    as a test set by evaluate and plot confusion; evaluate prints the total,
    then each digit's share right, which add up to it; training on it is one
    line and exit status 2."""
    from conftest import write_idx

    from nndl import Network

    folder = tmp_path / "my-digits"
    folder.mkdir()
    images, labels = mnist.test.images[:200], mnist.test.labels[:200].copy()
    labels[labels == 7] = 1  # a set with no 7s
    write_idx(folder / "t10k-images-idx3-ubyte", images.reshape(-1, 28, 28))
    write_idx(folder / "t10k-labels-idx1-ubyte", labels)
    r = nndl("evaluate", str(digit_model), "--data", str(folder))
    assert r.returncode == 0, r.stderr
    total, *rows = r.stdout.splitlines()
    right = Network.load(digit_model).predict(images) == labels  # the oracle
    assert total == f"{right.sum()} / 200 ({100 * right.mean():.2f} %)"
    assert len(rows) == 10
    for digit, row in enumerate(rows):
        m = re.fullmatch(r"  (\d): +(\d+) / +(\d+) \((.*)\)", row)
        assert m and int(m[1]) == digit, row
        assert (int(m[2]), int(m[3])) == (right[labels == digit].sum(), (labels == digit).sum())
        assert m[4] == ("none in the set" if digit == 7 else f"{100 * right[labels == digit].mean():.2f} %")
    out = tmp_path / "confusion.png"
    r = nndl("plot", "confusion", str(digit_model), "--data", str(folder), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = tmp_path / "never.npz"
    r = nndl("train", "--data", str(folder), "--epochs", "1", "--save", str(model))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert "holds only a test set" in r.stderr and "nothing to train on" in r.stderr
    assert not model.exists()
    r = nndl("evaluate", str(digit_model), "--data", str(folder), "--eval", "validation")
    assert r.returncode == 2 and "no validation part" in r.stderr and r.stdout == ""


def test_bad_model_file_and_a_good_model_is_not_overwritten(tmp_path, tiny_npz):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    r = nndl("evaluate", str(bad))
    assert r.returncode == 2 and "not a valid .npz" in r.stderr
    good = tmp_path / "good.npz"
    assert nndl("train", "--data", str(tiny_npz), "--epochs", "1", "--save", str(good)).returncode == 0
    before = good.read_bytes()
    r = nndl("train", "--data", str(tiny_npz), "--sizes", "784", "5", "--save", str(good))
    assert r.returncode == 2
    assert good.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_trains_on_real_idx_files_made_elsewhere():
    """Fashion-MNIST as Debian packages it: four gzip'd IDX files, MNIST's layout."""
    if not FASHION.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{FASHION} is missing: CI must apt-get install dataset-fashion-mnist")
        pytest.skip("apt-get install dataset-fashion-mnist to run this test")
    r = nndl("train", "--data", str(FASHION), "--epochs", "1", "--eval", "validation")
    assert r.returncode == 0, r.stderr
    ((_, correct, total),) = epoch_lines(r.stdout)
    assert total == 10_000 and correct > 6000  # ten classes: chance is 1,000


def test_expand_trains_each_epoch_on_that_epochs_distortions(tmp_path, tiny_npz):
    """``--expand``: epoch j trains on nndl.expand.epoch_images(images, seed, j),
    the same as calling SGD one epoch at a time on those images by hand."""
    from nndl import Network, TrainConfig, load, train
    from nndl.cli import main
    from nndl.expand import epoch_images

    data = load(tiny_npz)
    config = TrainConfig(sizes=(784, 8, 10), epochs=2, batch_size=5, seed=4, data=str(tiny_npz), expand=True)
    net, history = train(config, data=data, log=None)
    by_hand = Network([784, 8, 10], seed=4, dtype="float32")
    for epoch in range(2):
        images = epoch_images(data.train.images, 4, epoch)
        by_hand.SGD((images, data.train.labels), 1, 5, 3.0, log=None)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases, by_hand.weights + by_hand.biases))
    assert [e.epoch for e in history] == [0, 1] and history.settings["expand"] is True
    plain, _ = train(TrainConfig(sizes=(784, 8, 10), epochs=2, batch_size=5, seed=4), data=data, log=None)
    assert not np.array_equal(plain.weights[0], net.weights[0])
    assert main(["train", "--data", str(tiny_npz), "--sizes", "784", "8", "10", "--epochs", "1", "--expand"]) == 0


@pytest.fixture(scope="module")
def part_of_mnist(tmp_path_factory, mnist):
    path = tmp_path_factory.mktemp("part") / "part.npz"
    np.savez(
        path,
        train_images=mnist.train.images[:6000],
        train_labels=mnist.train.labels[:6000],
        validation_images=mnist.validation.images[:1000],
        validation_labels=mnist.validation.labels[:1000],
        test_images=mnist.test.images[:3000],
        test_labels=mnist.test.labels[:3000],
    )
    return path


@pytest.mark.parametrize(
    "engine",
    ["auto", "numba", "numpy", "reference", "torch", pytest.param("pytensor", marks=pytest.mark.slow)],
)
def test_epoch_lines_equal_evaluate_even_when_outputs_tie(tmp_path, capsys, part_of_mnist, engine):
    """eta 100 saturates the outputs, so many test digits have several at
    exactly 1.0: the epoch line breaks those ties as ``nndl evaluate`` does
    (the first, as argmax), whichever engine trained."""
    pytest.importorskip({"torch": "torch", "pytensor": "pytensor"}.get(engine, "numpy"))
    from nndl.cli import main

    model = tmp_path / "e100.npz"
    data = ["--data", str(part_of_mnist)]
    assert main(["train", *data, "--eta", "100", "--epochs", "3", "--engine", engine, "--save", str(model)]) == 0
    last = epoch_lines(capsys.readouterr().out)[-1]
    assert main(["evaluate", str(model), *data]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"{last[1]} / 3000 (")
