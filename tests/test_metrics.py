import networkx as nx
import numpy as np
import pytest
import torch
from networkx.algorithms.community import modularity as nx_modularity
from torch_geometric.utils import to_networkx

from pyg_symnmf import datasets
from pyg_symnmf.metrics import (ari, clustering_accuracy, conductance,
                                modularity, nmi)


def test_accuracy_is_invariant_to_relabelling():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert clustering_accuracy(y, [2, 2, 0, 0, 1, 1]) == 1.0
    assert clustering_accuracy(y, [0, 0, 0, 1, 1, 1]) == pytest.approx(4 / 6)
    assert clustering_accuracy(torch.tensor(y), torch.tensor(y)) == 1.0
    assert nmi(y, [5, 5, 3, 3, 1, 1]) == pytest.approx(1.0)
    assert ari(y, [1, 1, 2, 2, 0, 0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match='differ in length'):
        nmi(y, y[:3])


def test_modularity_and_conductance_match_networkx():
    data = datasets.karate()
    graph = to_networkx(data, to_undirected=True)
    labels = data.y.numpy()
    parts = [set(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    assert modularity(data.edge_index, data.y) == pytest.approx(
        nx_modularity(graph, parts), abs=1e-9)
    expected = np.mean([nx.conductance(graph, part) for part in parts])
    assert conductance(data.edge_index, data.y) == pytest.approx(expected)


def test_graph_metrics_with_isolated_nodes_and_one_community():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    assert modularity(edge_index, [0, 0, 0], num_nodes=3) == pytest.approx(0)
    assert conductance(edge_index, [0, 0, 1], num_nodes=3) == 0.0
    assert modularity(torch.empty(2, 0, dtype=torch.long), [0, 1],
                      num_nodes=2) == 0.0
    with pytest.raises(ValueError, match='3 nodes'):
        modularity(edge_index, [0, 1], num_nodes=3)


@pytest.mark.parametrize('gamma', [0.5, 1.0, 2.0])
def test_modularity_resolution_matches_networkx(gamma):
    data = datasets.karate()
    graph = to_networkx(data, to_undirected=True)
    labels = data.y.numpy()
    parts = [set(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    assert modularity(data.edge_index, data.y, resolution=gamma) == \
        pytest.approx(nx_modularity(graph, parts, resolution=gamma), abs=1e-9)
