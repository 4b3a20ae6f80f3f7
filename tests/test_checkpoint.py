"""Checkpoints: a run interrupted (by a real signal) and resumed ends bit for
bit where the uninterrupted run ends; broken checkpoints are refused."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from nndl import DataError, Dataset, History, Network, Split, TrainConfig, loop, train
from nndl.checkpoint import Checkpointer, StoppedAtOnce, load_checkpoint
from nndl.history import EpochResult
from nndl.loop import Interrupted, Position
from nndl.train import resume


def nndl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nndl", *args], capture_output=True, text=True, timeout=300)


def same_parameters(a: Network, b: Network) -> bool:
    return all(np.array_equal(p, q) and p.dtype == q.dtype for p, q in zip(a.weights + a.biases, b.weights + b.biases))


def subset(mnist, n_train: int, n_test: int) -> Dataset:
    return Dataset(
        Split(mnist.train.images[:n_train], mnist.train.labels[:n_train]),
        Split(mnist.validation.images[:n_test], mnist.validation.labels[:n_test]),
        Split(mnist.test.images[:n_test], mnist.test.labels[:n_test]),
        "subset",
    )


def write_npz(path, data: Dataset):
    np.savez(
        path,
        **{f"{p}_{k}": getattr(data[p], k) for p in ("train", "validation", "test") for k in ("images", "labels")},
    )
    return path


# -- in process: every place a run can stop -------------------------------------


def stop_on_check(monkeypatch, n: int) -> None:
    """Make the n-th check for a stop request answer yes, as a signal would."""
    calls = iter(range(1, 10**6))
    monkeypatch.setattr(Checkpointer, "stop", lambda self: next(calls) == n)


@pytest.fixture(scope="module")
def small(mnist):
    return subset(mnist, 2_500, 300)


@pytest.mark.parametrize(
    "stop_at, dtype", [(1, "float64"), (3, "float64"), (5, "float32"), (6, "float32"), (8, "float64")]
)
def test_resumed_run_is_bit_identical(tmp_path, small, stop_at, dtype, monkeypatch):
    """2,500 images in mini-batches of 10: 250 per epoch, checked for a stop
    after 100 and 200 and (but for the last) at the epoch's end: checks 1, 2,
    4, 5, 7, 8 fall inside epochs, 3 and 6 between them."""
    config = TrainConfig(sizes=(784, 12, 10), epochs=3, seed=5, dtype=dtype)
    reference, ref_history = train(config, data=small, log=None)
    stop_on_check(monkeypatch, stop_at)
    path = tmp_path / "run.npz"
    with pytest.raises(Interrupted) as caught:
        train(config, data=small, log=None, checkpoint=path)
    monkeypatch.undo()
    saved = load_checkpoint(path)
    assert caught.value.checkpoint == path and str(path) in str(caught.value)
    assert (saved.position.order is None) == (stop_at in (3, 6))
    net, history = resume(path, data=small, log=None)
    assert same_parameters(net, reference)
    assert [e.correct for e in history] == [e.correct for e in ref_history]
    assert [e.cost for e in history] == [e.cost for e in ref_history]
    assert history.settings == ref_history.settings
    # the checkpoint now holds the finished run; resuming it again does nothing
    again, _ = resume(path, data=small, log=None)
    assert same_parameters(again, reference) and load_checkpoint(path).position.epoch == 3


def test_checkpoint_after_every_epoch_holds_that_epoch(tmp_path, small):
    path = tmp_path / "run.npz"
    seen = []

    def look(result):
        saved = load_checkpoint(path)
        seen.append((saved.position.epoch, len(saved.history), saved.history[-1].correct == result.correct))

    train(TrainConfig(sizes=(784, 8, 10), epochs=2), data=small, log=None, checkpoint=path, on_epoch=look)
    assert seen == [(1, 1, True), (2, 2, True)]


def test_an_existing_checkpoint_is_never_started_over(tmp_path, small):
    path = tmp_path / "run.npz"
    path.write_bytes(b"an earlier run")
    with pytest.raises(Exception, match="already exists; resume it"):
        train(TrainConfig(sizes=(784, 8, 10), epochs=1), data=small, log=None, checkpoint=path)
    assert path.read_bytes() == b"an earlier run"


def test_resume_with_the_data_moved(tmp_path, small, monkeypatch):
    first, moved = write_npz(tmp_path / "a.npz", small), tmp_path / "b.npz"
    path = tmp_path / "run.npz"
    config = TrainConfig(sizes=(784, 8, 10), epochs=2, data=str(first))
    reference, _ = train(config, data=small, log=None)
    stop_on_check(monkeypatch, 4)  # inside epoch 1
    with pytest.raises(Interrupted):
        train(config, log=None, checkpoint=path)
    monkeypatch.undo()
    first.rename(moved)
    with pytest.raises(DataError, match=f"no such file or folder: {first}"):
        resume(path, log=None)
    net, history = resume(path, data=moved, log=None)
    assert same_parameters(net, reference) and history.settings["data"] == str(moved)


def test_resume_refuses_other_data(tmp_path, small, mnist):
    path = tmp_path / "run.npz"
    train(TrainConfig(sizes=(784, 8, 10), epochs=1), data=small, log=None, checkpoint=path)
    with pytest.raises(DataError, match="is not the data the run in"):
        resume(path, data=subset(mnist, 2_400, 300), log=None)


# -- the command, sent real signals ----------------------------------------------


@pytest.fixture(scope="module")
def long_run(mnist, tmp_path_factory):
    """12,000 images, mini-batch 10: 1,200 mini-batches an epoch, 12 groups
    of 100 between which a stop is checked."""
    data = subset(mnist, 12_000, 500)
    path = write_npz(tmp_path_factory.mktemp("long") / "long.npz", data)
    args = ["--data", str(path), "--sizes", "784", "30", "10", "--epochs", "2", "--seed", "3"]
    config = TrainConfig(sizes=(784, 30, 10), epochs=2, seed=3, data=str(path))
    reference, history = train(config, data=data, log=None)
    return args, reference, history


PAUSE_AFTER = Path(__file__).with_name("pause_after.py")


def interrupt(args: list[str], sig: int, ranges: int) -> tuple[subprocess.Popen, str, str]:
    """Run ``nndl train ARGS`` held still after its ``ranges``-th range of
    mini-batches (tests/pause_after.py), send ``sig`` once it says so, and
    let it finish: the signal lands at that known point on any machine."""
    proc = subprocess.Popen(
        [sys.executable, str(PAUSE_AFTER), str(ranges), "train", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr.readline() == "paused\n"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return proc, out, err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_epoch_then_resume_equals_the_uninterrupted_run(tmp_path, long_run, sig):
    args, reference, history = long_run
    ckpt, model = tmp_path / "run.ckpt.npz", tmp_path / "model.npz"
    # 12 ranges of 100 mini-batches an epoch: range 13 is the first of epoch 1
    proc, _, err = interrupt([*args, "--checkpoint", str(ckpt), "--save", str(model)], sig, ranges=13)
    assert proc.returncode == 128 + sig, err
    last = err.strip().splitlines()[-1]
    assert last == (
        f"nndl train: interrupted in epoch 1 before mini-batch {load_checkpoint(ckpt).position.batch} "
        f"by {signal.Signals(sig).name}; the run is saved in {ckpt}; go on with: nndl train --resume {ckpt}"
    )
    assert "Traceback" not in err
    assert not model.exists()  # an unfinished run is not a model
    saved = load_checkpoint(ckpt)
    assert saved.position.epoch == 1 and saved.position.order is not None  # stopped inside epoch 1
    assert saved.position.batch == 100
    r = nndl("train", "--resume", str(ckpt), "--save", str(model))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Epoch 1: ") and r.stdout.count("Epoch") == 1
    assert int(r.stdout.split()[2]) == history[1].correct
    assert same_parameters(Network.load(model), reference)


@pytest.mark.slow
def test_sigint_at_an_epoch_boundary_then_resume(tmp_path, mnist):
    """600 images: each epoch is one range of mini-batches; held after the
    first, the run stops between epochs 0 and 1."""
    data = subset(mnist, 600, 100)
    path = write_npz(tmp_path / "d.npz", data)
    args = ["--data", str(path), "--sizes", "784", "10", "10", "--epochs", "15"]
    reference, history = train(TrainConfig(sizes=(784, 10, 10), epochs=15, data=str(path)), data=data, log=None)
    ckpt = tmp_path / "run.npz"
    proc, out, err = interrupt([*args, "--checkpoint", str(ckpt)], signal.SIGINT, ranges=1)
    assert proc.returncode == 130, err
    saved = load_checkpoint(ckpt)
    assert saved.position.order is None and saved.position.epoch == 1
    assert f"interrupted after epoch {saved.position.epoch - 1} by SIGINT" in err
    assert out.count("Epoch") == saved.position.epoch
    model = tmp_path / "m.npz"
    r = nndl("train", "--resume", str(ckpt), "--save", str(model))
    assert r.returncode == 0, r.stderr
    assert same_parameters(Network.load(model), reference)
    assert [e.correct for e in load_checkpoint(ckpt).history] == [e.correct for e in history]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--eta", "1"], "--resume goes on with the checkpoint's own settings; drop --eta"),
        (["--epochs", "5", "--seed", "1"], "drop --epochs, --seed"),
        (["--data", "/nonexistent"], "no such file or folder: /nonexistent"),
    ],
)
def test_resume_flags_that_conflict_are_refused(tmp_path, small, extra, message):
    ckpt = tmp_path / "run.npz"
    data_path = write_npz(tmp_path / "d.npz", small)
    train(TrainConfig(sizes=(784, 8, 10), epochs=1, data=str(data_path)), data=small, log=None, checkpoint=ckpt)
    before = ckpt.read_bytes()
    r = nndl("train", "--resume", str(ckpt), *extra)
    assert r.returncode == 2 and message in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert ckpt.read_bytes() == before


# -- broken and doctored checkpoints ------------------------------------------------


@pytest.fixture
def good_checkpoint(tmp_path, small, monkeypatch):
    """A checkpoint of a run stopped inside epoch 0 (250 mini-batches)."""
    path = tmp_path / "run.npz"
    stop_on_check(monkeypatch, 1)
    with pytest.raises(Interrupted):
        train(TrainConfig(sizes=(784, 6, 10), epochs=2, dtype="float64"), data=small, log=None, checkpoint=path)
    monkeypatch.undo()
    return path


def doctor(path, **changes):
    """Rewrite the checkpoint with some arrays replaced: by an array, by the
    raw bytes of a ``.npy`` member, or (None) by nothing."""
    with zipfile.ZipFile(path) as z:
        members = {name[:-4]: z.read(name) for name in z.namelist()}
    for key, value in changes.items():
        if value is None:
            del members[key]
        elif isinstance(value, bytes):
            members[key] = value
        else:
            f = io.BytesIO()
            np.lib.format.write_array(f, value)
            members[key] = f.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for key, data in members.items():
            z.writestr(key + ".npy", data)


def lying_npy(shape, dtype) -> bytes:
    """A ``.npy`` member whose header claims ``shape`` but holds 16 bytes."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    return f.getvalue() + bytes(16)


def settings_with(path, **changes):
    with np.load(path) as f:
        settings = json.loads(str(f["settings"]))
    return np.array(json.dumps({**settings, **changes}))


@pytest.mark.parametrize("order", [[0, 1, 1, 3], [0, 1, 2, 4], [-1, 1, 2, 3], [3, 2, 1, 0]])
def test_one_permutation_check_for_checkpoints_and_sgd(good_checkpoint, monkeypatch, order):
    """A checkpoint's order and SGD's ``start`` are checked by one function,
    :func:`nndl.loop.is_permutation`: what it refuses, both refuse."""
    saved = np.array(order * 625, np.int64) + np.repeat(np.arange(625) * 4, 4)  # 2,500 places
    if min(order) < 0:  # the negative index stays negative
        saved[saved == saved.min()] = -1
    verdict = loop.is_permutation(saved)
    assert verdict == (sorted(order) == [0, 1, 2, 3])
    monkeypatch.setattr(loop, "is_permutation", lambda o: not verdict)  # the one check, turned round
    doctor(good_checkpoint, order=saved)
    with pytest.raises(DataError, match="order must be a permutation") if verdict else nullcontext():
        load_checkpoint(good_checkpoint)
    with pytest.raises(DataError, match="order must be a permutation") if verdict else nullcontext():
        loop.check_position(Position(0, saved, 0), len(saved), 250)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"format": np.array("nndl-model")}, "is not an nndl checkpoint file (it is tagged 'nndl-model')"),
        ({"format_version": np.array(99)}, "of format 99; this nndl reads format 1"),
        ({"rng": None}, "is not a complete checkpoint: it has no 'rng'"),
        ({"rng": np.array('{"bit_generator": "MT19937"}')}, "not a PCG64 state"),
        ({"rng": np.array('{"bit_generator": "PCG64", "state": 3}')}, "random generator state is invalid"),
        ({"epoch": np.array(7)}, "epoch must be an integer from 0 to 2, got 7"),
        ({"batch": np.array(250)}, "batch must be an integer from 0 to 249, got 250"),
        ({"order": np.zeros(2_500, np.int64)}, "order must be a permutation"),
        ({"history": np.array("[1, 2]")}, "history must list the 0 epochs"),
        ({"history": np.array("[" * 100_000)}, "history is not valid JSON"),
        ({"weights_0": np.full((6, 784), np.nan)}, "weights_0 holds non-finite values"),
        ({"weights_1": np.zeros((6, 10))}, "weights_1 must be float32/float64 of shape (10, 6)"),
        ({"weights_1": lying_npy((10**6, 10**3), "f8")}, "claims shape (1000000, 1000) of float64: more than 480"),
        ({"weights_1": lying_npy((10, 6), "f8")}, "is truncated: its header claims 480 bytes of data but it holds 16"),
        ({"settings": np.array("[]")}, "settings must be a JSON object"),
        ({"settings": np.array([object()])}, "holds Python objects; refusing to unpickle it"),
        ({"fingerprint": np.array(3.0)}, "fingerprint must be a text"),
    ],
)
def test_doctored_checkpoints_are_refused(good_checkpoint, changes, message):
    doctor(good_checkpoint, **changes)
    with pytest.raises(DataError) as caught:
        load_checkpoint(good_checkpoint)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"eta": "fast"}, "eta must be a finite number > 0, got 'fast'"),
        ({"epochs": 0}, "epochs must be an integer from 1"),
        ({"sizes": [784, 7, 10]}, "do not match its parameters"),
        ({"dtype": "float32"}, "do not match its parameters"),
        ({"seed": -4}, "settings hold seed '-4'"),
    ],
)
def test_checkpoints_with_bad_settings_are_refused(good_checkpoint, settings, message):
    doctor(good_checkpoint, settings=settings_with(good_checkpoint, **settings))
    with pytest.raises(DataError) as caught:
        load_checkpoint(good_checkpoint)
    assert message in str(caught.value)


@pytest.mark.parametrize("seconds", [10**400, float("nan"), True, "1"])
def test_history_records_must_hold_plain_numbers(good_checkpoint, seconds):
    record = asdict(EpochResult(0, seconds=0.5, correct=1, total=2, accuracy=0.5, cost=0.1))
    history = json.dumps([{**record, "seconds": seconds}])
    doctor(good_checkpoint, epoch=np.array(1), history=np.array(history))
    # (an integer of 401 digits is refused while the JSON is parsed)
    with pytest.raises(DataError, match="its history: epoch 0: seconds must be a number|history is not valid JSON"):
        load_checkpoint(good_checkpoint)
    doctor(good_checkpoint, history=np.array(json.dumps([record])))
    assert load_checkpoint(good_checkpoint).history[0].correct == 1


def test_a_doctored_checkpoint_is_one_line_and_exit_2(good_checkpoint):
    doctor(good_checkpoint, order=np.arange(2_500)[::-1].copy(), batch=np.array(999))
    r = nndl("train", "--resume", str(good_checkpoint))
    assert r.returncode == 2 and "batch must be an integer from 0 to 249, got 999" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_signals_ask_to_stop_once_then_stop_at_once(small, tmp_path):
    """Inside a Checkpointer the first SIGINT or SIGTERM only raises the flag;
    a second one interrupts at once; on the way out Ctrl-C is Ctrl-C again."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    net = Network([784, 4, 10], seed=0)
    saver = Checkpointer(tmp_path / "run.npz", net, TrainConfig(sizes=(784, 4, 10)), History(), small)
    with pytest.raises(KeyboardInterrupt):
        with saver:
            os.kill(os.getpid(), signal.SIGTERM)
            assert saver.stop() and saver.signum == signal.SIGTERM
            os.kill(os.getpid(), signal.SIGINT)
            pytest.fail("the second signal should have interrupted")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert not (tmp_path / "run.npz").exists()  # only an Interrupted run is saved on the way out


def test_a_second_signal_after_a_save_names_the_checkpoint_it_left_whole(small, tmp_path):
    path = tmp_path / "run.npz"
    net = Network([784, 4, 10], seed=0)
    saver = Checkpointer(path, net, TrainConfig(sizes=(784, 4, 10), dtype=str(net.dtype)), History(), small)
    with pytest.raises(StoppedAtOnce) as caught:
        with saver:
            saver.save(Position(0))
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            pytest.fail("the second signal should have interrupted")
    assert caught.value.checkpoint == path and caught.value.signum == signal.SIGINT
    assert str(path) in str(caught.value) and "SIGINT" in str(caught.value)
    assert load_checkpoint(path).position == Position(0)


def test_a_pytensor_run_resumes_on_pytensor(tmp_path, small, monkeypatch):
    """The checkpoint names the engine; resuming goes on with the same one,
    so the result is still the uninterrupted run's, bit for bit."""
    config = TrainConfig(sizes=(784, 12, 10), epochs=2, seed=5, engine="pytensor")
    reference, _ = train(config, data=small, log=None)
    stop_on_check(monkeypatch, 2)  # inside epoch 0
    path = tmp_path / "run.npz"
    with pytest.raises(Interrupted):
        train(config, data=small, log=None, checkpoint=path)
    monkeypatch.undo()
    net, _ = resume(path, data=small, log=None)
    assert net.engine == "pytensor"
    assert same_parameters(net, reference)
