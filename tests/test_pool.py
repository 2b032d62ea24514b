import torch
from torch_geometric.data import Batch, Data

from pyg_symnmf import SymNMFPooling

from pyg_symnmf.testing import dense, normalized, random_graph


def test_pooling_matches_dense_per_graph_formulas():
    graphs = [Data(edge_index=e, edge_weight=w, x=torch.rand(20, 3),
                   num_nodes=20)
              for e, w in (random_graph(20, 60, seed=s) for s in range(3))]
    batch = Batch.from_data_list(graphs)
    pool = SymNMFPooling(3, k=2, num_layers=2)
    x_pool, adj_pool, aux, h = pool(batch.x, batch.edge_index,
                                    batch.edge_weight, batch.batch)
    assert x_pool.shape == (3, 2, 3) and adj_pool.shape == (3, 2, 2)
    rel = []
    for i, data in enumerate(graphs):
        hi = h[batch.batch == i]
        a = normalized(dense(data.edge_index, data.edge_weight, 20,
                             torch.float32))
        torch.testing.assert_close(x_pool[i], hi.t() @ data.x)
        torch.testing.assert_close(adj_pool[i], hi.t() @ a @ hi)
        # The documented auxiliary loss, in [0, 1].
        rel.append((a - hi @ hi.t()).square().sum() /
                   (a.square().sum() + (hi.t() @ hi).square().sum()))
    torch.testing.assert_close(aux, torch.stack(rel).mean())
    assert 0 <= float(aux.detach()) <= 1
    aux.backward()
    assert pool.lin.weight.grad.abs().sum() > 0


def test_pooling_a_single_graph_without_batch():
    edge_index, weight = random_graph()
    pool = SymNMFPooling(4, k=3)
    x_pool, adj_pool, aux, h = pool(torch.rand(30, 4), edge_index, weight)
    assert x_pool.shape == (1, 3, 4) and h.shape == (30, 3)
    assert repr(pool) == 'SymNMFPooling(4, k=3, num_layers=5)'


def test_pooling_aux_loss_stays_finite_for_single_node_and_edgeless_graphs():
    graphs = [Data(edge_index=torch.empty(2, 0, dtype=torch.long),
                   x=torch.rand(1, 3), num_nodes=1),
              Data(edge_index=torch.empty(2, 0, dtype=torch.long),
                   x=torch.rand(4, 3), num_nodes=4)]
    e, w = random_graph(10, 30, seed=1)
    graphs.append(Data(edge_index=e, edge_weight=w, x=torch.rand(10, 3),
                       num_nodes=10))
    batch = Batch.from_data_list(graphs)
    pool = SymNMFPooling(3, k=1, num_layers=2)
    _, _, aux, h = pool(batch.x, batch.edge_index, batch.edge_weight,
                        batch.batch)
    assert torch.isfinite(aux) and 0 <= float(aux.detach()) <= 1
    assert torch.isfinite(h).all()
