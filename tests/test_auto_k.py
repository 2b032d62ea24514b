import pytest
import torch
from torch_geometric.data import Data

import pyg_symnmf as ps
from pyg_symnmf import datasets, functional, solvers, to_adjacency
from pyg_symnmf.auto_k import choose_k, default_max_k, partition_start
from pyg_symnmf.factorize import select_k
from pyg_symnmf.metrics import modularity, nmi


def raw(edge_index, num_nodes=None):
    return to_adjacency(edge_index, num_nodes=num_nodes, normalize=False)


@pytest.fixture
def count_spmm(monkeypatch):
    """Counts sparse products with the operator, whoever makes them: every
    one goes through ``functional.spmm``."""
    calls = []
    spmm = functional.spmm

    def counted(csr, h, *args, **kwargs):
        calls.append(h.size(1))
        return spmm(csr, h, *args, **kwargs)

    monkeypatch.setattr(functional, 'spmm', counted)
    monkeypatch.setattr(solvers, 'spmm', counted)
    return calls


def test_planted_partition_k_and_partition():
    data = datasets.planted_partition(3000, 12, mu=0.25, seed=1)
    selection = choose_k(raw(data.edge_index))
    assert selection.k == 12
    assert nmi(data.y, selection.labels) > 0.99
    assert selection.scores[12] == pytest.approx(
        modularity(data.edge_index, selection.labels))


def test_heavy_tailed_planted_partition_within_20_percent():
    data = datasets.planted_partition(4000, 20, mu=0.3, degree_exponent=2.2,
                                      seed=0)
    k = select_k(raw(data.edge_index)).k
    assert abs(k - 20) <= 4


@pytest.mark.parametrize('num_nodes,pairs,k', [
    (1, [], 1),           # one node
    (2, [(0, 1)], 1),     # one edge
    (5, [], 1),           # edgeless
    (6, [(0, 1), (2, 3), (4, 5)], 3),  # three components
])
def test_tiny_graphs(num_nodes, pairs, k):
    edge_index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t()
    edge_index = torch.cat([edge_index, edge_index.flip(0)], 1)
    selection = choose_k(raw(edge_index, num_nodes))
    assert selection.k == k
    assert selection.labels.shape == (num_nodes,)
    # Nodes with edges in [0, k); each node without edges alone.
    has_edge = torch.zeros(num_nodes, dtype=torch.bool)
    has_edge[edge_index.flatten()] = True
    assert bool((selection.labels[has_edge] < k).all())
    with_edges = k if bool(has_edge.any()) else 0
    assert int(selection.labels.max()) + 1 == with_edges + int(
        (~has_edge).sum())
    est = ps.SymNMFClustering('auto').fit(Data(edge_index=edge_index,
                                               num_nodes=num_nodes))
    assert est.n_communities_ == k and est.labels_.shape == (num_nodes,)
    assert len(est.k_scores_) == 1


def test_one_edge_at_large_n_costs_few_spmms(count_spmm):
    edge_index = torch.tensor([[0, 1], [1, 0]])
    data = Data(edge_index=edge_index, num_nodes=20_000)
    est = ps.SymNMFClustering('auto').fit(data)
    assert est.n_communities_ == 1
    assert est.labels_[0] == est.labels_[1] == 0
    assert int(est.labels_.max()) + 1 == 19_999  # the others alone
    # The choice of k costs none; one polishing round costs six (width 1).
    assert len(count_spmm) <= 10 and max(count_spmm) == 1
    h = ps.symnmf(edge_index, 'auto', num_nodes=20_000)
    assert h.shape == (20_000, 1)


def test_choice_is_capped_and_partition_kept():
    data = datasets.planted_partition(400, 8, mu=0.1, seed=0)
    selection = select_k(raw(data.edge_index), max_k=3)
    assert selection.k == 3
    assert int(selection.labels.max()) + 1 == 8  # the partition keeps all
    assert default_max_k(1) == 1 and default_max_k(10_000) == 200
    assert default_max_k(10**6) == 256


def test_partition_start_is_the_block_model():
    data = datasets.planted_partition(300, 3, mu=0.1, seed=0)
    adj = to_adjacency(data.edge_index)
    degree = raw(data.edge_index).degree()
    h = partition_start(adj, degree, data.y, 3)
    assert torch.equal(h.argmax(1), data.y)
    vol = torch.zeros(3).index_add_(0, data.y, degree)
    assert torch.allclose(h.square().sum(0) * vol, vol)  # sum_i d_i / vol
    assert torch.equal(partition_start(adj, degree, data.y, 2)[:, :2]
                       .argmax(1)[data.y < 2], data.y[data.y < 2])


def test_estimator_auto_resolution_and_refine_switch():
    data = datasets.planted_partition(1500, 6, mu=0.3, seed=3)
    est = ps.SymNMFClustering('auto').fit(data)
    assert est.n_communities_ == 6 and nmi(data.y, est.labels_) > 0.99
    assert torch.equal(est.predict(data), est.labels_)
    fine = ps.SymNMFClustering('auto', resolution=4.0).fit(data)
    assert fine.n_communities_ > 6
    plain = ps.SymNMFClustering('auto', refine=False).fit(data)
    assert torch.equal(plain.labels_, plain.embedding_.argmax(1)) or \
        modularity(data.edge_index, plain.labels_) >= modularity(
            data.edge_index, plain.embedding_.argmax(1))
    with pytest.raises(ValueError, match='resolution'):
        ps.SymNMFClustering('auto', resolution=0).fit(data)


def test_estimator_refines_with_k_given_without_adding_communities():
    data = datasets.planted_partition(1000, 5, mu=0.35, degree_exponent=2.2,
                                      seed=4)
    refined = ps.SymNMFClustering(5).fit(data)
    plain = ps.SymNMFClustering(5, refine=False).fit(data)
    edges = torch.bincount(data.edge_index[0], minlength=1000) > 0
    assert int(refined.labels_[edges].max()) < 5
    assert modularity(data.edge_index, refined.labels_) >= modularity(
        data.edge_index, plain.labels_)


def test_auto_without_iterations_returns_the_start():
    data = datasets.planted_partition(600, 4, mu=0.2, seed=5)
    est = ps.SymNMFClustering('auto', max_iter=0).fit(data)
    assert est.n_iter_ == 0 and len(est.loss_curve_) == 1
    assert nmi(data.y, est.labels_) > 0.99


def test_estimator_k_given_leaves_nodes_without_edges_alone():
    # Nodes without edges belong to no community: with k given each is a
    # community of its own from label k on (as with 'auto', and as Leiden
    # leaves them); the nodes with edges keep the k communities.
    data = datasets.planted_partition(400, 4, mu=0.1, seed=6)
    lone = torch.tensor([400, 401, 402])
    padded = Data(edge_index=data.edge_index, num_nodes=403)
    labels = ps.SymNMFClustering(4, seed=0).fit(padded).labels_
    assert sorted(labels[lone].tolist()) == [4, 5, 6]
    assert int(labels[:400].max()) < 4
    assert nmi(data.y, labels[:400]) > 0.99
    plain = ps.SymNMFClustering(4, refine=False, seed=0).fit(padded)
    assert int(plain.labels_.max()) < 4  # the argmax, unchanged


@pytest.mark.parametrize('seed', [1, 3, 5])
def test_partition_reaches_leiden_modularity_without_planted_structure(
        seed):
    # Two passes of one level stayed below leidenalg on seeds 1 and 5.
    import numpy as np
    from pyg_symnmf.testing import random_graph
    la = pytest.importorskip('leidenalg')
    ig = pytest.importorskip('igraph')
    edge_index, _ = random_graph(1000, 3000, seed)
    row, col = edge_index.numpy()
    upper = row < col
    graph = ig.Graph(n=1000, edges=np.stack([row[upper], col[upper]], 1))
    leiden = la.find_partition(graph, la.ModularityVertexPartition, seed=0)
    selection = choose_k(raw(edge_index, 1000))
    assert selection.scores[selection.k] > leiden.modularity


def test_modularity_start_is_the_partition_brought_to_k():
    from pyg_symnmf.auto_k import modularity_start, partition_at
    data = datasets.planted_partition(400, 8, mu=0.1, seed=0)
    raw = to_adjacency(data.edge_index, num_nodes=400, normalize=False)
    adj = to_adjacency(data.edge_index, num_nodes=400)
    h = modularity_start(adj, raw, 5)
    labels = partition_at(raw, 5)
    assert h.shape == (400, 5) and torch.equal(h.argmax(1), labels)
    assert int((h > 0).sum()) == 400  # one membership per node
    assert torch.equal(h, partition_start(adj, raw.degree(), labels, 5))
    assert modularity_start(adj, raw, 9) is None  # 8 communities only
    # An extra start of factorize, ranked with the seeded ones.
    result = ps.factorize.factorize(adj, 5, starts=[h], warn=False)
    alone = ps.factorize.factorize(adj, 5, h0=h, warn=False)
    seeded = ps.factorize.factorize(adj, 5, warn=False)
    best = min((alone, seeded),
               key=lambda r: float(functional.symnmf_loss_of(adj, r.h)))
    assert torch.equal(result.h, best.h)
    with pytest.raises(ValueError, match="'starts'"):
        ps.factorize.factorize(adj, 5, h0=h, starts=[h])
