"""The attributed-graph path: the contextual SBM generator, SymNMFClustering
with an encoder (``encoder='gcn'``), and the attributed benchmark and
node-classification example at their --quick sizes."""
import os
import pathlib
import subprocess
import sys
import warnings

import pytest
import torch

from pyg_symnmf import SymNMFClustering, datasets, metrics, to_adjacency
from pyg_symnmf.encoders import signal_features

ROOT = pathlib.Path(__file__).parents[1]


def test_contextual_sbm_shapes_and_determinism():
    data = datasets.contextual_sbm(400, 4, graph_signal=1.5,
                                   feature_signal=1.0, num_features=8,
                                   average_degree=10, seed=3)
    assert data.num_nodes == 400 and data.x.shape == (400, 8)
    assert data.y.shape == (400,) and torch.bincount(data.y).tolist() == \
        [100] * 4
    assert data.is_undirected() and not data.has_self_loops()
    assert 7 < data.edge_index.size(1) / 400 < 13  # mean degree ~10
    again = datasets.contextual_sbm(400, 4, 1.5, 1.0, 8, 10, seed=3)
    assert torch.equal(data.x, again.x)
    assert torch.equal(data.edge_index, again.edge_index)
    other = datasets.contextual_sbm(400, 4, 1.5, 1.0, 8, 10, seed=4)
    assert not torch.equal(data.x, other.x)


def test_contextual_sbm_signals():
    # The graph signal puts more edges inside classes; mu=0: pure noise.
    data = datasets.contextual_sbm(600, 3, graph_signal=3.0,
                                   feature_signal=0.0, seed=0)
    row, col = data.edge_index
    assert (data.y[row] == data.y[col]).float().mean() > 0.6
    flat = datasets.contextual_sbm(600, 3, graph_signal=0.0, seed=0)
    row, col = flat.edge_index
    assert abs((flat.y[row] == flat.y[col]).float().mean() - 1 / 3) < 0.05
    with pytest.raises(ValueError, match='graph_signal'):
        datasets.contextual_sbm(100, 2, graph_signal=5.0, average_degree=10)


def test_signal_features_drop_pure_noise():
    clear = datasets.contextual_sbm(1000, 4, 1.0, feature_signal=2.0)
    adj = to_adjacency(clear.edge_index, num_nodes=1000)
    xs = signal_features(clear.x, adj)
    assert xs.shape == (1000, 3)  # the k - 1 centred class directions
    signal = float((xs.t() @ xs).norm())
    for seed in range(3):
        noise = datasets.contextual_sbm(1000, 4, 1.0, feature_signal=0.0,
                                        seed=seed)
        kept = signal_features(noise.x, adj)
        # Nothing, or a direction barely over the noise edge (about zero).
        assert kept is None or float((kept.t() @ kept).norm()) < \
            0.05 * signal


def test_encoder_training_lowers_the_loss_and_is_deterministic():
    data = datasets.contextual_sbm(300, 4, 2.0, 1.5, num_features=8, seed=1)

    def fit(seed):
        return SymNMFClustering(4, 'net', encoder='gcn', epochs=40,
                                seed=seed).fit(data)

    est = fit(0)
    assert est.n_iter_ == 40 and est.model_.net.num_layers == 2
    assert min(est.loss_curve_[-5:]) < est.loss_curve_[0]
    assert all(value >= 0 for value in est.loss_curve_)
    soft = est.transform(data)
    assert torch.allclose(soft.sum(1), torch.ones(300))
    again = fit(0)
    assert torch.equal(est.embedding_, again.embedding_)
    assert not torch.equal(est.embedding_, fit(1).embedding_)


def test_encoder_defaults_and_validation():
    est = SymNMFClustering(4, 'net', encoder='gcn')
    assert est.get_params()['epochs'] is None
    assert est.plan().epochs == 300 and est.plan().num_layers == 2
    data = datasets.contextual_sbm(100, 4, seed=0)
    with pytest.raises(ValueError, match='encoder'):
        SymNMFClustering(4, 'net', encoder='gat').fit(data)
    with pytest.raises(ValueError, match='encoder'):
        SymNMFClustering(4, 'net', encoder=3).fit(data)


def test_encoder_recovers_an_easy_contextual_sbm():
    data = datasets.contextual_sbm(1000, 4, graph_signal=2.5,
                                   feature_signal=2.0, seed=0)
    est = SymNMFClustering(4, 'net', encoder='gcn', seed=0).fit(data)
    assert metrics.nmi(data.y, est.labels_) >= 0.8


def test_node_classification_example_quick(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / 'examples' / 'node_classification.py'),
         '--quick'], cwd=tmp_path, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'transform(data)' in result.stdout
    assert 'chance' in result.stdout


def test_attributed_benchmark_quick(tmp_path):
    env = {**os.environ, 'PYG_SYMNMF_RESULTS': str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / 'benchmarks' / 'attributed.py'),
         '--quick'], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ('attributed.csv', 'attributed_runs.csv', 'attributed.png'):
        assert (tmp_path / name).stat().st_size > 0, name
    assert 'SymNMF+X ANLS' in result.stdout and '| 2.5 | 2.0 |' in result.stdout


def wide_words(n=400, width=600, k=4, seed=0):
    """Sparse binary bag-of-words features: each class has its own 40
    frequent words, every node draws words from them and the rest."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    prob = torch.full((k, width), 0.01)
    for c in range(k):
        prob[c, c * 40:(c + 1) * 40] = 0.25
    x = (torch.rand(n, width, generator=gen) < prob[y]).float()
    return x, y


def test_input_projection_is_seeded_orthonormal_and_sparse_safe():
    from pyg_symnmf.encoders import encoder_width, input_projection
    x, _ = wide_words()
    assert input_projection(x[:, :100]) is None  # narrow: read as is
    v = input_projection(x, max_dim=32, seed=1)
    assert v.shape == (600, 32) and v.dtype == torch.float32
    assert torch.allclose(v.t() @ v, torch.eye(32), atol=1e-4)
    assert torch.equal(v, input_projection(x, max_dim=32, seed=1))
    sparse = input_projection(x.to_sparse(), max_dim=32, seed=1)
    assert torch.allclose(v, sparse, atol=1e-5)
    assert encoder_width(x, 32) == 32 and encoder_width(x[:, :10], 32) == 10
    # The top directions of the words: the class words' span.
    captured = (x @ v).norm() / x.norm()
    assert captured > 0.6


def test_encoded_net_projects_once_and_checks_the_width():
    from torch_geometric.nn.models import GCN
    from pyg_symnmf.encoders import EncodedNet, input_projection
    from pyg_symnmf.nn import SymNMFNet
    x, _ = wide_words()
    v = input_projection(x, max_dim=16)
    model = EncodedNet(GCN(16, 8, num_layers=2, out_channels=4),
                       SymNMFNet(4, 2), v)
    first = model.inputs(x)
    assert first.shape == (400, 16) and model.inputs(x) is first
    assert torch.allclose(first, x @ v, atol=1e-5)
    assert 'projection' in model.state_dict()
    with pytest.raises(ValueError, match='600 feature columns'):
        model.inputs(x[:, :300])
    assert EncodedNet(GCN(4, 8, 2, 4), SymNMFNet(4, 2)).inputs(x) is x


def test_wide_signal_features_match_the_exact_directions(monkeypatch):
    import pyg_symnmf.encoders as encoders
    x, y = wide_words(n=200, width=300)
    adj = to_adjacency(torch.tensor([[0, 1], [1, 0]]), num_nodes=200)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # e.g. torch's sparse-invariant one
        wide = signal_features(x, adj)  # 300 > 256, 200: randomised SVD
        assert signal_features(x.to_sparse(), adj).shape == wide.shape
    monkeypatch.setattr(encoders, 'ENCODER_MAX_DIM', 10 ** 6)
    exact = signal_features(x, adj)  # the p x p eigendecomposition
    assert wide.shape[1] >= 3 and exact.shape[1] >= wide.shape[1]
    kw, ke = wide @ wide.t(), exact @ exact.t()
    assert float((kw - ke).norm() / ke.norm()) < 0.1
    from sklearn.cluster import KMeans
    labels = KMeans(4, n_init=4, random_state=0).fit_predict(wide.numpy())
    assert metrics.nmi(y, torch.as_tensor(labels)) > 0.9


def test_wide_signal_features_of_noise_words_are_small():
    gen = torch.Generator().manual_seed(0)
    noise = (torch.rand(200, 400, generator=gen) < 0.05).float()
    adj = to_adjacency(torch.tensor([[0, 1], [1, 0]]), num_nodes=200)
    kept = signal_features(noise, adj)
    signal = signal_features(wide_words(200, 400)[0], adj)
    assert kept is None or float((kept.t() @ kept).norm()) < \
        0.05 * float((signal.t() @ signal).norm())
