"""The multilevel path: coarsening that conserves the graph, prolongation
that is exact on block-constant graphs, and planted partitions recovered."""
import pytest
import torch

from torch_geometric.utils import coalesce

import pyg_symnmf as ps
from pyg_symnmf import multilevel
from pyg_symnmf.factorize import factorize
from pyg_symnmf.multilevel import coarsen, hierarchy, multilevel_symnmf
from pyg_symnmf.threads import thread_limit


@pytest.fixture(scope='module')
def planted():
    data = ps.datasets.planted_partition(6000, 12, average_degree=20,
                                         mu=0.2, seed=0)
    return data, ps.to_adjacency(data.edge_index, num_nodes=6000)


def test_coarsening_keeps_total_weight_and_maps_every_node(planted):
    _, adj = planted
    levels = hierarchy(adj, coarse_nodes=500)
    assert len(levels) >= 2
    total = float(adj.values.sum())
    n = adj.num_nodes
    for level in levels:
        assert level.group.shape == (n,)
        assert int(level.group.min()) == 0
        assert int(level.group.max()) == level.num_nodes - 1
        assert level.num_nodes <= 0.9 * n
        assert float(level.weight.sum()) == pytest.approx(total, rel=1e-5)
        row, col = level.edge_index
        # Symmetric: the coarse graph is P^T A P.
        dense = torch.zeros(level.num_nodes, level.num_nodes,
                            dtype=torch.float64)
        dense[row, col] = level.weight.double()
        torch.testing.assert_close(dense, dense.t(), rtol=1e-5, atol=1e-6)
        n = level.num_nodes


def test_levels_do_not_depend_on_the_chunks_of_the_edge_passes(planted,
                                                             monkeypatch):
    # The per-edge passes run by chunks (to keep temporaries small); the
    # levels must be the same with many chunks as with one.
    _, adj = planted
    whole = hierarchy(adj, coarse_nodes=500)
    monkeypatch.setattr(multilevel, '_CHUNK', 997)
    assert adj.num_edges > 50 * 997  # many chunks, one of them partial
    chunked = hierarchy(adj, coarse_nodes=500)
    assert len(chunked) == len(whole) >= 2
    for a, b in zip(whole, chunked):
        assert a.num_nodes == b.num_nodes
        for x, y in ((a.edge_index, b.edge_index), (a.weight, b.weight),
                     (a.group, b.group), (a.scale, b.scale)):
            assert torch.equal(x, y)


def test_coarse_edges_are_pygs_coalesce_of_the_grouped_edges():
    gen = torch.Generator().manual_seed(0)
    row = torch.randint(0, 300, (5000,), generator=gen)
    col = torch.randint(0, 300, (5000,), generator=gen)
    weight = torch.rand(5000, generator=gen, dtype=torch.float64)
    group = torch.randint(0, 40, (300,), generator=gen)  # many duplicates
    index, summed = multilevel._summed(row, col, weight, group, 40)
    expect_index, expect = coalesce(group[torch.stack([row, col])], weight,
                                    40, reduce='sum')
    assert torch.equal(index, expect_index)
    torch.testing.assert_close(summed, expect, rtol=1e-12, atol=0)


def test_prolongation_is_exact_on_a_degree_corrected_block_graph():
    # Two cliques (self-loops included) with weights theta_i theta_j: the
    # prolongation scales give back the fine normalised operator exactly.
    theta = torch.tensor([1.0, 2.0, 3.0, 1.0, 1.0, 4.0], dtype=torch.float64)
    block = torch.tensor([0, 0, 0, 1, 1, 1])
    a = torch.outer(theta, theta) * (block[:, None] == block[None, :])
    edge_index = a.nonzero().t()
    adj = ps.to_adjacency(edge_index, a[edge_index[0], edge_index[1]],
                          dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    level = coarsen(torch.stack([adj.row(), adj.col()]), a[adj.row(),
                    adj.col()], 6, torch.ones(6, dtype=torch.float64), gen,
                    normalized=True)
    # Rebuild the fine operator from the coarse one and the scales.
    coarse = torch.zeros(level.num_nodes, level.num_nodes,
                         dtype=torch.float64)
    coarse[level.edge_index[0], level.edge_index[1]] = level.weight
    vol = coarse.sum(1)
    coarse_norm = coarse / torch.sqrt(torch.outer(vol, vol))
    s, g = level.scale, level.group
    same_block = (block[:, None] == block[None, :])
    # Groups never mix the two disconnected blocks.
    for group in g.unique():
        assert block[g == group].unique().numel() == 1
    for i in range(6):
        for j in range(6):
            if same_block[i, j]:
                expect = ps.testing.normalized(a)[i, j]
                got = s[i] * s[j] * coarse_norm[g[i], g[j]]
                assert float(got) == pytest.approx(float(expect), rel=1e-9)


def test_multilevel_recovers_a_planted_partition(planted):
    data, adj = planted
    result = multilevel_symnmf(adj, 12, coarse_nodes=500)
    assert result.h.shape == (6000, 12) and bool((result.h >= 0).all())
    assert ps.metrics.nmi(data.y, result.h.argmax(1)) >= 0.95
    assert all(b <= a for a, b in zip(result.loss_curve,
                                      result.loss_curve[1:]))
    # The input graph is solved to tol, as a single-level solve is: the
    # same minimum as ANLS from its random start.
    assert result.converged
    single = factorize(adj, 12, 'anls', seed=0)
    assert result.loss_curve[-1] == pytest.approx(single.loss_curve[-1],
                                                  rel=1e-5)


def test_max_iter_bounds_the_input_graphs_solve_and_warns(planted):
    data, adj = planted
    with pytest.warns(ps.ConvergenceWarning, match='on the input graph'):
        short = factorize(adj, 12, 'multilevel', max_iter=2)
    assert short.n_iter == 2 and not short.converged
    full = factorize(adj, 12, 'multilevel')
    assert full.n_iter > 2 and full.loss_curve[-1] < short.loss_curve[-1]
    # The estimator passes max_iter on (it used to refuse it here).
    est = ps.SymNMFClustering(12, 'multilevel', max_iter=2, refine=False)
    with pytest.warns(ps.ConvergenceWarning):
        est.fit(data)
    assert est.n_iter_ == 2


def test_deterministic_under_its_seed_and_through_symnmf(planted):
    data, adj = planted
    # symnmf chooses the thread count by the problem's size, whatever the
    # form of the graph; the solve to tol at the input graph sums in
    # another order with another count, so factorize is compared at one.
    first = ps.symnmf(data.edge_index, 12, num_nodes=6000,
                      method='multilevel', seed=3)
    again = ps.symnmf(adj, 12, method='multilevel', seed=3)
    assert torch.equal(first, again)
    with thread_limit(1, 0):
        direct = factorize(adj, 12, 'multilevel', seed=3).h
        assert torch.equal(direct, first)
        assert torch.equal(factorize(adj, 12, 'multilevel', seed=3).h,
                           direct)


def test_small_graph_is_the_single_level_solve():
    data = ps.datasets.karate()
    adj = ps.to_adjacency(data.edge_index)
    assert hierarchy(adj, coarse_nodes=2000) == []
    h = factorize(adj, 4, 'multilevel').h
    assert h.shape == (34, 4)
    assert ps.metrics.nmi(data.y, h.argmax(1)) >= 0.7


def test_isolated_nodes_get_zero_rows_and_h0_is_refused():
    data = ps.datasets.planted_partition(3000, 4, mu=0.1, seed=1)
    adj = ps.to_adjacency(data.edge_index, num_nodes=3100)  # 100 isolated
    h = multilevel_symnmf(adj, 4, coarse_nodes=300).h
    assert bool((h[3000:] == 0).all()) and bool((h[:3000].sum(1) > 0).all())
    with pytest.raises(ValueError, match='h0'):
        factorize(adj, 4, 'multilevel', h0=torch.rand(3100, 4))


def test_raw_operator_works(planted):
    data, _ = planted
    raw = ps.to_adjacency(data.edge_index, num_nodes=6000, normalize=False)
    h = multilevel_symnmf(raw, 12, coarse_nodes=500).h
    assert ps.metrics.nmi(data.y, h.argmax(1)) >= 0.9
