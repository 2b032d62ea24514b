"""Property-based tests (hypothesis): max_examples=40, derandomized, no
deadline."""
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pyg_symnmf.solvers import CLASSICAL_METHODS
from pyg_symnmf import SymNMFNet, symnmf, symnmf_loss, to_adjacency

from pyg_symnmf.testing import dense, normalized, random_graph

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


@st.composite
def graphs(draw, min_nodes=3, max_nodes=25):
    n = draw(st.integers(min_nodes, max_nodes))
    m = draw(st.integers(0, 4 * n))
    seed = draw(st.integers(0, 2**31 - 1))
    edge_index, weight = random_graph(n, m, seed=seed)
    k = draw(st.integers(1, min(n, 5)))
    h = torch.rand(n, k, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(seed))
    return n, edge_index, weight, h, seed


@SETTINGS
@given(graphs())
def test_loss_is_nonnegative_and_equals_the_dense_formula(case):
    n, edge_index, weight, h, _ = case
    a = normalized(dense(edge_index, weight, n))
    loss = symnmf_loss(edge_index, h, weight, n)
    assert float(loss) >= 0
    torch.testing.assert_close(loss, (a - h @ h.t()).square().sum())


@SETTINGS
@given(graphs(), st.randoms(use_true_random=False))
def test_loss_is_invariant_to_permuting_columns(case, rnd):
    n, edge_index, weight, h, _ = case
    perm = list(range(h.size(1)))
    rnd.shuffle(perm)
    torch.testing.assert_close(symnmf_loss(edge_index, h[:, perm], weight, n),
                               symnmf_loss(edge_index, h, weight, n))


@SETTINGS
@given(graphs(), st.sampled_from(('net',) + CLASSICAL_METHODS))
def test_permuting_nodes_permutes_h(case, method):
    n, edge_index, weight, h, seed = case
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(n)
    # Node perm[i] of the original graph is node i of the permuted one.
    permuted_edges = inverse[edge_index]
    k = h.size(1)

    def factor(e, h0):
        adj = to_adjacency(e, weight, n, dtype=torch.float64)
        if method == 'net':
            return SymNMFNet(k, num_layers=5).double()(h0, adj)
        return symnmf(adj, k, method=method, h0=h0, max_iter=5, tol=0.0)

    torch.testing.assert_close(factor(permuted_edges, h[perm]),
                               factor(edge_index, h)[perm])


@SETTINGS
@given(graphs(), st.floats(0.1, 10.0))
def test_scaling_a_scales_the_anls_iterates(case, c):
    n, edge_index, weight, h, _ = case
    # alpha is relative to the operator's scale, which is 1 (not scaled
    # with A) for a graph without edges.
    assume(edge_index.size(1) > 0)
    weight, k = weight.double(), h.size(1)
    # alpha is relative to the operator's scale, which scales with A.
    h1 = symnmf(edge_index, k, weight, n, h0=h, normalize=False, alpha=0.5,
                max_iter=10, tol=0.0)
    hc = symnmf(edge_index, k, weight * c**2, n, h0=h * c, normalize=False,
                alpha=0.5, max_iter=10, tol=0.0)
    torch.testing.assert_close(hc, h1 * c, rtol=1e-6, atol=1e-9)


@SETTINGS
@given(graphs())
def test_every_input_format_gives_the_same_h(case):
    n, edge_index, weight, h, _ = case
    a = dense(edge_index, weight, n)
    k = h.size(1)
    expected = symnmf(edge_index, k, weight.double(), n, h0=h, max_iter=3,
                      tol=0.0)
    for graph in (a, a.to_sparse_coo(), a.to_sparse_csr()):
        torch.testing.assert_close(
            symnmf(graph, k, h0=h, max_iter=3, tol=0.0), expected)


def test_loss_of_an_adjacency_equals_the_loss_of_its_edge_index():
    edge_index, weight = random_graph()
    h = torch.rand(30, 2)
    torch.testing.assert_close(
        symnmf_loss(to_adjacency(edge_index, weight), h),
        symnmf_loss(edge_index, h, weight))
