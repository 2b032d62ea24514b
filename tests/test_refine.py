import numpy as np
import pytest
import torch

from pyg_symnmf import datasets, to_adjacency
from pyg_symnmf.metrics import modularity, nmi
from pyg_symnmf.refine import merged_to, refine_partition, wasted_column
from pyg_symnmf.testing import random_graph


def ring_of_cliques(num_cliques: int, size: int) -> torch.Tensor:
    """Cliques joined in a ring by one edge each: ``edge_index``."""
    edges = []
    for c in range(num_cliques):
        base = c * size
        edges += [(base + i, base + j) for i in range(size)
                  for j in range(i + 1, size)]
        edges.append((base, ((c + 1) % num_cliques) * size + 1))
    pairs = torch.tensor(edges).t()
    return torch.cat([pairs, pairs.flip(0)], 1)


def test_recovers_planted_communities_from_singletons():
    data = datasets.planted_partition(2000, 10, average_degree=20, mu=0.2)
    labels = refine_partition(data.edge_index, torch.arange(2000))
    assert nmi(data.y, labels) > 0.99


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_modularity_never_falls(seed):
    edge_index, weight = random_graph(300, 1500, seed, weighted=True)
    start = torch.randint(0, 7, (300,),
                          generator=torch.Generator().manual_seed(seed))
    for options in (dict(), dict(aggregate=False), dict(fixed_k=True),
                    dict(resolution=2.0), dict(iterations=None),
                    dict(fixed_k=True, iterations=None)):
        gamma = options.get('resolution', 1.0)
        refined = refine_partition(edge_index, start, edge_weight=weight,
                                   num_nodes=300, **options)
        assert modularity(edge_index, refined, weight, 300,
                          resolution=gamma) >= modularity(
            edge_index, start, weight, 300, resolution=gamma) - 1e-12


def test_ring_of_cliques_known_answer_and_resolution():
    edge_index = ring_of_cliques(8, 6)
    truth = torch.arange(48) // 6
    labels = refine_partition(edge_index, torch.arange(48))
    assert nmi(truth, labels) == pytest.approx(1.0)
    # A low resolution merges neighbouring cliques: fewer communities.
    coarse = refine_partition(edge_index, torch.arange(48), resolution=0.05)
    assert int(coarse.max()) + 1 < 8


def test_splits_disconnected_communities_and_keeps_isolated_nodes():
    # Two triangles with one label, and node 6 without edges.
    pairs = torch.tensor([[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5]]).t()
    edge_index = torch.cat([pairs, pairs.flip(0)], 1)
    labels = refine_partition(edge_index, torch.zeros(7, dtype=torch.long),
                              num_nodes=7)
    assert labels[0] == labels[1] == labels[2] != labels[3]
    assert labels[3] == labels[4] == labels[5]
    assert int(labels.max()) + 1 == 2  # node 6 stays with a community


def test_fixed_k_never_adds_communities():
    data = datasets.planted_partition(500, 5, mu=0.3, seed=1)
    start = torch.randint(0, 5, (500,),
                          generator=torch.Generator().manual_seed(0))
    start[data.y == 0] = 0
    labels = refine_partition(data.edge_index, start, fixed_k=True)
    assert int(labels.max()) + 1 <= 5
    assert nmi(data.y, labels) > nmi(data.y, start)


def test_deterministic_and_permutation_invariant():
    data = datasets.planted_partition(1000, 8, mu=0.3, seed=2)
    first = refine_partition(data.edge_index, torch.arange(1000), seed=3)
    again = refine_partition(data.edge_index, torch.arange(1000), seed=3)
    assert torch.equal(first, again)
    perm = torch.randperm(1000, generator=torch.Generator().manual_seed(0))
    inverse = torch.argsort(perm)
    permuted = refine_partition(inverse[data.edge_index], torch.arange(1000))
    assert nmi(first, permuted[inverse]) > 0.99


def test_degenerate_and_bad_input():
    empty = torch.empty(2, 0, dtype=torch.long)
    assert refine_partition(empty, torch.tensor([3, 3, 7]),
                            num_nodes=3).tolist() == [0, 0, 1]
    edge_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match='one community per node'):
        refine_partition(edge_index, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match='resolution'):
        refine_partition(edge_index, torch.zeros(2, dtype=torch.long),
                         resolution=0.0)
    # An unnormalised Adjacency is used as is.
    adj = to_adjacency(edge_index, normalize=False)
    assert refine_partition(adj, torch.tensor([0, 1])).tolist() == [0, 0]


@pytest.mark.parametrize('gamma', [1.0, 2.0])
def test_move_gains_are_exact(gamma):
    from pyg_symnmf import refine
    edge_index, weight = random_graph(60, 200, 0, weighted=True)
    adj = to_adjacency(edge_index, weight, 60, normalize=False,
                       dtype=torch.float64)
    graph = refine._Graph(adj.row(), adj.col(), adj.values, 60)
    labels = torch.randint(0, 6, (60,),
                           generator=torch.Generator().manual_seed(1))
    node, target, gain = refine._best_moves(
        graph, labels, gamma, torch.ones(60, dtype=torch.bool))
    before = graph.modularity(labels, gamma)
    for i, t, g in zip(node.tolist(), target.tolist(), gain.tolist()):
        moved = labels.clone()
        moved[i] = t
        assert graph.modularity(moved, gamma) - before == pytest.approx(
            g, abs=1e-12)


@pytest.mark.parametrize('gamma', [1.0, 2.0])
def test_incremental_rise_equals_full_recomputation(gamma):
    from pyg_symnmf import refine
    edge_index, weight = random_graph(120, 600, 3, weighted=True)
    # Self-loops too: they never change the weight inside communities.
    loops = torch.arange(0, 120, 7)
    edge_index = torch.cat([edge_index, loops.repeat(2, 1)], 1)
    weight = torch.cat([weight, torch.rand(loops.numel(), dtype=weight.dtype,
                        generator=torch.Generator().manual_seed(0))])
    adj = to_adjacency(edge_index, weight, 120, normalize=False,
                       dtype=torch.float64)
    whole = refine._Graph(adj.row(), adj.col(), adj.values, 120)
    gen = torch.Generator().manual_seed(2)
    coarse_labels = torch.randint(0, 40, (120,), generator=gen)
    graphs = [whole, whole.restricted(torch.randint(0, 3, (120,),
                                                    generator=gen)),
              refine._coarsen(whole, coarse_labels, 40)]
    for graph in graphs:
        for _ in range(10):
            old = torch.randint(0, 9, (graph.n,), generator=gen)
            node = torch.randperm(graph.n, generator=gen)[
                :int(torch.randint(1, graph.n, (1,), generator=gen))]
            new = old.clone()
            new[node] = torch.randint(0, 11, (node.numel(),), generator=gen)
            vol = torch.zeros(graph.n, dtype=torch.float64).index_add_(
                0, old, graph.degree)
            rise, near = refine._rise(graph, old, new, node, vol, gamma)
            assert rise == pytest.approx(
                graph.modularity(new, gamma) - graph.modularity(old, gamma),
                abs=1e-12)
            # ``near``: the neighbours of the moved nodes.
            mask = torch.isin(graph.off_row, node)
            assert set(near.tolist()) == set(graph.off_col[mask].tolist())


def test_early_stop_takes_fewer_rounds_and_never_lowers_modularity():
    from pyg_symnmf import refine
    data = datasets.planted_partition(3000, 15, average_degree=12, mu=0.35)
    adj = to_adjacency(data.edge_index, normalize=False, dtype=torch.float64)
    graph = refine._Graph(adj.row(), adj.col(), adj.values, 3000)
    start = torch.arange(3000)
    rounds = {}
    for early in (None, refine.EARLY):
        count = 0
        original = refine._rise

        def counting(*args, **kwargs):
            nonlocal count
            count += 1
            return original(*args, **kwargs)

        refine._rise = counting
        try:
            labels = refine._local_moves(graph, start, 1.0, 100, 1e-7,
                                         torch.Generator().manual_seed(0),
                                         early=early)
        finally:
            refine._rise = original
        rounds[early] = count
        assert graph.modularity(labels, 1.0) > graph.modularity(start, 1.0)
    assert rounds[refine.EARLY] < rounds[None]


def test_best_moves_ignores_edges_to_closed_communities():
    from pyg_symnmf import refine
    edge_index, weight = random_graph(80, 400, 4, weighted=True)
    adj = to_adjacency(edge_index, weight, 80, normalize=False,
                       dtype=torch.float64)
    graph = refine._Graph(adj.row(), adj.col(), adj.values, 80)
    gen = torch.Generator().manual_seed(5)
    labels = torch.randint(0, 8, (80,), generator=gen)
    receives = torch.rand(80, generator=gen) < 0.5
    sending = ~receives[labels]
    node, target, gain = refine._best_moves(graph, labels, 1.0, sending,
                                            True, receives)
    before = graph.modularity(labels, 1.0)
    for i, t, g in zip(node.tolist(), target.tolist(), gain.tolist()):
        assert bool(sending[i])
        used = bool((labels == t).any())
        assert not used or bool(receives[t])  # else a new community
        moved = labels.clone()
        moved[i] = t
        assert graph.modularity(moved, 1.0) - before == pytest.approx(
            g, abs=1e-12)
        # The best of the communities open to it (and of leaving alone).
        options = [t2 for t2 in labels[graph.off_col[graph.off_row == i]]
                   .unique().tolist() if t2 != int(labels[i])
                   and bool(receives[t2])]
        for t2 in options:
            other = labels.clone()
            other[i] = t2
            assert graph.modularity(other, 1.0) - before <= g + 1e-12


def test_fixed_k_splits_a_merged_pair_and_joins_a_split_one():
    # Six cliques; the start merges cliques 0 and 1 and cuts clique 2 in
    # two, still six labels. Node moves alone cannot undo that (each node
    # of a half prefers its half); the split-and-merge level does.
    edge_index = ring_of_cliques(6, 8)
    truth = torch.arange(48) // 8
    start = truth.clone()
    start[truth == 1] = 0
    start[16:20] = 1
    labels = refine_partition(edge_index, start, fixed_k=True)
    assert nmi(truth, labels) == pytest.approx(1.0)
    assert int(torch.unique(labels).numel()) == 6
    # The communities it did not touch keep their labels.
    assert torch.equal(labels[24:], start[24:])
    moved_only = refine_partition(edge_index, start, fixed_k=True,
                                  aggregate=False)
    assert nmi(truth, moved_only) < 0.99


def test_fixed_k_on_heavy_tailed_graph_reaches_leiden_quality():
    # From a random start the k communities reach the modularity of the
    # partition refined from singletons (within 1%), with k kept.
    data = datasets.planted_partition(2000, 8, mu=0.3, degree_exponent=2.2,
                                      seed=3)
    start = torch.randint(0, 8, (2000,),
                          generator=torch.Generator().manual_seed(0))
    fixed = refine_partition(data.edge_index, start, fixed_k=True)
    free = refine_partition(data.edge_index, torch.arange(2000))
    assert int(torch.unique(fixed).numel()) <= 8
    assert modularity(data.edge_index, fixed) >= 0.99 * modularity(
        data.edge_index, free)


def test_wasted_column_finds_a_near_empty_or_empty_column():
    edge_index = ring_of_cliques(4, 10)
    truth = torch.arange(40) // 10
    assert not wasted_column(edge_index, truth, 4)
    assert wasted_column(edge_index, truth, 5)  # column 4 is empty
    # A pendant node on a weak edge, alone in column 4: its volume (0.01)
    # is under 1 % of the mean (about 74); one whole clique alone is not.
    pendant = torch.tensor([[0, 40], [40, 0]])
    graph = torch.cat([edge_index, pendant], 1)
    weight = torch.cat([torch.ones(edge_index.size(1)),
                        torch.full((2,), 0.01)])
    adj = to_adjacency(graph, weight, normalize=False)
    labels = torch.cat([truth, torch.tensor([4])])
    assert wasted_column(adj, labels, 5)
    labels[40] = 0
    assert not wasted_column(adj, labels, 4)


def test_the_estimator_splits_and_merges_only_after_a_wasted_column(
        count_calls):
    # A balanced planted partition leaves no near-empty column: no split
    # (it costs more than the factorization at scale); a heavy-tailed one
    # with k = 40 does, and ends at a modularity no lower.
    from pyg_symnmf import SymNMFClustering, refine as refine_module
    calls = count_calls(refine_module, '_fixed_k_levels')
    balanced = datasets.planted_partition(2000, 8, mu=0.2, seed=1,
                                          size_concentration=1e6)
    SymNMFClustering(8).fit(balanced)
    assert calls == []
    heavy = datasets.lfr_like(4000, 40, 15, 0.3, seed=0,
                              degree_exponent=2.1)
    est = SymNMFClustering(40).fit(heavy)
    assert calls
    argmax = refine_partition(heavy.edge_index, est.embedding_.argmax(1),
                              fixed_k=True, aggregate=False)
    assert modularity(heavy.edge_index, est.labels_) >= \
        modularity(heavy.edge_index, argmax) - 1e-9


def leiden_modularity(edge_index, num_nodes):
    """leidenalg's modularity partition (defaults, seed 0): its Q."""
    la = pytest.importorskip('leidenalg')
    ig = pytest.importorskip('igraph')
    row, col = edge_index.numpy()
    upper = row < col
    graph = ig.Graph(n=num_nodes, edges=np.stack([row[upper], col[upper]], 1))
    return la.find_partition(graph, la.ModularityVertexPartition,
                             seed=0).modularity


@pytest.mark.parametrize('seed', range(6))
def test_passes_until_they_no_longer_pay_beat_two_and_leiden(seed):
    # Random graphs (no planted structure, many near-optimal partitions,
    # as in real networks): two passes of one level each stayed below
    # leidenalg on seeds 1 and 5 (0.4159 < 0.4160, 0.4080 < 0.4146); the
    # levels and the passes until they no longer pay reach 0.424-0.431.
    edge_index, _ = random_graph(1000, 3000, seed)
    two = refine_partition(edge_index, torch.arange(1000), num_nodes=1000)
    more = refine_partition(edge_index, torch.arange(1000), num_nodes=1000,
                            iterations=None)
    q_more = modularity(edge_index, more, num_nodes=1000)
    assert q_more >= modularity(edge_index, two, num_nodes=1000)
    assert q_more > leiden_modularity(edge_index, 1000)
    assert torch.equal(more, refine_partition(
        edge_index, torch.arange(1000), num_nodes=1000, iterations=None))


def test_passes_stop_when_the_last_rise_is_under_early_of_the_mean():
    from pyg_symnmf.refine import EARLY, _no_longer_pays
    assert not _no_longer_pays([0.5, 1e-9])  # too few passes to judge
    # Mean rise of the passes after the first: (0.1 + 0.005) / 2.
    assert not _no_longer_pays([0.5, 0.1, 0.1 * EARLY])
    assert _no_longer_pays([0.5, 0.1, 0.1 * EARLY / 4])
    # The first pass (the partition's build) does not count in the mean.
    assert not _no_longer_pays([100.0, 0.1, 0.01])


def test_passes_until_they_no_longer_pay_are_capped(monkeypatch,
                                                    count_calls):
    # MAX_PASSES bounds iterations=None whatever the rises (a safeguard).
    from pyg_symnmf import refine as refine_module

    edge_index, _ = random_graph(1000, 3000, 1)
    passes = count_calls(refine_module, '_leiden_level')
    refine_partition(edge_index, torch.arange(1000), num_nodes=1000,
                     iterations=None)
    assert len(passes) > 2
    monkeypatch.setattr(refine_module, 'MAX_PASSES', 2)
    passes.clear()
    capped = refine_partition(edge_index, torch.arange(1000),
                              num_nodes=1000, iterations=None)
    assert len(passes) == 2
    two = refine_partition(edge_index, torch.arange(1000), num_nodes=1000)
    assert torch.equal(capped, two)


def test_merged_to_joins_the_pairs_with_most_edges_between_them():
    # Six 5-cliques in a ring; cliques 2c and 2c+1 share six extra edges.
    # Merged to three communities: exactly those pairs (CNM's choice).
    edge_index = ring_of_cliques(6, 5)
    extra = [(10 * c + i, 10 * c + 5 + j) for c in range(3)
             for i, j in ((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (0, 4))]
    extra = torch.tensor(extra).t()
    edge_index = torch.cat([edge_index, extra, extra.flip(0)], 1)
    labels = torch.arange(30) // 5
    merged = merged_to(edge_index, labels, 3)
    assert nmi(torch.arange(30) // 10, merged) == pytest.approx(1.0)
    assert torch.equal(merged_to(edge_index, labels, 6), labels)
    assert torch.equal(merged_to(edge_index, labels, 9), labels)


def test_partition_at_k_is_the_modularity_partition_brought_to_k():
    from pyg_symnmf.auto_k import choose_k, partition_at

    edge_index = ring_of_cliques(8, 6)
    raw = to_adjacency(edge_index, normalize=False, dtype=torch.float64)
    assert choose_k(raw).k == 8
    assert torch.equal(partition_at(raw, 8), choose_k(raw).labels)
    four = partition_at(raw, 4)
    assert int(four.max()) + 1 == 4
    # Merging the ring's neighbours: each community is two whole cliques.
    assert nmi(torch.arange(48) // 12, four) == pytest.approx(1.0) or all(
        int(torch.unique(four[c * 6:(c + 1) * 6]).numel()) == 1
        for c in range(8))
    assert partition_at(raw, 9) is None


def test_partition_at_refuses_more_communities_than_it_merges(monkeypatch):
    # Merging runs on dense tables: a partition of more communities than
    # MAX_MERGED (many small components) is not brought to k.
    from pyg_symnmf import auto_k, refine

    raw = to_adjacency(ring_of_cliques(8, 6), normalize=False,
                       dtype=torch.float64)
    monkeypatch.setattr(refine, 'MAX_MERGED', 7)
    assert auto_k.partition_at(raw, 4) is None
    assert auto_k.partition_at(raw, 8) is None
    monkeypatch.setattr(refine, 'MAX_MERGED', 8)
    assert int(auto_k.partition_at(raw, 4).max()) + 1 == 4


def test_a_wasted_column_also_tries_the_modularity_partition_at_k(
        monkeypatch):
    # k given on a heavy-tailed graph: after a wasted column the estimator
    # keeps the higher-modularity of its split-and-merged read-out and the
    # k='auto' partition brought to k, so it is no worse than the latter.
    from pyg_symnmf import SymNMFClustering
    from pyg_symnmf.auto_k import partition_at

    heavy = datasets.lfr_like(4000, 20, 15, 0.3, seed=0,
                              degree_exponent=2.1)
    raw = to_adjacency(heavy.edge_index, num_nodes=4000, normalize=False,
                       dtype=torch.float64)
    est = SymNMFClustering(20).fit(heavy)
    other = partition_at(raw, 20)
    assert other is not None
    other = refine_partition(raw, other, fixed_k=True)
    assert modularity(heavy.edge_index, est.labels_) >= \
        modularity(heavy.edge_index, other) - 1e-9
    # Without that partition (more communities than it merges), the fit
    # keeps its own read-out.
    from pyg_symnmf import refine
    monkeypatch.setattr(refine, 'MAX_MERGED', 1)
    alone = SymNMFClustering(20).fit(heavy)
    linked = raw.degree() > 0
    assert int(alone.labels_[linked].max()) < 20
    assert modularity(heavy.edge_index, alone.labels_) <= \
        modularity(heavy.edge_index, est.labels_) + 1e-9


def _greedy_reference(weight, volume, score, merges=None, above=-np.inf):
    """The greedy agglomeration spelled out: the whole table scored for
    every merge, the first maximum in row-major order merged."""
    from pyg_symnmf.refine import _absorb
    size = volume.numel()
    alive = torch.ones(size, dtype=torch.bool)
    into = torch.arange(size)
    done = 0
    while int(alive.sum()) > 1 and (merges is None or done < merges):
        table = score(weight, volume, volume)
        ok = torch.outer(alive, alive)
        ok.fill_diagonal_(False)
        table = torch.where(ok, table, -np.inf)
        a, b = divmod(int(torch.argmax(table)), size)
        if not float(table[a, b]) > above:
            break
        _absorb(weight, volume, alive, into, min(a, b), max(a, b))
        done += 1
    return weight, volume, into


def _check_greedy_merges(weight, volume):
    from pyg_symnmf.refine import _greedy_merges
    p = volume.numel()

    def modularity_gain(w, vol_rows, vol):
        return 2 * w / 40.0 - 2 * torch.outer(vol_rows, vol) / 40.0 ** 2

    def z_score(w, vol_rows, vol):
        expected = torch.outer(vol_rows, vol) / 300.0
        return (w - expected) / expected.clamp_min(1e-300).sqrt()

    def weight_alone(w, vol_rows, vol):  # ties everywhere
        return w.clone()

    def volumes_alone(w, vol_rows, vol):  # as between components
        return -torch.outer(vol_rows, vol)

    for score, options in ((modularity_gain, dict(merges=p - 3)),
                           (modularity_gain, dict(merges=p - 1)),
                           (z_score, dict(above=1.0)),
                           (z_score, dict(above=0.0)),
                           (weight_alone, dict(merges=p // 2)),
                           (volumes_alone, dict(merges=p - 2))):
        fast = weight.clone(), volume.clone()  # merged in place
        fast += (_greedy_merges(*fast, score, **options),)
        slow = _greedy_reference(weight.clone(), volume.clone(), score,
                                 **options)
        for got, expected in zip(fast, slow):
            assert torch.equal(got, expected)


@pytest.mark.parametrize('seed', range(6))
def test_greedy_merges_match_the_whole_table_rescored(seed):
    # Integer weights and volumes: many ties, resolved as the whole table's
    # row-major argmax does; some groups without edges between them.
    for p, density in ((60, 0.15), (30, 0.3)):
        gen = torch.Generator().manual_seed(seed)
        weight = torch.randint(0, 3, (p, p), generator=gen).double()
        weight *= torch.rand(p, p, generator=gen) < density
        weight = torch.triu(weight, 1)
        weight = weight + weight.t() + torch.diag(
            torch.randint(0, 4, (p,), generator=gen).double())
        volume = weight.sum(1) + torch.randint(0, 3, (p,), generator=gen)
        _check_greedy_merges(weight, volume)
