"""One full run at scale: a generated graph of --nodes nodes and --nnz
stored nonzeros (2e7 = 1e7 undirected edges), k = 16, random start + 20
blocks forward. Reports the time of each stage and the peak RSS."""
from __future__ import annotations

import argparse
import time

import torch

from common import machine, peak_rss_mb, random_graph, write_csv
from pyg_symnmf import SymNMFNet, to_adjacency


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--nodes', type=int, default=1_000_000)
    parser.add_argument('--nnz', type=int, default=20_000_000)
    parser.add_argument('-k', type=int, default=16)
    parser.add_argument('--blocks', type=int, default=20)
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.nnz = 10_000, 200_000
    print(machine())
    start = time.perf_counter()
    edge_index = random_graph(args.nodes, args.nnz / args.nodes)
    generate = time.perf_counter() - start
    start = time.perf_counter()
    adj = to_adjacency(edge_index, num_nodes=args.nodes)
    del edge_index
    build = time.perf_counter() - start
    net = SymNMFNet(args.k, num_blocks=args.blocks)
    start = time.perf_counter()
    with torch.no_grad():
        h = net(adj)
    forward = time.perf_counter() - start
    assert torch.isfinite(h).all()
    row = {'nodes': args.nodes, 'nnz': adj.num_edges, 'k': args.k,
           'blocks': args.blocks, 'generate_s': generate,
           'adjacency_s': build, 'init_and_blocks_s': forward,
           'total_s': build + forward, 'peak_rss_mb': peak_rss_mb()}
    print(row)
    print('wrote', write_csv('scale.csv', [row]))


if __name__ == '__main__':
    main()
