import io

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn.models import GCN

from pyg_symnmf import SymNMFNet, datasets, metrics, symnmf, symnmf_loss

from conftest import random_graph


@pytest.fixture(scope='module')
def planted():
    return datasets.sbm((50, 50, 50, 50), p_in=0.3, p_out=0.02, seed=0)


def test_untrained_net_runs_the_classical_iterations(planted):
    net = SymNMFNet(4, num_blocks=7, alpha=0.2, seed=3)
    h0 = net(planted.edge_index, num_nodes=planted.num_nodes, return_all=True)[0]
    expected = symnmf(planted.edge_index, 4, num_nodes=planted.num_nodes,
                      h0=h0, alpha=0.2, max_iter=7, tol=0.0)
    torch.testing.assert_close(net.embed(planted), expected, rtol=1e-5,
                               atol=1e-6)


def test_training_lowers_the_loss_and_recovers_the_partition(planted):
    net = SymNMFNet(4, num_blocks=10, seed=0)
    before = float(symnmf_loss(planted.edge_index, net.embed(planted)))
    net.fit(planted, epochs=60, lr=0.02, progress=False)
    after = float(symnmf_loss(planted.edge_index, net.embed(planted)))
    assert after < before
    assert min(net.loss_history_) == pytest.approx(after, rel=1e-5)
    assert metrics.nmi(planted.y, net.predict(planted)) >= 0.95


def test_karate():
    data = datasets.karate()
    net = SymNMFNet(4, num_blocks=10).fit(data, epochs=30, progress=False)
    assert metrics.nmi(data.y, net.predict(data)) >= 0.6
    assert metrics.modularity(data.edge_index, net.predict(data)) >= 0.35


def test_same_seed_gives_bit_identical_results(planted):
    def train(seed):
        torch.manual_seed(123)  # the global state must not matter
        net = SymNMFNet(4, num_blocks=5, seed=seed)
        return net.fit(planted, epochs=5, progress=False).embed(planted)
    assert torch.equal(train(0), train(0))
    assert not torch.equal(train(0), train(1))


def test_readouts(planted):
    net = SymNMFNet(4, num_blocks=5)
    h = net.embed(planted)
    soft = net.membership(planted)
    torch.testing.assert_close(soft.sum(1), torch.ones(planted.num_nodes))
    assert torch.equal(net.predict(planted), h.argmax(1))
    mask = net.overlapping(planted, threshold=0.3)
    assert mask.dtype == torch.bool and bool(mask.any(1).all())
    assert torch.equal(mask, (soft >= 0.3) | torch.nn.functional.one_hot(
        h.argmax(1), 4).bool())


def test_state_dict_round_trip_reproduces_predictions(planted):
    net = SymNMFNet(4, num_blocks=5, bias=True).fit(planted, epochs=10,
                                                    progress=False)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    other = SymNMFNet(4, num_blocks=5, bias=True)
    other.load_state_dict(torch.load(buffer))
    assert torch.equal(other.embed(planted), net.embed(planted))


def test_share_weights_uses_one_block(planted):
    net = SymNMFNet(4, num_blocks=6, share_weights=True)
    assert len(net.blocks) == 1
    net.fit(planted, epochs=3, progress=False)
    assert net.embed(planted).shape == (200, 4)


def test_anls_init_and_given_h(planted):
    net = SymNMFNet(4, num_blocks=2, init='anls', init_iters=5)
    assert net.embed(planted).shape == (200, 4)
    h = torch.rand(200, 4)
    out = SymNMFNet(4, num_blocks=0)(planted.edge_index, h=h)
    assert out is h


def test_encoder_gets_gradients():
    data = datasets.sbm((40, 40, 40), p_in=0.2, p_out=0.02, num_features=8,
                        seed=0)
    encoder = GCN(8, 16, num_layers=2, out_channels=3)
    net = SymNMFNet(3, num_blocks=4, encoder=encoder)
    h = net(data.edge_index, x=data.x)
    symnmf_loss(data.edge_index, h).backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_model_on_a_batch_equals_graph_by_graph():
    graphs = [Data(edge_index=e, edge_weight=w, num_nodes=20)
              for e, w in (random_graph(20, 60, seed=s) for s in range(3))]
    net = SymNMFNet(3, num_blocks=4, bias=True)
    with torch.no_grad():
        for block in net.blocks:
            block.weight.add_(0.05 * torch.rand(3, 3))
    batch = Batch.from_data_list(graphs)
    h0 = torch.rand(60, 3)
    out = net(batch.edge_index, batch.edge_weight, h=h0, batch=batch.batch)
    for i, data in enumerate(graphs):
        single = net(data.edge_index, data.edge_weight,
                     h=h0[20 * i:20 * (i + 1)])
        torch.testing.assert_close(out[20 * i:20 * (i + 1)], single)


@pytest.mark.parametrize('kwargs,error,match', [
    ({'k': 0}, ValueError, '>= 1'),
    ({'k': 3, 'num_blocks': -1}, ValueError, 'num_blocks'),
    ({'k': 3, 'init': 'svd'}, ValueError, 'Unknown init'),
])
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SymNMFNet(**kwargs)


def test_k_larger_than_the_graph_and_data_without_edges():
    edge_index, weight = random_graph()
    with pytest.raises(ValueError, match='exceeds the number of nodes'):
        SymNMFNet(31)(edge_index, weight)
    with pytest.raises(ValueError, match="no 'edge_index'"):
        SymNMFNet(2).embed(Data(x=torch.rand(5, 3)))
    empty = Data(edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=5)
    assert torch.equal(SymNMFNet(2).embed(empty), torch.zeros(5, 2))


def test_encoder_start_is_at_least_as_good_as_random_on_informative_features():
    data = datasets.sbm((100, 100, 100), p_in=0.05, p_out=0.015,
                        num_features=16, feature_noise=2.0, seed=0)
    scores = {}
    for name, encoder in [('random', None),
                          ('encoder', GCN(16, 32, num_layers=2,
                                          out_channels=3))]:
        torch.manual_seed(0)
        net = SymNMFNet(3, num_blocks=10, encoder=encoder)
        net.fit(data, epochs=60, progress=False)
        scores[name] = metrics.nmi(data.y, net.predict(data))
    assert scores['encoder'] >= scores['random'], scores


def test_a_supervised_term_on_a_node_mask_steers_the_communities():
    # No community structure: only the labelled mask can place the nodes.
    data = datasets.sbm((40, 40), p_in=0.05, p_out=0.05, num_features=4,
                        feature_noise=3.0, seed=0)
    mask = torch.zeros(80, dtype=torch.bool)
    mask[::4] = True

    def supervised(h):
        return torch.nn.functional.cross_entropy(10 * h[mask], data.y[mask])

    torch.manual_seed(0)
    net = SymNMFNet(2, num_blocks=3, encoder=GCN(4, 16, num_layers=2,
                                                 out_channels=2))
    net.fit(data, epochs=100, lr=0.02, supervised_loss=supervised,
            progress=False)
    pred = net.predict(data)
    assert (pred[mask] == data.y[mask]).float().mean() >= 0.9


def test_every_graph_format_gives_the_same_memberships():
    from torch_geometric import EdgeIndex
    from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

    edge_index, weight = random_graph()
    net = SymNMFNet(3, num_blocks=5)
    expected = net(edge_index, weight, num_nodes=30)
    a = torch.sparse_coo_tensor(edge_index, weight, (30, 30))
    graphs = [(EdgeIndex(edge_index, sparse_size=(30, 30)), weight),
              (a, None), (a.to_sparse_csr(), None), (a.to_dense(), None)]
    if WITH_TORCH_SPARSE:
        graphs.append((SparseTensor.from_torch_sparse_coo_tensor(a), None))
    for graph, w in graphs:
        torch.testing.assert_close(net(graph, w), expected)
    data = Data(adj_t=graphs[-1][0], num_nodes=30)
    torch.testing.assert_close(net.embed(data), expected)
