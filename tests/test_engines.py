"""Every engine against the readable reference: the same steps on the same
mini-batches give the same parameters, to floating-point rounding."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from nndl import ConfigError, Network, engines
from nndl.cli import main
from nndl.errors import MissingExtraError
from nndl.loop import train_range

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


@pytest.mark.parametrize("engine", FAST_ENGINES)
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
