"""The conventions users bring: their graph types, scikit-learn's estimator
protocol, cdlib's node lists, thread control, no warnings from PyTorch."""
import os
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.sparse
import torch
from torch_geometric.datasets import KarateClub

import pyg_symnmf as ps
from pyg_symnmf.threads import SMALL_WORK, resolve_threads, thread_limit


@pytest.fixture(scope='module')
def karate():
    return KarateClub()[0]


def _forms(data):
    graph = nx.Graph()
    graph.add_nodes_from(range(data.num_nodes))
    graph.add_edges_from(data.edge_index.t().tolist())
    matrix = scipy.sparse.csr_matrix(
        (torch.ones(data.edge_index.size(1)).numpy(),
         data.edge_index.numpy()), shape=(data.num_nodes,) * 2)
    return {'scipy': matrix, 'networkx': graph,
            'edge_index': data.edge_index, 'dense numpy': matrix.toarray(),
            'torch.sparse': matrix_to_torch(matrix)}


def matrix_to_torch(matrix):
    coo = matrix.tocoo()
    return torch.sparse_coo_tensor(torch.tensor(np.stack([coo.row, coo.col])),
                                   torch.tensor(coo.data, dtype=torch.float32),
                                   coo.shape)


@pytest.mark.parametrize('method', ['anls', 'net'])
def test_every_graph_type_gives_the_labels_of_the_data(karate, method):
    reference = ps.SymNMFClustering(4, method=method).fit(karate)
    for name, graph in _forms(karate).items():
        estimator = ps.SymNMFClustering(4, method=method).fit(graph)
        assert torch.equal(estimator.labels_, reference.labels_), name
        assert torch.equal(estimator.predict(graph), reference.labels_), name
        torch.testing.assert_close(estimator.transform(graph),
                                   reference.transform(karate))


def test_functional_and_metrics_accept_every_graph_type(karate):
    reference = ps.symnmf(karate.edge_index, 3)
    labels = reference.argmax(1)
    q = ps.metrics.modularity(karate.edge_index, labels)
    for name, graph in _forms(karate).items():
        assert torch.equal(ps.symnmf(graph, 3), reference), name
        assert ps.metrics.modularity(graph, labels) == pytest.approx(q)
    assert ps.metrics.modularity(karate, labels) == pytest.approx(q)
    assert ps.metrics.conductance(karate, labels) == pytest.approx(
        ps.metrics.conductance(karate.edge_index, labels))


def test_networkx_weights_are_used():
    graph = nx.Graph()
    graph.add_edge('a', 'b', weight=2.0)
    graph.add_edge('b', 'c', weight=1.0)
    adj = ps.to_adjacency(graph, normalize=False)
    assert sorted(adj.values.tolist()) == [1.0, 1.0, 2.0, 2.0]


def test_fit_takes_y_and_sits_in_a_pipeline(karate):
    from sklearn.pipeline import make_pipeline
    pipeline = make_pipeline(ps.SymNMFClustering(4)).fit(karate, karate.y)
    assert torch.equal(pipeline[-1].labels_,
                       ps.SymNMFClustering(4).fit(karate).labels_)
    assert torch.equal(ps.SymNMFClustering(4).fit_predict(karate, karate.y),
                       pipeline[-1].labels_)


def test_score_modularity_and_node_lists(karate):
    estimator = ps.SymNMFClustering(4).fit(karate)
    q = ps.metrics.modularity(karate.edge_index, estimator.labels_)
    assert estimator.modularity_ == pytest.approx(q)
    assert estimator.score(karate) == pytest.approx(q)
    communities = estimator.communities_
    assert sorted(i for c in communities for i in c) == list(range(34))
    assert [len(c) for c in communities] == sorted(
        (len(c) for c in communities), reverse=True)
    for members in communities:
        assert len(set(estimator.labels_[members].tolist())) == 1
    # Model selection over k, as with any scikit-learn estimator.
    from sklearn.base import clone
    scores = {k: clone(estimator).set_params(k=k).fit(karate).score(karate)
              for k in (2, 3, 4)}
    assert all(-0.5 <= s <= 1 for s in scores.values())


def test_k_defaults_to_auto_everywhere():
    assert ps.SymNMFClustering().k == 'auto'
    assert ps.transforms.DetectCommunities().k == 'auto'


def test_thread_limit_restores_the_count_and_validates(monkeypatch):
    before = torch.get_num_threads()
    assert resolve_threads(None, SMALL_WORK - 1) == 1
    assert resolve_threads(3, 0) == 3
    # Large jobs take the cores other work leaves idle, never a busy one.
    cores = os.cpu_count() or 1
    for load, idle in ((0.0, cores), (1.0, cores - 1), (cores + 3.0, 1)):
        monkeypatch.setattr(os, 'getloadavg', lambda: (load, load, load))
        assert resolve_threads(None, SMALL_WORK) == max(1, idle)
    with thread_limit(1, 10**12) as used:
        assert used == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match='n_jobs'):
            resolve_threads(bad, 0)
    with pytest.raises(ValueError, match='n_jobs'):
        ps.SymNMFClustering(2, n_jobs=0).fit(KarateClub()[0])


def test_small_jobs_run_single_threaded(karate, monkeypatch):
    from pyg_symnmf import factorize as module
    real, seen = module.factorize, []

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, 'factorize', spy)
    module.symnmf(karate.edge_index, 2, n_jobs=None)
    module.symnmf(karate.edge_index, 2, n_jobs=2)
    assert seen == [1, 2]


def test_the_feature_operators_first_fit_is_thread_limited(monkeypatch):
    # The discriminant pass factors the first feature operator while the
    # estimator builds its inputs: with the threads chosen for its size
    # (or n_jobs), not torch's default.
    from pyg_symnmf import factorize as module
    data = ps.datasets.contextual_sbm(300, 3, 2.0, 2.0, seed=0)
    real, seen = module.factorize, []

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, 'factorize', spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ps.SymNMFClustering(3).fit(data)
        assert seen and set(seen) == {1}
        seen.clear()
        ps.SymNMFClustering(3, n_jobs=2).fit(data)
        assert seen and set(seen) == {2}
    finally:
        torch.set_num_threads(before)


def test_readme_example_prints_no_warning():
    readme = (Path(__file__).parents[1] / 'README.md').read_text()
    example = re.search(r'## Example\n\n```python\n(.*?)```', readme,
                        re.S).group(1)
    result = subprocess.run([sys.executable, '-W', 'error::UserWarning',
                             '-c', example], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'Warning' not in result.stderr, result.stderr


def test_verbose_shows_bars_and_quiet_jobs_print_nothing(karate, capsys,
                                                          monkeypatch):
    pytest.importorskip('tqdm')
    ps.symnmf(karate.edge_index, 2, max_iter=5, tol=0)
    assert capsys.readouterr().err == ''
    from pyg_symnmf import progress
    monkeypatch.setattr(progress, 'DELAY', 0.0)
    ps.symnmf(karate.edge_index, 2, max_iter=5, tol=0, verbose=True)
    ps.SymNMFClustering(2, method='net', epochs=3, verbose=True).fit(karate)
    err = capsys.readouterr().err
    assert 'ANLS' in err and 'SymNMF-Net' in err


def test_loading_datasets_imports_no_estimator():
    code = ("import pyg_symnmf.datasets, sys; "
            "print('pyg_symnmf.estimator' in sys.modules)")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.strip() == 'False', result.stderr[-2000:]


def test_every_public_name_loads():
    for name in ps.__all__:
        assert getattr(ps, name) is not None
    assert set(ps.__all__) <= set(dir(ps))
    with pytest.raises(AttributeError):
        ps.no_such_name


def test_likelihood_fit_and_scipy_features_print_no_warning():
    # PyTorch warns once per process about implicit sparse invariant checks
    # (the test configuration hides it): every sparse tensor the package
    # builds says how it is checked, so none reaches users.
    code = ("import scipy.sparse as sp\n"
            "from pyg_symnmf import SymNMFClustering, datasets\n"
            "from pyg_symnmf.features import feature_graph\n"
            "d = datasets.contextual_sbm(200, 3, 2.0, 2.0, seed=0)\n"
            "SymNMFClustering(3, loss='bernoulli_poisson').fit(d)\n"
            "feature_graph(sp.csr_matrix(d.x.numpy()), d.edge_index, "
            "num_nodes=200, k=3)\n")
    result = subprocess.run([sys.executable, '-W', 'error::UserWarning',
                             '-c', code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'Warning' not in result.stderr, result.stderr
