import os

import pytest
import torch
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

from pyg_symnmf import Adjacency, to_adjacency

from pyg_symnmf.testing import dense, normalized, random_graph

N = 30


def as_dense(adj: Adjacency):
    return adj.csr.to_dense().double()


def input_formats(edge_index, weight):
    a = dense(edge_index, weight, N, torch.float32)
    formats = {
        'edge_index': (edge_index, weight),
        'int32 edge_index': (edge_index.int(), weight),
        'EdgeIndex': (EdgeIndex(edge_index, sparse_size=(N, N)), weight),
        'coo': (a.to_sparse_coo(), None),
        'csr': (a.to_sparse_csr(), None),
        'csc': (a.to_sparse_csc(), None),
        'dense': (a, None),
    }
    if WITH_TORCH_SPARSE:
        formats['SparseTensor'] = (SparseTensor.from_dense(a), None)
    return formats


@pytest.mark.parametrize('normalize', [False, True])
def test_every_input_format_gives_the_same_operator(graph, normalize):
    edge_index, weight = graph
    expected = dense(edge_index, weight, N)
    if normalize:
        expected = normalized(expected)
    for name, (adj, w) in input_formats(edge_index, weight).items():
        out = to_adjacency(adj, w, N, normalize=normalize)
        assert out.csr.layout == torch.sparse_csr, name
        torch.testing.assert_close(as_dense(out), expected, rtol=1e-6,
                                   atol=1e-7, msg=name)
        torch.testing.assert_close(out.sq_norm.double(),
                                   expected.square().sum(), rtol=1e-5,
                                   atol=1e-6)


# CI's second step installs the `sparse` extra and sets this, so that the
# SparseTensor path is tested for real rather than skipped.
REQUIRE_SPARSE = os.environ.get('PYG_SYMNMF_REQUIRE_SPARSE') == '1'


@pytest.mark.sparse
@pytest.mark.skipif(not WITH_TORCH_SPARSE and not REQUIRE_SPARSE,
                    reason='torch-sparse is not installed: the SparseTensor '
                    'path is not tested')
def test_sparse_tensor_input_gives_the_same_operator_and_memberships():
    from torch_geometric.data import Data

    from pyg_symnmf import SymNMFClustering, SymNMFNet

    assert WITH_TORCH_SPARSE, 'the sparse extra is required here'
    edge_index, weight = random_graph()
    adj_t = SparseTensor.from_edge_index(edge_index, weight, (N, N))
    torch.testing.assert_close(as_dense(to_adjacency(adj_t)),
                               normalized(dense(edge_index, weight, N)),
                               rtol=1e-6, atol=1e-7)
    net = SymNMFNet(3, num_layers=4)
    h0 = torch.rand(N, 3)
    torch.testing.assert_close(net(h0, adj_t), net(h0, edge_index, weight))
    est = SymNMFClustering(3, 'net')
    expected = est.fit(Data(edge_index=edge_index, edge_weight=weight,
                            num_nodes=N)).embedding_
    torch.testing.assert_close(
        est.fit(Data(adj_t=adj_t, num_nodes=N)).embedding_, expected)


def test_duplicates_are_summed_and_self_loops_kept():
    edge_index = torch.tensor([[0, 0, 1, 1, 2], [1, 1, 0, 0, 2]])
    a = as_dense(to_adjacency(edge_index, normalize=False))
    assert a[0, 1] == 2 and a[1, 0] == 2 and a[2, 2] == 1


def test_add_self_loops_only_where_missing():
    edge_index = torch.tensor([[0, 1, 1], [1, 0, 1]])
    a = as_dense(to_adjacency(edge_index, normalize=False,
                              add_self_loops=True))
    assert a.diagonal().tolist() == [1.0, 1.0]
    assert a[0, 1] == 1


def test_isolated_nodes_and_empty_graph_have_zero_rows():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    adj = to_adjacency(edge_index, num_nodes=4)
    assert adj.num_nodes == 4
    assert as_dense(adj)[2:].abs().sum() == 0
    empty = to_adjacency(torch.empty(2, 0, dtype=torch.long), num_nodes=3)
    assert empty.num_edges == 0 and float(empty.sq_norm) == 0


def test_symmetrize_uses_the_nearest_symmetric_matrix():
    edge_index = torch.tensor([[0, 1, 1], [1, 0, 2]])
    weight = torch.tensor([1.0, 3.0, 2.0])
    with pytest.raises(ValueError, match='to_undirected'):
        to_adjacency(edge_index, weight)
    a = as_dense(to_adjacency(edge_index, weight, normalize=False,
                              symmetrize=True))
    assert a[0, 1] == a[1, 0] == 2.0
    assert a[1, 2] == a[2, 1] == 1.0


def test_half_precision_weights_are_computed_in_float32():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    for dtype in (torch.float16, torch.bfloat16):
        adj = to_adjacency(edge_index, torch.ones(2, dtype=dtype))
        assert adj.dtype == torch.float32
    adj = to_adjacency(edge_index, torch.ones(2, dtype=torch.float64))
    assert adj.dtype == torch.float64


def test_adjacency_passes_through():
    adj = to_adjacency(*random_graph())
    assert to_adjacency(adj) is adj
    with pytest.raises(ValueError, match='num_nodes'):
        to_adjacency(adj, num_nodes=adj.num_nodes + 1)


BAD_INPUTS = [
    ('negative weight', (torch.tensor([[0, 1], [1, 0]]),
                         torch.tensor([1.0, -1.0])), {}, ValueError,
     'negative'),
    ('nan weight', (torch.tensor([[0, 1], [1, 0]]),
                    torch.tensor([1.0, float('nan')])), {}, ValueError,
     'NaN or Inf'),
    ('inf weight', (torch.tensor([[0, 1], [1, 0]]),
                    torch.tensor([float('inf'), 1.0])), {}, ValueError,
     'NaN or Inf'),
    ('float edge_index', (torch.tensor([[0., 1., 2.], [1., 0., 0.]]),), {},
     ValueError, 'integer dtype'),
    ('edge_index of shape [3, E]', (torch.zeros(3, 4, dtype=torch.long),),
     {}, ValueError, r'\[2, num_edges\]'),
    ('1-D edge_index', (torch.zeros(4, dtype=torch.long),), {}, ValueError,
     r'\[2, num_edges\]'),
    ('index >= num_nodes', (torch.tensor([[0, 5], [5, 0]]),),
     {'num_nodes': 3}, ValueError, 'num_nodes=3'),
    ('negative index', (torch.tensor([[0, -1], [-1, 0]]),), {}, ValueError,
     'negative node indices'),
    ('edge_weight of wrong length', (torch.tensor([[0, 1], [1, 0]]),
                                     torch.ones(3)), {}, ValueError,
     'one weight per edge'),
    ('edge_weight on another device', (torch.tensor([[0, 1], [1, 0]]),
                                       torch.ones(2, device='meta')), {},
     ValueError, 'same device'),
    ('non-square dense', (torch.ones(3, 4),), {}, ValueError, 'square'),
    ('non-symmetric', (torch.tensor([[0, 1], [1, 2]]),), {}, ValueError,
     'to_undirected'),
    ('a list', ([[0, 1], [1, 0]],), {}, TypeError, 'edge_index'),
    ('no nodes', (torch.empty(2, 0, dtype=torch.long),), {}, ValueError,
     'num_nodes'),
    ('float num_nodes', (torch.tensor([[0, 1], [1, 0]]),),
     {'num_nodes': 2.0}, TypeError, 'num_nodes'),
    ('edge_weight with a dense matrix', (torch.eye(2), torch.ones(2)), {},
     ValueError, 'only accepted with'),
    ('complex weights', (torch.tensor([[0, 1], [1, 0]]),
                         torch.ones(2, dtype=torch.complex64)), {},
     TypeError, 'real'),
]


@pytest.mark.parametrize('name,args,kwargs,error,match', BAD_INPUTS,
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_raises_a_clear_error(name, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        to_adjacency(*args, **kwargs)


def test_normalized_operator_matches_a_direct_build_and_its_gradients():
    from torch.autograd import gradcheck

    from pyg_symnmf import symnmf_loss
    from pyg_symnmf.adjacency import normalized_operator
    from pyg_symnmf.factorize import graph_operators

    edge_index, weight = random_graph(12, 30, seed=4)
    weight = weight.double()
    direct = to_adjacency(edge_index, weight)
    raw, derived = graph_operators(edge_index, weight)
    assert torch.equal(derived.values, direct.values)
    assert torch.equal(derived.csr.col_indices(), direct.csr.col_indices())
    assert not raw.normalized and torch.equal(
        raw.csr.to_dense(), dense(edge_index, weight, 12))
    assert normalized_operator(direct) is direct
    # Gradients reach the edge weights through the derived operator, as
    # through a direct build (checked against finite differences).
    h = torch.rand(12, 3, dtype=torch.float64)

    def loss(w):
        return symnmf_loss(graph_operators(edge_index, w)[1], h)

    w = weight.clone().requires_grad_()
    assert gradcheck(loss, (w,))
    expected = torch.autograd.grad(symnmf_loss(
        to_adjacency(edge_index, w), h), w)[0]
    assert torch.allclose(torch.autograd.grad(loss(w), w)[0], expected)
    assert torch.allclose(derived.csr.to_dense(),
                          normalized(dense(edge_index, weight, 12)))
