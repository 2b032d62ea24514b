"""Networks without features: SymNMF against Leiden, Louvain, PLM and
ParallelLeiden, side by side in one run.

Graphs:

- the two real networks of ``../shared/data/networks`` (Enron e-mail and
  cond-mat 2005, largest connected components; skipped with a notice when
  absent), judged by modularity and conductance;
- generated graphs with heavy-tailed degrees and known communities:
  LFR-like degree-corrected SBMs (``datasets.lfr_like``: power-law degrees
  with exponent 2.1 and 2.5, power-law community sizes) and networkx's LFR
  (degree exponent 2.5; skipped with a notice when networkx fails to
  build it), self-loops removed, judged by NMI too.

Methods: ``SymNMFClustering('auto')`` with its defaults, the same without
the refinement pass (``refine=False``), and, on the generated graphs, with
the true k (with and without the pass); Leiden (leidenalg, modularity),
Louvain (igraph's multilevel), PLM (with refinement) and ParallelLeiden
(networkit). Per method and graph: modularity Q, mean conductance, number
of communities, the largest community's share of the nodes, seconds (the
call alone: SymNMF from the ``Data`` object, operator build included; the
peers without their graph conversion), the peak resident memory it added,
and NMI where the truth is known. Medians over ``--repeats`` runs (seeds
0, 1, ...), the methods interleaved so that load on a shared machine hits
them alike; ``--threads`` (default 1) for torch and networkit;
``--graph-seeds 0,1,2`` draws each generated graph with several seeds;
``--no-real`` and ``--no-generated`` skip either kind.
Writes ``networks.csv`` (medians) and ``networks_runs.csv`` (every run;
``--out`` renames them).
``--quick``: the generated graphs at 2,000 nodes, one repeat.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys

import numpy as np
import torch
from torch_geometric.data import Data

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (lfr_like, machine, peak_rss_mb, reset_peak_rss,  # noqa
                    rss_mb, timed, write_csv)

from pyg_symnmf import SymNMFClustering, datasets  # noqa: E402
from pyg_symnmf.metrics import conductance, modularity, nmi  # noqa: E402

NETWORKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..',
                        '..', 'shared', 'data', 'networks')
REAL = {'Enron e-mail LCC': 'email-Enron-lcc.npz',
        'cond-mat 2005 LCC': 'cond-mat-2005-lcc.npz'}


def real_graphs():
    """``(name, Data)`` of each real network found; a notice for others."""
    for name, file in REAL.items():
        path = os.path.join(NETWORKS, file)
        if not os.path.exists(path):
            print(f'# {name}: {path} not found, skipped')
            continue
        import scipy.sparse as sp

        coo = sp.load_npz(path).tocoo()
        edge_index = torch.from_numpy(np.stack([coo.row, coo.col])).long()
        yield name, Data(edge_index=edge_index, num_nodes=coo.shape[0])


def generated_graphs(num_nodes: int, seed: int = 0):
    """``(name, Data with y)``: heavy-tailed graphs with known communities,
    drawn with graph seed ``seed`` (named with it when it is not 0)."""
    k = max(8, num_nodes // 500)
    tag = f' seed {seed}' if seed else ''
    for exponent in (2.1, 2.5):
        edge_index, labels = lfr_like(num_nodes, k, avg_degree=15, mu=0.3,
                                      degree_exponent=exponent, seed=seed)
        yield (f'DC-SBM power-law {exponent} N={num_nodes}{tag}',
               Data(edge_index=edge_index, y=labels, num_nodes=num_nodes))
    try:
        data = datasets.lfr(num_nodes, mu=0.3, average_degree=15,
                            max_degree=num_nodes // 20,
                            min_community=20, max_community=num_nodes // 10,
                            degree_exponent=2.5, size_exponent=1.5, seed=seed)
        yield f'LFR 2.5 N={num_nodes}{tag}', data
    except Exception as error:  # networkx gives up on some parameters
        print(f'# LFR N={num_nodes}{tag}: networkx failed ({error}), '
              f'skipped')


def peers(threads: int):
    """``{name: fn(edge_index, num_nodes, seed) -> (labels, seconds)}``,
    conversion outside the timing."""
    import igraph as ig
    import leidenalg as la
    import networkit as nk

    nk.setNumberOfThreads(threads)

    def igraph_of(edge_index, n):
        row, col = edge_index.numpy()
        upper = row < col
        return ig.Graph(n=n, edges=np.stack([row[upper], col[upper]], 1))

    def networkit_of(edge_index, n):
        row, col = edge_index.numpy()
        upper = row < col
        return nk.graph.GraphFromCoo((row[upper].astype('uint64'),
                                      col[upper].astype('uint64')), n=n,
                                     directed=False)

    def leiden(edge_index, n, seed):
        graph = igraph_of(edge_index, n)
        part, sec = timed(lambda: la.find_partition(
            graph, la.ModularityVertexPartition, seed=seed))
        return np.asarray(part.membership), sec

    def louvain(edge_index, n, seed):
        graph = igraph_of(edge_index, n)
        ig.set_random_number_generator(random.Random(seed))
        part, sec = timed(graph.community_multilevel)
        return np.asarray(part.membership), sec

    def networkit(kind):
        def run(edge_index, n, seed):
            nk.engineering.setSeed(seed, False)
            graph = networkit_of(edge_index, n)
            algo = nk.community.PLM(graph, refine=True) if kind == 'plm' \
                else nk.community.ParallelLeiden(graph)
            _, sec = timed(algo.run)
            return np.asarray(algo.getPartition().getVector()), sec
        return run

    return {'Leiden (leidenalg)': leiden, 'Louvain (igraph)': louvain,
            'PLM (networkit)': networkit('plm'),
            'ParallelLeiden (networkit)': networkit('parallel_leiden')}


def symnmf_methods(true_k):
    """SymNMF variants: ``{name: fn(data, seed) -> (labels, seconds)}``."""
    def run(k, refine):
        def fn(data, seed):
            est, sec = timed(lambda: SymNMFClustering(
                k, refine=refine, seed=seed).fit(data))
            return est.labels_.numpy(), sec
        return fn

    methods = {"SymNMF 'auto'": run('auto', True),
               "SymNMF 'auto', no refinement": run('auto', False)}
    if true_k is not None:
        methods['SymNMF k given'] = run(true_k, True)
        methods['SymNMF k given, no refinement'] = run(true_k, False)
    return methods


def measure(graph_name, data, methods, repeats):
    """Every method ``repeats`` times, interleaved; runs and medians."""
    runs = []
    for seed in range(repeats):
        for name, fn in methods.items():
            before = rss_mb()
            reset_peak_rss()
            labels, sec = fn(data, seed)
            peak = peak_rss_mb() - before
            labels = torch.as_tensor(labels)
            sizes = torch.bincount(torch.unique(labels,
                                                return_inverse=True)[1])
            row = {'graph': graph_name, 'method': name, 'seed': seed,
                   'Q': modularity(data.edge_index, labels,
                                   num_nodes=data.num_nodes),
                   'conductance': conductance(data.edge_index, labels,
                                              num_nodes=data.num_nodes),
                   'communities': int(sizes.numel()),
                   'largest_share': float(sizes.max()) / data.num_nodes,
                   'seconds': sec, 'peak_mb': peak}
            row['NMI'] = nmi(data.y, labels) \
                if data.get('y') is not None else float('nan')
            runs.append(row)
            print({key: round(v, 4) if isinstance(v, float) else v
                   for key, v in row.items()}, flush=True)
    medians = []
    for name in methods:
        mine = [r for r in runs if r['method'] == name]
        row = {'graph': graph_name, 'method': name}
        for key in mine[0]:
            if key not in row and key != 'seed':
                row[key] = statistics.median(r[key] for r in mine)
        medians.append(row)
    return runs, medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='generated graphs at 2,000 nodes, one repeat')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--nodes', type=int, default=20_000,
                        help='size of the generated graphs')
    parser.add_argument('--graph-seeds', default='0',
                        help='comma-separated seeds of the generated graphs')
    parser.add_argument('--no-real', action='store_true',
                        help='skip the real networks')
    parser.add_argument('--no-generated', action='store_true',
                        help='skip the generated graphs')
    parser.add_argument('--out', default='networks',
                        help='stem of the CSV files written')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    repeats = 1 if args.quick else args.repeats
    num_nodes = 2000 if args.quick else args.nodes
    print(f'# {machine()}; {repeats} repeat(s)')
    graphs = [] if args.quick or args.no_real else list(real_graphs())
    for seed in (int(s) for s in args.graph_seeds.split(',')
                 if not args.no_generated):
        graphs += list(generated_graphs(num_nodes, seed))
    peer_fns = peers(args.threads)
    all_runs, all_medians = [], []
    for graph_name, data in graphs:
        true_k = int(data.y.max()) + 1 if data.get('y') is not None else None
        methods = symnmf_methods(true_k)
        methods.update({name: (lambda fn: lambda d, seed: fn(
            d.edge_index, d.num_nodes, seed))(fn)
            for name, fn in peer_fns.items()})
        runs, medians = measure(graph_name, data, methods, repeats)
        all_runs += runs
        all_medians += medians
        write_csv(f'{args.out}_runs.csv', all_runs)
        write_csv(f'{args.out}.csv', all_medians)
    print_summary(all_medians)


def print_summary(medians):
    """A markdown table, and SymNMF's ratios to Leiden per graph."""
    keys = ['Q', 'conductance', 'communities', 'largest_share', 'seconds',
            'peak_mb', 'NMI']
    print('\n| graph | method | ' + ' | '.join(keys) + ' |')
    print('|' + '---|' * (len(keys) + 2))
    for row in medians:
        cells = [f'{row[k]:.3f}' if isinstance(row.get(k), float) else
                 str(row.get(k, '')) for k in keys]
        print(f"| {row['graph']} | {row['method']} | " + ' | '.join(cells)
              + ' |')
    print()
    for graph in dict.fromkeys(r['graph'] for r in medians):
        rows = {r['method']: r for r in medians if r['graph'] == graph}
        ours, leiden = rows["SymNMF 'auto'"], rows['Leiden (leidenalg)']
        print(f"{graph}: Q ratio {ours['Q'] / leiden['Q']:.3f}, "
              f"conductance {ours['conductance'] - leiden['conductance']:+.3f}"
              f", time ratio {ours['seconds'] / leiden['seconds']:.2f}, "
              f"largest share ratio "
              f"{ours['largest_share'] / leiden['largest_share']:.2f}")


if __name__ == '__main__':
    main()
