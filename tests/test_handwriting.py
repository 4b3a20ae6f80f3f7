"""The handwriting set: MNIST's test files in a folder, changed atomically,
bounded, and refused when damaged or foreign."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import write_idx

from nndl import DataError, Network
from nndl import handwriting as hw
from nndl.data import read_idx
from nndl.handwriting import IMAGES, LABELS, HandwritingSet, accuracy_by_digit


def marked(k: int) -> np.ndarray:
    """A 28 x 28 drawing that says which it is: pixel (0, 0) holds ``k``."""
    image = np.zeros((28, 28), np.uint8)
    image[0, 0] = k
    image[10:18, 12:16] = 200
    return image


def check_pairs(samples) -> None:
    """Every drawing carries its own label (drawing k was saved with label k % 10)."""
    assert np.array_equal(samples.images[:, 0, 0] % 10, samples.labels)


def test_drawings_are_kept_as_mnist_test_files(tmp_path):
    folder = tmp_path / "a" / "b"  # missing: made on the first save
    s = HandwritingSet(folder)
    assert len(s.read()) == 0 and not folder.exists()
    for k in range(12):
        s.add(marked(k), k % 10)
    images, labels = read_idx(folder / IMAGES), read_idx(folder / LABELS)
    assert images.shape == (12, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [k % 10 for k in range(12)]
    assert np.array_equal(images[5], marked(5))
    samples = s.read()
    assert samples.counts() == [2, 2] + [1] * 8
    check_pairs(samples)
    assert sorted(os.listdir(folder)) == [IMAGES, LABELS]  # nothing left behind


def test_delete_removes_one_drawing_and_checks_the_count(tmp_path):
    s = HandwritingSet(tmp_path)
    for k in range(4):
        s.add(marked(k), k)
    assert s.delete(1, expect=4).labels.tolist() == [0, 2, 3]
    with pytest.raises(hw.SetChanged, match="now holds 3 drawings, not 4"):
        s.delete(0, expect=4)
    with pytest.raises(DataError, match="no drawing 3 in a set of 3"):
        s.delete(3)
    assert s.read().images[:, 0, 0].tolist() == [0, 2, 3]


def test_the_set_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(hw, "MAX_SAMPLES", 3)
    s = HandwritingSet(tmp_path)
    for k in range(3):
        s.add(marked(k), k)
    with pytest.raises(hw.SetFull, match="holds 3 drawings, the most it keeps"):
        s.add(marked(3), 3)
    assert len(s.read()) == 3


def test_a_folder_too_big_to_be_a_set_is_refused_unread(tmp_path, monkeypatch):
    s = HandwritingSet(tmp_path)
    for k in range(3):
        s.add(marked(k), k)
    monkeypatch.setattr(hw, "MAX_SAMPLES", 2)
    with pytest.raises(DataError, match="more than a set of 2 drawings"):
        s.read()


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda f: (f / IMAGES).write_bytes(b"not an idx file at all"), "damaged"),
        (lambda f: (f / LABELS).unlink(), "t10k-labels-idx1-ubyte is missing"),
        (lambda f: write_idx(f / LABELS, np.zeros(2, np.uint8)), "3 images but 2 labels"),
        (lambda f: write_idx(f / LABELS, np.array([1, 2, 11], np.uint8)), "labels (digits 0 to 9)"),
        (lambda f: write_idx(f / IMAGES, np.zeros((3, 20, 20), np.uint8)), "not a handwriting set's images"),
        (lambda f: (f / IMAGES).write_bytes(b"\x1f\x8b" + bytes(100)), "compressed"),
        (lambda f: write_idx(f / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8)), "another data set"),
        (lambda f: (f / "t10k-images-idx3-ubyte.gz").write_bytes(b""), "another data set"),
    ],
)
def test_damaged_or_foreign_sets_are_refused_and_left_as_they_are(tmp_path, damage, words):
    s = HandwritingSet(tmp_path)
    for k in range(3):
        s.add(marked(k), k)
    damage(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for attempt in (s.read, lambda: s.add(marked(3), 3), lambda: s.delete(0)):
        with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)")):
            attempt()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_folder_that_cannot_be_made_or_is_a_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        HandwritingSet(afile).add(marked(1), 1)
    with pytest.raises(DataError, match="cannot create the handwriting set's folder"):
        HandwritingSet(afile / "set").add(marked(1), 1)


# -- a change is never half made ----------------------------------------------------


class Crash(BaseException):
    """The process dies here."""


@pytest.mark.parametrize("crash_at", range(4))
@pytest.mark.parametrize("change", ["add", "delete"])
def test_a_writer_killed_at_any_point_leaves_the_old_set_or_the_new(tmp_path, monkeypatch, crash_at, change):
    """The writer dies at its k-th rename (two inside atomic_write, two
    moving the pair into place); the next to open the set finds a whole
    one, old or new, and a reader that cannot finish the change (nndl
    evaluate) sees the counts differ rather than a wrong pairing."""
    s = HandwritingSet(tmp_path)
    for k in range(5):
        s.add(marked(k), k)
    renames = []
    real = os.replace

    def dying(src, dst):
        if len(renames) == crash_at:
            raise Crash
        renames.append(dst)
        real(src, dst)

    monkeypatch.setattr(os, "replace", dying)
    with pytest.raises(Crash):
        s.add(marked(5), 5) if change == "add" else s.delete(2)
    monkeypatch.setattr(os, "replace", real)
    images, labels = read_idx(tmp_path / IMAGES), read_idx(tmp_path / LABELS)
    # between the pair's two renames a reader sees the counts differ; else a whole pair
    assert (len(images) != len(labels)) == (crash_at == 3)
    samples = s.read()  # finishes or forgets the change
    check_pairs(samples)
    made = crash_at >= 2  # the labels' .new file is where the change is made
    expected = (6 if change == "add" else 4) if made else 5
    assert len(samples) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == [IMAGES, LABELS]


@pytest.mark.slow
def test_a_killed_server_never_leaves_a_damaged_set(tmp_path):
    """A real process saving drawings as fast as it can, killed with SIGKILL
    several times: each time the set reads whole, every drawing with its own
    label, and no drawing saved before is lost."""
    script = textwrap.dedent(
        f"""
        import numpy as np
        from nndl.handwriting import HandwritingSet
        s = HandwritingSet({str(tmp_path)!r})
        n = len(s.read())
        print("ready", flush=True)
        while True:
            image = np.zeros((28, 28), np.uint8)
            image[0, :2] = divmod(n, 256)
            s.add(image, n % 10)
            n += 1
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    seen = 0
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
        try:
            assert proc.stdout.readline() == b"ready\n"
            # let it save a few drawings (synchronised on the files, not the clock)
            while not (tmp_path / LABELS).exists() or len(read_idx(tmp_path / LABELS)) < seen + 3:
                assert proc.poll() is None, "the writer died on its own"
                time.sleep(0.005)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        samples = HandwritingSet(tmp_path).read()
        marks = samples.images[:, 0, 0].astype(int) * 256 + samples.images[:, 0, 1]
        assert np.array_equal(marks, np.arange(len(samples)))  # none lost, none shuffled
        assert np.array_equal(samples.labels, np.arange(len(samples)) % 10)
        assert len(samples) >= seen + 3
        seen = len(samples)


def test_accuracy_by_digit_is_what_the_network_reads(tmp_path, mnist):
    net = Network([784, 30, 10], seed=0)
    net.SGD((mnist.train.images[:1000], mnist.train.labels[:1000]), 1, 10, 3.0, log=None)
    s = HandwritingSet(tmp_path)
    for image, label in zip(mnist.test.images[:60], mnist.test.labels[:60]):
        s.add(image.reshape(28, 28), int(label))
    scored = accuracy_by_digit(net, s.read())
    # the oracle: the network's own evaluate on the files as MNIST's loader reads them
    images, labels = read_idx(tmp_path / IMAGES).reshape(-1, 784), read_idx(tmp_path / LABELS)
    assert scored["total_correct"] == net.evaluate((images, labels)) and scored["total"] == 60
    for d in range(10):
        mine = labels == d
        assert scored["saved"][d] == mine.sum()
        assert scored["correct"][d] == (net.evaluate((images[mine], labels[mine])) if mine.any() else 0)
    assert accuracy_by_digit(net, HandwritingSet(tmp_path / "none").read())["total"] == 0
