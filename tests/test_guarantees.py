"""The README's guarantees: descent, true gradients, finiteness, and a clear
error instead of a silently wrong answer."""
import copy
import warnings

import networkx as nx
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch_geometric import EdgeIndex
from torch_geometric.data import Batch, Data
from torch_geometric.datasets import KarateClub
from torch_geometric.utils import from_networkx

import pyg_symnmf as ps
from pyg_symnmf.factorize import factorize
from pyg_symnmf.init import spectral_membership
from pyg_symnmf.testing import dense, normalized, random_graph


def _family(kind: str, n: int, seed: int) -> torch.Tensor:
    graph = {
        'path': lambda: nx.path_graph(n),
        'star': lambda: nx.star_graph(n - 1),
        'bipartite': lambda: nx.complete_bipartite_graph(n // 2, n - n // 2),
        'power-law': lambda: nx.barabasi_albert_graph(n, 2, seed=seed),
        'random': lambda: nx.gnm_random_graph(n, 3 * n, seed=seed),
    }[kind]()
    return from_networkx(graph).edge_index


@settings(max_examples=60, deadline=None, derandomize=True)
@given(kind=st.sampled_from(['path', 'star', 'bipartite', 'power-law',
                             'random']),
       n=st.integers(6, 40), k=st.integers(1, 5), seed=st.integers(0, 99),
       method=st.sampled_from(ps.METHODS), normalize=st.booleans(),
       weighted=st.booleans())
def test_every_method_descends(kind, n, k, seed, method, normalize,
                               weighted):
    edge_index = _family(kind, n, seed)
    weight = None
    if weighted:
        gen = torch.Generator().manual_seed(seed)
        w = torch.rand(edge_index.size(1), generator=gen) * 10 + 0.01
        weight = (w + w[_reverse(edge_index)]) / 2  # symmetric weights
    adj = ps.to_adjacency(edge_index, weight, n, normalize=normalize,
                          dtype=torch.float64)
    result = factorize(adj, min(k, n), method, max_iter=40, tol=0.0,
                       seed=seed)
    curve = result.loss_curve
    assert curve[-1] <= curve[0]
    for before, after in zip(curve, curve[1:]):
        assert after <= before  # never above the best so far
    exact = float(ps.symnmf_loss(adj, result.h))
    assert exact == pytest.approx(curve[-1], rel=1e-9, abs=1e-12)


def _reverse(edge_index):
    n = int(edge_index.max()) + 1
    key = edge_index[0] * n + edge_index[1]
    rev = edge_index[1] * n + edge_index[0]
    order = torch.argsort(key)
    return order[torch.searchsorted(key[order], rev)]


@pytest.mark.parametrize('kind', ['path', 'star', 'power-law'])
def test_anls_ends_below_its_start_on_the_hard_families(kind):
    # The unsafeguarded alpha = 0.1 iteration ends above its start here.
    edge_index = _family(kind, 30, 0)
    for normalize in (True, False):
        adj = ps.to_adjacency(edge_index, normalize=normalize,
                              dtype=torch.float64)
        for method in ps.solvers.CLASSICAL_METHODS:
            curve = factorize(adj, 3, method, max_iter=100,
                              tol=0.0).loss_curve
            assert curve[-1] < curve[0], (method, normalize)


def test_readme_path_example_separates_the_two_triangles():
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 4, 5, 2, 3],
                               [1, 0, 2, 1, 4, 3, 5, 4, 3, 2]])
    result = factorize(ps.to_adjacency(edge_index), 2, 'anls')
    assert result.loss_curve[-1] < result.loss_curve[0]
    labels = result.h.argmax(1)
    assert labels[0] == labels[1] and labels[4] == labels[5]
    assert labels[0] != labels[5]


def test_max_iter_without_convergence_warns_and_reports_iterations():
    edge_index, weight = random_graph(60, 300)
    adj = ps.to_adjacency(edge_index, weight)
    with pytest.warns(ps.ConvergenceWarning, match='max_iter=3'):
        result = factorize(adj, 4, 'anls', max_iter=3, tol=1e-12)
    assert result.n_iter == 3 and result.n_spmm == 4
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        factorize(adj, 4, 'anls', max_iter=3, tol=0.0)  # tol=0: no warning


# Item 2: true gradients with respect to the edge weights.
@pytest.mark.parametrize('normalize', [True, False])
def test_loss_gradient_in_edge_weights_matches_dense(normalize):
    edge_index, weight = random_graph(12, 30)
    weight = weight.double().requires_grad_()
    h = torch.rand(12, 3, dtype=torch.float64)

    def dense_loss(w):
        a = dense(edge_index, w, 12)
        a = normalized(a) if normalize else a
        return (a - h @ h.t()).square().sum()

    got = torch.autograd.grad(ps.symnmf_loss(edge_index, h, weight,
                                             normalize=normalize), weight)[0]
    expected = torch.autograd.grad(dense_loss(weight), weight)[0]
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    torch.autograd.gradcheck(
        lambda w: ps.symnmf_loss(edge_index, h, w, normalize=normalize),
        (weight,))


@pytest.mark.parametrize('normalize', [True, False])
def test_block_and_net_gradients_in_edge_weights(normalize):
    edge_index, weight = random_graph(10, 25, seed=2)
    weight = weight.double().requires_grad_()
    h = torch.rand(10, 3, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(0)) + 0.1
    conv = ps.SymNMFNetConv(3, normalize=normalize).double()
    net = ps.SymNMFNet(3, num_layers=3, normalize=normalize).double()
    torch.autograd.gradcheck(lambda w: conv(h, edge_index, w), (weight,))
    torch.autograd.gradcheck(lambda w: net(h, edge_index, w), (weight,))
    grad = torch.autograd.grad(net(h, edge_index, weight).sum(), weight)[0]
    assert grad is not None and bool(grad.abs().sum() > 0)


# Item 3: pooling on batches with empty graphs.
def test_pooling_is_finite_on_edgeless_and_single_node_graphs():
    graphs = [Data(x=torch.rand(1, 4), edge_index=torch.empty(2, 0,
                                                              dtype=torch.long)),
              Data(x=torch.rand(3, 4), edge_index=torch.empty(2, 0,
                                                              dtype=torch.long)),
              Data(x=torch.rand(4, 4), edge_index=torch.tensor(
                  [[0, 1, 2, 3], [1, 0, 3, 2]]))]
    batch = Batch.from_data_list(graphs)
    pool = ps.SymNMFPooling(4, k=2, num_layers=3)
    optimizer = torch.optim.Adam(pool.parameters(), lr=0.1)
    for _ in range(3):
        _, _, aux, h = pool(batch.x, batch.edge_index, batch=batch.batch)
        assert bool(torch.isfinite(aux)) and 0 <= float(aux.detach()) <= 1
        optimizer.zero_grad()
        aux.backward()
        for p in pool.parameters():
            assert bool(torch.isfinite(p.grad).all())
        optimizer.step()
    assert all(bool(torch.isfinite(p).all()) for p in pool.parameters())


# Item 4: batch vectors.
def test_unsorted_or_wrong_length_batch_is_refused():
    edge_index, weight = random_graph(10, 20)
    h = torch.rand(10, 2)
    with pytest.raises(ValueError, match='sorted'):
        ps.symnmf_loss(edge_index, h, weight,
                       batch=torch.tensor([1, 0] * 5))
    with pytest.raises(ValueError, match='one graph index per node'):
        ps.SymNMFNetConv(2)(h, edge_index, weight,
                            batch=torch.zeros(9, dtype=torch.long))


# Item 5: EdgeIndex.sparse_size.
def test_edge_index_sparse_size_keeps_trailing_isolated_nodes():
    ei = EdgeIndex(torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]]),
                   sparse_size=(6, 6))
    adj = ps.to_adjacency(ei)
    assert adj.num_nodes == 6
    assert ps.symnmf(ei, 2).shape == (6, 2)


# Item 6: NaN never looks like an answer.
def test_non_finite_memberships_raise_at_the_readouts():
    h = torch.rand(5, 2)
    h[1, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN or Inf'):
        ps.readout.normalize_rows(h)
    with pytest.raises(ValueError, match='NaN or Inf'):
        ps.readout.overlapping_communities(h)
    edge_index, _ = random_graph(5, 8)
    with pytest.raises(ValueError, match='NaN or Inf'):
        ps.SymNMFNet(2, num_layers=2)(h, edge_index)


def test_non_finite_state_dict_is_refused():
    net = ps.SymNMFNet(3, num_layers=2)
    state = net.state_dict()
    state['blocks.1.weight'][0, 0] = float('inf')
    with pytest.raises(ValueError, match='NaN or Inf'):
        ps.SymNMFNet(3, num_layers=2).load_state_dict(state)


def test_estimator_refuses_to_read_a_diverged_net():
    data = ps.datasets.sbm((20, 20), p_in=0.5, p_out=0.05, seed=0)
    est = ps.SymNMFClustering(2, method='net', num_layers=2, epochs=0)
    est.fit(data)
    with torch.no_grad():
        est.model_.blocks[0].weight.fill_(float('nan'))
    with pytest.raises(ValueError, match='NaN or Inf'):
        est.predict(data)


# Item 7: overflow and underflow of weights.
def test_huge_weights_normalised_are_scale_free():
    edge_index, weight = random_graph(20, 60)
    small = ps.to_adjacency(edge_index, weight)
    for factor in (1e19, 3e38 / float(weight.max())):
        big = ps.to_adjacency(edge_index, weight * factor)
        torch.testing.assert_close(big.values, small.values)


def test_weights_that_overflow_float32_unnormalised_raise():
    edge_index, weight = random_graph(20, 60)
    with pytest.raises(ValueError, match='float32'):
        ps.to_adjacency(edge_index, weight * 1e19, normalize=False)
    with pytest.raises(ValueError, match='float32'):
        ps.to_adjacency(edge_index, weight * 1e-25, normalize=False)
    adj = ps.to_adjacency(edge_index, weight.double() * 1e19,
                          normalize=False)  # float64 represents it
    assert bool(torch.isfinite(adj.sq_norm))
    h = ps.symnmf(adj, 2)
    assert bool(torch.isfinite(h).all())


# Item 8: the symmetry check is relative to the weights' scale.
def test_tiny_asymmetry_relative_to_tiny_weights_is_caught():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match='not symmetric'):
        ps.to_adjacency(edge_index, torch.tensor([1e-13, 3e-13],
                                                 dtype=torch.float64))
    ps.to_adjacency(edge_index, torch.tensor([1e-13, 1e-13]))


def test_one_missing_reverse_edge_among_many_is_caught():
    # The probe's scale is the total weight: one edge of 2*10^5 without its
    # reverse (or with a reverse weight 0.1 % off) is still asymmetric.
    edge_index, _ = random_graph(20_000, 100_000, seed=3)
    ps.to_adjacency(edge_index)
    with pytest.raises(ValueError, match='not symmetric'):
        ps.to_adjacency(edge_index[:, 1:])
    weight = torch.ones(edge_index.size(1), dtype=torch.float64)
    weight[0] = 1.001
    with pytest.raises(ValueError, match='not symmetric'):
        ps.to_adjacency(edge_index, weight)


# Errors that must become clear.
def test_adjacency_and_conv_are_deep_copyable():
    edge_index, weight = random_graph()
    adj = ps.to_adjacency(edge_index, weight.requires_grad_())
    clone = copy.deepcopy(adj)
    torch.testing.assert_close(clone.values, adj.values.detach())
    conv = ps.SymNMFNetConv(3)
    h = torch.rand(30, 3)
    conv(h, edge_index)
    twin = copy.deepcopy(conv)
    torch.testing.assert_close(twin(h, edge_index), conv(h, edge_index))


def test_layer_cache_follows_the_graph():
    edge_index, _ = random_graph(30, 80)
    other, _ = random_graph(30, 90, seed=1)
    conv = ps.SymNMFNetConv(3)
    h = torch.rand(30, 3)
    first = conv(h, edge_index)
    assert conv._cache._adj is not None
    cached = conv._cache._adj
    conv(h, edge_index)
    assert conv._cache._adj is cached  # same tensor: reused
    torch.testing.assert_close(conv(h, other),
                               ps.SymNMFNetConv(3)(h, other))
    edge_index[:, :2] = edge_index[:, :2].flip(1)  # in place: new version
    assert conv(h, edge_index) is not None
    assert conv._cache._adj is not cached
    assert first.shape == (30, 3)


def test_detect_communities_factors_each_graph_of_a_batch():
    graphs = [ps.datasets.sbm((15, 15), p_in=0.6, p_out=0.02, seed=s)
              for s in range(3)]
    batch = Batch.from_data_list(graphs)
    out = ps.transforms.DetectCommunities(k=2)(batch)
    for i, graph in enumerate(graphs):
        mask = batch.batch == i
        assert ps.metrics.nmi(graph.y, out.community[mask]) == 1.0


def test_detect_communities_has_usable_defaults():
    data = ps.datasets.sbm((20, 20), p_in=0.5, p_out=0.02, seed=0)
    out = ps.transforms.DetectCommunities()(data)
    assert out.membership.shape == (40, 2)


def test_distributed_validation_matches_single_process():
    # The same function validates both paths: a non-symmetric graph and an
    # out-of-range index raise before any collective.
    from pyg_symnmf.distributed import shard_graph
    with pytest.raises(ValueError, match='not symmetric'):
        shard_graph(torch.tensor([[0], [1]]), None, 3)
    with pytest.raises(ValueError, match='num_nodes'):
        shard_graph(torch.tensor([[0, 5], [5, 0]]), None, 3)


# Round 2: what a second adversarial battery found in 0.2.0.

def test_net_leaves_a_start_that_explains_nothing():
    """At k close to N the spectral start puts one node per community:
    H H^T is diagonal, its best scale 0, and 0.2.0 returned H = 0."""
    data = KarateClub()[0]
    adj = ps.to_adjacency(data.edge_index)
    for k in (30, 34):
        result = factorize(adj, k, 'net')
        start = spectral_membership(adj, k, ps.SymNMFNet.pretrained()
                                    .start_iterations, 0)
        anls = factorize(adj, k, 'anls', h0=start)
        assert result.loss_curve[-1] < 0.5 * float(adj.sq_norm)
        # Within 1% of 300 ANLS iterations from the same start.
        assert result.loss_curve[-1] <= 1.01 * anls.loss_curve[-1]
        assert result.h.argmax(1).unique().numel() > 1
    path = from_networkx(nx.path_graph(30)).edge_index
    net, anls = (float(ps.symnmf_loss(path, ps.symnmf(path, 30, method=m)))
                 for m in ('net', 'anls'))
    assert net <= 1.01 * anls < float(ps.to_adjacency(path).sq_norm)


@pytest.mark.parametrize('method', ps.METHODS)
def test_isolated_nodes_get_exact_zero_rows_and_uniform_soft_rows(method):
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 0, 3, 4],
                               [1, 0, 2, 1, 0, 2, 4, 3]])
    data = Data(edge_index=edge_index, num_nodes=8)
    h = ps.symnmf(edge_index, 2, num_nodes=8, method=method)
    assert bool((h[5:] == 0).all()) and bool((h[:5].sum(1) > 0).all())
    estimator = ps.SymNMFClustering(2, method=method).fit(data)
    assert bool((estimator.embedding_[5:] == 0).all())
    rows = estimator.transform(data)
    torch.testing.assert_close(rows.sum(1), torch.ones(8))
    torch.testing.assert_close(rows[5:], torch.full((3, 2), 0.5))


def test_a_user_start_is_zeroed_on_isolated_nodes():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    h = ps.symnmf(edge_index, 1, num_nodes=3, h0=torch.ones(3, 1))
    assert float(h[2, 0]) == 0.0


@pytest.mark.parametrize('name', ['normalize', 'pretrained', 'verbose'])
def test_string_booleans_are_refused(name):
    estimator = ps.SymNMFClustering(2).set_params(**{name: 'no'})
    with pytest.raises(TypeError, match=name):
        estimator.fit(KarateClub()[0])
    with pytest.raises(TypeError, match='normalize'):
        ps.to_adjacency(torch.tensor([[0, 1], [1, 0]]), normalize='no')


def test_asymmetric_error_names_where_symmetrize_lives():
    with pytest.raises(ValueError, match=r'to_adjacency\(\.\.\., '
                       r'symmetrize=True\)'):
        ps.symnmf(torch.tensor([[0], [1]]), 1, num_nodes=2)


def test_weights_checksum_covers_the_configuration(monkeypatch):
    from importlib import resources
    import json
    from pyg_symnmf.nn import weights_file
    text = resources.files('pyg_symnmf').joinpath(
        'weights', weights_file.PRETRAINED_FILE).read_text()
    payload = json.loads(text)
    payload['config']['alpha'] = 10.0  # an edited configuration

    class Edited:
        def joinpath(self, *parts):
            return self

        def read_text(self):
            return json.dumps(payload)

    monkeypatch.setattr(weights_file.resources, 'files',
                        lambda package: Edited())
    with pytest.raises(RuntimeError, match='checksum'):
        ps.SymNMFNet.pretrained()


def test_pretraining_never_overwrites_without_force(tmp_path):
    from pyg_symnmf.pretrain import main
    existing = tmp_path / 'weights.json'
    existing.write_text('mine')
    with pytest.raises(SystemExit):
        main(['--quick', '--out', str(existing)])
    assert existing.read_text() == 'mine'
    with pytest.raises(SystemExit):  # --out is required
        main(['--quick'])


@pytest.mark.parametrize('entry', ['symnmf', 'estimator'])
def test_convergence_warning_points_at_the_callers_line(entry):
    data = KarateClub()[0]
    with pytest.warns(ps.ConvergenceWarning) as caught:
        if entry == 'symnmf':
            ps.symnmf(data.edge_index, 2, max_iter=2)
        else:
            ps.SymNMFClustering(2, max_iter=2).fit(data)
    assert caught[0].filename == __file__
