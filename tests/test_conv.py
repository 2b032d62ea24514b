import warnings

import pytest
import torch

from pyg_symnmf import SymNMFNetConv, to_adjacency
from pyg_symnmf.solvers import anls_step
from pyg_symnmf.testing import random_graph

N, K = 30, 4


def test_block_at_initial_weights_is_one_anls_iteration():
    edge_index, weight = random_graph()
    h0 = torch.rand(N, K, generator=torch.Generator().manual_seed(0))
    conv = SymNMFNetConv(K, alpha=0.3, learn_alpha=False)
    expected = anls_step(to_adjacency(edge_index, weight), h0, 0.3)
    out = conv(h0, edge_index, weight)
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    # The same after training moved it and reset_parameters() restored it.
    with torch.no_grad():
        conv.weight.add_(1.0)
    assert not torch.allclose(conv(h0, edge_index, weight), expected)
    conv.reset_parameters()
    torch.testing.assert_close(conv(h0, edge_index, weight), expected,
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('normalize', [True, False])
@pytest.mark.parametrize('alpha', [0.05, 0.3, 2.0])
def test_untrained_block_equals_anls_step_in_float64(normalize, alpha):
    edge_index, weight = random_graph(seed=4)
    adj = to_adjacency(edge_index, weight, N, normalize=normalize,
                       dtype=torch.float64)
    h = torch.rand(N, K, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(1))
    conv = SymNMFNetConv(K, alpha=alpha, normalize=normalize).double()
    # As built (float32 parameters cast up), alpha is alpha to float32
    # precision: the block is the ANLS step at exactly that alpha.
    torch.testing.assert_close(conv(h, adj), anls_step(adj, h, float(
        conv.alpha.detach())), rtol=1e-10, atol=1e-10)
    conv.reset_parameters()  # re-initialised in float64: alpha exactly
    assert abs(float(conv.alpha.detach()) - alpha) < 1e-14
    expected = anls_step(adj, h, alpha)
    out = conv(h, adj)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    # From edge_index too (the layer builds the same operator).
    torch.testing.assert_close(conv(h, edge_index, weight.double()),
                               expected, rtol=1e-10, atol=1e-10)
    # A different alpha is a different step: the comparison can fail.
    assert not torch.allclose(anls_step(adj, h, alpha * 3), expected,
                              rtol=1e-10, atol=1e-10)


def test_alpha_never_falls_below_its_floor():
    conv = SymNMFNetConv(K, alpha=0.5, alpha_min=0.01)
    assert abs(float(conv.alpha.detach()) - 0.5) < 1e-6
    with torch.no_grad():
        conv.rho.fill_(-1e4)  # what a runaway optimiser could do
    assert float(conv.alpha.detach()) >= 0.01 * (1 - 1e-6)  # float32 of 0.01
    edge_index, weight = random_graph()
    assert torch.isfinite(conv(torch.rand(N, K) * 1e3, edge_index,
                               weight)).all()


def test_content_keyed_cache_reuses_the_operator_and_never_goes_stale():
    edge_index, weight = random_graph()
    conv = SymNMFNetConv(K)
    h = torch.rand(N, K)
    first = conv(h, edge_index, weight)
    adj = conv.adjacency(edge_index, weight, N)
    # The same graph reuses the cached operator, whichever tensor holds it.
    assert conv.adjacency(edge_index, weight, N) is adj
    assert conv.adjacency(edge_index.clone(), weight.clone(), N) is adj
    # An in-place change rebuilds it.
    doubled = weight.clone()
    out = conv(h, edge_index, doubled)
    doubled.pow_(3)  # in place, still symmetric
    changed = conv(h, edge_index, doubled)
    fresh = SymNMFNetConv(K)(h, edge_index, doubled.clone())
    torch.testing.assert_close(out, first)
    torch.testing.assert_close(changed, fresh)
    assert not torch.allclose(changed, first)
    # Weights that need a gradient are never cached.
    w = weight.clone().requires_grad_()
    assert conv.adjacency(edge_index, w, N) is not \
        conv.adjacency(edge_index, w, N)
    # reset_parameters() empties the cache.
    conv.adjacency(edge_index, weight, N)
    conv.reset_parameters()
    assert conv.adjacency(edge_index, weight, N) is not adj


@pytest.mark.parametrize('edit', ['data', 'numpy', 'from_numpy'])
def test_cache_sees_changes_that_do_not_bump_the_version(edit):
    """Writes through ``.data``, a NumPy view or a buffer shared with
    ``torch.from_numpy`` leave ``_version`` unchanged; the content key
    still sees them (0.2.0 kept factoring the old graph)."""
    edge_index, weight = random_graph()
    # The same edges on relabelled nodes: another graph of the same shape.
    other = torch.randperm(N, generator=torch.Generator().manual_seed(1))[
        edge_index]
    buffer = edge_index.numpy().copy()
    graph = torch.from_numpy(buffer) if edit == 'from_numpy' \
        else edge_index.clone()
    conv = SymNMFNetConv(K)
    h = torch.rand(N, K)
    conv(h, graph, weight)
    version = graph._version
    if edit == 'data':
        graph.data[:] = other
    elif edit == 'numpy':
        graph.numpy()[:] = other.numpy()
    else:
        buffer[:] = other.numpy()
    assert graph._version == version  # what fooled the identity cache
    torch.testing.assert_close(conv(h, graph, weight),
                               SymNMFNetConv(K)(h, other, weight))
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
    assert repr(conv) == ("SymNMFNetConv(k=4, weight='full', alpha=0.2, "
                          "alpha_min=0.001, bias=True)")
    assert {n for n, _ in conv.named_parameters()} == {'weight', 'rho',
                                                       'bias'}
    fixed = SymNMFNetConv(K, learn_alpha=False)
    assert {n for n, _ in fixed.named_parameters()} == {'weight'}
    momentum = SymNMFNetConv(weight='equivariant', momentum=True)
    assert {n for n, _ in momentum.named_parameters()} == {'weight', 'rho',
                                                           'shift'}
    assert momentum.weight.shape == (2,)


def test_repr_of_a_trained_conv_warns_nothing_and_shows_hyperparameters():
    edge_index, weight = random_graph()
    conv = SymNMFNetConv(K, alpha=0.25, alpha_min=0.002, bias=True,
                         momentum=True)
    h = torch.rand(N, K)
    out = conv(h, edge_index, weight, h_prev=h * 0.5)
    out.square().sum().backward()
    with torch.no_grad():
        for p in conv.parameters():
            p.sub_(0.1 * p.grad)
    assert conv.rho.grad is not None
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        text = repr(conv)
        str(conv)
    for part in ('SymNMFNetConv(', 'k=4', "weight='full'", 'alpha=0.25',
                 'alpha_min=0.002', 'momentum=True', 'bias=True'):
        assert part in text, text


def test_equivariant_weight_commutes_with_column_permutations():
    edge_index, weight = random_graph()
    adj = to_adjacency(edge_index, weight, N, dtype=torch.float64)
    conv = SymNMFNetConv(weight='equivariant', bias=True).double()
    with torch.no_grad():  # a trained, far-from-identity block
        conv.weight.copy_(torch.tensor([0.7, 0.9]))
        conv.bias.fill_(0.01)
    gen = torch.Generator().manual_seed(0)
    for k in (2, 5, 64):
        h = torch.rand(N, k, dtype=torch.float64, generator=gen)
        perm = torch.randperm(k, generator=gen)
        out = conv(h, adj)
        assert out.shape == (N, k)
        torch.testing.assert_close(conv(h[:, perm], adj), out[:, perm],
                                   rtol=1e-10, atol=1e-12)
    # The full form has no such symmetry once trained: the check can fail.
    full = SymNMFNetConv(5).double()
    with torch.no_grad():
        full.weight.add_(torch.rand(5, 5, dtype=torch.float64,
                                    generator=gen))
    h = torch.rand(N, 5, dtype=torch.float64, generator=gen)
    perm = torch.tensor([1, 0, 2, 3, 4])
    assert not torch.allclose(full(h[:, perm], adj), full(h, adj)[:, perm])


def test_the_same_equivariant_block_runs_at_k_2_and_k_64():
    edge_index, weight = random_graph(num_nodes=100, num_edges=600)
    adj = to_adjacency(edge_index, weight, 100, dtype=torch.float64)
    conv = SymNMFNetConv(weight='equivariant', alpha=0.3).double()
    conv.reset_parameters()  # alpha = 0.3 in float64
    assert conv.k is None
    gen = torch.Generator().manual_seed(2)
    for k in (2, 64):
        h = torch.rand(100, k, dtype=torch.float64, generator=gen)
        out = conv(h, adj)
        assert out.shape == (100, k) and bool((out >= 0).all())
        # Untrained (W = I) it is the ANLS step at that k.
        torch.testing.assert_close(out, anls_step(adj, h, 0.3), rtol=1e-10,
                                   atol=1e-10)
        torch.testing.assert_close(conv.linear(k), torch.eye(
            k, dtype=torch.float64))


@pytest.mark.parametrize('kwargs,error,match', [
    ({'k': 0}, ValueError, '>= 1'),
    ({'k': 2.5}, TypeError, 'must be an int'),
    ({'k': None}, TypeError, 'must be an int'),
    ({'k': 3, 'alpha': 0.0}, ValueError, 'alpha'),
    ({'k': 3, 'alpha_min': -1.0}, ValueError, 'alpha_min'),
    ({'k': 3, 'alpha': float('nan')}, ValueError, 'alpha'),
    ({'k': 3, 'weight': 'diagonal'}, ValueError, "'weight' must be one of"),
])
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SymNMFNetConv(**kwargs)


def test_wrong_number_of_columns():
    edge_index, weight = random_graph()
    with pytest.raises(ValueError, match='k=4'):
        SymNMFNetConv(K)(torch.rand(N, 5), edge_index, weight)
