import pytest
import torch

from pyg_symnmf import SymNMFNetConv, symnmf, to_adjacency

from conftest import random_graph

N, K = 30, 4


def test_block_at_initial_weights_is_one_anls_iteration():
    edge_index, weight = random_graph()
    h0 = torch.rand(N, K)
    conv = SymNMFNetConv(K, alpha=0.3, learn_alpha=False)
    expected = symnmf(edge_index, K, weight, N, method='anls', alpha=0.3,
                      h0=h0, max_iter=1, tol=0.0)
    out = conv(h0, edge_index, weight)
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    # The same after training moved it and reset_parameters() restored it.
    with torch.no_grad():
        conv.weight.add_(1.0)
    assert not torch.allclose(conv(h0, edge_index, weight), expected)
    conv.reset_parameters()
    torch.testing.assert_close(conv(h0, edge_index, weight), expected,
                               rtol=1e-6, atol=1e-6)


def test_alpha_never_falls_below_its_floor():
    conv = SymNMFNetConv(K, alpha=0.5, alpha_min=0.01)
    assert abs(float(conv.alpha) - 0.5) < 1e-6
    with torch.no_grad():
        conv.rho.fill_(-1e4)  # what a runaway optimiser could do
    assert float(conv.alpha) >= 0.01 * (1 - 1e-6)  # float32 of 0.01
    edge_index, weight = random_graph()
    assert torch.isfinite(conv(torch.rand(N, K) * 1e3, edge_index,
                               weight)).all()


def test_cached_operator_is_reused():
    edge_index, weight = random_graph()
    conv = SymNMFNetConv(K, cached=True)
    h = torch.rand(N, K)
    first = conv(h, edge_index, weight)
    # A cached layer ignores a new graph until reset_parameters().
    torch.testing.assert_close(conv(h, edge_index, weight * 2), first)
    conv.reset_parameters()
    assert conv._cached_adj is None


def test_accepts_an_adjacency_and_a_torch_sparse_matrix():
    edge_index, weight = random_graph()
    conv = SymNMFNetConv(K)
    h = torch.rand(N, K)
    adj = to_adjacency(edge_index, weight)
    expected = conv(h, edge_index, weight)
    torch.testing.assert_close(conv(h, adj), expected)
    a = torch.sparse_coo_tensor(edge_index, weight, (N, N))
    torch.testing.assert_close(conv(h, a), expected)


def test_repr_and_parameters():
    conv = SymNMFNetConv(K, alpha=0.2, bias=True)
    assert repr(conv) == 'SymNMFNetConv(k=4, alpha=0.2, bias=True)'
    assert {n for n, _ in conv.named_parameters()} == {'weight', 'rho',
                                                       'bias'}
    fixed = SymNMFNetConv(K, learn_alpha=False)
    assert {n for n, _ in fixed.named_parameters()} == {'weight'}


@pytest.mark.parametrize('kwargs,error,match', [
    ({'k': 0}, ValueError, '>= 1'),
    ({'k': 2.5}, TypeError, 'must be an int'),
    ({'k': 3, 'alpha': 0.0}, ValueError, 'alpha'),
    ({'k': 3, 'alpha_min': -1.0}, ValueError, 'alpha_min'),
    ({'k': 3, 'alpha': float('nan')}, ValueError, 'alpha'),
])
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SymNMFNetConv(**kwargs)


def test_wrong_number_of_columns():
    edge_index, weight = random_graph()
    with pytest.raises(ValueError, match='k=4'):
        SymNMFNetConv(K)(torch.rand(N, 5), edge_index, weight)
