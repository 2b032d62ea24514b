import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck
from torch_geometric.data import Batch, Data

from pyg_symnmf import to_adjacency
from pyg_symnmf.functional import (block_update, gram, inversion_layer,
                                   propagate, symnmf_loss)

from pyg_symnmf.testing import dense, normalized, random_graph

N, K = 30, 4


def setup(seed=0):
    edge_index, weight = random_graph(seed=seed)
    adj = to_adjacency(edge_index, weight, N, dtype=torch.float64)
    a = normalized(dense(edge_index, weight, N))
    h = torch.rand(N, K, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(seed))
    return adj, a, h


def test_loss_matches_the_dense_formula():
    adj, a, h = setup()
    expected = (a - h @ h.t()).square().sum()
    torch.testing.assert_close(symnmf_loss(adj, h), expected)
    # At an exact factorisation the loss is zero, not a negative round-off.
    exact = to_adjacency((h @ h.t()).float(), normalize=False)
    assert float(symnmf_loss(exact, h.float())) >= 0


def test_block_matches_the_dense_formula():
    adj, a, h = setup()
    alpha = torch.tensor(0.3, dtype=torch.float64)
    w = torch.randn(K, K, dtype=torch.float64)
    g = h.t() @ h + 0.3 * torch.eye(K, dtype=torch.float64)
    expected = torch.relu((a @ h + 0.3 * h) @ torch.linalg.inv(g) @ w)
    p = propagate(adj, h, alpha)
    torch.testing.assert_close(p, a @ h + 0.3 * h)
    torch.testing.assert_close(gram(h), h.t() @ h)
    torch.testing.assert_close(block_update(p, gram(h), alpha, w), expected)
    # bias and shift enter inside the ReLU.
    b = torch.randn(K, dtype=torch.float64)
    s = torch.randn(N, K, dtype=torch.float64)
    torch.testing.assert_close(
        block_update(p, gram(h), alpha, w, bias=b, shift=s),
        torch.relu((a @ h + 0.3 * h) @ torch.linalg.inv(g) @ w + b + s))


def test_inversion_layer_is_bounded_by_one_over_alpha():
    g = torch.zeros(K, K)  # all columns dead: the worst case
    m = inversion_layer(g, torch.tensor(1e-3))
    assert torch.isfinite(m).all()
    assert torch.linalg.matrix_norm(m, 2) <= 1 / 1e-3 * (1 + 1e-6)


def test_gradcheck_inversion_layer():
    h = torch.rand(N, K, dtype=torch.float64)
    g = (h.t() @ h).requires_grad_()
    alpha = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    w = torch.randn(K, K, dtype=torch.float64, requires_grad=True)
    # Cholesky reads one triangle: perturb G symmetrically, as H^T H moves.
    def layer(g, alpha, w):
        return inversion_layer((g + g.t()) / 2, alpha, w)
    assert gradcheck(layer, (g, alpha, w))
    assert gradgradcheck(layer, (g, alpha, w))


@pytest.mark.slow
def test_gradcheck_block_and_loss():
    adj, _, h = setup()
    h = (h + 0.05).requires_grad_()  # away from the ReLU's kink
    alpha = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    w = (torch.eye(K, dtype=torch.float64) +
         0.01 * torch.rand(K, K, dtype=torch.float64)).requires_grad_()
    def block(h, a, w):
        return block_update(propagate(adj, h, a), gram(h), a, w)
    assert gradcheck(block, (h, alpha, w))
    assert gradcheck(lambda h: symnmf_loss(adj, h), (h,))
    assert gradgradcheck(lambda h: symnmf_loss(adj, h), (h,))
    assert gradgradcheck(lambda h: propagate(adj, h), (h,))


def test_batched_operations_equal_graph_by_graph():
    graphs = [random_graph(num_nodes=n, num_edges=3 * n, seed=s)
              for s, n in enumerate([12, 20, 9])]
    batch = Batch.from_data_list([Data(edge_index=e, edge_weight=w,
                                       num_nodes=int(e.max()) + 1)
                                  for e, w in graphs])
    adj = to_adjacency(batch.edge_index, batch.edge_weight, batch.num_nodes,
                       dtype=torch.float64)
    h = torch.rand(batch.num_nodes, K, dtype=torch.float64)
    alpha = torch.tensor(0.1, dtype=torch.float64)
    out = block_update(propagate(adj, h, alpha), gram(h, batch.batch), alpha,
                       batch=batch.batch)
    losses = symnmf_loss(adj, h, batch=batch.batch)
    assert gram(h, batch.batch).shape == (3, K, K)
    for i in range(3):
        data = batch.get_example(i)
        mask = batch.batch == i
        single = to_adjacency(data.edge_index, data.edge_weight,
                              data.num_nodes, dtype=torch.float64)
        hi = h[mask]
        torch.testing.assert_close(out[mask], block_update(
            propagate(single, hi, alpha), gram(hi), alpha))
        torch.testing.assert_close(losses[i], symnmf_loss(single, h[mask]))


def test_propagate_rejects_mismatched_h():
    adj, _, h = setup()
    with pytest.raises(ValueError, match='num_nodes=30'):
        propagate(adj, h[:10])
    with pytest.raises(TypeError, match='float64'):
        propagate(adj, h.float())
    with pytest.raises(TypeError, match='floating-point'):
        propagate(adj, h.long())
    with pytest.raises(ValueError, match='same device'):
        propagate(adj, h.to('meta'))


def test_layers_reject_mismatched_h_clearly():
    from pyg_symnmf import SymNMFNetConv
    adj, _, h = setup()
    conv = SymNMFNetConv(K).double()
    with pytest.raises(ValueError, match="30 nodes"):
        conv(h[:10], adj)
    # The operator follows h's float dtype (a float32 block on float32).
    assert conv.float()(h.float(), adj).dtype == torch.float32
    conv.double()
    with pytest.raises((TypeError, ValueError),
                       match='floating-point|float32 or torch.float64'):
        conv(h.long(), adj)
    with pytest.raises(ValueError, match='same device'):
        conv(h.to('meta'), adj)
