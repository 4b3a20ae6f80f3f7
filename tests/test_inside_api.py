"""The drawing page's API for looking inside the network, teaching it and
keeping a handwriting set: answers checked against the library and the
book's update_mini_batch, bad requests refused with one line while the
server keeps serving, and nothing on disk changed unless asked."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from drawing import draw, encode, mnist_on_paper
from live import fetch, post, running

from nndl import ConfigError, DataError, Network, vectorized_result
from nndl import handwriting as hw
from nndl.cli import main
from nndl.data import read_idx
from nndl.handwriting import IMAGES, LABELS, HandwritingSet
from nndl.inside import brush, look
from nndl.serve.inside_api import MAX_JSON, check_save_to


def call(base: str, path: str, body=None, method: str | None = None) -> tuple[int, dict]:
    """A JSON command (or a GET without ``body``); the status and the JSON answer."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    status, _, answer = fetch(base, path, method or ("GET" if body is None else "POST"), data, "application/json")
    return status, json.loads(answer)


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def params(net: Network) -> list[np.ndarray]:
    return net.weights + net.biases


def downloaded(base: str) -> Network:
    status, headers, data = fetch(base, "/api/network.npz")
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    assert "attachment" in headers["content-disposition"]
    return load_bytes(data)


def load_bytes(data: bytes) -> Network:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.npz"
        path.write_bytes(data)
        return Network.load(path)


@pytest.fixture(scope="module")
def sample(mnist):
    """Three MNIST test digits as the page would send them back: 28 rows of 28 bytes."""
    return [(mnist.test.images[k].reshape(28, 28), int(mnist.test.labels[k])) for k in range(3)]


@pytest.fixture
def server(digit_model, tmp_path):
    with running(digit_model, dataset=tmp_path / "set") as base:
        yield base


# -- inside the network -------------------------------------------------------------


def test_the_network_and_its_first_layer(server, digit_model):
    status, answer = call(server, "/api/network")
    net = Network.load(digit_model)
    assert status == 200 and answer["sizes"] == net.sizes == [784, 30, 10]
    np.testing.assert_allclose(answer["first_layer"], net.weights[0], atol=5e-5)
    assert (answer["version"], answer["steps"], answer["undo"]) == (0, 0, 0)
    assert answer["eta"] == 3.0 and answer["save_to"] is None


def test_inside_a_drawing(server, digit_model, mnist):
    net = Network.load(digit_model)
    body = encode(mnist_on_paper(mnist.test.images[0], 200))
    _, predicted = post(server, body)
    status, answer = post(server, body, "/api/inside")
    assert status == 200
    assert answer["digit"] == predicted["digit"] and answer["input"] == predicted["input"]
    np.testing.assert_allclose(answer["scores"], predicted["scores"], atol=2e-6)
    seen = look(net, np.array(answer["input"], np.uint8))
    for layer, z, a in zip(answer["layers"], seen.zs, seen.activations):
        np.testing.assert_allclose(layer["z"], z, atol=1e-5)
        np.testing.assert_allclose(layer["a"], a, atol=1e-5)
    pick = answer["pick"]  # by default: the output neuron of the answer
    assert (pick["layer"], pick["neuron"], pick["exact"]) == (2, answer["digit"], False)
    assert sum(pick["contributions"]) == pytest.approx(pick["z"] - pick["z_blank"], rel=1e-2)
    assert len(pick["weights"]) == 784

    status, answer = post(server, body, "/api/inside?layer=1&neuron=7")
    pick = answer["pick"]
    assert status == 200 and (pick["layer"], pick["neuron"], pick["exact"]) == (1, 7, True)
    assert sum(pick["contributions"]) + pick["bias"] == pytest.approx(pick["z"], abs=1e-4)
    x = np.array(answer["input"], np.float64).reshape(-1) / 256
    np.testing.assert_allclose(pick["contributions"], x * net.weights[0][7], atol=1e-6)


@pytest.mark.parametrize(
    "query, words",
    [
        ("layer=0&neuron=0", "layer must be from 1 to 2"),
        ("layer=3&neuron=0", "layer must be from 1 to 2"),
        ("layer=1&neuron=30", "neuron must be from 0 to 29 in layer 1"),
        ("layer=2&neuron=10", "neuron must be from 0 to 9 in layer 2"),
        ("layer=one&neuron=2", "layer must be a whole number, got 'one'"),
        ("layer=1&neuron=-1", "neuron must be a whole number, got '-1'"),
    ],
)
def test_inside_refuses_a_neuron_that_is_not_there(server, query, words):
    status, answer = post(server, encode(draw(7)), f"/api/inside?{query}")
    assert status == 400 and words in answer["error"]


def test_inside_refuses_what_is_not_an_image(server):
    assert post(server, b"", "/api/inside") == (400, post(server, b"")[1])
    status, answer = post(server, b"<html>", "/api/inside")
    assert status == 400 and "not an image" in answer["error"]


# -- teaching ----------------------------------------------------------------------


def test_teaching_is_the_books_step_and_undo_puts_it_back(server, digit_model, sample):
    model_before = digest(digit_model)
    original = Network.load(digit_model)
    oracle = copy.deepcopy(original)
    image, label = sample[0]
    wrong = (label + 1) % 10
    x = image.reshape(784, 1).astype(oracle.dtype) / 256
    oracle.update_mini_batch([(x, vectorized_result(wrong))], 3.0)

    status, lesson = call(server, "/api/teach", {"input": image.tolist(), "label": wrong})
    assert status == 200 and lesson["eta"] == 3.0 and lesson["label"] == wrong
    assert (lesson["version"], lesson["steps"], lesson["undo"]) == (1, 1, 1)
    taught = downloaded(server)
    for mine, theirs in zip(params(taught), params(oracle)):
        assert np.array_equal(mine, theirs)
    np.testing.assert_allclose(lesson["before"], original.feedforward(x)[:, 0], atol=1e-6)
    np.testing.assert_allclose(lesson["after"], oracle.feedforward(x)[:, 0], atol=1e-6)
    assert [len(d) for d in lesson["deltas"]] == [30, 10]
    np.testing.assert_allclose(lesson["first_layer_change"], oracle.weights[0] - original.weights[0], atol=1e-6)
    # the page's answers now come from the taught network
    _, answer = post(server, encode(mnist_on_paper(image.reshape(-1), 200)), "/api/inside")
    assert answer["version"] == 1

    status, state = call(server, "/api/undo", {})
    assert status == 200 and (state["steps"], state["undo"], state["saved_to"]) == (0, 0, None)
    for mine, then in zip(params(downloaded(server)), params(original)):
        assert np.array_equal(mine, then)
    status, answer = call(server, "/api/undo", {})
    assert status == 409 and answer["error"] == "there is no step to undo: teach the network a digit first"
    assert digest(digit_model) == model_before  # the model file is never touched


def test_a_taught_network_is_a_model_file_nndl_evaluate_reads(server, sample, tmp_path, capsys):
    image, label = sample[1]
    assert call(server, "/api/teach", {"input": image.tolist(), "label": label, "eta": 0.5})[0] == 200
    status, _, data = fetch(server, "/api/network.npz")
    path = tmp_path / "taught.npz"
    path.write_bytes(data)
    assert Network.load(path).settings["taught_steps"] == 1
    assert main(["evaluate", str(path)]) == 0
    assert " / 10000 (" in capsys.readouterr().out


GOOD = np.zeros((28, 28), int).tolist()


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"input": GOOD, "label": 10}, 400, "label must be a digit from 0 to 9, got 10"),
        ({"input": GOOD, "label": -1}, 400, "label must be a digit from 0 to 9, got -1"),
        ({"input": GOOD, "label": "3"}, 400, "label must be a digit from 0 to 9, got '3'"),
        ({"input": GOOD, "label": 3.0}, 400, "label must be a digit from 0 to 9, got 3.0"),
        ({"input": GOOD, "label": True}, 400, "label must be a digit"),
        ({"input": GOOD}, 400, "the request body has no 'label'"),
        ({"input": GOOD, "label": 3, "eta": 0}, 400, "eta must be a number above 0 and at most 100, got 0"),
        ({"input": GOOD, "label": 3, "eta": -3}, 400, "eta must be a number above 0 and at most 100, got -3"),
        ({"input": GOOD, "label": 3, "eta": 1e6}, 400, "got 1000000.0"),
        ({"input": GOOD, "label": 3, "eta": "fast"}, 400, "got 'fast'"),
        ({"input": GOOD, "label": 3, "eta": None}, 400, "got None"),
        ({"label": 3}, 400, "the request body has no 'input'"),
        ({"input": GOOD[:27], "label": 3}, 400, "input must be 28 rows of 28 whole numbers from 0 to 255"),
        ({"input": [[0.5] * 28] * 28, "label": 3}, 400, "whole numbers from 0 to 255, got float64"),
        ({"input": [[256] * 28] * 28, "label": 3}, 400, "whole numbers from 0 to 255"),
        ({"input": [[0] * 28] * 27 + [[0] * 27], "label": 3}, 400, "whole numbers from 0 to 255, got list"),
        ({"input": [[10**40] * 28] * 28, "label": 3}, 400, "whole numbers from 0 to 255"),
        ({"input": "abc", "label": 3}, 400, "whole numbers from 0 to 255"),
        ([1, 2, 3], 400, "the request body must be a JSON object, got list"),
        (b"{not json", 400, "the request body is not JSON"),
        (b"[" * 50_000, 400, "the request body is not JSON"),
        (b" " * (MAX_JSON + 1), 413, f"at most {MAX_JSON:,} are accepted"),
    ],
)
def test_bad_lessons_are_refused_and_change_nothing(server, body, status, words):
    got, answer = call(server, "/api/teach", body)
    assert got == status and words in answer["error"] and "\n" not in answer["error"]
    assert call(server, "/api/network")[1]["version"] == 0
    assert post(server, encode(draw(1)))[0] == 200  # still serving


def test_save_to_writes_the_taught_network_to_a_new_file_only(digit_model, sample, tmp_path):
    target = tmp_path / "taught.npz"
    before = digest(digit_model)
    with running(digit_model, save_to=check_save_to(target), dataset=tmp_path / "set") as base:
        assert not target.exists()  # nothing written before a lesson
        image, label = sample[2]
        _, lesson = call(base, "/api/teach", {"input": image.tolist(), "label": label})
        assert lesson["saved_to"] == str(target)
        for mine, served in zip(params(Network.load(target)), params(downloaded(base))):
            assert np.array_equal(mine, served)
        call(base, "/api/undo", {})
        for mine, original in zip(params(Network.load(target)), params(Network.load(digit_model))):
            assert np.array_equal(mine, original)
        # a painted stroke is written too, and its undo
        _, stroke = call(base, "/api/paint", {"neuron": 1, "dabs": [[5, 5]], "radius": 1, "amount": 1})
        assert stroke["saved_to"] == str(target)
        for mine, served in zip(params(Network.load(target)), params(downloaded(base))):
            assert np.array_equal(mine, served)
        assert not np.array_equal(Network.load(target).weights[0], Network.load(digit_model).weights[0])
        call(base, "/api/undo", {})
        for mine, original in zip(params(Network.load(target)), params(Network.load(digit_model))):
            assert np.array_equal(mine, original)
        assert call(base, "/api/network")[1]["save_to"] == str(target)
    assert digest(digit_model) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taught.npz"]  # no temporary files left


def test_save_to_never_names_an_existing_file(digit_model, tmp_path, capsys):
    with pytest.raises(ConfigError, match="already exists: give the name of a new file"):
        check_save_to(digit_model)
    with pytest.raises(DataError, match="does not exist"):
        check_save_to(tmp_path / "no" / "such" / "folder.npz")
    before = digest(digit_model)
    assert main(["serve", "--model", str(digit_model), "--save-to", str(digit_model), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--save-to" in err and "already exists" in err
    assert digest(digit_model) == before


def test_save_to_that_fails_leaves_the_network_as_it_was(digit_model, sample, tmp_path):
    target = tmp_path / "out" / "taught.npz"
    (tmp_path / "out").mkdir()
    with running(digit_model, save_to=check_save_to(target), dataset=tmp_path / "set") as base:
        (tmp_path / "out").rmdir()  # the folder goes away under the server
        image, label = sample[0]
        status, answer = call(base, "/api/teach", {"input": image.tolist(), "label": label})
        assert status == 500 and "cannot write" in answer["error"]
        state = call(base, "/api/network")[1]
        assert (state["steps"], state["undo"]) == (0, 0)


# -- the handwriting set -------------------------------------------------------------


def test_saving_drawings_to_a_missing_folder_and_reading_the_accuracy(digit_model, sample, tmp_path):
    folder = tmp_path / "not" / "yet"
    with running(digit_model, dataset=folder) as base:
        status, answer = call(base, "/api/set")
        assert status == 200 and answer["total"] == 0 and answer["folder"] == str(folder)
        assert not folder.exists()
        for image, label in sample:
            status, answer = call(base, "/api/set", {"input": image.tolist(), "label": label})
            assert status == 200
        assert answer["total"] == 3
        # the oracle: the network's own reading of the IDX files
        net = Network.load(digit_model)
        images, labels = read_idx(folder / IMAGES), read_idx(folder / LABELS)
        assert labels.tolist() == [label for _, label in sample]
        read = net.predict(images.reshape(3, -1))
        assert answer["saved"] == np.bincount(labels, minlength=10).tolist()
        assert answer["correct"] == np.bincount(labels[read == labels], minlength=10).tolist()
        assert [s["index"] for s in answer["samples"]] == [2, 1, 0]  # newest first
        assert answer["samples"][0]["image"] == images[2].tolist()
        assert [s["read"] for s in answer["samples"]] == read[::-1].tolist()

        status, answer = call(base, "/api/set/delete", {"index": 0, "count": 2})
        assert status == 409 and "now holds 3 drawings, not 2" in answer["error"]
        status, answer = call(base, "/api/set/delete", {"index": 3, "count": 3})
        assert status == 400 and "index must be below count (3), got 3" in answer["error"]
        status, answer = call(base, "/api/set/delete", {"index": 0, "count": 3})
        assert status == 200 and answer["total"] == 2
        assert read_idx(folder / LABELS).tolist() == [label for _, label in sample[1:]]


@pytest.mark.parametrize(
    "body, words",
    [
        ({"input": GOOD, "label": 11}, "label must be a digit from 0 to 9, got 11"),
        ({"input": GOOD}, "the request body has no 'label'"),
        ({"input": [[1] * 28] * 3, "label": 1}, "input must be 28 rows of 28"),
    ],
)
def test_bad_drawings_are_not_saved(server, body, words, tmp_path):
    status, answer = call(server, "/api/set", body)
    assert status == 400 and words in answer["error"]
    assert not (tmp_path / "set").exists()


@pytest.mark.parametrize("body", [{"index": -1, "count": 3}, {"index": "0", "count": 3}, {"index": 0}])
def test_bad_deletes_are_refused(server, body):
    status, answer = call(server, "/api/set/delete", body)
    assert status == 400 and ("index" in answer["error"] or "count" in answer["error"])


def test_a_full_set_takes_no_more(digit_model, sample, tmp_path, monkeypatch):
    monkeypatch.setattr(hw, "MAX_SAMPLES", 2)
    with running(digit_model, dataset=tmp_path) as base:
        for image, label in sample[:2]:
            assert call(base, "/api/set", {"input": image.tolist(), "label": label})[0] == 200
        status, answer = call(base, "/api/set", {"input": sample[2][0].tolist(), "label": 1})
        assert status == 409 and "holds 2 drawings, the most it keeps" in answer["error"]


@pytest.fixture
def read_only_set(tmp_path, sample):
    """A saved set in a folder nobody may write to.  Root ignores permission
    bits, so as root the folder is made immutable (chattr +i), which stops
    root too; the fixture checks the folder really refuses a new file."""
    folder = tmp_path / "ro"
    HandwritingSet(folder).add(sample[0][0].astype(np.uint8), sample[0][1])
    if os.geteuid() != 0:
        folder.chmod(0o555)

        def undo():
            folder.chmod(0o755)
    else:
        subprocess.run(["chattr", "+i", str(folder)], capture_output=True)

        def undo():
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)

    try:
        (folder / "probe").touch()
    except OSError:
        pass
    else:
        (folder / "probe").unlink()
        undo()
        pytest.skip("cannot make a read-only folder here (root, on a file system without chattr +i)")
    yield folder
    undo()


def test_a_read_only_set_is_read_but_not_written(digit_model, read_only_set, sample):
    before = {p.name: p.read_bytes() for p in read_only_set.iterdir()}
    with running(digit_model, dataset=read_only_set) as base:
        status, answer = call(base, "/api/set")
        assert status == 200 and answer["total"] == 1
        status, answer = call(base, "/api/set", {"input": sample[1][0].tolist(), "label": 1})
        assert status == 500 and "cannot write" in answer["error"] and "\n" not in answer["error"]
        status, answer = call(base, "/api/set/delete", {"index": 0, "count": 1})
        assert status == 500 and "cannot write" in answer["error"]
        assert post(base, encode(draw(7)))[0] == 200  # still serving
    assert {p.name: p.read_bytes() for p in read_only_set.iterdir()} == before


def test_a_set_folder_under_a_file_cannot_be_made(digit_model, tmp_path, sample):
    """A folder whose parent is a regular file can never be created, by root or anyone."""
    (tmp_path / "afile").write_text("not a folder")
    with running(digit_model, dataset=tmp_path / "afile" / "set") as base:
        assert call(base, "/api/set")[0] == 200  # nothing saved yet: an empty set
        status, answer = call(base, "/api/set", {"input": sample[0][0].tolist(), "label": 1})
        assert status == 500 and "cannot create the handwriting set's folder" in answer["error"]
        assert post(base, encode(draw(1)))[0] == 200


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda f: (f / IMAGES).write_bytes(b"\0\0\x08\x03" + bytes(40)), "damaged"),
        (lambda f: (f / LABELS).unlink(), "t10k-labels-idx1-ubyte is missing"),
        (lambda f: (f / LABELS).write_bytes((f / LABELS).read_bytes()[:-1]), "damaged"),
    ],
)
def test_a_damaged_set_gets_a_json_error_and_the_server_keeps_serving(digit_model, tmp_path, sample, damage, words):
    s = HandwritingSet(tmp_path)
    for image, label in sample:
        s.add(image.astype(np.uint8), label)
    damage(tmp_path)
    with running(digit_model, dataset=tmp_path) as base:
        status, answer = call(base, "/api/set")
        assert status == 500 and words in answer["error"] and "\n" not in answer["error"]
        status, answer = call(base, "/api/set", {"input": sample[0][0].tolist(), "label": 1})
        assert status == 500 and words in answer["error"]
        assert post(base, encode(draw(7)))[0] == 200


def test_the_page_modules_are_served_as_javascript(server):
    for name in ("app.js", "api.js", "pad.js", "bars.js", "colours.js", "inside.js", "lesson.js", "handwriting.js"):
        status, headers, body = fetch(server, f"/static/{name}")
        assert status == 200 and "javascript" in headers["content-type"] and len(body) > 300, name


def test_a_model_that_does_not_read_digits_is_refused_in_one_line(tmp_path, sample):
    path = Network([784, 5, 3], seed=0).save(tmp_path / "three.npz")
    with running(path, dataset=tmp_path / "set") as base:
        for path_, body in (("/api/teach", {"input": GOOD, "label": 1}), ("/api/set", None)):
            status, answer = call(base, path_, body)
            assert status == 400
            assert answer["error"] == "the model reads 784 pixels into 3 classes; digits need 784 into 10"
        status, answer = post(base, encode(draw(1)), "/api/inside")
        assert status == 400 and "digits need 784 into 10" in answer["error"]


# -- painting weights, robustness ---------------------------------------------------


def test_paint_a_neuron_then_undo(server, digit_model, sample):
    net = Network.load(digit_model)
    drawing = sample[0][0]
    body = {"neuron": 3, "dabs": [[10, 10], [11, 12]], "radius": 2.0, "amount": 2.5, "input": drawing.tolist()}
    status, answer = call(server, "/api/paint", body)
    assert status == 200, answer
    painted = copy.deepcopy(net)
    painted.weights[0][3] += (2.5 * brush([[10, 10], [11, 12]], 2.0)).astype(net.dtype)
    np.testing.assert_allclose(answer["weights"], painted.weights[0][3], atol=1e-4)
    np.testing.assert_allclose(answer["scores"], look(painted, drawing).scores, atol=1e-6)
    seen = look(painted, drawing)
    assert answer["z"] == pytest.approx(seen.zs[0][3], abs=1e-5)
    assert answer["a"] == pytest.approx(seen.activations[0][3])
    assert answer["steps"] == 1 and answer["undo"] == 1
    status, more = call(server, "/api/paint", {**body, "stroke": "more"})
    assert status == 200 and more["undo"] == 1  # the same stroke: one undo
    assert downloaded(server).weights[0][3][10 * 28 + 10] > painted.weights[0][3][10 * 28 + 10]
    assert call(server, "/api/undo", {})[0] == 200
    for mine, then in zip(params(downloaded(server)), params(net)):
        assert np.array_equal(mine, then)  # bit for bit, as it started
    status, answer = call(server, "/api/paint", {**body, "radius": 0})
    assert status == 400 and answer["error"] == "radius must be a number from 0.5 to 6, got 0"
    status, answer = call(server, "/api/paint", {"neuron": 3, "radius": 1, "amount": 1})
    assert status == 400 and answer["error"] == "the request body has no 'dabs'"


def test_robustness_of_the_served_network(server, digit_model, mnist):
    from nndl.robustness import robustness
    from nndl.serve.inside_api import ROBUSTNESS_AMOUNTS, ROBUSTNESS_SAMPLE

    status, answer = call(server, "/api/robustness")
    assert status == 200, answer
    want = robustness(Network.load(digit_model), mnist.test, ROBUSTNESS_AMOUNTS, sample=ROBUSTNESS_SAMPLE, seed=0)
    assert [c["distortion"] for c in answer["curves"]] == list(want)
    for c in answer["curves"]:
        assert c["accuracies"] == want[c["distortion"]].accuracies and c["n"] == 1000
