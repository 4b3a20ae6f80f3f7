"""Every engine against the readable reference: the same steps on the same
mini-batches give the same parameters, to floating-point rounding."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from nndl import ConfigError, Network, engines
from nndl.cli import main
from nndl.errors import MissingExtraError
from nndl.loop import Watch, train_range

FAST_ENGINES = ["numpy", "numba", "torch"]


def params(net: Network) -> list[np.ndarray]:
    return [p.copy() for p in net.weights + net.biases]


def relative_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """The largest difference, layer by layer, relative to the layer's largest value."""
    return max(float(np.abs(x - y).max() / np.abs(y).max()) for x, y in zip(a, b))


def run_batches(mnist, engine, sizes=(784, 30, 10), dtype="float64", batches=300, m=10, eta=3.0):
    """``batches`` mini-batches of one shuffled epoch, from seed 0's parameters."""
    net = Network(sizes, seed=0, dtype=dtype, engine=engine)
    targets = np.eye(10, dtype=dtype)[mnist.train.labels]
    order = np.random.default_rng(1).permutation(len(targets))
    train_range(net, mnist.train.images, targets, order, m, eta, 0, batches)
    return net


@pytest.mark.parametrize("engine", ["numpy", "numba", pytest.param("torch", marks=pytest.mark.slow)])
def test_a_few_hundred_mini_batches_equal_the_reference(mnist, engine):
    want = params(run_batches(mnist, "reference"))
    got = params(run_batches(mnist, engine))
    assert relative_difference(got, want) <= 1e-10
    # float32 rounds 2^29 times more coarsely
    want32 = params(run_batches(mnist, "reference", dtype="float32"))
    got32 = params(run_batches(mnist, engine, dtype="float32"))
    assert relative_difference(got32, want32) <= 1e-4
    assert all(p.dtype == np.float32 for p in got32)


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_one_step_of_a_deeper_network_equals_the_reference(mnist, engine):
    sizes = (784, 20, 15, 10)
    want = params(run_batches(mnist, "reference", sizes=sizes, batches=1, m=25))
    got = params(run_batches(mnist, engine, sizes=sizes, batches=1, m=25))
    assert relative_difference(got, want) <= 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("engine", FAST_ENGINES)
def test_a_full_epoch_equals_the_reference(mnist, engine):
    """One epoch of 50,000 images through ``SGD``, same seed, same shuffle.

    At eta = 0.5 training is not chaotic: a 1-ulp change of the initial
    weights changes the final ones by ~1e-14 (float64) / ~2e-5 (float32),
    so the engines must agree to that order.  The compiled engine applies
    each example's weight update separately (its sparse form), which rounds
    once per example where the reference rounds once per mini-batch: after
    5,000 steps that is ~1e-13 in float64 and a few 1e-4 in float32.
    """
    data = (mnist.train.images, mnist.train.labels)
    for dtype, tolerance in (("float64", 1e-11), ("float32", 2e-3)):
        ref = Network([784, 30, 10], seed=0, dtype=dtype, engine="reference")
        ref.SGD(data, 1, 10, 0.5, log=None)
        net = Network([784, 30, 10], seed=0, dtype=dtype, engine=engine)
        net.SGD(data, 1, 10, 0.5, log=None)
        assert relative_difference(params(net), params(ref)) <= tolerance


@pytest.mark.slow
def test_a_full_chaotic_epoch_stays_within_the_reference_own_sensitivity(mnist):
    """At the notebook's eta = 3 training is chaotic: rounding differences
    grow through the epoch.  The oracle is the reference itself started 1 ulp
    away: the compiled engine must differ from the reference by no more than
    that (measured ~1e-8 against ~2e-7)."""
    data = (mnist.train.images, mnist.train.labels)

    def epoch(engine, nudge=False):
        net = Network([784, 30, 10], seed=0, engine=engine)
        if nudge:
            net.weights[0][...] = np.nextafter(net.weights[0], np.inf)
        net.SGD(data, 1, 10, 3.0, log=None)
        return params(net)

    ref = epoch("reference")
    sensitivity = relative_difference(epoch("reference", nudge=True), ref)
    assert 0 < sensitivity < 1e-5
    assert relative_difference(epoch("numba"), ref) <= sensitivity


def test_interrupted_ranges_give_the_uninterrupted_result(mnist):
    """Training is resumable between any two mini-batches, even into a new
    network holding copies of the parameters (as a checkpoint restores them)."""
    whole = params(run_batches(mnist, "numba", batches=200))
    net = run_batches(mnist, "numba", batches=37)
    resumed = Network([784, 30, 10], seed=0, engine="numba")
    resumed.weights = [w.copy() for w in net.weights]
    resumed.biases = [b.copy() for b in net.biases]
    targets = np.eye(10)[mnist.train.labels]
    order = np.random.default_rng(1).permutation(len(targets))
    train_range(resumed, mnist.train.images, targets, order, 10, 3.0, 37, 200)
    for a, b in zip(params(resumed), whole):
        assert np.array_equal(a, b)


def test_compiled_engine_leaves_a_normal_network(tmp_path, mnist):
    net = run_batches(mnist, "numba", batches=50)
    assert [w.shape for w in net.weights] == [(30, 784), (10, 30)]
    assert [b.shape for b in net.biases] == [(30, 1), (10, 1)]
    back = Network.load(net.save(tmp_path / "m.npz"))
    assert back.evaluate(mnist.test) == net.evaluate(mnist.test)
    # the reference code can continue from the compiled engine's parameters
    net.engine = "reference"
    net.update_mini_batch((mnist.train.X()[:5].T, np.eye(10)[mnist.train.y[:5]].T), 3.0)
    assert all(np.isfinite(p).all() for p in net.weights + net.biases)


def test_unknown_engine_and_device_are_one_line_errors():
    with pytest.raises(ConfigError, match="engine must be one of .* got 'fastest'"):
        Network([784, 30, 10], engine="fastest")
    with pytest.raises(ConfigError, match="device must be one of .* got 'tpu'"):
        Network([784, 30, 10], device="tpu")
    with pytest.raises(ConfigError, match="runs on the torch engine"):
        Network([784, 30, 10], engine="numba", device="cuda")


def test_compiled_engine_refuses_networks_it_cannot_run(mnist):
    net = Network([784, 20, 15, 10], engine="numba")
    with pytest.raises(ConfigError, match="one hidden layer on uint8 images"):
        net.SGD((mnist.train.images[:100], mnist.train.labels[:100]), 1, 10, 3.0, log=None)


def test_without_numba_auto_falls_back_says_so_once_and_numba_names_the_extra(monkeypatch, capsys, mnist):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now fails, as where it has no build
    monkeypatch.setattr(engines, "_said", set())
    with pytest.raises(MissingExtraError, match=r'pip install "nndl\[fast\]"'):
        Network([784, 30, 10], engine="numba")
    data = (mnist.train.images[:200], mnist.train.labels[:200])
    net = Network([784, 30, 10], seed=0)
    net.SGD(data, 2, 10, 3.0, log=None)
    Network([784, 30, 10], seed=1).SGD(data, 1, 10, 3.0, log=None)
    assert list(engines._ENGINES[net]) == ["numpy"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Numba is not installed" in err and "pip install numba" in err
    # where the compiled engine would not be used anyway, nothing is said
    monkeypatch.setattr(engines, "_said", set())
    Network([784, 20, 15, 10], seed=0).SGD(data, 1, 10, 3.0, log=None)
    assert capsys.readouterr().err == ""


def test_numba_is_capped_below_the_release_after_the_ones_tested():
    """The compiled engine builds on Numba's internals: every requirement on
    Numba has an upper bound, the next minor release after the newest one
    tested (0.68, what ``pip install .`` brings), and admits the version
    installed here (the one the tests ran with; PyTensor caps it lower)."""
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    bounds = re.findall(r'"numba>=([\d.]+),<([\d.]+)[;"]', pyproject)
    assert len(bounds) == len(re.findall(r'"numba[>=<~]', pyproject)) == 2  # the dependency and the fast extra
    installed = tuple(int(n) for n in numba_version().split(".")[:2])
    for low, high in bounds:
        assert tuple(map(int, low.split("."))) <= installed < tuple(map(int, high.split(".")))
        assert high == "0.69"


def numba_version() -> str:
    import numba

    return numba.__version__


def failing_import(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "nndl.engines.numba", None)  # the engine's module no longer imports


def failing_kernel(monkeypatch) -> None:
    import nndl.engines.numba as compiled

    def internals_changed(*args):
        raise AttributeError("module 'numba.core.cgutils' has no attribute 'pack_array'")

    monkeypatch.setattr(compiled, "_train_sparse", internals_changed)


@pytest.mark.parametrize("fail", [failing_import, failing_kernel])
def test_a_compiled_engine_that_fails_to_build_falls_back_to_numpy_saying_so_once(monkeypatch, capsys, mnist, fail):
    """Numba installed, but the engine built on its internals fails (as a
    Numba release that changes them would): ``auto`` trains on NumPy, with one
    line on stderr; ``engine='numba'`` is a one-line error."""
    monkeypatch.setattr(engines, "_said", set())
    monkeypatch.setattr(engines, "_BUILT", {})
    fail(monkeypatch)
    data = (mnist.train.images[:200], mnist.train.labels[:200])
    net, numpy_net = Network([784, 30, 10], seed=0), Network([784, 30, 10], seed=0, engine="numpy")
    net.SGD(data, 2, 10, 3.0, data, log=None)
    numpy_net.SGD(data, 2, 10, 3.0, data, log=None)
    Network([784, 30, 10], seed=1).SGD(data, 1, 10, 3.0, log=None)
    assert list(engines._ENGINES[net]) == ["numpy"]
    assert all(np.array_equal(a, b) for a, b in zip(params(net), params(numpy_net)))
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"nndl: the compiled engine could not be built (Numba {numba_version()}: ")
    assert err.endswith("), so training runs on NumPy, a few times slower\n")
    assert "ModuleNotFoundError: import of nndl.engines.numba" in err or "AttributeError: module 'numba.core" in err
    with pytest.raises(ConfigError, match=r"^engine 'numba' could not be built \(Numba .*; use engine 'numpy'$"):
        Network([784, 30, 10], engine="numba").SGD(data, 1, 10, 3.0, log=None)


def test_cuda_without_a_gpu_is_one_line_exit_2(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "--device", "cuda", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a CUDA GPU" in err


def test_cli_engine_flag_trains(capsys):
    assert main(["train", "--engine", "numpy", "--epochs", "1", "--sizes", "784", "10", "10"]) == 0
    assert capsys.readouterr().out.startswith("Epoch 0: ")


@pytest.mark.parametrize("engine", FAST_ENGINES)
def test_a_mini_batch_larger_than_the_data_is_one_step(mnist, engine):
    """The book's rule with m > n: one step on all n examples (the bound on
    mini-batch size is far above any data set, so buffers follow the data)."""
    data = (mnist.train.images[:40], mnist.train.labels[:40])
    want = Network([784, 30, 10], seed=0, engine="reference")
    want.SGD(data, 1, 1_000_000, 3.0, log=None)
    got = Network([784, 30, 10], seed=0, engine=engine)
    got.SGD(data, 1, 1_000_000, 3.0, log=None)
    assert relative_difference(params(got), params(want)) <= 1e-12


@pytest.mark.parametrize("engine", FAST_ENGINES)
def test_overflow_is_reported_like_numpy_when_asked_for(mnist, engine):
    """Compiled code and BLAS do not set NumPy's error flags; under
    np.errstate(over="raise") each engine raises FloatingPointError itself
    when the parameters stop being finite, and without it trains on."""
    data = mnist.train.images[:200], np.eye(10)[mnist.train.labels[:200]], np.arange(200), 10
    with np.errstate(over="raise", invalid="raise"), pytest.raises(FloatingPointError):
        train_range(Network([784, 30, 10], seed=0, engine=engine), *data, np.inf, 0, 20)
    with np.errstate(all="ignore"):
        net = Network([784, 30, 10], seed=0, engine=engine)
        train_range(net, *data, np.inf, 0, 20)
    assert not all(np.isfinite(p).all() for p in net.weights + net.biases)


def test_compiled_engine_reports_an_overflowing_weighted_input(mnist):
    """Weights so large that z = w x + b overflows, while the weights stay
    finite: the reference's NumPy would report it, so the kernel does."""
    data = mnist.train.images[:200], np.eye(10)[mnist.train.labels[:200]], np.arange(200), 10
    net = Network([784, 30, 10], seed=0, engine="numba")
    net.weights[0] *= 1e307
    with np.errstate(over="raise", invalid="raise"), pytest.raises(FloatingPointError):
        train_range(net, *data, 3.0, 0, 20)


class CostRecording(Network):
    """The reference, recording the quadratic cost of each mini-batch from the
    output activations ``backprop`` computes (before the step), as it passes
    them to ``cost_derivative``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.costs: list[float] = []

    def cost_derivative(self, output_activations: np.ndarray, y: np.ndarray) -> np.ndarray:
        miss = (output_activations - y).astype(np.float64)
        self.costs.append(float((miss * miss).sum()) / (2 * y.shape[1]))
        return super().cost_derivative(output_activations, y)


@pytest.mark.parametrize("engine", ["reference", *FAST_ENGINES, "pytensor"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_each_mini_batchs_cost_is_the_one_backprop_sees(mnist, engine, dtype):
    if engine == "pytensor":
        pytest.importorskip("pytensor")  # an optional extra; the others are always installed
    # 203 examples in mini-batches of 10: the last one has 3
    X, labels = mnist.train.images[:203], mnist.train.labels[:203]
    targets = np.eye(10, dtype=dtype)[labels]
    order = np.random.default_rng(2).permutation(len(X))
    oracle = CostRecording([784, 30, 10], seed=0, dtype=dtype)
    train_range(oracle, X, targets, order, 10, 3.0, 0, 21)
    net = Network([784, 30, 10], seed=0, dtype=dtype, engine=engine)
    costs = np.full(21 - 5, np.nan)
    train_range(net, X, targets, order, 10, 3.0, 0, 5)
    train_range(net, X, targets, order, 10, 3.0, 5, 21, costs)
    assert len(oracle.costs) == 21 and np.all(np.isfinite(costs))
    np.testing.assert_allclose(costs, oracle.costs[5:], rtol=1e-10 if dtype == "float64" else 2e-5)
    # measuring the costs changes nothing
    quiet = Network([784, 30, 10], seed=0, dtype=dtype, engine=engine)
    train_range(quiet, X, targets, order, 10, 3.0, 0, 21)
    for a, b in zip(params(quiet), params(net)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("sizes, m", [((784, 10), 10), ((784, 20, 15, 10), 10), ((784, 30, 10), 700)])
@pytest.mark.parametrize("floats", [False, True])
def test_the_numpy_engine_equals_the_reference_at_any_depth_on_bytes_or_floats(mnist, sizes, m, floats):
    """No hidden layer or two, mini-batches smaller or larger than the
    engine's blocks of examples, the epoch's last mini-batch shorter (1,203
    examples); inputs as bytes or as floats.  Parameters and each
    mini-batch's cost as the reference gives them."""
    X = mnist.train.X()[:1203] if floats else mnist.train.images[:1203]
    targets = np.eye(10)[mnist.train.labels[:1203]]
    order = np.random.default_rng(4).permutation(len(X))
    n_batches = -(-len(X) // m)
    oracle = CostRecording(sizes, seed=0)
    train_range(oracle, X, targets, order, m, 3.0, 0, n_batches)
    net = Network(sizes, seed=0, engine="numpy")
    costs = np.full(n_batches, np.nan)
    train_range(net, X, targets, order, m, 3.0, 0, n_batches, costs)
    assert relative_difference(params(net), params(oracle)) <= 1e-12
    np.testing.assert_allclose(costs, oracle.costs, rtol=1e-12)


@pytest.mark.parametrize("engine", ["reference", "numpy", "numba"])
def test_the_evaluation_gives_each_examples_answer(mnist, engine):
    net = Network([784, 30, 10], seed=3, engine=engine)
    targets = np.eye(10)[mnist.train.labels]
    train_range(net, mnist.train.images, targets, np.arange(len(targets)), 10, 3.0, 0, 100)
    evaluate = engines.evaluator(net, mnist.train.images, 10)
    X, labels = mnist.test.images, mnist.test.labels
    guesses = np.full(len(labels), -1, np.int64)
    correct, cost = evaluate(X, labels, guesses)
    want = Network.from_parameters(net_parameters(net))  # the readable path, on its own copy
    assert np.array_equal(guesses, want.predict(X))
    assert correct == int((guesses == labels).sum()) and (correct, cost) == pytest.approx(
        want.accuracy_and_cost(X, labels)
    )
    assert evaluate(X, labels) == (correct, cost)  # without guesses: the same figures


def net_parameters(net: Network):
    from nndl.modelfile import Parameters

    return Parameters(list(net.sizes), [w.copy() for w in net.weights], [b.copy() for b in net.biases], {}, net.seed)


class Recorder(Watch):
    """A watch that paces in odd groups and keeps all it is told."""

    answers = True

    def __init__(self) -> None:
        self.groups: list[tuple[int, int, np.ndarray]] = []
        self.predicted: dict[int, np.ndarray] = {}

    def __call__(self, position) -> int:
        return 7

    def trained(self, position, costs) -> None:
        self.groups.append((position.epoch, position.batch, costs.copy()))

    def evaluated(self, epoch, predicted) -> None:
        self.predicted[epoch] = predicted


@pytest.mark.parametrize("engine", ["reference", "numba"])
def test_a_watch_sees_every_mini_batchs_cost_and_every_answer_and_changes_nothing(mnist, engine):
    train = (mnist.train.images[:250], mnist.train.labels[:250])
    test = (mnist.test.images[:300], mnist.test.labels[:300])
    watch = Recorder()
    watched = Network([784, 30, 10], seed=4, engine=engine)
    history = watched.SGD(train, 2, 10, 3.0, test, log=None, pace=watch)
    plain = Network([784, 30, 10], seed=4, engine=engine)
    assert plain.SGD(train, 2, 10, 3.0, test, log=None).epochs[-1].cost == history.epochs[-1].cost
    for a, b in zip(params(watched), params(plain)):
        assert np.array_equal(a, b)
    # groups of 7 mini-batches, in order, covering each epoch of 25 once
    assert [(e, b, len(c)) for e, b, c in watch.groups] == [
        (e, b, min(7, 25 - b)) for e in (0, 1) for b in (0, 7, 14, 21)
    ]
    costs = np.concatenate([c for _, _, c in watch.groups])
    assert np.all(np.isfinite(costs)) and costs[-25:].mean() < costs[:25].mean()  # it learns
    # the answers are the network's after each epoch
    assert sorted(watch.predicted) == [0, 1]
    assert np.array_equal(watch.predicted[1], watched.predict(test[0]))
    assert [int((watch.predicted[j] == test[1]).sum()) for j in (0, 1)] == [e.correct for e in history.epochs]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_numpy_engines_constant_unit_saturates_exactly(dtype):
    """The ``numpy`` engine's bias unit of a hidden layer must be exactly
    constant (activation 1, derivative 0) in NumPy's own tanh."""
    from nndl.engines.numpy import SATURATED

    t = np.tanh(np.full(64, SATURATED, dtype))
    assert np.all(t == 1) and np.all((1 + t) * (1 - t) == 0)


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_arrays_changed_in_place_between_sgd_calls_train_on_their_new_contents(mnist, engine):
    """An engine keeps what it derives from the data (pixel lists, device
    copies) only within one SGD call: change the images in place before the
    next call and it trains on the new pixels, as the reference does."""
    if engine == "torch":
        pytest.importorskip("torch")
    images, labels = mnist.train.images[:3000].copy(), mnist.train.labels[:3000]
    test = (mnist.test.images[:500].copy(), mnist.test.labels[:500])
    nets = {name: Network([784, 30, 10], seed=0, engine=name) for name in ("reference", engine)}
    lines: dict[str, list[str]] = {name: [] for name in nets}
    for net in nets.values():
        images[:] = mnist.train.images[:3000]
        test[0][:] = mnist.test.images[:500]
        net.SGD((images, labels), 1, 10, 3.0, test, log=None)
        images[:] = mnist.train.images[3000:6000]  # other digits, in the same array
        test[0][:] = mnist.test.images[500:1000]
        history = net.SGD((images, labels), 1, 10, 3.0, test, log=None)
        lines[net.engine] = [history.epochs[-1].correct]
    assert relative_difference(params(nets[engine]), params(nets["reference"])) <= 1e-9
    assert lines[engine] == lines["reference"]
