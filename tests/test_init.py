"""How the weights start: the chapter's N(0, 1), or chapter 3's N(0, 1/n_in)
(``Network(init=...)``, ``TrainConfig.init``, ``nndl train --init``)."""

from __future__ import annotations

import numpy as np
import pytest

from nndl import ConfigError, Network, TrainConfig
from nndl.cli import main


def test_scaled_weights_are_the_standard_draws_divided_by_the_root_of_the_inputs():
    standard = Network([784, 30, 10], seed=5)
    scaled = Network([784, 30, 10], seed=5, init="scaled")
    for a, b in zip(standard.weights, scaled.weights):
        np.testing.assert_allclose(b, a / np.sqrt(a.shape[1]), rtol=1e-15)
    assert all(np.array_equal(a, b) for a, b in zip(standard.biases, scaled.biases))
    assert abs(scaled.weights[0].std() - 1 / 28) < 0.002


@pytest.mark.parametrize("init", ["normal", None, 1])
def test_an_unknown_start_is_one_line(init):
    with pytest.raises(ConfigError, match="init must be one of standard, scaled"):
        Network([4, 3, 2], init=init)
    with pytest.raises(ConfigError, match="init must be one of standard, scaled"):
        TrainConfig(init=init).validate()


def test_nndl_train_starts_as_init_says_and_records_it(tmp_path, tiny_npz):
    model = tmp_path / "m.npz"
    assert main(["train", "--data", str(tiny_npz), "--epochs", "1", "--init", "scaled", "--save", str(model)]) == 0
    assert Network.load(model).settings["init"] == "scaled"
    assert TrainConfig.from_dict({"init": "scaled"}).init == "scaled"  # as the lab's form sends it
