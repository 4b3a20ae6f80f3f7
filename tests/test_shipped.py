"""What trains is what the reader reads: the fast engines stand in for the
book's code only while it is the code nndl ships, wherever it is changed --
in a subclass, at run time, or in network.py itself."""

from __future__ import annotations

import importlib.util
import inspect
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import nndl.network
from nndl import Network, engines, load, shipped
from nndl.inputs import columns

SRC = Path(__file__).resolve().parents[1] / "src" / "nndl"


@pytest.fixture(scope="module")
def small():
    data = load()
    train = data.train.images[:3000], data.train.labels[:3000]
    test = data.test.images[:1000], data.test.labels[:1000]
    return train, test


@pytest.fixture(autouse=True)
def fresh_lines(monkeypatch):
    """Each test sees the lines said once per process afresh."""
    monkeypatch.setattr(engines, "_said", set())


def module_from(tmp_path: Path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_recorded_fingerprints_are_network_py_now():
    now = shipped.current()
    assert None not in now.values()
    assert now == shipped.SHIPPED, f"network.py's book code changed; if on purpose, set shipped.SHIPPED to {now}"


STEP = '''
def step(w, nw, eta):
    """One step down the gradient."""
    for k in range(len(w)):
        w[k] -= eta * nw[k]
    return w
'''
#: The same code: comments, blank lines, spacing, another docstring or none.
SAME = [
    STEP.replace("    for k", "    # each layer\n\n    for k"),
    STEP.replace("eta * nw[k]", "eta*nw[ k ]  # the book's rule"),
    STEP.replace('"""One step down the gradient."""', '"""Another\n    docstring."""'),
    STEP.replace('    """One step down the gradient."""\n', ""),
    STEP.replace("    ", "  "),
]
#: Other code: a factor, an operator, a name, a statement moved out of the loop.
OTHER = [
    STEP.replace("eta * nw[k]", "0 * eta * nw[k]"),
    STEP.replace("-=", "+="),
    STEP.replace("range(len(w))", "range(len(nw))"),
    STEP.replace("        w[k] -= eta * nw[k]\n    return w", "        w[k] -= eta * nw[k]\n        return w"),
]


def test_a_fingerprint_ignores_comments_spacing_and_docstrings_but_nothing_else(tmp_path):
    base = shipped.fingerprint(module_from(tmp_path, "base", STEP).step)
    assert base is not None
    for i, source in enumerate(SAME):
        assert shipped.fingerprint(module_from(tmp_path, f"same{i}", source).step) == base, source
    for i, source in enumerate(OTHER):
        assert shipped.fingerprint(module_from(tmp_path, f"other{i}", source).step) != base, source


def test_code_without_a_source_has_no_fingerprint():
    namespace: dict = {}
    exec("def f(x):\n    return x\n", namespace)  # as typed into some consoles
    assert shipped.fingerprint(namespace["f"]) is None
    assert shipped.fingerprint(np.tanh) is None


def backprop_of_nothing(self, x, y):
    return [np.zeros_like(b) for b in self.biases], [np.zeros_like(w) for w in self.weights]


def sigmoid_by_exp(z):
    return 1 / (1 + np.exp(-z))


def test_the_shipped_network_runs_the_shipped_code(monkeypatch):
    net = Network([784, 30, 10])
    assert shipped.changes(net) == ()
    monkeypatch.setattr(Network, "backprop", Network.backprop)  # set again, unchanged
    assert shipped.changes(net) == ()


@pytest.mark.parametrize("name", shipped.METHODS)
def test_a_method_changed_in_a_subclass_is_found(name):
    class Changed(Network):
        pass

    setattr(Changed, name, lambda self, *args: None)
    assert shipped.changes(Changed([4, 3, 2])) == (name,)


def test_a_change_at_run_time_is_found(monkeypatch):
    net = Network([4, 3, 2])
    monkeypatch.setattr(Network, "backprop", backprop_of_nothing)
    assert shipped.changes(net) == ("backprop",)
    monkeypatch.undo()
    net.feedforward = lambda a: a  # on one network only
    assert shipped.changes(net) == ("feedforward",)
    assert shipped.changes(Network([4, 3, 2])) == ()


def test_a_changed_function_of_network_py_is_found(monkeypatch):
    net = Network([4, 3, 2])
    monkeypatch.setattr(nndl.network, "sigmoid", sigmoid_by_exp)
    assert shipped.changes(net) == ("sigmoid",)
    monkeypatch.setattr(nndl.network, "sigmoid_prime", np.tanh)
    assert shipped.changes(net) == ("sigmoid", "sigmoid_prime")


def test_a_copy_of_a_method_outside_network_py_counts_as_changed(tmp_path):
    """The copy has the shipped code's fingerprint, but the names it calls
    (sigmoid, ...) are those of the module it is in, which nndl does not
    know, so only the reference engine may run it."""
    head = "import numpy as np\nfrom nndl import Network, sigmoid, sigmoid_prime\n\n\nclass Copy(Network):\n"
    copy = module_from(tmp_path, "copied", head + inspect.getsource(Network.backprop))
    assert shipped.fingerprint(copy.Copy.backprop) == shipped.SHIPPED["backprop"]
    assert shipped.changes(copy.Copy([4, 3, 2])) == ("backprop",)


def test_auto_runs_changed_code_on_the_reference_and_says_so_once(small, monkeypatch, capsys):
    (X, _), _ = small
    monkeypatch.setattr(nndl.network, "sigmoid", sigmoid_by_exp)
    net = Network([784, 30, 10], seed=0)
    assert engines.select(net, X, 10) is None
    assert engines.select(net, X, 10) is None
    line = capsys.readouterr().err
    assert line.count("\n") == 1, line
    assert "your sigmoid is not nndl's own code" in line and "reference engine" in line
    assert "undo the change" in line and "engine='numpy'" in line and "--engine numpy" in line


def test_a_named_engine_trains_the_shipped_code_and_says_it_is_not_yours(small, monkeypatch, capsys):
    (X, _), _ = small
    monkeypatch.setattr(Network, "backprop", backprop_of_nothing)
    monkeypatch.setattr(nndl.network, "sigmoid", sigmoid_by_exp)
    net = Network([784, 30, 10], seed=0, engine="numpy")
    assert type(engines.select(net, X, 10)).__name__ == "NumpyEngine"
    line = capsys.readouterr().err
    assert "your backprop and sigmoid are not nndl's own code, and engine 'numpy' trains nndl's own code" in line
    Network([784, 30, 10], engine="reference").SGD((X[:20], np.zeros(20, int)), 1, 10, 3.0, log=None)
    assert capsys.readouterr().err == ""  # asked for the reference: nothing to say


def update_that_changes_nothing(self, mini_batch, eta):
    """The experiment of multiplying the step by 0."""
    nabla_b, nabla_w = self.backprop(*columns(mini_batch))
    for b, nb in zip(self.biases, nabla_b):
        b -= 0 * eta * nb.sum(axis=1, keepdims=True)
    for w, nw in zip(self.weights, nabla_w):
        w -= 0 * eta * nw


def test_sgd_trains_with_the_readers_update(small, monkeypatch):
    train, test = small
    net = Network([784, 30, 10], seed=0)
    start = [p.copy() for p in net.weights + net.biases]
    monkeypatch.setattr(Network, "update_mini_batch", update_that_changes_nothing)
    history = net.SGD(train, 1, 10, 3.0, test_data=test, log=None)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases, start))
    assert history[-1].accuracy < 0.25


def test_sgd_trains_and_scores_with_the_readers_sigmoid(small, monkeypatch):
    train, test = small
    plain = Network([784, 30, 10], seed=0)
    plain.SGD(train, 1, 10, 3.0, log=None)
    monkeypatch.setattr(nndl.network, "sigmoid", lambda z: 0.5 + 0.5 * np.tanh(z))  # a steeper sigmoid
    mine = Network([784, 30, 10], seed=0)
    mine_history = mine.SGD(train, 1, 10, 3.0, test_data=test, log=None)
    oracle = Network([784, 30, 10], seed=0, engine="reference")
    oracle_history = oracle.SGD(train, 1, 10, 3.0, test_data=test, log=None)
    assert np.abs(mine.weights[1] - plain.weights[1]).max() > 0.1
    assert all(np.array_equal(a, b) for a, b in zip(mine.weights + mine.biases, oracle.weights + oracle.biases))
    assert mine_history[-1].correct == oracle_history[-1].correct == oracle.evaluate(test)


def test_the_score_is_the_readers_feedforward_and_evaluate(small, monkeypatch):
    train, test = small
    threes = int((test[1] == 3).sum())

    def always_three(self, a):
        out = np.zeros((10, a.shape[1]))
        out[3] = 1
        return out

    monkeypatch.setattr(Network, "feedforward", always_three)
    history = Network([784, 30, 10], seed=0).SGD(train, 1, 10, 3.0, test_data=test, log=None)
    assert history[-1].correct == threes
    monkeypatch.undo()
    monkeypatch.setattr(Network, "evaluate", lambda self, test_data: sum(y == 7 for _, y in test_data))
    history = Network([784, 30, 10], seed=0).SGD(train, 1, 10, 3.0, test_data=test, log=None)
    assert history[-1].correct == int((test[1] == 7).sum())


# -- network.py itself edited, as in an editable install -----------------------

ZERO_STEP = [("b -= (eta / m) * nb", "b -= 0 * (eta / m) * nb"), ("w -= (eta / m) * nw", "w -= 0 * (eta / m) * nw")]
TANH = [("return 0.5 + 0.5 * np.tanh(0.5 * z)", "return 0.5 + 0.5 * np.tanh(z)")]

RUN = """
import sys
import numpy as np
from nndl import Network, engines, load
data = load()
X, y = data.train.images[:3000], data.train.labels[:3000]
print(type(engines.select(Network([784, 30, 10]), X, 10)).__name__)  # what auto runs
net = Network([784, 30, 10], seed=0, engine=sys.argv[2])
net.SGD((X, y), 1, 10, 3.0, log=None)
print(net.evaluate((data.test.images[:1000], data.test.labels[:1000])))
np.save(sys.argv[1], net.weights[1])
"""


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    """A copy of the package to edit, and a function running Python on it."""
    root = tmp_path_factory.mktemp("copy")
    shutil.copytree(SRC, root / "nndl", ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    for model in SRC.glob("resources/*.npz"):
        (root / "nndl" / "resources" / model.name).symlink_to(model)
    env = {**os.environ, "PYTHONPATH": str(root)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)

    return root / "nndl" / "network.py", run


def edit(path: Path, edits: list[tuple[str, str]]) -> str:
    text = original = path.read_text()
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text)
    return original


@pytest.mark.slow
def test_an_edit_to_network_py_trains_and_undoing_it_brings_the_fast_engine_back(package_copy, tmp_path):
    network_py, run = package_copy
    original = edit(network_py, ZERO_STEP)
    done = run("-c", RUN, str(tmp_path / "zero.npy"), "auto")
    assert done.returncode == 0, done.stderr
    chosen, correct = done.stdout.split()
    assert chosen == "NoneType" and int(correct) < 250  # chance, on 1,000 digits
    assert "your update_mini_batch is not nndl's own code" in done.stderr
    network_py.write_text(original)
    edit(network_py, TANH)
    done = run("-c", RUN, str(tmp_path / "tanh.npy"), "auto")
    assert done.returncode == 0 and "your sigmoid is not nndl's own code" in done.stderr, done.stderr
    network_py.write_text(original)
    done = run("-c", RUN, str(tmp_path / "shipped.npy"), "numpy")  # the same steps, with nothing to compile
    assert done.returncode == 0 and "not nndl's own" not in done.stderr, done.stderr
    assert done.stdout.split()[0] in ("SparseEngine", "NumpyEngine")
    shipped_w, tanh_w = np.load(tmp_path / "shipped.npy"), np.load(tmp_path / "tanh.npy")
    assert np.abs(shipped_w - tanh_w).max() > 0.1


@pytest.mark.slow
def test_nndl_train_with_an_edited_update_stays_at_chance(package_copy):
    network_py, run = package_copy
    original = edit(network_py, ZERO_STEP)
    try:
        done = run("-m", "nndl", "train", "--epochs", "1")
    finally:
        network_py.write_text(original)
    assert done.returncode == 0, done.stderr
    correct = int(done.stdout.split()[2])
    assert correct < 2500, done.stdout
    assert done.stderr.count("your update_mini_batch is not nndl's own code") == 1
