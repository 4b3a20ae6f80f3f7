"""Faults while training and writing: divergence stops cleanly, the book's
eta = 100 does not, and no write ever leaves a broken file behind."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import warnings

import numpy as np
import pytest

from nndl import DataError, Network, TrainConfig, loop, train
from nndl.checkpoint import load_checkpoint
from nndl.cli import main
from nndl.files import atomic_write
from nndl.loop import DivergedError


@pytest.fixture(scope="module")
def mnist_2000(mnist, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "mnist2000.npz"
    np.savez(
        path,
        x_train=mnist.train.images[:2000],
        y_train=mnist.train.labels[:2000],
        x_test=mnist.test.images[:500],
        y_test=mnist.test.labels[:500],
    )
    return path


def temporary_files(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# -- numerical faults ------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_books_eta_100_runs_cleanly_from_the_command_line(mnist_2000, capsys, dtype):
    """Learning fails at eta = 100 (the book's point), but nothing overflows,
    nothing warns and the run finishes."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status = main(["train", "--data", str(mnist_2000), "--eta", "100", "--epochs", "2", "--dtype", dtype])
    out, err = capsys.readouterr()
    assert status == 0 and err == ""
    assert out.count("Epoch") == 2


def test_divergence_is_one_line_and_keeps_the_saved_model(tmp_path, mnist_2000, capsys):
    model = tmp_path / "model.npz"
    assert main(["train", "--data", str(mnist_2000), "--epochs", "1", "--save", str(model)]) == 0
    before = model.read_bytes()
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        status = main(["train", "--data", str(mnist_2000), "--eta", "1e308", "--save", str(model)])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert (
        err
        == "nndl train: error: training diverged in epoch 0: the numbers overflowed (eta = 1e+308); try a smaller eta\n"
    )
    assert model.read_bytes() == before and temporary_files(tmp_path) == []


def test_divergence_keeps_the_last_good_checkpoint(tmp_path, mnist, monkeypatch):
    """Epoch 1 is made to blow up; the checkpoint still holds epoch 0's run."""
    data = (mnist.train.images[:1000], mnist.train.labels[:1000])
    from nndl import Dataset, Split

    small = Dataset(Split(*data), Split(*data), Split(*data))
    config = TrainConfig(sizes=(784, 10, 10), epochs=3)
    after_epoch_0, _ = train(TrainConfig(sizes=(784, 10, 10), epochs=1), data=small, log=None)

    train_epoch = loop.train_epoch

    def blow_up_in_epoch_1(net, *args, epoch=0, **kwargs):
        if epoch == 1:
            net.weights[0][:] = 1e308
        return train_epoch(net, *args, epoch=epoch, **kwargs)

    monkeypatch.setattr(loop, "train_epoch", blow_up_in_epoch_1)
    path = tmp_path / "run.npz"
    with pytest.raises(DivergedError, match="training diverged in epoch 1: .* try a smaller eta"):
        train(config, data=small, log=None, checkpoint=path)
    saved = load_checkpoint(path)
    assert saved.position.epoch == 1 and len(saved.history) == 1
    for p, q in zip(saved.network.weights + saved.network.biases, after_epoch_0.weights + after_epoch_0.biases):
        assert np.array_equal(p, q)


def test_non_finite_parameters_without_an_overflow_are_caught(mnist, monkeypatch):
    """A faster path that does not report overflow still cannot slip a NaN past the epoch."""
    monkeypatch.setattr(loop, "train_range", lambda net, *args: net.biases[0].fill(np.nan))
    net = Network([784, 5, 10], seed=0)
    with pytest.raises(DivergedError, match="in epoch 0: weights or biases are no longer finite"):
        net.SGD((mnist.train.images[:50], mnist.train.labels[:50]), 2, 10, 3.0, log=None)


# -- writes are atomic -------------------------------------------------------------


class Boom(Exception):
    pass


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_a_write_that_fails_midway_leaves_the_old_file(tmp_path, error):
    target = tmp_path / "model.npz"
    target.write_bytes(b"the old, good file")

    def half_then_fail(f):
        f.write(b"half of a new fi")
        raise error

    with pytest.raises(error):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"the old, good file" and temporary_files(tmp_path) == []


def test_a_full_disk_is_one_clear_error(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old")

    def disk_full(f):
        f.write(b"abc")
        raise OSError(28, "No space left on device")

    with pytest.raises(DataError, match=f"cannot write {target}: No space left on device"):
        atomic_write(target, disk_full)
    assert target.read_bytes() == b"old" and temporary_files(tmp_path) == []
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(DataError, match="cannot write .*folder.npz: it is a folder"):
        atomic_write(tmp_path / "folder.npz", lambda f: f.write(b"x"))
    assert temporary_files(tmp_path) == []


def test_models_and_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    net = Network([4, 3, 2], seed=0)
    model = net.save(tmp_path / "m.npz")
    before = model.read_bytes()

    def savez_then_fail(f, **arrays):
        f.write(b"PK\x03\x04 a few bytes of a zip")
        raise Boom

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(Boom):
        Network([4, 3, 2], seed=1).save(model)
    assert model.read_bytes() == before and temporary_files(tmp_path) == []
    monkeypatch.undo()
    assert Network.load(model).sizes == [4, 3, 2]


def test_a_process_killed_mid_write_leaves_the_old_file(tmp_path):
    """SIGKILL, no clean-up at all: the target still holds the old model."""
    model = Network([4, 3, 2], seed=0).save(tmp_path / "m.npz")
    before = model.read_bytes()
    script = f"""
import os, signal
from nndl.files import atomic_write
def write(f):
    f.write(b"PK" + bytes(100_000))
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
atomic_write({str(model)!r}, write)
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert r.returncode == -signal.SIGKILL
    assert model.read_bytes() == before and Network.load(model).sizes == [4, 3, 2]


def test_save_to_a_missing_folder_fails_before_training(tmp_path, capsys):
    status = main(["train", "--epochs", "1", "--save", str(tmp_path / "nope" / "m.npz")])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""  # no epoch was trained
    assert err == f"nndl train: error: cannot write {tmp_path}/nope/m.npz: folder {tmp_path}/nope does not exist\n"


def test_written_files_get_the_usual_permissions(tmp_path):
    """A new file gets 0666 less the umask, as open() would give it; a
    rewritten file keeps its own."""
    umask = os.umask(0o027)
    try:
        new = atomic_write(tmp_path / "new.npz", lambda f: f.write(b"x"))
        assert stat.S_IMODE(new.stat().st_mode) == 0o640
        os.chmod(new, 0o604)
        atomic_write(new, lambda f: f.write(b"y"))
        assert stat.S_IMODE(new.stat().st_mode) == 0o604 and new.read_bytes() == b"y"
    finally:
        os.umask(umask)
