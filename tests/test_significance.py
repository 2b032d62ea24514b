import networkx as nx
import pytest
import torch
from torch_geometric.utils import from_networkx

import pyg_symnmf as ps
from pyg_symnmf import datasets, to_adjacency
from pyg_symnmf.auto_k import choose_k
from pyg_symnmf.metrics import nmi
from pyg_symnmf.significance import _groups, split_insignificant


def ring_of_cliques(cliques=30, size=5):
    """Fortunato & Barthelemy's example of the resolution limit: cliques
    joined in a ring by single edges, which modularity merges in pairs."""
    data = from_networkx(nx.ring_of_cliques(cliques, size))
    return data, torch.arange(cliques * size) // size


def raw(edge_index, num_nodes=None, edge_weight=None):
    return to_adjacency(edge_index, edge_weight, num_nodes, normalize=False,
                        dtype=torch.float64)


def test_ring_of_cliques_past_the_resolution_limit():
    data, cliques = ring_of_cliques()
    graph = raw(data.edge_index, data.num_nodes)
    merged = choose_k(graph, significant=False)
    assert merged.k < 30  # modularity's own partition merges cliques
    selection = choose_k(graph)
    assert selection.k == 30
    assert nmi(cliques, selection.labels) == pytest.approx(1.0)
    labels = ps.SymNMFClustering('auto').fit_predict(data)
    assert nmi(cliques, labels) == pytest.approx(1.0)


def test_communities_of_too_many_parts_are_kept_whole(monkeypatch):
    # The merges back run on a dense table of one community's parts: past
    # refine.MAX_MERGED parts the community stays as modularity found it.
    from pyg_symnmf import refine
    data, cliques = ring_of_cliques(12, 6)
    graph = raw(data.edge_index, data.num_nodes)
    pairs = cliques // 2  # two cliques per community
    assert nmi(cliques, split_insignificant(graph, pairs)) == \
        pytest.approx(1.0)
    monkeypatch.setattr(refine, 'MAX_MERGED', 1)
    assert nmi(pairs, split_insignificant(graph, pairs)) == \
        pytest.approx(1.0)


def test_planted_communities_are_not_split():
    # Each block is a random graph: its own modularity partition has many
    # parts, all far more connected than the whole graph's null model
    # expects, so they merge back.
    data = datasets.planted_partition(2000, 8, mu=0.3, seed=0)
    graph = raw(data.edge_index, data.num_nodes)
    labels = split_insignificant(graph, data.y)
    assert int(labels.max()) + 1 == 8
    assert nmi(data.y, labels) == pytest.approx(1.0)


def test_groups_lie_inside_communities_and_scale_free():
    data, cliques = ring_of_cliques(12, 6)
    graph = raw(data.edge_index, data.num_nodes)
    pairs = cliques // 2  # two cliques per community
    labels = split_insignificant(graph, pairs)
    assert nmi(cliques, labels) == pytest.approx(1.0)
    for group in labels.unique():
        assert pairs[labels == group].unique().numel() == 1
    weight = torch.full((data.edge_index.size(1),), 3.7, dtype=torch.float64)
    scaled = split_insignificant(raw(data.edge_index, data.num_nodes, weight),
                                 pairs)
    assert torch.equal(scaled, labels)


def test_significant_connection_keeps_groups_together():
    # Two cliques joined by many edges are one community at any z.
    data, cliques = ring_of_cliques(12, 6)
    extra = torch.tensor([[0, 6], [1, 7], [2, 8], [3, 9], [4, 10], [5, 11]]).t()
    edge_index = torch.cat([data.edge_index, extra, extra.flip(0)], 1)
    graph = raw(edge_index, data.num_nodes)
    labels = split_insignificant(graph, cliques // 2)
    assert bool((labels[:12] == labels[0]).all())
    assert labels.unique().numel() == 11
    with pytest.raises(ValueError, match="'z'"):
        split_insignificant(graph, cliques, z=-1.0)
    with pytest.raises(ValueError, match="one community per node"):
        split_insignificant(graph, cliques[:-1])


def test_a_group_that_is_not_a_community_rejoins():
    # Part 1 shares less than expected with part 0 (not significant) but
    # holds less weight inside than it sends out: not a community in the
    # weak sense, so it stays with part 0.
    block = torch.tensor([[90.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    volume = torch.tensor([100.0, 10.0], dtype=torch.float64)
    into = _groups(block, volume, 500.0, 1.0, 1.0)
    assert into.tolist() == [0, 0]
    block[1, 1] = 8.0  # now more inside than out: a community of its own
    into = _groups(block, volume, 500.0, 1.0, 1.0)
    assert into.tolist() == [0, 1]


def test_edgeless_and_isolated_nodes():
    graph = raw(torch.zeros(2, 0, dtype=torch.long), 5)
    labels = torch.tensor([0, 0, 1, 1, 2])
    assert torch.equal(split_insignificant(graph, labels), labels)
    data, cliques = ring_of_cliques(6, 4)
    graph = raw(data.edge_index, 26)  # two nodes without edges
    labels = torch.cat([cliques, torch.tensor([0, 1])])
    out = split_insignificant(graph, labels)
    assert nmi(cliques, out[:24]) == pytest.approx(1.0)
    assert int(out[24]) == int(out[0]) and int(out[25]) == int(out[4])
