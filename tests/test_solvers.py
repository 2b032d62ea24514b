import warnings

import pytest
import torch

from pyg_symnmf.solvers import CLASSICAL_METHODS
from pyg_symnmf import (ConvergenceWarning, datasets, metrics,
                        symnmf, symnmf_loss, to_adjacency)
from pyg_symnmf.factorize import factorize
from pyg_symnmf.testing import random_graph


@pytest.fixture(scope='module')
def planted():
    return datasets.sbm((60, 60, 60, 60), p_in=0.3, p_out=0.02, seed=1)


SLOW_ON_PLANTED = ('hals', 'pgd')


@pytest.mark.parametrize('method', [
    pytest.param(m, marks=pytest.mark.slow) if m in SLOW_ON_PLANTED else m
    for m in CLASSICAL_METHODS])
def test_solver_recovers_a_planted_partition(planted, method):
    adj = to_adjacency(planted.edge_index, num_nodes=planted.num_nodes)
    result = factorize(adj, 4, method, max_iter=200, warn=False)
    h = symnmf(planted.edge_index, 4, num_nodes=planted.num_nodes,
               method=method, max_iter=200)
    assert torch.equal(h, result.h)  # symnmf is factorize's H
    history = result.loss_curve
    assert h.shape == (240, 4) and bool((h >= 0).all())
    assert len(history) == result.n_iter + 1
    assert history[-1] < history[0]
    assert metrics.nmi(planted.y, h.argmax(1)) >= 0.95
    torch.testing.assert_close(
        symnmf_loss(planted.edge_index, h), torch.tensor(history[-1]),
        rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('method', CLASSICAL_METHODS)
def test_every_method_never_increases_the_loss(method):
    edge_index, weight = random_graph(num_nodes=50, num_edges=300)
    adj = to_adjacency(edge_index, weight)
    result = factorize(adj, 5, method, max_iter=50, tol=0.0)
    history = result.loss_curve
    assert len(history) == 51 and result.n_iter == 50
    assert all(b <= a for a, b in zip(history, history[1:]))
    assert history[-1] < history[0]
    torch.testing.assert_close(symnmf_loss(adj, result.h),
                               torch.tensor(history[-1]), rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize('method', CLASSICAL_METHODS)
def test_scaling_a_by_c_squared_scales_h_by_c(method):
    """f(cH; c^2 A) = c^4 f(H; A): the iterates scale with the data (alpha
    is relative to the operator's scale, which scales with A)."""
    edge_index, weight = random_graph(num_nodes=40, num_edges=200)
    adj = to_adjacency(edge_index, weight, normalize=False,
                       dtype=torch.float64)
    assert float(adj.scale) != 1.0
    h0 = torch.rand(40, 3, dtype=torch.float64)
    c = 3.0
    scaled = to_adjacency(torch.sparse_csr_tensor(
        adj.csr.crow_indices(), adj.csr.col_indices(),
        adj.csr.values() * c**2, adj.csr.shape), normalize=False)
    torch.testing.assert_close(scaled.scale, adj.scale * c**2)
    h = symnmf(adj, 3, method=method, h0=h0, max_iter=20, tol=0.0,
               alpha=0.1)
    hc = symnmf(scaled, 3, method=method, h0=c * h0, max_iter=20, tol=0.0,
                alpha=0.1)
    torch.testing.assert_close(hc, c * h, rtol=1e-6, atol=1e-8)


def test_same_seed_same_result_and_tolerance_stops_early():
    edge_index, weight = random_graph()
    a = symnmf(edge_index, 3, weight, seed=5)
    b = symnmf(edge_index, 3, weight, seed=5)
    assert torch.equal(a, b)
    assert not torch.equal(a, symnmf(edge_index, 3, weight, seed=6))
    adj = to_adjacency(edge_index, weight)
    result = factorize(adj, 3, tol=1e-2, max_iter=500)
    assert result.converged and result.n_iter < 500
    assert len(result.loss_curve) == result.n_iter + 1 < 501


def test_max_iter_without_convergence_warns_unless_tol_is_zero():
    edge_index, weight = random_graph()
    with pytest.warns(ConvergenceWarning, match='max_iter=3'):
        symnmf(edge_index, 3, weight, max_iter=3, tol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        symnmf(edge_index, 3, weight, max_iter=3, tol=0.0)


def test_dead_columns_stay_finite():
    edge_index, weight = random_graph()
    h0 = torch.rand(30, 4)
    h0[:, 2] = 0
    for method in CLASSICAL_METHODS:
        h = symnmf(edge_index, 4, weight, method=method, h0=h0, max_iter=30,
                   tol=0.0)
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


def test_several_starts_warn_once_and_only_for_the_result():
    # A converged start among starts cut at max_iter: it is chosen (the
    # lowest loss), and the starts passed over do not warn; when the
    # result itself stopped at max_iter, one warning, not one per start.
    import warnings
    from pyg_symnmf import to_adjacency
    from pyg_symnmf.factorize import factorize
    data = datasets.karate()
    adj = to_adjacency(data.edge_index, num_nodes=data.num_nodes)
    converged = factorize(adj, 2, max_iter=3000, tol=1e-8)
    assert converged.converged
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        best = factorize(adj, 2, max_iter=5, tol=1e-4, n_init=3,
                         starts=[converged.h])
    assert best.converged
    with pytest.warns(ConvergenceWarning, match='chosen start') as caught:
        factorize(adj, 2, max_iter=5, tol=1e-4, n_init=3)
    assert len(caught) == 1
