import pytest
import torch

from pyg_symnmf import METHODS, datasets, metrics, symnmf, symnmf_loss, to_adjacency

from conftest import random_graph


@pytest.fixture(scope='module')
def planted():
    return datasets.sbm((60, 60, 60, 60), p_in=0.3, p_out=0.02, seed=1)


@pytest.mark.parametrize('method', METHODS)
def test_solver_recovers_a_planted_partition(planted, method):
    h, history = symnmf(planted.edge_index, 4, num_nodes=planted.num_nodes,
                        method=method, max_iter=200, return_history=True)
    assert h.shape == (240, 4) and bool((h >= 0).all())
    assert history[-1] < history[0]
    assert metrics.nmi(planted.y, h.argmax(1)) >= 0.95
    torch.testing.assert_close(
        symnmf_loss(planted.edge_index, h), torch.tensor(history[-1]),
        rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('method', ['pgd', 'mu'])
def test_monotone_methods_never_increase_the_loss(method):
    edge_index, weight = random_graph(num_nodes=50, num_edges=300)
    _, history = symnmf(edge_index, 5, weight, method=method, max_iter=50,
                        tol=0.0, return_history=True)
    assert all(b <= a * (1 + 1e-5) for a, b in zip(history, history[1:]))


@pytest.mark.parametrize('method', METHODS)
def test_scaling_a_by_c_squared_scales_h_by_c(method):
    """f(cH; c^2 A) = c^4 f(H; A): the iterates scale with the data (the
    penalty alpha carries units of A and scales with it too)."""
    edge_index, weight = random_graph(num_nodes=40, num_edges=200)
    adj = to_adjacency(edge_index, weight, dtype=torch.float64)
    h0 = torch.rand(40, 3, dtype=torch.float64)
    c = 3.0
    scaled = to_adjacency(torch.sparse_csr_tensor(
        adj.csr.crow_indices(), adj.csr.col_indices(),
        adj.csr.values() * c**2, adj.csr.shape), normalize=False)
    h = symnmf(adj, 3, method=method, h0=h0, max_iter=20, tol=0.0,
               alpha=0.1)
    hc = symnmf(scaled, 3, method=method, h0=c * h0, max_iter=20, tol=0.0,
                alpha=0.1 * c**2)
    torch.testing.assert_close(hc, c * h, rtol=1e-6, atol=1e-8)


def test_same_seed_same_result_and_tolerance_stops_early():
    edge_index, weight = random_graph()
    a = symnmf(edge_index, 3, weight, seed=5)
    b = symnmf(edge_index, 3, weight, seed=5)
    assert torch.equal(a, b)
    assert not torch.equal(a, symnmf(edge_index, 3, weight, seed=6))
    _, history = symnmf(edge_index, 3, weight, tol=1e-2, max_iter=500,
                        return_history=True)
    assert len(history) < 501


def test_dead_columns_stay_finite():
    edge_index, weight = random_graph()
    h0 = torch.rand(30, 4)
    h0[:, 2] = 0
    for method in METHODS:
        h = symnmf(edge_index, 4, weight, method=method, h0=h0, max_iter=30)
        assert torch.isfinite(h).all(), method
        assert bool((h[:, 2] == 0).all()), method  # documented: stays dead


@pytest.mark.parametrize('kwargs,error,match', [
    ({'method': 'als'}, ValueError, 'Unknown method'),
    ({'k': 0}, ValueError, '>= 1'),
    ({'k': 31}, ValueError, 'exceeds the number of nodes'),
    ({'k': 2.0}, TypeError, 'must be an int'),
    ({'max_iter': -1}, ValueError, 'max_iter'),
    ({'tol': -1.0}, ValueError, 'tol'),
    ({'alpha': 0.0}, ValueError, 'alpha'),
    ({'h0': -torch.ones(30, 3)}, ValueError, 'nonnegative'),
    ({'h0': torch.ones(30, 2)}, ValueError, 'k=3'),
])
def test_invalid_arguments(kwargs, error, match):
    edge_index, weight = random_graph()
    kwargs = {'k': 3, **kwargs}
    with pytest.raises(error, match=match):
        symnmf(edge_index, edge_weight=weight, **kwargs)
