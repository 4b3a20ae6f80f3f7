"""The hidden-layer map: activations as the network computes them, PCA
against scikit-learn's, coordinates fixed by the seed, and the figure."""

from __future__ import annotations

import numpy as np
import pytest

from nndl import ConfigError, Network
from nndl import hiddenmap as H
from nndl.cli import main
from nndl.errors import MissingExtraError
from nndl.network import sigmoid


@pytest.fixture(scope="module")
def net(digit_model):
    return Network.load(digit_model)


def test_activations_are_the_hidden_layers(net, mnist):
    x = mnist.test.images[:50]
    a, predicted = H.activations(net, x)
    want = sigmoid(net.weights[0] @ (x.T / 256) + net.biases[0]).T
    np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-6)
    assert np.array_equal(predicted, net.predict(x))


def test_pca_matches_scikit_learn(net, mnist):
    from sklearn.decomposition import PCA

    a, _ = H.activations(net, mnist.test.images[:1000])
    mine = H.pca(a)
    theirs = PCA(2, svd_solver="full").fit_transform(a.astype(np.float64))
    signs = np.sign((mine * theirs).sum(axis=0))  # a principal direction's sign is a convention
    np.testing.assert_allclose(mine, theirs * signs, atol=1e-8)
    # the first coordinate varies most, and the two are uncorrelated
    assert mine[:, 0].var() >= mine[:, 1].var()
    assert abs(np.corrcoef(mine.T)[0, 1]) < 1e-8


def test_the_map_is_fixed_by_its_seed(net, mnist):
    a = H.hidden_map(net, mnist.test, sample=300, seed=5)
    b = H.hidden_map(net, mnist.test, sample=300, seed=5)
    c = H.hidden_map(net, mnist.test, sample=300, seed=6)
    assert np.array_equal(a.xy, b.xy) and np.array_equal(a.index, b.index)
    assert not np.array_equal(a.index, c.index)
    assert np.array_equal(a.labels, mnist.test.labels[a.index])
    assert np.array_equal(a.predicted, net.predict(mnist.test.images[a.index]))
    assert a.xy.shape == (300, 2) and np.isfinite(a.xy).all()
    np.testing.assert_allclose(a.xy, H.pca(H.activations(net, mnist.test.images[a.index])[0]))


@pytest.mark.slow
def test_tsne_is_fixed_by_its_seed(net, mnist):
    a = H.hidden_map(net, mnist.test, "tsne", sample=100, seed=5)
    b = H.hidden_map(net, mnist.test, "tsne", sample=100, seed=5)
    assert np.array_equal(a.xy, b.xy) and a.xy.shape == (100, 2) and np.isfinite(a.xy).all()


def test_a_deeper_networks_layers(mnist):
    deep = Network([784, 20, 12, 10], seed=0)
    x = mnist.test.images[:10]
    first, _ = H.activations(deep, x, layer=2)
    last, _ = H.activations(deep, x, layer=-1)
    assert first.shape == (10, 20) and last.shape == (10, 12)
    np.testing.assert_allclose(last, sigmoid(deep.weights[1] @ first.T + deep.biases[1]).T)
    with pytest.raises(ConfigError, match="layer must be a hidden layer, 2 to 3 .or -1, the last., got 4"):
        H.activations(deep, x, layer=4)
    with pytest.raises(ConfigError, match="no hidden layer"):
        H.activations(Network([784, 10], seed=0), x)


def test_plot_map(tmp_path, digit_model, net, mnist, capsys):
    from nndl import plots

    m = H.hidden_map(net, mnist.test, sample=200)
    fig = plots.hidden_map(m)
    drawn = np.concatenate([c.get_offsets() for c in fig.axes[0].collections[:-1]])
    assert len(drawn) == 200 and sorted(map(tuple, drawn)) == sorted(map(tuple, m.xy))
    ringed = fig.axes[0].collections[-1].get_offsets()
    assert len(ringed) == int((m.predicted != m.labels).sum())
    out = tmp_path / "map.png"
    assert main(["plot", "map", str(digit_model), "--sample", "100", "--no-tsne", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_without_scikit_learn_the_map_is_pca_alone_and_says_so(tmp_path, digit_model, monkeypatch, capsys):
    from nndl import plots

    monkeypatch.setattr(H.importlib.util, "find_spec", lambda name: None)  # as if scikit-learn were not installed
    assert not H.has_tsne()
    with pytest.raises(MissingExtraError, match=r"a t-SNE map needs the 'sklearn' extra"):
        H.tsne(np.zeros((10, 3)))
    out = tmp_path / "map.png"
    saved = []
    monkeypatch.setattr(plots, "save", lambda fig, path: saved.append(fig) or path)
    assert main(["plot", "map", str(digit_model), "--sample", "60", "--out", str(out)]) == 0
    assert 'PCA only: a t-SNE map needs scikit-learn (pip install "nndl[sklearn]")' in capsys.readouterr().err
    assert [ax.get_title().split(":")[0] for ax in saved[0].axes] == ["PCA"]
