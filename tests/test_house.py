"""The house: the book's path through the code, engines that keep the
network a plain network, and modules without import cycles."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import numpy as np
import pytest

from nndl import Network, engines, load
from nndl.engines import engine_for

SRC = Path(__file__).resolve().parents[1] / "src" / "nndl"
ENGINES = ["reference", "numpy", "numba", "torch", "pytensor"]


@pytest.fixture(scope="module")
def small():
    data = load()
    return (data.train.images[:300], data.train.labels[:300]), (data.test.images[:200], data.test.labels[:200])


# -- the book's path -----------------------------------------------------------


class CountingNetwork(Network):
    """The reader's experiment: count the calls of update_mini_batch."""

    calls = 0

    def update_mini_batch(self, mini_batch, eta):
        type(self).calls += 1
        super().update_mini_batch(mini_batch, eta)


class FrozenNetwork(Network):
    """A backprop that finds no gradient: SGD must then change nothing."""

    def backprop(self, x, y):
        return [np.zeros_like(b) for b in self.biases], [np.zeros_like(w) for w in self.weights]


@pytest.mark.parametrize("engine", ["reference", "auto"])
def test_sgd_calls_update_mini_batch_for_each_mini_batch(small, engine):
    train, _ = small
    net = CountingNetwork([784, 12, 10], seed=0, engine=engine)
    CountingNetwork.calls = 0
    net.SGD(train, 2, 7, 3.0, log=None)
    assert CountingNetwork.calls == 2 * -(-300 // 7)


@pytest.mark.parametrize("engine", ["reference", "auto"])
def test_a_changed_backprop_changes_what_sgd_does(small, engine):
    train, _ = small
    net = FrozenNetwork([784, 12, 10], seed=0, engine=engine)
    before = copy.deepcopy(net.weights + net.biases)
    net.SGD(train, 1, 10, 3.0, log=None)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases, before))
    plain = Network([784, 12, 10], seed=0, engine=engine)
    plain.SGD(train, 1, 10, 3.0, log=None)
    assert not np.array_equal(plain.weights[0], before[0])


def test_the_reference_path_is_update_mini_batch_step_by_step(small):
    """SGD on the reference engine equals calling update_mini_batch on the
    same mini-batches in the same order, exactly."""
    (X, labels), _ = small
    net = Network([784, 12, 10], seed=3, engine="reference")
    by_hand = copy.deepcopy(net)
    net.SGD((X, labels), 1, 10, 3.0, log=None)
    order = by_hand.rng.permutation(len(X))
    x, y = X.astype(np.float64) / 256, np.eye(10)[labels]
    for k in range(0, len(X), 10):
        idx = order[k : k + 10]
        by_hand.update_mini_batch((x[idx].T, y[idx].T), 3.0)
    assert all(np.array_equal(a, b) for a, b in zip(net.weights + net.biases, by_hand.weights + by_hand.biases))


# -- every engine leaves a plain network ------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_each_engine_trains_the_networks_own_arrays(small, engine, tmp_path):
    train, test = small
    net = Network([784, 12, 10], seed=1, engine=engine)
    mine = net.weights + net.biases
    start = copy.deepcopy(mine)
    net.SGD(train, 1, 10, 3.0, log=None)
    # the arrays a user holds are still the network's, and they trained
    assert all(a is b for a, b in zip(net.weights + net.biases, mine))
    assert all(a.flags.c_contiguous and a.flags.owndata for a in mine)
    assert not np.array_equal(mine[0], start[0])
    assert not any(k.startswith("_engine") for k in vars(net))
    # a copy is a network of its own, equal and independent
    twin = copy.deepcopy(net)
    assert all(np.array_equal(a, b) and a is not b for a, b in zip(twin.weights + twin.biases, mine))
    twin.SGD(train, 1, 10, 3.0, log=None)
    net.SGD(train, 1, 10, 3.0, log=None)
    assert all(np.array_equal(a, b) for a, b in zip(twin.weights + twin.biases, net.weights + net.biases))
    # save and load give the same network
    back = Network.load(net.save(tmp_path / "m.npz"))
    assert all(np.array_equal(a, b) for a, b in zip(back.weights + back.biases, net.weights + net.biases))
    assert back.evaluate(test) == net.evaluate(test)


@pytest.mark.parametrize("engine", ENGINES)
def test_assigned_arrays_are_what_the_engine_trains(small, engine):
    """After training, assign new parameters: the next epoch starts from
    them, as on the reference engine."""
    train, _ = small
    net = Network([784, 12, 10], seed=1, engine=engine)
    net.SGD(train, 1, 10, 3.0, log=None)
    fresh = Network([784, 12, 10], seed=9)
    net.weights = [w.copy() for w in fresh.weights]
    net.biases = [b.copy() for b in fresh.biases]
    reference = Network([784, 12, 10], seed=9, engine="reference")
    reference.rng = copy.deepcopy(net.rng)
    net.SGD(train, 1, 10, 3.0, log=None)
    reference.SGD(train, 1, 10, 3.0, log=None)
    for a, b in zip(net.weights + net.biases, reference.weights + reference.biases):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_network_on_the_pytensor_engine_trains_with_pytensor(small):
    train, _ = small
    net = Network([784, 12, 10], seed=2, engine="pytensor")
    net.SGD(train, 1, 10, 3.0, log=None)
    model = engine_for(net, "pytensor").model
    assert model is not None and model.compile_seconds > 0  # the compiled step ran
    calls = []
    original = model.train
    model.train = lambda x, y: calls.append(x.shape) or original(x, y)
    net.SGD(train, 1, 10, 3.0, log=None)
    assert len(calls) == 30 and calls[0] == (784, 10)


def test_engine_state_lives_with_the_engine(small):
    train, _ = small
    net = Network([784, 12, 10], seed=0, engine="numpy")
    net.SGD(train, 1, 10, 3.0, log=None)
    assert list(engines._ENGINES[net]) == ["numpy"]
    assert not any(hasattr(v, "train_batches") for v in vars(net).values())
    copy.deepcopy(net)  # nothing unpicklable hangs on it


# -- no import cycles --------------------------------------------------------


def imports_of(path: Path, module: str, modules: set[str]) -> set[str]:
    """The modules of nndl that ``module`` imports anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            base = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found |= {n for n in names if n in modules and n != module}
    return found


def module_graph() -> dict[str, set[str]]:
    files = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    return {name: imports_of(path, name, set(files)) for name, path in files.items()}


def test_no_import_cycles():
    graph = module_graph()
    assert graph["nndl.network"] >= {"nndl.loop", "nndl.engines", "nndl.modelfile"}  # the walk sees imports
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for nxt in sorted(graph[name]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :] + [nxt] if nxt in path else [name, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_the_serving_code_is_entered_only_through_nndl_serve():
    """Outside ``nndl.serve`` nothing imports its modules directly, and
    nothing in the serving code is imported by the library below it."""
    graph = module_graph()
    assert graph["nndl.serve"] >= {"nndl.serve.server"}  # the walk sees the package's imports
    for name, imported in graph.items():
        if not name.startswith("nndl.serve"):
            inside = {m for m in imported if m.startswith("nndl.serve.")}
            assert not inside, f"{name} imports {sorted(inside)}: go through nndl.serve"
            if name != "nndl.cli":
                assert "nndl.serve" not in imported, f"{name} (below the CLI) imports nndl.serve"


def test_the_cycle_finder_finds_a_cycle(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from . import b\n")
    b.write_text("def f():\n    from .a import x\n")
    assert imports_of(a, "pkg.a", {"pkg.a", "pkg.b"}) == {"pkg.b"}
    assert imports_of(b, "pkg.b", {"pkg.a", "pkg.b"}) == {"pkg.a"}


def test_network_py_reads_like_the_book():
    text = (SRC / "network.py").read_text()
    assert len(text.splitlines()) <= 300
    for name in ("def feedforward", "def SGD", "def update_mini_batch", "def backprop", "def evaluate"):
        assert name in text


def test_the_installed_package_holds_every_page_file_and_resource():
    """What `pip install .` installs is what the pages and the library load:
    every file under src/nndl/serve/web and src/nndl/resources (the suite runs
    against the installed package in CI, so a file left out of the package
    data fails here rather than as a page that never loads)."""
    from importlib.resources import files

    installed = files("nndl")
    for folder in ("serve/web", "resources"):
        for path in (SRC / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                relative = path.relative_to(SRC).as_posix()
                assert installed.joinpath(relative).is_file(), f"{relative} is not in the installed package"
