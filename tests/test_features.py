"""The feature-aware operator (pyg_symnmf.features) and its use by default
in SymNMFClustering, symnmf and DetectCommunities."""
import pathlib

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.data import Batch, Data

from pyg_symnmf import (Adjacency, SymNMFClustering, datasets, features,
                        metrics, symnmf, to_adjacency)
from pyg_symnmf.adjacency import normalized_operator as ps_normalized
from pyg_symnmf.features import feature_graph, knn_cosine_graph
from pyg_symnmf.transforms import DetectCommunities


def csbm(n=600, graph=2.5, feats=2.0, seed=0):
    return datasets.contextual_sbm(n, 4, graph, feats, seed=seed)


def test_features_carry_the_signal_and_beat_the_graph_alone():
    data = csbm(graph=0.5, feats=3.0)  # the graph: almost no signal
    on = SymNMFClustering(4).fit_predict(data)
    off = SymNMFClustering(4, features=False).fit_predict(data)
    assert metrics.nmi(data.y, on) >= 0.8
    assert metrics.nmi(data.y, on) >= metrics.nmi(data.y, off) + 0.5


def test_features_off_is_the_graph_alone():
    data = csbm(300, graph=2.0, feats=1.0)
    bare = Data(edge_index=data.edge_index, num_nodes=data.num_nodes)
    off = SymNMFClustering(4, features=False).fit(data)
    assert torch.equal(off.embedding_, SymNMFClustering(4).fit(bare)
                       .embedding_)
    assert torch.equal(symnmf(data.edge_index, 4, x=data.x, features=False),
                       symnmf(data.edge_index, 4))


def test_graph_signal_still_counts_when_features_are_noise():
    data = csbm(600, graph=2.5, feats=0.0)
    labels = SymNMFClustering(4).fit_predict(data)
    assert metrics.nmi(data.y, labels) >= 0.6


def test_sparse_features_give_the_dense_result():
    data = csbm(300, graph=0.5, feats=1.0)
    x = (data.x > 0.5).float()  # binary, like bag-of-words
    dense = feature_graph(x, data.edge_index, k=4, max_dim=8)
    for other in (x.to_sparse(), x.to_sparse_csr(),
                  sp.csr_matrix(x.numpy())):
        got = feature_graph(other, data.edge_index, k=4, max_dim=8)
        assert torch.equal(got.csr.col_indices(), dense.csr.col_indices())
        assert torch.allclose(got.values, dense.values, atol=1e-5)
    assert torch.equal(symnmf(data.edge_index, 4, x=x),
                       symnmf(data.edge_index, 4, x=x.to_sparse()))


def test_knn_graph_matches_a_dense_reference_and_chunks(monkeypatch):
    z = torch.nn.functional.normalize(torch.randn(50, 5,
                                                  dtype=torch.float64), dim=1)
    index, value = knn_cosine_graph(z, 4)
    sim = z @ z.t()
    sim.fill_diagonal_(-2)
    top = sim.topk(4, dim=1).indices
    ref = torch.zeros(50, 50, dtype=torch.float64)
    rows = torch.arange(50).repeat_interleave(4)
    ref[rows, top.reshape(-1)] = sim[rows, top.reshape(-1)].clamp_min(0)
    ref = torch.maximum(ref, ref.t())
    got = torch.zeros(50, 50, dtype=torch.float64)
    got[index[0], index[1]] = value
    assert torch.allclose(got, ref)
    monkeypatch.setattr(features, 'CHUNK_ELEMENTS', 120)  # 2 rows a chunk
    index2, value2 = knn_cosine_graph(z, 4)
    assert torch.equal(index, index2) and torch.allclose(value, value2)


def test_isolated_nodes_and_small_components_get_communities_from_features():
    data = csbm(400, graph=0.0, feats=3.0, seed=1)
    # Keep a third of the nodes isolated and cut the rest into pairs: 133
    # components, so the graph alone cannot give 4 communities.
    perm = torch.randperm(400, generator=torch.Generator().manual_seed(0))
    pairs = perm[:266].view(-1, 2).t()
    edge_index = torch.cat([pairs, pairs.flip(0)], dim=1)
    graph = Data(x=data.x, edge_index=edge_index, num_nodes=400)
    labels = SymNMFClustering(4).fit_predict(graph)
    isolated = perm[266:]
    assert metrics.nmi(data.y[isolated], labels[isolated]) >= 0.7
    assert torch.bincount(labels, minlength=4).min() >= 60
    adj = feature_graph(data.x, edge_index, k=4)
    assert bool((adj.degree() > 0).all())  # every node has edges


def test_batch_factors_each_graph_with_its_features():
    graphs = [csbm(200, seed=s) for s in (0, 1)]
    batch = Batch.from_data_list(graphs)
    h = symnmf(batch.edge_index, 4, x=batch.x, batch=batch.batch)
    for i, g in enumerate(graphs):
        alone = symnmf(g.edge_index, 4, x=g.x)
        assert torch.allclose(h[200 * i:200 * (i + 1)], alone, atol=1e-6)
        assert metrics.nmi(g.y, alone.argmax(1)) >= 0.8
    out = DetectCommunities(4)(batch.clone())
    assert torch.equal(out.community, h.argmax(1))


def test_deterministic_under_a_seed_and_permutation_invariant():
    data = csbm(300, graph=1.5, feats=1.0)
    a = SymNMFClustering(4, seed=3).fit(data).embedding_
    b = SymNMFClustering(4, seed=3).fit(data).embedding_
    assert torch.equal(a, b)
    adj = feature_graph(data.x, data.edge_index, k=4)
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(300)
    permuted = feature_graph(data.x[perm], inv[data.edge_index], k=4)
    dense = torch.zeros(300, 300)
    dense[adj.row(), adj.col()] = adj.values
    dense_p = torch.zeros(300, 300)
    dense_p[permuted.row(), permuted.col()] = permuted.values
    assert torch.allclose(dense_p, dense[perm][:, perm], atol=1e-5)


def test_edge_agreement_samples_large_graphs(monkeypatch):
    # Above AGREEMENT_SAMPLE nodes the neighbours' mean comes from a seeded
    # sample of nodes: close to the mean over all of them, and seeded.
    data = csbm(1200, graph=2.5, feats=2.0)
    x0, adj = features.prepared_features(data.x), _adj(data)
    exact = features.edge_agreement(x0, adj, 38)
    monkeypatch.setattr(features, 'AGREEMENT_SAMPLE', 300)
    sampled = [features.edge_agreement(x0, adj, 38, seed) for seed in (0, 1)]
    assert 0.05 < exact < 1
    assert all(abs(h - exact) < 0.03 * exact for h in sampled)
    assert sampled[0] != sampled[1]
    assert features.edge_agreement(x0, adj, 38, 0) == sampled[0]


def test_agreement_pvalue_tells_related_features_from_shuffled_ones():
    data = csbm(graph=2.5, feats=2.0)
    x0, adj = features.prepared_features(data.x), _adj(data)
    # Features that carry the graph's communities: the floor, 1 / 100.
    assert features.agreement_pvalue(x0, adj) == 0.01
    assert features.agreement_pvalue(x0, adj, permutations=9) == 0.1
    # Rows shuffled among the nodes: p is uniform, so over 20 shuffles
    # its mean is near 1/2 and few fall below 0.05.
    pvalues = []
    for seed in range(20):
        perm = torch.randperm(600, generator=torch.Generator().manual_seed(
            seed))
        pvalues.append(features.agreement_pvalue(x0[perm], adj, seed=seed))
    assert 0.3 < float(np.mean(pvalues)) < 0.7
    assert sum(p <= 0.05 for p in pvalues) <= 2
    # Seeded; a graph without edges says nothing.
    assert features.agreement_pvalue(x0[perm], adj, seed=3) == \
        features.agreement_pvalue(x0[perm], adj, seed=3)
    empty = to_adjacency(torch.empty(2, 0, dtype=torch.long), num_nodes=600)
    assert features.agreement_pvalue(x0, empty) == 1.0
    with pytest.raises(ValueError, match='permutations'):
        features.agreement_pvalue(x0, adj, permutations=0)


def test_agreement_pvalue_samples_large_graphs(monkeypatch):
    # Above TEST_EDGES edges a seeded sample of them is averaged: related
    # features still at the floor, shuffled ones still uniform.
    data = csbm(graph=2.5, feats=2.0)
    x0, adj = features.prepared_features(data.x), _adj(data)
    monkeypatch.setattr(features, 'TEST_EDGES', 200)
    assert features.agreement_pvalue(x0, adj) == 0.01
    pvalues = [features.agreement_pvalue(x0[torch.randperm(
        600, generator=torch.Generator().manual_seed(seed))], adj, seed=seed)
        for seed in range(10)]
    assert 0.25 < float(np.mean(pvalues)) < 0.75


def test_unsupervised_rules():
    n = 600
    agree = csbm(n, graph=2.5, feats=2.0)
    random = csbm(n, graph=0.0, feats=2.0)
    # Graph weight: the graph's eigengap at k relative to the kNN graph's.
    weights = []
    for data in (agree, random):
        adj = _adj(data)
        z, index, value = _unit_knn(features.filter_features(data.x, adj),
                                    38)
        knn = to_adjacency(index, value, n, dtype=torch.float64)
        gap = features.relative_eigengap(adj, 4)
        weights.append(features.graph_weight_rule(gap, knn, 4))
    assert 0 <= weights[1] < 0.1 * weights[0]  # about 0.2 and 4
    # Restart: edges at random do not agree with the features.
    x0 = features.prepared_features(random.x)
    assert features.edge_agreement(x0, _adj(random), 38) < 0.05
    x0 = features.prepared_features(agree.x)
    assert features.edge_agreement(x0, _adj(agree), 38) > 0.05
    assert weights[0] <= features.MAX_GRAPH_WEIGHT
    # The gap itself: LOBPCG agrees with the dense spectrum.
    adj = _adj(agree)
    values = torch.linalg.eigvalsh(adj.csr.to_dense()).flip(0)
    dense_gap = float((values[3] - values[4]) / values[3])
    assert features.relative_eigengap(adj, 4) == pytest.approx(dense_gap,
                                                               rel=1e-3)
    # Neighbours: a quarter of the mean community size, clipped.
    assert features._num_neighbors(600, 4, None) == 38
    assert features._num_neighbors(600, None, None) == 24
    assert features._num_neighbors(100000, 2, None) == features.MAX_NEIGHBORS
    assert features._num_neighbors(30, 10, None) == features.MIN_NEIGHBORS
    assert features._num_neighbors(5, 1, None) == 4
    # Steps: stops once the average settles (before the cap).
    x = agree.x
    auto = features.filter_features(x, _adj(agree))
    fixed = [features.filter_features(x, _adj(agree), steps=t)
             for t in range(1, features.MAX_STEPS + 1)]
    used = next(t for t, f in enumerate(fixed, 1) if torch.equal(f, auto))
    assert 1 < used < features.MAX_STEPS


def test_restart_is_the_filter_whose_operator_shows_k_clusters_best():
    # With the trust t in the graph, the candidates are 1 - (1 - r0) t for
    # r0 in RESTARTS; the one kept has the largest relative eigengap at k
    # of its fused operator.
    data = csbm(feats=1.0)
    space = features.feature_space(data.x, data.edge_index, k=4)
    trust = max(space.agreement,
                min(1.0, features.TRUST_SCALE * space.gap))
    assert trust > 0.5  # the candidates differ
    gaps = {}
    for r0 in features.RESTARTS:
        restart = 1 - (1 - r0) * trust
        given = features.feature_space(data.x, data.edge_index, k=4,
                                       restart=restart)
        assert given.restart == restart
        gaps[restart] = features.relative_eigengap(
            features.fused_graph(given, normalize=True), 4)
    low, high = sorted(gaps.values())
    assert high > low + 1e-3
    assert space.restart == pytest.approx(max(gaps, key=gaps.get))
    again = features.feature_space(data.x, data.edge_index, k=4,
                                   restart=space.restart)
    assert torch.equal(space.z, again.z)
    # The choice's fused graph, kept, is the one computed afresh.
    assert space.fusion is not None and again.fusion is None
    assert torch.equal(features.fused_graph(space).csr.to_dense(),
                       features.fused_graph(again).csr.to_dense())
    # A graph without edges does not filter: one candidate, r = 1.
    bare = features.feature_space(data.x, torch.empty(2, 0, dtype=torch.long),
                                  num_nodes=data.num_nodes, k=4)
    assert bare.restart == 1.0


def _adj(data):
    return to_adjacency(data.edge_index, num_nodes=data.num_nodes,
                        dtype=torch.float64)


def _unit_knn(z, m):
    z = z - z.mean(0)
    z = z / z.norm(dim=1, keepdim=True)
    index, value = knn_cosine_graph(z, m)
    return z, index, value


def test_operator_is_an_adjacency_for_every_solver():
    data = csbm(300)
    adj = feature_graph(data.x, data.edge_index, k=4)
    assert isinstance(adj, Adjacency) and adj.normalized
    for method in ('anls', 'hals', 'mu', 'pgd', 'net'):
        h = symnmf(adj, 4, method=method)
        assert metrics.nmi(data.y, h.argmax(1)) >= 0.7, method
    labels = SymNMFClustering(4, 'net').fit_predict(data)
    assert metrics.nmi(data.y, labels) >= 0.7


def test_bad_features_raise_clear_errors():
    data = csbm(100)
    with pytest.raises(ValueError, match='num_nodes'):
        feature_graph(data.x[:50], data.edge_index)
    bad = data.x.clone()
    bad[0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN'):
        feature_graph(bad, data.edge_index)
    with pytest.raises(ValueError, match='shape'):
        feature_graph(data.x[:, 0], data.edge_index)
    with pytest.raises(TypeError, match="'x'"):
        feature_graph(object(), data.edge_index)
    with pytest.raises(ValueError, match='restart'):
        feature_graph(data.x, data.edge_index, restart=2.0)


@pytest.fixture
def attributed_files(tmp_path):
    data = csbm(200, graph=0.5, feats=3.0)
    row, col = data.edge_index
    upper = row < col
    edges = tmp_path / 'graph.csv'
    edges.write_text('\n'.join(f'{a},{b}' for a, b in
                               zip(row[upper].tolist(),
                                   col[upper].tolist())))
    table = tmp_path / 'features.csv'
    table.write_text('node,' + ','.join(f'f{j}' for j in range(32)) + '\n' +
                     '\n'.join(f'{i},' + ','.join(f'{v:.6f}' for v in x)
                               for i, x in enumerate(data.x.tolist())))
    sp.save_npz(tmp_path / 'features.npz', sp.csr_matrix(data.x.numpy()))
    labels = tmp_path / 'labels.csv'
    labels.write_text('\n'.join(f'{i},{c}' for i, c in
                                enumerate(data.y.tolist())))
    torch.save(data, tmp_path / 'graph.pt')
    return tmp_path


def _table(capsys, argv, monkeypatch):
    from pyg_symnmf import cli
    monkeypatch.setattr(cli, 'DMON_EPOCHS', 3)
    assert cli.main(argv + ['--quiet']) == 0
    lines = capsys.readouterr().out.splitlines()[3:]
    return {line.split('  ')[0].strip(): line for line in lines}, \
        [line.split('  ')[0].strip() for line in lines]


def test_cli_features_rows_first(attributed_files, capsys, monkeypatch):
    folder = attributed_files
    for features_file in ('features.csv', 'features.npz'):
        rows, order = _table(capsys, [str(folder / 'graph.csv'), '--features',
                                      str(folder / features_file),
                                      '--labels', str(folder / 'labels.csv'),
                                      '--methods', 'anls'], monkeypatch)
        assert order[:2] == ['SymNMF + features (ANLS)',
                             'SymNMF-Net + features (pretrained)']
        assert {'smoothed-feature k-means', 'DMoN (3 epochs)'} <= set(rows)
        nmi = float(rows['SymNMF + features (ANLS)'].split()[6])
        assert nmi >= 0.8
    # A .pt file carries x and y; --no-features drops the feature rows.
    rows, order = _table(capsys, [str(folder / 'graph.pt'), '--methods'],
                         monkeypatch)
    assert order[0] == 'SymNMF + features (ANLS)'
    rows, order = _table(capsys, [str(folder / 'graph.pt'), '--methods',
                                  '--no-features'], monkeypatch)
    assert order[0] == 'SymNMF-Net (pretrained)'
    assert not any('features' in name for name in order)


def test_cli_features_file_errors(attributed_files, capsys):
    from pyg_symnmf import cli
    folder = attributed_files
    bad = folder / 'bad.csv'
    bad.write_text('0,1,2\n1,x,3\n')
    assert cli.main([str(folder / 'graph.csv'), '--features', str(bad),
                     '-k', '2']) == 2
    assert 'not a number' in capsys.readouterr().err
    assert cli.main(['--dataset', 'sbm', '--features',
                     str(folder / 'features.csv')]) == 2
    assert '--features' in capsys.readouterr().err


def test_features_that_only_name_nodes_are_not_used():
    karate = datasets.karate()  # x: one-hot node ids
    assert not features.informative(karate.x)
    assert not features.informative(karate.x.to_sparse())
    assert not features.informative(torch.ones(10, 3))
    assert not features.informative(sp.csr_matrix(np.ones((10, 3))))
    assert features.informative(csbm(50).x)
    bare = Data(edge_index=karate.edge_index, num_nodes=34)
    assert torch.equal(SymNMFClustering(4).fit(karate).embedding_,
                       SymNMFClustering(4).fit(bare).embedding_)
    with pytest.raises(ValueError, match='tell nodes apart'):
        feature_graph(karate.x, karate.edge_index)


def test_start_score_is_the_modularity_of_the_arg_max_partition():
    data = datasets.sbm([60, 60, 60], 0.3, 0.01, seed=0)
    raw = feature_graph(torch.nn.functional.one_hot(data.y, 3).double()
                        + 0.1 * torch.randn(180, 3,
                                            generator=torch.Generator()
                                            .manual_seed(0)).double(),
                        data.edge_index, k=3, normalize=False)
    score = features.start_score(raw)
    truth = torch.nn.functional.one_hot(data.y, 3).double()
    merged = torch.nn.functional.one_hot(data.y.clamp(max=1), 3).double()
    assert score(truth) == pytest.approx(metrics.modularity(raw, data.y),
                                         abs=1e-6)
    assert score(truth) > score(merged) + 0.1
    # Soft memberships score by their arg max; the scale does not matter.
    assert score(3.0 * truth + 0.2) == pytest.approx(score(truth))
    with_resolution = features.start_score(raw, resolution=2.0)
    assert with_resolution(truth) < score(truth)


def test_start_score_prefers_the_better_basin_on_a_contextual_sbm():
    # lambda = 1.5, mu = 0.5 (benchmarks/attributed.py): the starts end in
    # two basins of almost the same loss; the score separates them.
    from pyg_symnmf.factorize import factorize
    data = datasets.contextual_sbm(2000, 4, 1.5, 0.5, seed=2)
    raw = feature_graph(data.x, data.edge_index, k=4, normalize=False)
    adj = to_adjacency(raw.csr, normalize=True)
    score = features.start_score(raw)
    runs = [factorize(adj, 4, seed=2 + i) for i in range(1, 8)]
    best = max(runs, key=lambda r: score(r.h))
    worst = min(runs, key=lambda r: score(r.h))
    nmi_best = metrics.nmi(data.y, best.h.argmax(1))
    assert nmi_best > metrics.nmi(data.y, worst.h.argmax(1)) + 0.1
    assert nmi_best > 0.5


def test_wide_dense_words_are_projected_as_sparse_words():
    gen = torch.Generator().manual_seed(0)
    words = (torch.rand(300, 400, generator=gen) < 0.02).double()
    dense = features.prepared_features(words, max_dim=32, seed=3)
    sparse = features.prepared_features(words.to_sparse(), max_dim=32,
                                        seed=3)
    assert dense.shape == (300, 32)
    assert torch.allclose(dense, sparse, atol=1e-10)


def test_disconnected_graph_weighs_by_its_edge_agreement(monkeypatch):
    # A CiteSeer-like generated graph (many components, isolated nodes,
    # binary words): its eigengap at k is 0, yet its edges agree with the
    # features, so it weighs h > 0 in the operator, and that pays.
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / 'benchmarks'))
    from attributed import bag_of_words_graph
    data = bag_of_words_graph(seed=2)  # N = 3000, k = 6
    adj = to_adjacency(data.edge_index, num_nodes=3000, normalize=True,
                       dtype=torch.float64)
    assert features.relative_eigengap(adj, 6) == pytest.approx(0, abs=1e-6)
    m = features._num_neighbors(3000, 6, None)
    h = features.edge_agreement(features.prepared_features(data.x), adj, m)
    assert h > 0.05
    fused = feature_graph(data.x, data.edge_index, k=6, normalize=False)
    alone = feature_graph(data.x, data.edge_index, k=6, graph_weight=0,
                          normalize=False)
    # The graph's edges are in the operator with weight h (normalised).
    assert fused.num_edges > alone.num_edges
    default = SymNMFClustering(6, seed=0).fit_predict(data)
    assert metrics.nmi(data.y, default) > 0.8
    # The graph weight's own effect, from the seeded starts alone (the
    # modularity start rescues the operator without the graph too: 0.96).
    monkeypatch.setattr('pyg_symnmf.factorize.modularity_start',
                        lambda *a, **kw: None)
    # One operator each (the discriminant metric's first fit would mix in
    # another).
    seeded = SymNMFClustering(6, seed=0, discriminant=False).fit_predict(data)
    monkeypatch.setattr('pyg_symnmf.factorize.feature_space',
                        lambda *a, **kw: features.feature_space(
                            *a, graph_weight=0, **kw))
    without = SymNMFClustering(6, seed=0,
                               discriminant=False).fit_predict(data)
    assert metrics.nmi(data.y, seeded) > metrics.nmi(data.y, without) + 0.1


# Some seeded starts reach max_iter on this graph (they drift slowly).
@pytest.mark.filterwarnings('ignore::pyg_symnmf.ConvergenceWarning')
def test_modularity_start_rescues_a_ten_class_word_graph(monkeypatch):
    # A generated bag-of-words graph with 10 classes: every seeded start
    # drifts to structure that is not the classes (NMI about 0.3), while
    # the operator's modularity partition brought to k, polished while its
    # read-out's modularity rises, keeps them.
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / 'benchmarks'))
    from attributed import bag_of_words_graph
    data = bag_of_words_graph(num_nodes=3000, k=10, seed=10)
    est = SymNMFClustering(10).fit(data)
    assert metrics.nmi(data.y, est.labels_) > 0.85  # 0.92
    # The pretrained blocks rank the same start against their spectral one.
    net = SymNMFClustering(10, 'net').fit_predict(data)
    assert metrics.nmi(data.y, net) > 0.85  # 0.92; 0.44 from its own start
    # The functional call factors alike (its arg-max is not refined).
    h = symnmf(data.edge_index, 10, num_nodes=3000, x=data.x)
    assert torch.equal(h, est.embedding_)
    monkeypatch.setattr('pyg_symnmf.factorize.modularity_start',
                        lambda *a, **kw: None)
    seeded = SymNMFClustering(10, discriminant=False).fit_predict(data)
    assert metrics.nmi(data.y, seeded) < 0.6  # 0.28
    spectral = SymNMFClustering(10, 'net', discriminant=False).fit_predict(data)
    assert metrics.nmi(data.y, spectral) < 0.6
    # The discriminant metric of those seeded starts' communities rescues
    # it too.
    rescued = SymNMFClustering(10).fit_predict(data)
    assert metrics.nmi(data.y, rescued) > 0.85  # 0.95


def test_pretrained_net_runs_its_blocks_once_per_start(monkeypatch):
    # The blocks' run from each start ranks the starts; the chosen start's
    # run is the result, not run a second time. Fine-tuning runs it again
    # with the trained blocks, from the same start.
    from pyg_symnmf import estimator
    runs = []

    def counted(net, adj, h0):
        result = real(net, adj, h0)
        runs.append((h0, result.h))
        return result
    real = estimator.run_net
    monkeypatch.setattr(estimator, 'run_net', counted)
    data = csbm()
    est = SymNMFClustering(4, 'net').fit(data)
    # The spectral start, the modularity start and the first fit's
    # communities (the discriminant pass).
    assert len(runs) == 3
    assert any(torch.equal(h, est.embedding_) for _, h in runs)
    runs.clear()
    tuned = SymNMFClustering(4, 'net', epochs=2).fit(data)
    starts = [h0 for h0, _ in runs]
    # Ranking (3 runs), each epoch's forward pass (2), the result (1).
    assert len(runs) == 6
    assert all(s is starts[3] for s in starts[3:])
    assert any(torch.equal(s, starts[3]) for s in starts[:3])
    assert torch.equal(runs[-1][1], tuned.embedding_)


@pytest.mark.parametrize('n, p', [(300, 8), (20, 50)])
def test_ledoit_wolf_shrinkage_matches_scikit_learn(n, p):
    from sklearn.covariance import ledoit_wolf_shrinkage
    gen = torch.Generator().manual_seed(n)
    x = torch.randn(n, p, generator=gen, dtype=torch.float64) \
        * torch.linspace(0.1, 3.0, p, dtype=torch.float64)
    expected = ledoit_wolf_shrinkage(x.numpy(), assume_centered=True)
    assert features.ledoit_wolf_shrinkage(x) == pytest.approx(expected,
                                                              rel=1e-10)
    # Isotropic noise is shrunk further than strongly unequal variances.
    iso = torch.randn(n, p, generator=gen, dtype=torch.float64)
    assert features.ledoit_wolf_shrinkage(iso) > \
        features.ledoit_wolf_shrinkage(x)


def test_discriminant_metric_weighs_the_separating_direction():
    # Two groups apart along one quiet direction, nine loud noise
    # directions: cosine neighbours mix the groups, the discriminant
    # metric keeps them apart; renaming groups or permuting nodes changes
    # nothing.
    gen = torch.Generator().manual_seed(0)
    n = 400
    labels = torch.arange(n) % 2
    z = 3 * torch.randn(n, 10, generator=gen, dtype=torch.float64)
    z[:, 0] = (2 * labels - 1) + 0.3 * torch.randn(n, generator=gen,
                                                   dtype=torch.float64)

    def purity(rows):
        row, col, _ = features._most_similar(rows, 10)
        return float((labels[row] == labels[col]).double().mean())

    metric = features.discriminant_metric(z, labels)
    assert purity(features._centred_unit_rows(z)) < 0.6  # 0.55
    assert purity(metric) > 0.7  # 0.78
    assert torch.allclose(metric.norm(dim=1), torch.ones(n,
                                                         dtype=torch.float64))
    assert torch.allclose(features.discriminant_metric(z, 1 - labels), metric)
    perm = torch.randperm(n, generator=gen)
    assert torch.allclose(features.discriminant_metric(z[perm], labels[perm]),
                          metric[perm])
    # Every group a single point: nothing to discriminate, z unchanged.
    assert torch.equal(features.discriminant_metric(z, torch.arange(n)), z)
    with pytest.raises(ValueError, match='labels'):
        features.discriminant_metric(z, labels[:-1])
    with pytest.raises(ValueError, match='nonnegative integer'):
        features.discriminant_metric(z, labels - 1)
    with pytest.raises(ValueError, match='nonnegative integer'):
        features.discriminant_metric(z, labels.double())


def test_feature_operator_without_the_discriminant_pass_is_the_feature_graph(
        monkeypatch):
    from pyg_symnmf import factorize as fz
    data = csbm(seed=1)
    for k in (None, 4):
        plain = feature_graph(data.x, data.edge_index, k=k, normalize=False)
        for discriminant in (False, True):
            if k is not None and discriminant:
                continue
            op, prior, _ = fz.feature_operator(
                data.x, data.edge_index, k=k, discriminant=discriminant)
            assert prior is None
            assert torch.equal(op.csr.to_dense(), plain.csr.to_dense())
    # With k: the same filtered features, fused again in the metric of the
    # first fit's arg-max communities.
    seen = []
    original = features.discriminant_metric
    monkeypatch.setattr(features, 'discriminant_metric',
                        lambda z, labels: seen.append(labels)
                        or original(z, labels))
    op, prior, read = fz.feature_operator(data.x, data.edge_index, k=4)
    assert len(seen) == 1 and seen[0] is prior
    # The features as it read them: what the cover's agreement test reads.
    assert torch.equal(read, features.prepared_features(data.x))
    assert prior.shape == (data.num_nodes,) and int(prior.max()) < 4
    assert not torch.equal(op.csr.to_dense(), plain.csr.to_dense())
    # Its communities are one more start, besides the modularity start.
    adj = ps_normalized(op)
    assert len(fz.feature_ranking(adj, op, 4, 'anls')[1]) == 1
    starts = fz.feature_ranking(adj, op, 4, 'anls', prior=prior)[1]
    assert len(starts) == 2
    assert torch.equal(starts[1].argmax(1), prior)
    assert fz.feature_ranking(adj, op, 4, 'multilevel', prior=prior)[1] == []
    # The estimator and the functional call factor that operator.
    est = SymNMFClustering(4).fit(data)
    h = symnmf(data.edge_index, 4, num_nodes=data.num_nodes, x=data.x)
    assert torch.equal(h, est.embedding_)
    off = SymNMFClustering(4, discriminant=False).fit(data)
    assert not torch.equal(off.embedding_, est.embedding_)
