import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch, Data
from torch_geometric.nn.models import GCN

from pyg_symnmf import (SymNMFNet, datasets, metrics, symnmf_loss,
                        to_adjacency)
from pyg_symnmf.factorize import factorize
from pyg_symnmf.init import random_membership
from pyg_symnmf.solvers import anls_step
from pyg_symnmf.testing import random_graph
from pyg_symnmf.training import train


@pytest.fixture(scope='module')
def planted():
    return datasets.sbm((50, 50, 50, 50), p_in=0.3, p_out=0.02, seed=0)


def test_untrained_net_runs_the_classical_iterations(planted):
    net = SymNMFNet(4, num_layers=7, alpha=0.2).double()
    net.reset_parameters()  # alpha = 0.2 exactly, in float64
    adj = to_adjacency(planted.edge_index, num_nodes=planted.num_nodes,
                       dtype=torch.float64)
    h0 = random_membership(adj, 4, seed=3)
    expected = h0
    for _ in range(7):
        expected = anls_step(adj, expected, 0.2)
    out = net(h0, planted.edge_index)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    # unroll yields H_0..H_T with their losses.
    iterates = list(net.unroll(h0, adj))
    assert len(iterates) == 8
    assert torch.equal(iterates[0].h, h0)
    torch.testing.assert_close(iterates[-1].h, out)
    for it in iterates:
        torch.testing.assert_close(it.loss, symnmf_loss(adj, it.h))


@pytest.mark.slow
def test_training_lowers_the_loss_and_recovers_the_partition(planted):
    from pyg_symnmf import SymNMFClustering
    untrained = SymNMFClustering(4, 'net', pretrained=False, num_layers=10,
                                 epochs=0,
                                 seed=0).fit(planted)
    before = float(symnmf_loss(planted.edge_index, untrained.embedding_))
    est = SymNMFClustering(4, 'net', pretrained=False, num_layers=10,
                           epochs=60, lr=0.02,
                           seed=0).fit(planted)
    after = float(symnmf_loss(planted.edge_index, est.embedding_))
    assert after < before
    assert len(est.loss_curve_) == est.n_iter_ == 60
    assert min(est.loss_curve_) == pytest.approx(after, rel=1e-5)
    assert metrics.nmi(planted.y, est.predict(planted)) >= 0.95


@pytest.mark.slow
def test_karate():
    from pyg_symnmf import SymNMFClustering
    data = datasets.karate()
    est = SymNMFClustering(4, 'net', pretrained=False, num_layers=10,
                           epochs=30).fit(data)
    assert metrics.nmi(data.y, est.predict(data)) >= 0.6
    assert metrics.modularity(data.edge_index, est.predict(data)) >= 0.35


def test_share_weights_uses_one_block(planted):
    net = SymNMFNet(4, num_layers=6, share_weights=True)
    assert len(net.blocks) == 1
    adj = to_adjacency(planted.edge_index, num_nodes=planted.num_nodes)
    h0 = random_membership(adj, 4)
    before = [p.detach().clone() for p in net.parameters()]
    curve = train(net, lambda: symnmf_loss(adj, net(h0, adj)) /
                  adj.sq_norm, epochs=3, lr=0.01)
    assert len(curve) == 3
    assert any(not torch.equal(b, p) for b, p in zip(before,
                                                     net.parameters()))
    assert net(h0, adj).shape == (200, 4)
    # Six applications of the one block.
    expected = h0
    for _ in range(6):
        expected = net.blocks[0](expected, adj)
    torch.testing.assert_close(net(h0, adj), expected)


def test_zero_layers_return_the_start_and_any_start_is_accepted(planted):
    adj = to_adjacency(planted.edge_index, num_nodes=200)
    h0 = factorize(adj, 4, 'anls', max_iter=5, tol=0.0).h  # a warm start
    assert SymNMFNet(4, num_layers=2)(h0, adj).shape == (200, 4)
    h = torch.rand(200, 4)
    out = SymNMFNet(4, num_layers=0)(h, planted.edge_index)
    assert out is h


def test_encoder_gets_gradients():
    data = datasets.sbm((40, 40, 40), p_in=0.2, p_out=0.02, num_features=8,
                        seed=0)
    encoder = GCN(8, 16, num_layers=2, out_channels=3)
    net = SymNMFNet(3, num_layers=4)
    h = net(F.softplus(encoder(data.x, data.edge_index)), data.edge_index)
    symnmf_loss(data.edge_index, h).backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_model_on_a_batch_equals_graph_by_graph():
    graphs = [Data(edge_index=e, edge_weight=w, num_nodes=20)
              for e, w in (random_graph(20, 60, seed=s) for s in range(3))]
    net = SymNMFNet(3, num_layers=4, bias=True)
    with torch.no_grad():
        for block in net.blocks:
            block.weight.add_(0.05 * torch.rand(3, 3))
    batch = Batch.from_data_list(graphs)
    h0 = torch.rand(60, 3)
    out = net(h0, batch.edge_index, batch.edge_weight, batch=batch.batch)
    for i, data in enumerate(graphs):
        single = net(h0[20 * i:20 * (i + 1)], data.edge_index,
                     data.edge_weight)
        torch.testing.assert_close(out[20 * i:20 * (i + 1)], single)


@pytest.mark.parametrize('kwargs,error,match', [
    ({'k': 0}, ValueError, '>= 1'),
    ({'k': 3, 'num_layers': -1}, ValueError, 'num_layers'),
    ({'k': 3, 'weight': 'svd'}, ValueError, "'weight' must be one of"),
])
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SymNMFNet(**kwargs)


def test_k_larger_than_the_graph_and_data_without_edges():
    from pyg_symnmf import SymNMFClustering
    edge_index, weight = random_graph()
    data = Data(edge_index=edge_index, edge_weight=weight, num_nodes=30)
    with pytest.raises(ValueError, match='exceeds the number of nodes'):
        SymNMFClustering(31, 'net', epochs=0).fit(data)
    with pytest.raises(ValueError, match="no 'edge_index'"):
        SymNMFClustering(2, 'net', epochs=0).fit(Data(x=torch.rand(5, 3)))
    empty = Data(edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=5)
    est = SymNMFClustering(2, 'net', num_layers=3, epochs=2).fit(empty)
    assert torch.equal(est.embedding_, torch.zeros(5, 2))


def test_model_refuses_h_of_another_k():
    edge_index, weight = random_graph()
    with pytest.raises(ValueError, match='k=4'):
        SymNMFNet(4)(torch.rand(30, 3), edge_index, weight)


def test_float64_model_and_graph():
    edge_index, weight = random_graph()
    net = SymNMFNet(3, num_layers=4).double()
    h = net(torch.rand(30, 3).double(), edge_index, weight.double())
    assert h.dtype == torch.float64
    # A float32 model (bias included) follows a float64 start.
    h = SymNMFNet(3, num_layers=4, bias=True)(
        torch.rand(30, 3, dtype=torch.float64), edge_index, weight)
    assert h.dtype == torch.float64


@pytest.mark.slow
def test_encoder_start_is_at_least_as_good_as_random_on_informative_features():
    from pyg_symnmf import SymNMFClustering
    data = datasets.sbm((100, 100, 100), p_in=0.05, p_out=0.015,
                        num_features=16, feature_noise=2.0, seed=0)
    scores = {}
    for name, encoder in [('random', None),
                          ('encoder', GCN(16, 32, num_layers=2,
                                          out_channels=3))]:
        est = SymNMFClustering(3, 'net', pretrained=False, num_layers=10,
                               epochs=60,
                               encoder=encoder, seed=0).fit(data)
        scores[name] = metrics.nmi(data.y, est.predict(data))
    assert scores['encoder'] >= scores['random'], scores


@pytest.mark.slow
def test_a_supervised_term_on_a_node_mask_steers_the_communities():
    # No community structure: only the labelled mask can place the nodes.
    # The estimator trains without labels; a semi-supervised loss is the
    # user's own loss_fn in pyg_symnmf.training.train.
    data = datasets.sbm((40, 40), p_in=0.05, p_out=0.05, num_features=4,
                        feature_noise=3.0, seed=0)
    mask = torch.zeros(80, dtype=torch.bool)
    mask[::4] = True
    torch.manual_seed(0)
    encoder = GCN(4, 16, num_layers=2, out_channels=2)
    net = SymNMFNet(2, num_layers=3)
    model = torch.nn.ModuleDict({'encoder': encoder, 'net': net})
    adj = to_adjacency(data.edge_index, num_nodes=80)

    def forward():
        return net(F.softplus(encoder(data.x, data.edge_index)), adj)

    def loss_fn():
        h = forward()
        supervised = F.cross_entropy(10 * h[mask], data.y[mask])
        return symnmf_loss(adj, h) / adj.sq_norm + supervised

    train(model, loss_fn, epochs=100, lr=0.02)
    with torch.no_grad():
        pred = forward().argmax(1)
    assert (pred[mask] == data.y[mask]).float().mean() >= 0.9


def test_every_graph_format_gives_the_same_memberships():
    from torch_geometric import EdgeIndex
    from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

    from pyg_symnmf import SymNMFClustering

    edge_index, weight = random_graph()
    net = SymNMFNet(3, num_layers=5)
    h0 = torch.rand(30, 3)
    expected = net(h0, edge_index, weight)
    a = torch.sparse_coo_tensor(edge_index, weight, (30, 30))
    graphs = [(EdgeIndex(edge_index, sparse_size=(30, 30)), weight),
              (a, None), (a.to_sparse_csr(), None), (a.to_dense(), None)]
    if WITH_TORCH_SPARSE:
        graphs.append((SparseTensor.from_torch_sparse_coo_tensor(a), None))
    for graph, w in graphs:
        torch.testing.assert_close(net(h0, graph, w), expected)
    est = SymNMFClustering(3, 'net', num_layers=5, epochs=0)
    reference = est.fit(Data(edge_index=edge_index, edge_weight=weight,
                             num_nodes=30)).embedding_
    data = Data(adj_t=graphs[-1][0], num_nodes=30)
    torch.testing.assert_close(est.fit(data).embedding_, reference)
