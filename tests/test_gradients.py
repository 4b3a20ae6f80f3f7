"""Gradient sizes against the book's backprop: mean |dC/dw| from the
mini-batch's gradient, mean |delta| from each example's (whose nabla_b is
its delta), for networks of any depth."""

from __future__ import annotations

import numpy as np
import pytest

from nndl import ConfigError, Network
from nndl.gradients import gradient_sizes, probe


@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 20, 16, 12, 10], [784, 10]])
def test_sizes_equal_backprops(mnist, sizes):
    net = Network(sizes, seed=2)
    x, y = probe(mnist.train, 10, size=25, seed=1)
    got = gradient_sizes(net, x, y)
    assert [g.layer for g in got] == list(range(2, len(sizes) + 1))
    _, nabla_w = net.backprop(x, y)  # summed over the mini-batch's 25 examples
    # backprop of one example: nabla_b is that example's delta
    deltas = [net.backprop(x[:, [k]], y[:, [k]])[0] for k in range(x.shape[1])]
    for l, g in enumerate(got):
        assert g.weight == pytest.approx(np.abs(nabla_w[l] / 25).mean(), rel=1e-12)
        assert g.delta == pytest.approx(np.mean([np.abs(d[l]).mean() for d in deltas]), rel=1e-12)


def test_a_deeper_net_learns_slower_in_front(mnist):
    """The chapter's puzzle in numbers: delta shrinks layer by layer backwards."""
    net = Network([784, 30, 30, 30, 30, 10], seed=0)
    got = gradient_sizes(net, *probe(mnist.train, 10))
    assert got[0].delta < got[-1].delta / 10


def test_the_probe_is_fixed(mnist):
    a, b = probe(mnist.train, 10, seed=3), probe(mnist.train, 10, seed=3)
    assert np.array_equal(a[0], b[0]) and a[0].shape == (784, 100) and np.array_equal(a[1].sum(axis=0), np.ones(100))
    with pytest.raises(ConfigError, match=r"a mini-batch is x \(784, m\) and y \(10, m\), got \(5, 3\)"):
        gradient_sizes(Network([784, 10], seed=0), np.zeros((5, 3)), np.zeros((10, 3)))
