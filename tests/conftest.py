import pytest
import torch
from torch_geometric.utils import to_undirected


def random_graph(num_nodes: int = 30, num_edges: int = 80, seed: int = 0,
                 weighted: bool = True):
    """A random undirected graph: (edge_index, edge_weight or None)."""
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(num_nodes, (2, num_edges), generator=gen)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    if not weighted:
        return to_undirected(edge_index, num_nodes=num_nodes), None
    weight = torch.rand(edge_index.size(1), generator=gen) + 0.1
    edge_index, weight = to_undirected(edge_index, weight, num_nodes,
                                       reduce='max')
    return edge_index, weight


def dense(edge_index, edge_weight, num_nodes, dtype=torch.float64):
    """Dense reference adjacency (duplicates summed)."""
    a = torch.zeros(num_nodes, num_nodes, dtype=dtype)
    w = torch.ones(edge_index.size(1), dtype=dtype) if edge_weight is None \
        else edge_weight.to(dtype)
    a.index_put_((edge_index[0], edge_index[1]), w, accumulate=True)
    return a


def normalized(a):
    deg = a.sum(1)
    inv = deg.pow(-0.5)
    inv[deg == 0] = 0
    return inv[:, None] * a * inv[None, :]


@pytest.fixture
def graph():
    return random_graph()
