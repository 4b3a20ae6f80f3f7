"""The compiled engine's vector operations (nndl.engines._vectors) against
NumPy, and the engine itself on hidden layers of every padding."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

numba = pytest.importorskip("numba")  # a core dependency: present wherever nndl's tests run

from nndl import Network  # noqa: E402
from nndl.engines import _vectors as V  # noqa: E402
from nndl.loop import train_range  # noqa: E402


@numba.njit
def _exp(x, out):
    for j in range(0, len(x), V.LANES):
        V.store(out, j, V.exp(V.load(x, j)))


@numba.njit
def _reduce(x):
    a = V.load(x, 0)
    b = V.load(x, V.LANES)
    return V.total(V.fma(a, 2.0, b)), V.total(V.fma(a, a, b)), V.nonfinite(a), V.total(V.reciprocal(V.sub(b, a)))


@pytest.mark.parametrize("dtype, ulps", [(np.float32, 3), (np.float64, 1)])
def test_exp_is_numpys_within_a_few_units_in_the_last_place(dtype, ulps):
    top = 87.0 if dtype == np.float32 else 700.0
    x = np.linspace(-top, top, 200_000 * V.LANES).astype(dtype)
    got = np.empty_like(x)
    _exp(x, got)
    want = np.exp(x)
    assert (np.abs(got - want) <= ulps * np.spacing(want)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_overflows_and_underflows_where_numpys_does_and_keeps_nan(dtype):
    """Far out, e^x is inf or 0 (the sigmoid then 0 or 1 exactly, as the
    reference computes it); between, the smallest results fade through
    NumPy's denormal numbers; NaN stays NaN."""
    info = np.finfo(dtype)
    edge = np.log(info.max)
    x = np.concatenate([[np.nan, np.inf, -np.inf, 1e30, -1e30], np.linspace(-edge - 20, -edge + 2, 30 * V.LANES - 5)])
    x = np.concatenate([x, np.linspace(edge - 1, edge + 1, 2 * V.LANES)]).astype(dtype)
    got = np.empty_like(x)
    _exp(x, got)
    with np.errstate(over="ignore", under="ignore"):
        want = np.exp(x)
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == 0 and got[3] == np.inf and got[4] == 0
    assert np.array_equal(np.isinf(got), np.isinf(want)) and np.array_equal(got == 0, want == 0)
    normal = np.isfinite(want) & (want >= info.tiny)
    small = np.isfinite(want) & ~normal
    assert (np.abs(got[normal] - want[normal]) <= 3 * np.spacing(want[normal])).all()
    assert (np.abs(got[small] - want[small]) <= 2 * info.smallest_subnormal).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lanewise_arithmetic_and_sums(dtype):
    x = np.arange(1, 2 * V.LANES + 1, dtype=dtype)
    a, b = x[: V.LANES], x[V.LANES :]
    fma2, fmaa, bad, recip = _reduce(x)
    assert fma2 == np.sum(a + 2 * b)  # fma(acc, x, v) = acc + x v
    assert fmaa == np.sum(a + a * b)
    assert bad == 0
    assert recip == pytest.approx(np.sum(1 / (b - a)), rel=1e-6)
    x[[0, 3, 7]] = [np.inf, np.nan, -np.inf]
    assert _reduce(x)[2] == 3


@pytest.mark.parametrize("hidden", [5, 16, 17, 40])
def test_compiled_engine_equals_the_reference_for_any_padding(mnist, hidden):
    """Hidden layers smaller than the output layer, exactly one vector, one
    over, and a vector and a half: padding never leaks into the results."""

    def run(engine, dtype):
        net = Network([784, hidden, 10], seed=0, dtype=dtype, engine=engine)
        targets = np.eye(10, dtype=dtype)[mnist.train.labels]
        order = np.random.default_rng(1).permutation(len(targets))
        train_range(net, mnist.train.images, targets, order, 10, 3.0, 0, 200)
        correct, cost = net.accuracy_and_cost(mnist.test.images[:500].astype(dtype) / 256, mnist.test.labels[:500])
        return [p.copy() for p in net.weights + net.biases], correct, cost

    for dtype, tolerance in (("float64", 1e-10), ("float32", 1e-4)):
        want, want_correct, want_cost = run("reference", dtype)
        got, got_correct, got_cost = run("numba", dtype)
        for g, w in zip(got, want):
            assert np.abs(g - w).max() <= tolerance * np.abs(w).max()
        assert abs(got_correct - want_correct) <= 1 and got_cost == pytest.approx(want_cost, rel=1e-3)


def test_preloading_loads_the_kernels_the_bundled_data_runs(tmp_path):
    """The background load (nndl.engines.preload) uses exactly the argument
    types of a real run on the bundled MNIST: a mismatch would compile a
    second version of each kernel, seconds of work, instead of loading one."""
    script = (
        "import numpy as np\n"
        "from nndl import Network, engines\n"
        "from nndl.data import load\n"
        "from nndl.engines import numba as nb\n"
        "for dtype in ('float32', 'float64'):\n"
        "    engines.preload('auto', [784, 30, 10], 10, dtype).join()\n"
        "data = load()\n"
        "for dtype in ('float32', 'float64'):\n"
        "    net = Network([784, 30, 10], seed=0, dtype=dtype)\n"
        "    net.SGD(data.train, 1, 10, 3.0, test_data=data.test, log=None)\n"
        "print(len(nb._train_sparse.signatures), len(nb._evaluate.signatures))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2"]


def test_preload_is_only_for_the_compiled_engine():
    from nndl import engines

    assert engines.preload("numpy", [784, 30, 10], 10, "float32") is None
    assert engines.preload("auto", [784, 30, 20, 10], 10, "float32") is None
    assert engines.preload("auto", [784, 30, 10], 100_000, "float32") is None
    thread = engines.preload("numba", [784, 30, 10], 10, "float32")
    assert thread is not None
    thread.join()


def test_nothing_is_preloaded_for_a_readers_code_and_a_run_never_exits_while_loading(monkeypatch):
    """``auto`` trains changed book code on the reference engine, so nothing
    is loaded for it (a process that ended while Numba was still compiling
    in the background could crash on its way out); and ``train`` waits for a
    load it started before it returns."""
    import threading

    from nndl import engines
    from nndl.config import TrainConfig
    from nndl.train import train

    loading = [engines.preload("auto", [784, 30, 10], 10, "float32", Network)]
    monkeypatch.setattr(Network, "update_mini_batch", lambda self, mini_batch, eta: None)
    assert engines.preload("auto", [784, 30, 10], 10, "float32", Network) is None
    loading.append(engines.preload("numba", [784, 30, 10], 10, "float32", Network))  # named: loaded all the same
    monkeypatch.undo()
    for thread in loading:
        assert thread is not None
        thread.join()

    started = []
    real = engines.preload
    monkeypatch.setattr(engines, "preload", lambda *a: started.append(real(*a)) or started[-1])
    train(TrainConfig(epochs=1, sizes=(784, 30, 10)), log=None)
    assert started and started[0] is not None
    assert not started[0].is_alive()
    assert "nndl-preload" not in {t.name for t in threading.enumerate()}
