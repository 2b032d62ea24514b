"""Two gloo processes on localhost give the single-process result."""
import pytest
import torch
import torch.distributed as dist

from pyg_symnmf import SymNMFNet, to_adjacency
from pyg_symnmf.distributed import (DistributedSymNMFNet, gather_rows,
                                    global_loss, initial, shard_graph)
from pyg_symnmf.functional import symnmf_loss
from pyg_symnmf.init import random_membership
from pyg_symnmf.testing import random_graph, spawn

N, K, BLOCKS, SEED = 101, 4, 6, 3


def make_net():
    net = SymNMFNet(K, num_layers=BLOCKS, bias=True).double()
    with torch.no_grad():  # away from the identity, as after training
        for i, block in enumerate(net.blocks):
            block.weight.add_(0.05 * torch.rand(K, K, dtype=torch.float64,
                              generator=torch.Generator().manual_seed(i)))
    return net


def one_step(net, loss_fn):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    loss_fn().backward()
    return optimizer


def distributed_run(path, exchange):
    edge_index, weight = random_graph(N, 400, seed=1)
    shard = shard_graph(edge_index, weight.double(), N, exchange=exchange)
    h0 = initial(shard, edge_index, weight.double(), K, seed=SEED,
                 dtype=torch.float64)
    model = DistributedSymNMFNet(make_net())
    with torch.no_grad():
        start = gather_rows(shard, h0)
        h = gather_rows(shard, model(shard, h0))
        value = global_loss(model, shard, model(shard, h0))
    # One training step: local shares of the loss, gradients all-reduced.
    model.local_loss(shard, model(shard, h0)).backward()
    grads = []
    for p in model.parameters():
        dist.all_reduce(p.grad)
        grads.append(p.grad.clone())
    if dist.get_rank() == 0:
        torch.save({'h0': start, 'h': h, 'loss': value, 'grads': grads},
                   path)


@pytest.mark.slow
@pytest.mark.parametrize('exchange', ['halo', 'allgather'])
def test_two_processes_match_one(tmp_path, exchange):
    path = tmp_path / 'out.pt'
    spawn(distributed_run, 2, str(path), exchange)
    out = torch.load(path)
    edge_index, weight = random_graph(N, 400, seed=1)
    adj = to_adjacency(edge_index, weight.double(), N)
    net = make_net()
    h0 = random_membership(adj, K, seed=SEED)
    # The ranks' starts are the rows of the single-process start.
    assert torch.equal(out['h0'], h0)
    h = net(h0, adj)
    torch.testing.assert_close(out['h'], h.detach(), rtol=1e-5, atol=1e-8)
    loss = symnmf_loss(adj, h)
    assert out['loss'] == pytest.approx(float(loss.detach()), rel=1e-6)
    loss.backward()
    for got, p in zip(out['grads'], net.parameters()):
        torch.testing.assert_close(got, p.grad, rtol=1e-5, atol=1e-8)


def failing_run():
    raise RuntimeError('rank failed on purpose')


@pytest.mark.slow
def test_a_failing_rank_fails_the_launch():
    with pytest.raises(Exception, match='on purpose'):
        spawn(failing_run, 2)


@pytest.mark.slow
def test_torchrun_entry_point(tmp_path):
    import subprocess
    import sys
    result = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone',
         '--nproc-per-node', '2', '-m', 'pyg_symnmf.distributed', '--nodes',
         '3000', '-k', '4', '--blocks', '3', '--epochs', '2', '--exchange',
         'halo'], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'ranks 2' in result.stdout and 'communication share' in \
        result.stdout


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_model_runs_on_cuda():
    edge_index, weight = random_graph()
    net = SymNMFNet(3, num_layers=4).cuda()
    h0 = torch.rand(30, 3)
    h = net(h0.cuda(), edge_index.cuda(), weight.cuda())
    assert h.device.type == 'cuda'
    torch.testing.assert_close(h.cpu(), net.cpu()(h0, edge_index, weight),
                               rtol=1e-4, atol=1e-6)


def halo_sizes(path):
    n = 100  # a path graph: rank 0 owns 0..49 and references 0..50
    edge_index = torch.stack([torch.arange(n - 1), torch.arange(1, n)])
    edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    shard = shard_graph(edge_index, None, n, exchange='halo')
    sizes = [None, None]
    dist.all_gather_object(sizes, (sum(shard.recv_splits),
                                   sum(shard.send_splits)))
    if dist.get_rank() == 0:
        torch.save(sizes, path)


@pytest.mark.slow
def test_halo_exchange_moves_only_referenced_rows(tmp_path):
    spawn(halo_sizes, 2, str(tmp_path / 'sizes.pt'))
    # Each rank needs its 50 rows plus one neighbour across the cut, and
    # sends its 50 rows to itself plus one to the other rank.
    assert torch.load(tmp_path / 'sizes.pt') == [(51, 51), (51, 51)]


def mismatched_run(what):
    rank = dist.get_rank()
    edge_index, weight = random_graph(N, 400, seed=1)
    k = K
    if what == 'graph' and rank == 1:
        weight = weight * 2 + 0.5  # another graph of the same size
    if what == 'k' and rank == 1:
        k = K + 1
    shard_graph(edge_index, weight, N, k=k)


@pytest.mark.slow
@pytest.mark.parametrize('what', ['graph', 'k'])
def test_ranks_given_different_inputs_refuse_before_any_work(what):
    """0.2.0 finished silently with a wrong H (another graph) or aborted
    inside gloo (another k)."""
    with pytest.raises(Exception, match=r'Ranks \[1\] were given another '
                       r'graph or other arguments'):
        spawn(mismatched_run, 2, what)
