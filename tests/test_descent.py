"""Gradient descent as the chapter pictures it: the valley, the one-variable
case and mini-batches, checked against finite differences and NumPy."""

from __future__ import annotations

import numpy as np

from nndl import descent


def finite_difference(f, v, h=1e-6):
    v = np.asarray(v, dtype=float)
    return [(f(v + h * e) - f(v - h * e)) / (2 * h) for e in np.eye(len(v))]


def test_gradients_are_the_costs_slopes():
    rng = np.random.default_rng(0)
    points = descent.cloud(20, 3)
    for v in rng.uniform(-2, 2, size=(20, 2)):
        assert np.allclose(descent.valley_gradient(v), finite_difference(descent.valley, v), atol=1e-6)
        numeric = finite_difference(lambda u: descent.cloud_cost(u, points), v)
        assert np.allclose(descent.cloud_gradient(v, points), numeric, atol=1e-6)
    for x in rng.uniform(-2, 2, size=20):
        assert np.allclose(descent.curve_gradient([x]), finite_difference(descent.curve, [x]), atol=1e-6)


def test_descent_goes_down_for_small_eta_and_out_for_large():
    small = descent.descend((-1.8, 1.5), 0.1, 50)
    costs = [descent.valley(v) for v in small]
    assert len(small) == 51 and all(b < a for a, b in zip(costs, costs[1:])) and costs[-1] < 1e-4
    # across the valley C grows by |1 - 4 eta| each step: past eta = 0.5 it climbs out
    out = descent.descend((0.0, 1.0), 0.55, 1000)
    assert max(abs(x) for x in out[-1]) > descent.ESCAPE and len(out) < 1000
    assert abs(out[1][1] - (1 - 4 * 0.55)) < 1e-15
    # one variable: from the right of the hump, into the shallow valley, not the deeper one
    end = descent.descend((2.2,), 0.1, 200, descent.curve_gradient)[-1][0]
    assert abs(descent.curve_gradient([end])[0]) < 1e-9 and end > 0
    assert np.isclose(end, max(np.roots([1, 0, -2, 0.25]).real))


def test_lcg_is_the_numerical_recipes_generator():
    rng = descent.Lcg(0)
    assert rng.random() == 1013904223 / 2**32
    assert descent.Lcg(1).shuffled(20) != list(range(20))
    assert sorted(descent.Lcg(5).shuffled(20)) == list(range(20))
    assert descent.Lcg(2**32 + 7).random() == descent.Lcg(7).random()


def test_minibatch_estimates_the_full_gradient():
    points = descent.cloud(20, 1)
    v = (0.3, -1.2)
    order = descent.Lcg(4).shuffled(20)
    estimates = [descent.cloud_gradient(v, points, order[k : k + 5]) for k in range(0, 20, 5)]
    assert descent.estimates(points, v, 5, seed=4) == estimates
    spread = np.mean([np.linalg.norm(np.subtract(g, descent.cloud_gradient(v, points))) for g in estimates])
    assert np.isclose(descent.estimate_spread(points, v, 5, seed=4), spread)
    spreads = [descent.estimate_spread(points, v, m, seed=4) for m in (1, 2, 5, 10, 20)]
    assert all(b < a for a, b in zip(spreads, spreads[1:])) and spreads[-1] < 1e-15
    assert np.allclose(np.mean(estimates, axis=0), descent.cloud_gradient(v, points))  # unbiased over an epoch
    assert not np.allclose(estimates[0], descent.cloud_gradient(v, points))  # but each one is noisy
    # a mini-batch of all n is gradient descent itself, and the minimum is the points' mean
    full = descent.minibatch_path(points, (-1.6, -1.6), 0.2, 20, 100)
    plain = descent.descend((-1.6, -1.6), 0.2, 100, lambda u: descent.cloud_gradient(u, points))
    assert np.allclose(full, plain)
    assert np.allclose(full[-1], np.mean(points, axis=0))
    one = descent.minibatch_path(points, (-1.6, -1.6), 0.2, 1, 3)
    assert len(one) == 61 and np.linalg.norm(np.subtract(one[-1], np.mean(points, axis=0))) < 0.5
