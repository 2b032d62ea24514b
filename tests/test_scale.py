"""Scale: memory grows with edges, not N^2; the solver's in-place buffers
change nothing but memory; the benchmark generators plant what they say."""
import pathlib
import subprocess
import sys
import textwrap

import pytest
import torch

from pyg_symnmf import to_adjacency
from pyg_symnmf.functional import (block_update, gram, loss_from_parts,
                                   propagate)
from pyg_symnmf.init import random_membership
from pyg_symnmf.solvers import CLASSICAL_METHODS, solve
from pyg_symnmf.testing import random_graph

BENCHMARKS = pathlib.Path(__file__).parents[1] / 'benchmarks'

SCRIPT = textwrap.dedent('''
    import resource, torch
    from torch_geometric.utils import to_undirected
    from pyg_symnmf import SymNMFNet
    n = 200_000
    gen = torch.Generator().manual_seed(0)
    edge_index = to_undirected(torch.randint(n, (2, 1_000_000), generator=gen),
                               num_nodes=n)
    h0 = torch.rand(n, 8, generator=gen)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        h = SymNMFNet(8, num_layers=5)(h0, edge_index)
    assert h.shape == (n, 8) and bool(torch.isfinite(h).all())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(edge_index.size(1), before // 1024, peak // 1024)
''')


@pytest.mark.slow
def test_forward_on_200k_nodes_and_2m_edges_stays_within_a_few_gb():
    out = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True,
                         text=True, check=True).stdout.split()
    num_edges, _, peak_mb = map(int, out)
    assert num_edges > 1_900_000
    assert peak_mb < 3 * 1024, f'peak RSS {peak_mb} MB'


def reference_anls(adj, h, max_iter, alpha=0.1):
    """The safeguarded ANLS loop written out of place (fresh tensors every
    iteration), as before the in-place buffers."""
    a = alpha * float(adj.scale)
    ah, g = propagate(adj, h), gram(h)
    loss = float(loss_from_parts(adj.sq_norm, torch.vdot(
        h.reshape(-1), ah.reshape(-1)), g))
    curve = [loss]
    for _ in range(max_iter):
        alpha_t = h.new_tensor(a)
        cand = block_update(torch.add(ah, h, alpha=a), g, alpha_t)
        cand_ah, cand_g = propagate(adj, cand), gram(cand)
        cand_loss = float(loss_from_parts(adj.sq_norm, torch.vdot(
            cand.reshape(-1), cand_ah.reshape(-1)), cand_g))
        if cand_loss <= loss:
            h, ah, g, loss = cand, cand_ah, cand_g, cand_loss
            a = max(a * 0.7, 0.1 * (alpha * float(adj.scale)))
        else:
            a *= 4.0
        curve.append(loss)
    return h, curve


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('alpha', [0.1, 1e-3])  # 1e-3: many rejections
def test_buffered_solver_gives_the_out_of_place_iterates(dtype, alpha):
    edge_index, weight = random_graph(80, 500, seed=3)
    adj = to_adjacency(edge_index, weight, normalize=False, dtype=dtype)
    h0 = random_membership(adj, 5, seed=2)
    copy = h0.clone()
    result = solve(adj, h0, 'anls', max_iter=40, tol=0.0, alpha=alpha)
    h, curve = reference_anls(adj, h0, 40, alpha)
    assert torch.equal(h0, copy)  # the start is never written
    assert result.loss_curve == curve
    assert torch.equal(result.h, h)
    assert any(b == a for a, b in zip(curve, curve[1:])) or alpha == 0.1


@pytest.mark.parametrize('method', CLASSICAL_METHODS)
def test_result_does_not_alias_the_start_or_share_buffers(method):
    edge_index, weight = random_graph(40, 200, seed=1)
    adj = to_adjacency(edge_index, weight)
    h0 = random_membership(adj, 3)
    first = solve(adj, h0, method, max_iter=15, tol=0.0)
    second = solve(adj, h0, method, max_iter=15, tol=0.0)
    assert torch.equal(first.h, second.h)  # nothing leaked between runs
    assert first.h.data_ptr() != h0.data_ptr()
    assert first.h.is_contiguous() and bool((first.h >= 0).all())


@pytest.fixture(scope='module')
def common():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import common
        yield common
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize('name', ['planted_partition', 'lfr_like'])
def test_generators_plant_communities_with_the_asked_mixing(common, name):
    n, k = 4000, 8
    edge_index, labels = getattr(common, name)(n, k, avg_degree=20, mu=0.2)
    adj = to_adjacency(edge_index, num_nodes=n)  # valid: symmetric
    assert labels.shape == (n,) and int(labels.max()) == k - 1
    assert 17 < adj.num_edges / n <= 20  # duplicates merged
    mixing = float((labels[edge_index[0]] != labels[edge_index[1]])
                   .double().mean())
    assert 0.15 < mixing < 0.25
    sizes = torch.bincount(labels)
    degree = torch.bincount(edge_index[0], minlength=n)
    if name == 'planted_partition':
        assert int(sizes.max() - sizes.min()) <= 1
    else:  # heterogeneous sizes and degrees
        assert int(sizes.max()) > 3 * int(sizes.min())
        assert int(degree.max()) > 5 * adj.num_edges / n


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_sparse_product_into_a_buffer_ignores_its_old_contents(dtype):
    from pyg_symnmf.functional import spmm

    edge_index, weight = random_graph(60, 300, seed=5)
    adj = to_adjacency(edge_index, weight, dtype=dtype)
    h = torch.rand(60, 4, dtype=dtype)
    out = torch.full((60, 4), float('nan'), dtype=dtype)
    assert spmm(adj.csr, h, out=out) is out
    assert torch.equal(out, adj.csr @ h)


def test_sampled_spectral_start_recovers_a_planted_partition():
    from pyg_symnmf import metrics
    from pyg_symnmf.datasets import planted_partition
    from pyg_symnmf.init import spectral_membership

    data = planted_partition(5000, 10, mu=0.2, seed=0)
    adj = to_adjacency(data.edge_index, num_nodes=5000)
    # k-means on 500 sampled rows, then one assignment of all 5000.
    h = spectral_membership(adj, 10, seed=1, kmeans_sample=500)
    assert torch.equal(h, spectral_membership(adj, 10, seed=1,
                                              kmeans_sample=500))
    assert metrics.nmi(data.y, h.argmax(1)) >= 0.95
    assert int((h > 0).sum(1).max()) == 1  # one community per node


def test_cholesky_qr_is_orthonormal_and_falls_back_when_rank_deficient():
    from pyg_symnmf.init import _orthonormal

    gen = torch.Generator().manual_seed(0)
    y = torch.randn(300, 6, dtype=torch.float64, generator=gen)
    q = _orthonormal(y)
    torch.testing.assert_close(q.t() @ q, torch.eye(6, dtype=torch.float64))
    # Same span: projecting y onto q loses nothing.
    torch.testing.assert_close(q @ (q.t() @ y), y)
    deficient = torch.cat([y[:, :3], y[:, :3]], 1)
    q = _orthonormal(deficient)
    assert bool(torch.isfinite(q).all())
    torch.testing.assert_close(q @ (q.t() @ deficient), deficient)
