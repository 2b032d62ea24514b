"""Communication of the distributed net under each node partition.

One randomly numbered planted-partition graph (benchmarks/common.py: k
communities, mean degree 20, mixing 0.2), sharded over P local gloo
processes (:func:`pyg_symnmf.testing.spawn`) with
``partition="contiguous"``, ``"random"`` and ``"metis"``; halo exchange.
Per configuration: rows of H each block receives from other ranks (all
ranks together, and the largest rank), the largest rank's share of the
nonzeros (balance), the time to build the shards (METIS included), the
time per block (``--blocks`` untrained layers forward) and the share of it
spent in the collectives. Writes ``partition.csv``."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import machine, planted_partition, write_csv  # noqa: E402


def rank_run(graph_path: str, out_path: str, partition: str, k: int,
             blocks: int, threads: int) -> None:
    import warnings

    import torch.distributed as dist

    from pyg_symnmf import SymNMFNet
    from pyg_symnmf.distributed import (DistributedSymNMFNet, global_loss,
                                        halo_rows, initial, shard_graph)

    warnings.filterwarnings('ignore', category=FutureWarning)
    warnings.filterwarnings('ignore', category=UserWarning)
    torch.set_num_threads(threads)
    edge_index, num_nodes = torch.load(graph_path)
    dist.barrier()
    start = time.perf_counter()
    shard = shard_graph(edge_index, None, num_nodes, exchange='halo', k=k,
                        partition=partition)
    shard_s = time.perf_counter() - start
    h0 = initial(shard, edge_index, None, k)
    del edge_index
    model = DistributedSymNMFNet(SymNMFNet(k, blocks))
    with torch.no_grad():
        model(shard, h0)  # warm-up
        model.timings = {'communication_s': 0.0}
        dist.barrier()
        start = time.perf_counter()
        h = model(shard, h0)
        dist.barrier()
        total = time.perf_counter() - start
    loss = global_loss(model, shard, h)
    mine = torch.tensor([halo_rows(shard), shard.csr.values().numel(),
                         shard.end - shard.start], dtype=torch.float64)
    every = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(every, mine)
    every = torch.stack(every)
    comm = torch.tensor([model.timings['communication_s'], shard_s])
    dist.all_reduce(comm, op=dist.ReduceOp.MAX)
    if dist.get_rank() == 0:
        with open(out_path, 'w') as f:
            json.dump({
                'halo_rows_per_block': int(every[:, 0].sum()),
                'max_rank_halo_rows': int(every[:, 0].max()),
                'max_rank_nnz_share': round(float(every[:, 1].max()
                                                  / every[:, 1].sum()), 4),
                'max_rank_rows': int(every[:, 2].max()),
                'shard_s': round(float(comm[1]), 3),
                'block_s': round(total / blocks, 4),
                'communication_share': round(float(comm[0]) / total, 3),
                'loss': loss}, f)


def main() -> None:
    from pyg_symnmf.testing import spawn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--nodes', type=int, default=200_000)
    parser.add_argument('-k', type=int, default=16)
    parser.add_argument('--communities', type=int, default=50)
    parser.add_argument('--mu', type=float, nargs='*', default=[0.2],
                        help='mixing of the planted partition (one graph '
                        'per value)')
    parser.add_argument('--blocks', type=int, default=5)
    parser.add_argument('--ranks', type=int, nargs='*', default=[2, 4])
    parser.add_argument('--partitions', nargs='*',
                        default=['contiguous', 'random', 'metis'])
    parser.add_argument('--cores', type=int, default=2,
                        help='threads shared by the ranks of one run')
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.blocks, args.ranks = 5000, 2, [2]
    print(machine(), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        graph_path = os.path.join(tmp, 'graph.pt')
        for mu in args.mu:
            edge_index, _ = planted_partition(args.nodes, args.communities,
                                              mu=mu)
            torch.save((edge_index, args.nodes), graph_path)
            nnz = edge_index.size(1)
            del edge_index
            for world in args.ranks:
                for partition in args.partitions:
                    out_path = os.path.join(tmp, 'out.json')
                    spawn(rank_run, world, graph_path, out_path, partition,
                          args.k, args.blocks, max(1, args.cores // world))
                    with open(out_path) as f:
                        row = {'nodes': args.nodes, 'nnz': nnz, 'mu': mu,
                               'k': args.k, 'ranks': world,
                               'partition': partition, **json.load(f)}
                    rows.append(row)
                    print(row, flush=True)
    print('wrote', write_csv('partition.csv', rows))


if __name__ == '__main__':
    main()
