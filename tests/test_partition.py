"""Node partitions of the distributed net: every partition gives the
single-process result in the original node order; METIS cuts the halo."""
import pytest
import torch
import torch.distributed as dist

from pyg_symnmf import SymNMFNet, datasets, to_adjacency
from pyg_symnmf.distributed import (PARTITIONS, DistributedSymNMFNet,
                                    gather_rows, global_loss, halo_rows,
                                    initial, partition_nodes, shard_graph)
from pyg_symnmf.functional import symnmf_loss
from pyg_symnmf.init import random_membership
from pyg_symnmf.testing import random_graph, spawn

N, K, LAYERS = 97, 4, 5


def make_net():
    torch.manual_seed(5)
    net = SymNMFNet(K, num_layers=LAYERS, bias=True).double()
    with torch.no_grad():  # away from the identity, as after training
        for block in net.blocks:
            block.weight.add_(0.05 * torch.rand(K, K, dtype=torch.float64))
    return net


def distributed_run(path, partition, exchange):
    edge_index, weight = random_graph(N, 350, seed=4)
    weight = weight.double()
    shard = shard_graph(edge_index, weight, N, exchange=exchange,
                        partition=partition)
    h0 = initial(shard, edge_index, weight, K)
    model = DistributedSymNMFNet(make_net())
    with torch.no_grad():
        h = model(shard, h0)
        out = {'h': gather_rows(shard, h), 'h0': gather_rows(shard, h0),
               'loss': global_loss(model, shard, h),
               'nodes': gather_rows(shard, shard.nodes[:, None].double())}
    if dist.get_rank() == 0:
        torch.save(out, path)


@pytest.mark.slow
@pytest.mark.parametrize('partition', PARTITIONS)
@pytest.mark.parametrize('exchange', ['halo', 'allgather'])
def test_every_partition_matches_one_process(tmp_path, partition, exchange):
    if partition == 'metis':
        pytest.importorskip('pymetis')
    path = tmp_path / 'out.pt'
    spawn(distributed_run, 2, str(path), partition, exchange)
    out = torch.load(path)
    edge_index, weight = random_graph(N, 350, seed=4)
    adj = to_adjacency(edge_index, weight.double(), N)
    h0 = random_membership(adj, K)
    with torch.no_grad():
        h = make_net()(h0, adj)
    # gather_rows speaks the original numbering, whatever the partition.
    assert torch.equal(out['nodes'][:, 0].long(), torch.arange(N))
    assert torch.equal(out['h0'], h0)
    torch.testing.assert_close(out['h'], h, rtol=1e-6, atol=1e-6)
    assert out['loss'] == pytest.approx(float(symnmf_loss(adj, h)),
                                        rel=1e-6)


def halos(path, edge_index, num_nodes):
    sizes = {}
    for partition in PARTITIONS:
        shard = shard_graph(edge_index, None, num_nodes, exchange='halo',
                            partition=partition)
        total = torch.tensor([halo_rows(shard)])
        dist.all_reduce(total)
        sizes[partition] = int(total)
    if dist.get_rank() == 0:
        torch.save(sizes, path)


@pytest.mark.slow
def test_metis_cuts_the_halo_of_a_randomly_numbered_graph(tmp_path):
    pytest.importorskip('pymetis')
    data = datasets.sbm((100, 100, 100, 100), p_in=0.1, p_out=0.002,
                        seed=0)
    perm = torch.randperm(data.num_nodes,
                          generator=torch.Generator().manual_seed(123))
    edge_index = perm[data.edge_index]  # random numbering: no locality
    spawn(halos, 2, str(tmp_path / 'sizes.pt'), edge_index, data.num_nodes)
    sizes = torch.load(tmp_path / 'sizes.pt')
    # Contiguous blocks of a random numbering cut ~all edges between the
    # halves (a halo of nearly every node); METIS cuts between communities.
    assert sizes['metis'] < sizes['contiguous'] / 2, sizes
    assert sizes['random'] > sizes['contiguous'] / 2, sizes


def test_partitions_are_balanced_and_cover_every_node():
    adj = to_adjacency(*random_graph(60, 200, seed=2))
    assert partition_nodes(adj, 3, 'contiguous') is None
    ranks = partition_nodes(adj, 3, 'random')
    assert torch.bincount(ranks).tolist() == [20, 20, 20]
    assert torch.equal(ranks, partition_nodes(adj, 3, 'random'))
    with pytest.raises(ValueError, match="'partition' must be one of"):
        partition_nodes(adj, 2, 'spectral')


def test_metis_without_pymetis_says_how_to_install(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, 'pymetis', None)
    adj = to_adjacency(*random_graph(20, 50))
    with pytest.raises(ImportError, match=r"pyg_symnmf\[distributed\]"):
        partition_nodes(adj, 2, 'metis')
