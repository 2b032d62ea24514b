"""The shipped pretrained net: k-agnostic, equivariant, stable, reproducible."""
import json
import subprocess
import sys

import pytest
import torch

import pyg_symnmf as ps
from pyg_symnmf.factorize import factorize
from pyg_symnmf.solvers import run_net
from pyg_symnmf.nn.weights_file import load_pretrained, weights_checksum
from pyg_symnmf.testing import random_graph


@pytest.fixture(scope='module')
def net():
    return ps.SymNMFNet.pretrained().double()


def test_weights_file_loads_and_its_checksum_is_stable(net):
    config, start_iterations, state = load_pretrained()
    assert config['weight'] == 'equivariant' and config['momentum']
    assert config['k'] is None and start_iterations >= 1
    assert weights_checksum(config, start_iterations, state) == \
        weights_checksum(config, start_iterations,
                         {name: value.float()
                          for name, value in net.state_dict().items()})
    # Every parameter is a scalar or a pair: nothing depends on k or N.
    assert all(value.numel() <= 2 for value in state.values())
    assert net.num_layers + start_iterations + 1 <= 30  # the SpMM budget


def test_same_weights_serve_k_2_and_k_64(net):
    for k, seed in ((2, 0), (64, 1)):
        data = ps.datasets.planted_partition(800, k, average_degree=30,
                                             mu=0.1, seed=seed)
        adj = ps.to_adjacency(data.edge_index, num_nodes=800,
                              dtype=torch.float64)
        result = factorize(adj, k, 'net', net=net)
        assert result.h.shape == (800, k)
        assert result.n_spmm <= 30
        assert ps.metrics.nmi(data.y, result.h.argmax(1)) >= 0.9


def test_permuting_columns_permutes_the_output(net):
    edge_index, weight = random_graph(40, 150)
    h = torch.rand(40, 5, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(0))
    perm = torch.randperm(5, generator=torch.Generator().manual_seed(1))
    out = net(h, edge_index, weight)
    torch.testing.assert_close(net(h[:, perm], edge_index, weight),
                               out[:, perm])


def test_stability_bound_holds_for_the_momentum_blocks(net):
    """||H'||_F <= sqrt(k)(||A||_2 + alpha)||W||_2 / (2 sqrt(alpha))
    + |c| ||H - H_prev||_F for every block, on any input scale."""
    edge_index, weight = random_graph(60, 300, seed=3)
    adj = ps.to_adjacency(edge_index, weight, dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    for scale in (1e-4, 1.0, 1e4):
        h = torch.rand(60, 6, dtype=torch.float64, generator=gen) * scale
        prev = torch.rand(60, 6, dtype=torch.float64, generator=gen) * scale
        for block in net.blocks:
            with torch.no_grad():  # values only: the bound is on them
                out = block(h, adj, h_prev=prev)
                alpha = float(block.alpha)
                w = torch.linalg.matrix_norm(block.linear(6), 2)
                shift = abs(float(block.shift))
            bound = (6 ** 0.5 * (1 + alpha) * float(w) / (2 * alpha ** 0.5)
                     + shift * float((h - prev).norm()))
            assert bool(torch.isfinite(out).all())
            assert float(out.norm()) <= bound * (1 + 1e-9)
            prev, h = h, out


def test_run_net_only_moves_on_improving_steps(net):
    edge_index, _ = random_graph(80, 400, seed=4, weighted=False)
    adj = ps.to_adjacency(edge_index, dtype=torch.float64)
    h0 = ps.init.random_membership(adj, 4, seed=0)
    curve = run_net(net, adj, h0).loss_curve
    assert all(b <= a for a, b in zip(curve, curve[1:]))


def test_symnmf_net_method_and_estimator_agree():
    data = ps.datasets.sbm((40, 40, 40), p_in=0.3, p_out=0.02, seed=0)
    h = ps.symnmf(data.edge_index, 3, num_nodes=120, method='net', seed=2)
    est = ps.SymNMFClustering(3, method='net', seed=2).fit(data)
    torch.testing.assert_close(est.embedding_, h)
    assert est.n_iter_ == ps.SymNMFNet.pretrained().num_layers
    assert ps.metrics.nmi(data.y, est.labels_) == 1.0


def test_fine_tuning_trains_what_inference_runs_and_never_loses():
    data = ps.datasets.sbm((30, 30, 30), p_in=0.3, p_out=0.03, seed=1)
    est = ps.SymNMFClustering(3, method='net', epochs=5, seed=0).fit(data)
    assert len(est.loss_curve_) == 5
    # Epoch 0 is the pretrained blocks' safeguarded run from the start.
    adj = ps.to_adjacency(data.edge_index, num_nodes=90)
    net = ps.SymNMFNet.pretrained()
    h0 = ps.init.spectral_membership(adj, 3, net.start_iterations, seed=0)
    with torch.no_grad():
        untrained = run_net(net, adj, h0).loss_curve[-1]
    assert est.loss_curve_[0] == pytest.approx(untrained, rel=1e-5)
    final = float(ps.symnmf_loss(adj, est.embedding_))
    assert final == pytest.approx(min(est.loss_curve_), rel=1e-5)
    assert final <= untrained * (1 + 1e-6)


def test_pretraining_is_deterministic_under_its_seed(tmp_path):
    paths = [tmp_path / f'w{i}.json' for i in range(2)]
    for path in paths:
        subprocess.run([sys.executable, '-m', 'pyg_symnmf.pretrain',
                        '--quick', '--out', str(path)], check=True,
                       capture_output=True, timeout=600)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    payload = json.loads(paths[0].read_text())
    state = {name: torch.tensor(value) for name, value in
             payload['state'].items()}
    assert payload['sha256'] == weights_checksum(
        payload['config'], payload['start_iterations'], state)
