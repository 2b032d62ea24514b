"""Overlapping communities: BigCLAM's rule on calibrated memberships, the
Bernoulli-Poisson fit, BigCLAM, and the overlapping metrics."""
import math

import numpy as np
import pytest
import torch

from pyg_symnmf import (SymNMFClustering, datasets, features, symnmf,
                        to_adjacency)
from pyg_symnmf import overlapping as ov
from pyg_symnmf.cli import main
from pyg_symnmf.metrics import community_f1, overlapping_nmi
from pyg_symnmf.testing import random_graph


@pytest.fixture(scope='module')
def planted():
    # Easy: 4 communities of ~75 nodes, a fifth of the nodes in two.
    return datasets.overlapping_sbm(300, 4, average_degree=30.0, mu=0.05,
                                    overlap=0.2, seed=0)


def per_node_f1(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean F1 of each node's set of communities, after matching predicted
    to true communities one to one (Hungarian, on shared members)."""
    from scipy.optimize import linear_sum_assignment

    pred, true = pred.numpy().astype(float), true.numpy().astype(float)
    rows, cols = linear_sum_assignment(pred.T @ true, maximize=True)
    matched = np.zeros_like(true)
    matched[:, cols] = pred[:, rows]
    both = (matched * true).sum(1)
    sizes = matched.sum(1) + true.sum(1)
    return float(np.mean(np.where(sizes > 0, 2 * both / np.maximum(sizes, 1),
                                  1.0)))


@pytest.mark.parametrize('loss', ['squared', 'bernoulli_poisson'])
def test_planted_overlap_is_recovered(planted, loss):
    est = SymNMFClustering(4, loss=loss).fit(planted)
    assert est.cover_.shape == (300, 4) and est.cover_.dtype == torch.bool
    assert per_node_f1(est.cover_, planted.cover) >= 0.9
    assert overlapping_nmi(est.cover_, planted.cover) >= 0.8
    # Nodes in two communities are found in two.
    doubles = planted.cover.sum(1) == 2
    assert (est.cover_[doubles].sum(1) == 2).float().mean() >= 0.8
    assert est.overlapping_communities_ == ov.community_lists(est.cover_)


def test_bigclam_recovers_planted_overlap(planted):
    result = ov.bigclam(planted.edge_index, 4, num_nodes=300)
    cover = ov.overlapping_communities(result.h, planted.edge_index,
                                       calibrate=False)
    assert per_node_f1(cover, planted.cover) >= 0.9


def test_threshold_follows_bigclams_rule():
    edge_index, _ = random_graph(40, 120, 0, weighted=False)
    edges = ov.edge_set(edge_index, 40)
    eps = edges.num_edges / (40 * 39)  # ordered pairs
    delta = math.sqrt(-math.log(1 - eps))
    assert ov.membership_threshold(edges) == pytest.approx(delta)
    # Calibrated squared-loss memberships: some are weak.
    f = ov.affiliations(symnmf(edge_index, 6, num_nodes=40).double(),
                        edge_index)
    plain = ov.overlapping_communities(f, edge_index, calibrate=False,
                                       prune=False)
    assert torch.equal(plain, f >= delta)
    assert plain.any() and not plain.all()
    # Pruned: the memberships that also pay their BIC price.
    cost = 0.5 * math.log(40 * 39 / 2)
    assert ov.bic_cost(edge_index, 40) == pytest.approx(cost)
    cover = ov.overlapping_communities(f, edge_index, calibrate=False)
    gain = ov.membership_gain(f, edge_index)
    assert torch.equal(cover, (f >= delta) & (gain >= cost))
    assert cover.any() and not torch.equal(cover, plain)


@pytest.mark.parametrize('sparse', [False, True])
def test_membership_gain_matches_the_dense_likelihood(sparse):
    edge_index, _ = random_graph(25, 60, 4, weighted=False)
    gen = torch.Generator().manual_seed(4)
    f = torch.rand(25, 3, generator=gen, dtype=torch.float64)
    if sparse:  # memberships with zeros: the gains skip their edges
        f = f * (torch.rand(25, 3, generator=gen) < 0.5)
    gain = ov.membership_gain(f, edge_index)
    full = dense_bp_loss(edge_index, f, 25)
    assert bool((gain[f == 0] == 0).all())  # nothing to remove there
    for i, c in [(0, 0), (3, 1), (17, 2), (24, 0)] if not sparse else \
            [tuple(p) for p in torch.nonzero(f)[::7].tolist()]:
        without = f.clone()
        without[i, c] = 0
        # Ordered pairs in the loss: each pair at i counts twice.
        expected = (dense_bp_loss(edge_index, without, 25) - full) / 2
        # (abs: the floor of products, 1e-8, where a membership alone
        # explains an edge)
        assert float(gain[i, c]) == pytest.approx(float(expected), rel=1e-9,
                                                  abs=1e-6)


def test_calibration_is_the_likelihood_maximum_along_the_ray():
    edge_index, _ = random_graph(50, 150, 1, weighted=False)
    adj = to_adjacency(edge_index, num_nodes=50)  # normalised
    h = torch.rand(50, 3, generator=torch.Generator().manual_seed(1),
                   dtype=torch.float64)
    f = ov.affiliations(h, adj)
    # F is a scalar times D^{1/2} H ...
    base = h * ov.edge_set(adj).degree().sqrt()[:, None]
    ratio = f[base > 0] / base[base > 0]
    assert torch.allclose(ratio, ratio[0].expand_as(ratio))
    # ... at the scalar that maximises the likelihood.
    loss = ov.bp_loss(edge_index, f)
    assert loss <= ov.bp_loss(edge_index, f * 1.01)
    assert loss <= ov.bp_loss(edge_index, f * 0.99)
    # Stationary: sum over edges of x / (e^x - 1) equals the sum of the
    # products over the non-edges (the root the Newton steps find).
    x = f[edge_index[0]].mul(f[edge_index[1]]).sum(1)
    total = f.sum(0)
    non_edges = float(total @ total - f.square().sum() - x.sum())
    assert float((x / torch.expm1(x)).sum()) == pytest.approx(non_edges,
                                                             rel=1e-9)
    # Any scale of H gives the same affiliations (above the floor of the
    # products, 1e-8).
    for scale in (1e-3, 1e4):
        assert torch.allclose(ov.affiliations(h * scale, adj), f,
                              rtol=1e-9, atol=0)
    # The cover is BigCLAM's rule on those affiliations.
    delta = ov.membership_threshold(ov.edge_set(adj))
    assert torch.equal(ov.overlapping_communities(h, adj, prune=False),
                       f >= delta)


def test_cover_keeps_each_nodes_order_of_memberships(planted):
    # F_i is a positive multiple of H_i: a node in any community is in its
    # strongest, and in every community stronger than one it is in.
    est = SymNMFClustering(4).fit(planted)
    h, cover = est.embedding_, est.cover_
    weakest_in = torch.where(cover, h, torch.inf).min(1).values
    strongest_out = torch.where(cover, -torch.inf, h).max(1).values
    assert bool((weakest_in >= strongest_out).all())


def dense_bp_loss(edge_index, f, n):
    a = torch.zeros(n, n, dtype=torch.float64)
    a[edge_index[0], edge_index[1]] = 1.0
    x = (f @ f.t()).clamp_min(1e-8)
    off = 1 - torch.eye(n, dtype=torch.float64)
    return -(a * torch.log(-torch.expm1(-x))).sum() + ((1 - a) * off * x).sum()


def test_bp_loss_and_gradient_match_a_dense_reference():
    edge_index, _ = random_graph(30, 80, 2, weighted=False)
    f = torch.rand(30, 3, generator=torch.Generator().manual_seed(2),
                   dtype=torch.float64, requires_grad=True)
    dense = dense_bp_loss(edge_index, f, 30)
    value = float(dense.detach())
    grad, = torch.autograd.grad(dense, f)
    edges = ov.edge_set(edge_index, 30)
    loss, x = ov._loss_and_products(edges, f.detach())
    assert loss == pytest.approx(value, rel=1e-10)
    assert float(ov.bp_loss(edge_index, f.detach())) == pytest.approx(
        value, rel=1e-10)
    assert torch.allclose(ov._bp_gradient(edges, f.detach(), x)[0], grad,
                          atol=1e-9)


@pytest.mark.parametrize('balanced', [False, True])
def test_bp_fit_descends_to_a_stationary_point(balanced):
    edge_index, _ = random_graph(60, 200, 3, weighted=False)
    f0 = torch.rand(60, 4, generator=torch.Generator().manual_seed(3),
                    dtype=torch.float64)
    result = ov.fit_bernoulli_poisson(edge_index, f0, max_iter=500,
                                      balanced=balanced, num_nodes=60)
    curve = np.array(result.loss_curve)
    assert np.all(np.diff(curve) <= 1e-9 * np.abs(curve[:-1]))
    assert curve[-1] < 0.8 * curve[0]
    assert result.converged and bool((result.h >= 0).all())
    if not balanced:
        assert float(ov.bp_loss(edge_index, result.h)) == pytest.approx(
            curve[-1], rel=1e-10)


def test_deterministic_under_a_seed(planted):
    def run(seed):
        est = SymNMFClustering(4, loss='bernoulli_poisson', seed=seed)
        return est.fit(planted).cover_

    assert torch.equal(run(1), run(1))
    first = ov.bigclam(planted.edge_index, 4, num_nodes=300).h
    assert torch.equal(first, ov.bigclam(planted.edge_index, 4,
                                         num_nodes=300).h)


def test_isolated_nodes_and_an_empty_graph():
    # Two triangles and two isolated nodes.
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 0, 3, 4, 4, 5, 5, 3],
                               [1, 0, 2, 1, 0, 2, 4, 3, 5, 4, 3, 5]])
    h = torch.zeros(8, 2)
    h[:3, 0] = 1.0
    h[3:6, 1] = 1.0
    cover = ov.overlapping_communities(h, edge_index)
    assert ov.community_lists(cover) == [[0, 1, 2], [3, 4, 5]]
    empty = torch.empty(2, 0, dtype=torch.long)
    assert not ov.overlapping_communities(torch.rand(5, 2), empty).any()
    with pytest.raises(ValueError, match='nonnegative'):
        ov.overlapping_communities(-torch.ones(8, 2), edge_index)
    with pytest.raises(ValueError, match="'f' must be nonnegative"):
        ov.membership_gain(-torch.ones(8, 2, dtype=torch.float64),
                           edge_index)
    with pytest.raises(ValueError, match='NaN'):
        ov.membership_gain(torch.full((8, 2), float('nan')), edge_index)
    with pytest.raises(ValueError, match='loss'):
        SymNMFClustering(2, loss='poisson').fit(datasets.karate())


def test_community_lists_round_trip():
    cover = torch.tensor([[1, 0], [1, 1], [0, 0], [0, 1]], dtype=torch.bool)
    lists = ov.community_lists(cover)
    assert lists == [[0, 1], [1, 3]]
    assert torch.equal(ov.cover_matrix(lists, 4), cover)
    with pytest.raises(ValueError, match='outside'):
        ov.cover_matrix([[0, 4]], 4)


def test_overlapping_nmi_known_values():
    rng = np.random.default_rng(0)
    x = rng.random((200, 5)) < 0.3
    assert overlapping_nmi(x, x) == pytest.approx(1.0)
    # Column order and node lists do not matter.
    lists = [np.flatnonzero(x[:, c]).tolist() for c in (4, 2, 0, 1, 3)]
    assert overlapping_nmi(lists, x, num_nodes=200) == pytest.approx(1.0)
    # Independent covers share (almost) nothing.
    a, b = rng.random((20000, 3)) < 0.3, rng.random((20000, 3)) < 0.3
    assert overlapping_nmi(a, b) < 0.01
    # By hand, 4 nodes, X = {0, 1}, Y = {0, 1, 2} (h(w) = -w log2(w/4)):
    # H(X) = 4, H(Y) = 2 + 3 log2(4/3), H(X|Y) = 4 - 3 log2(4/3),
    # H(Y|X) = 2, so NMI_max = 3 log2(4/3) / 4.
    x = [[0, 1]]
    y = [[0, 1, 2]]
    assert overlapping_nmi(x, y, num_nodes=4) == pytest.approx(
        3 * math.log2(4 / 3) / 4)
    assert overlapping_nmi(y, x, num_nodes=4) == pytest.approx(
        3 * math.log2(4 / 3) / 4)
    with pytest.raises(ValueError, match='num_nodes'):
        overlapping_nmi(x, y)


def test_community_f1_known_values():
    # F1({0,1}, {0,1,2}) = 0.8; {3} matches nothing predicted.
    pred = [[0, 1]]
    true = [[0, 1, 2], [3]]
    assert community_f1(pred, true, num_nodes=4) == pytest.approx(
        0.5 * ((0.8 + 0.0) / 2 + 0.8))
    assert community_f1(true, true, num_nodes=4) == 1.0
    assert community_f1([[]], true, num_nodes=4) == 0.0


def test_cli_overlapping_agrees_with_memberships(tmp_path):
    out, members = tmp_path / 'ov.csv', tmp_path / 'm.csv'
    assert main(['--dataset', 'karate', '-k', '3', '--no-peers', '--methods',
                 '--quiet', '--overlapping', str(out), '--memberships',
                 str(members)]) == 0
    import csv
    with open(members) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['node', 'c0', 'c1', 'c2']
    m = {r[0]: np.array(r[1:], dtype=float) for r in rows[1:]}
    with open(out) as f:
        pairs = list(csv.reader(f))
    assert pairs[0] == ['node', 'community'] and len(pairs) > 1
    listed = {}
    for node, c in pairs[1:]:
        listed.setdefault(node, set()).add(int(c))
    for node, cs in listed.items():
        # A node's communities are its strongest memberships.
        inside = min(m[node][c] for c in cs)
        outside = [m[node][c] for c in range(3) if c not in cs]
        assert all(inside >= v for v in outside)
        assert int(np.argmax(m[node])) in cs


def test_readout_commutes_with_a_node_permutation(planted):
    h = SymNMFClustering(4).fit(planted).embedding_
    cover = ov.overlapping_communities(h, planted.edge_index)
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(5))
    inverse = torch.argsort(perm)
    # Node perm[i] of the original graph becomes node i.
    permuted = inverse[planted.edge_index]
    assert torch.equal(ov.overlapping_communities(h[perm], permuted),
                       cover[perm])
    assert overlapping_nmi(cover[perm], planted.cover[perm]) == \
        pytest.approx(overlapping_nmi(cover, planted.cover))


def test_cover_ignores_features_unrelated_to_the_edges(planted):
    # Binary features drawn independently of the graph do not agree with
    # its edges beyond chance, so the cover is exactly that of the graph
    # alone with the same starts.
    data = planted.clone()
    gen = torch.Generator().manual_seed(1)
    data.x = (torch.rand(300, 16, generator=gen) < 0.3).float()
    est = SymNMFClustering(4, seed=2).fit(data)
    assert est.cover_source_ == 'graph'
    alone = SymNMFClustering(4, seed=2, features=False, n_init=8).fit(data)
    assert alone.cover_source_ == 'graph'
    assert torch.equal(est.cover_, alone.cover_)
    # embedding_ (and labels_) still come from the feature-aware operator.
    assert not torch.equal(est.embedding_, alone.embedding_)
    # The pretrained net alike: its blocks factor the graph alone.
    net = SymNMFClustering(4, seed=2, method='net').fit(data)
    assert net.cover_source_ == 'graph'
    net_alone = SymNMFClustering(4, seed=2, method='net',
                                 features=False).fit(data)
    assert torch.equal(net.cover_, net_alone.cover_)


def test_cover_uses_features_that_agree_with_the_edges():
    # A sparse graph whose communities the graph alone recovers poorly
    # from its starts, with features that carry them (generated, seed 1):
    # they agree with the edges at the test's floor, p = 0.01.
    data = datasets.overlapping_sbm(400, 16, 12.0, 0.3, overlap=0.2,
                                    uncovered=0.1, features_per_community=4,
                                    seed=1)
    assert features.agreement_pvalue(features.prepared_features(data.x),
                                     ov.edge_set(data.edge_index)) == 0.01
    est = SymNMFClustering(16).fit(data)
    assert est.cover_source_ == 'features'
    assert torch.equal(est.cover_, ov.overlapping_communities(
        est.embedding_, data.edge_index))
    alone = SymNMFClustering(16, features=False, n_init=8).fit(data)
    assert overlapping_nmi(est.cover_, data.cover) > \
        overlapping_nmi(alone.cover_, data.cover) + 0.03
    # The pretrained net's memberships of the same operator are read.
    net = SymNMFClustering(16, method='net').fit(data)
    assert net.cover_source_ == 'features'
    assert torch.equal(net.cover_, ov.overlapping_communities(
        net.embedding_, data.edge_index))
