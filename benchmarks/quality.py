"""Clustering quality against the peers users would pick instead:
SymNMF-Net (trained), the classical SymNMF solvers (safeguarded descent
with adaptive alpha, a fixed number of iterations), scikit-learn's spectral
clustering and networkx's Louvain, on digits, karate, an SBM and LFR graphs
(mu = 0.1, 0.3, 0.5). Mean and std over seeds (the seed draws the start,
and for the generated graphs the graph too). karateclub's SymmNMF is not
compared: karateclub 1.3.3 requires numpy<1.23 and networkx<2.7, which do
not install beside torch 2.13 / Python 3.11."""
from __future__ import annotations

import argparse

import networkx as nx
import numpy as np
import torch
from torch_geometric.utils import to_networkx

from common import machine, timed, write_csv
from pyg_symnmf.solvers import CLASSICAL_METHODS
from pyg_symnmf import (SymNMFClustering, datasets, metrics, symnmf,
                        to_adjacency)
from pyg_symnmf.peers import spectral_clustering


def load(name: str, seed: int):
    if name.startswith('lfr'):
        return datasets.lfr(mu=float(name.split('=')[1]), seed=seed)
    if name == 'sbm':
        return datasets.sbm(seed=seed)
    return datasets.DATASETS[name]()


def run_dataset(name: str, seed: int, epochs: int, iters: int):
    data = load(name, seed)
    k = int(data.y.max()) + 1
    normalize = datasets.NORMALIZE[name.split('=')[0].replace('lfr mu', 'lfr')]
    adj = to_adjacency(data.edge_index, data.get('edge_weight'),
                       data.num_nodes, normalize=normalize)
    n = data.num_nodes
    rows = []

    def add(method, pred, seconds, h=None):
        rows.append({'dataset': name, 'seed': seed, 'method': method,
                     **metrics.report(data, pred, h, adj if h is not None
                                      else None), 'time_s': seconds})

    net, sec = timed(lambda: SymNMFClustering(
        k, method='net', pretrained=False, num_layers=20, epochs=epochs,
        normalize=normalize,
        seed=seed, features=False).fit(data))
    add('SymNMF-Net (20 blocks)', net.labels_, sec, net.embedding_)
    h, sec = timed(lambda: symnmf(adj, k, method='net', seed=seed))
    add('SymNMF-Net (pretrained, 30 SpMMs)', h.argmax(1), sec, h)
    for method in CLASSICAL_METHODS:
        h, sec = timed(lambda method=method: symnmf(
            adj, k, method=method, seed=seed, max_iter=iters, tol=0.0))
        add(f'{method.upper()} ({iters} it)', h.argmax(1), sec, h)
    pred, sec = timed(lambda: spectral_clustering(
        data.edge_index, n, k, data.get('edge_weight'), seed=seed))
    add('spectral clustering', pred, sec)
    graph = to_networkx(data, edge_attrs=['edge_weight'] if 'edge_weight'
                        in data else None, to_undirected=True)
    parts, sec = timed(lambda: nx.community.louvain_communities(
        graph, weight='edge_weight', seed=seed))
    pred = torch.empty(n, dtype=torch.long)
    for c, part in enumerate(parts):
        pred[list(part)] = c
    add('Louvain', pred, sec)
    return rows


def summarize(rows):
    keys = [k for k in rows[0] if k not in ('dataset', 'seed', 'method')]
    table = []
    for dataset in dict.fromkeys(r['dataset'] for r in rows):
        for method in dict.fromkeys(r['method'] for r in rows):
            sub = [r for r in rows if r['dataset'] == dataset
                   and r['method'] == method]
            if not sub:
                continue
            out = {'dataset': dataset, 'method': method, 'seeds': len(sub)}
            for key in keys:
                values = [r[key] for r in sub if key in r]
                if values:
                    out[key] = float(np.mean(values))
                    out[f'{key}_std'] = float(np.std(values))
            table.append(out)
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--datasets', nargs='*', default=[
        'digits', 'karate', 'sbm', 'lfr mu=0.1', 'lfr mu=0.3',
        'lfr mu=0.5'])
    parser.add_argument('--seeds', type=int, default=5)
    parser.add_argument('--epochs', type=int, default=500)
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.seeds, args.epochs, args.iters = \
            ['karate'], 1, 5, 10
    print(machine())
    rows = []
    for name in args.datasets:
        for seed in range(args.seeds):
            rows += run_dataset(name, seed, args.epochs, args.iters)
        print(f'{name} done', flush=True)
    write_csv('quality_runs.csv', rows)
    table = summarize(rows)
    print('wrote', write_csv('quality.csv', table))
    for r in table:
        figures = '  '.join(
            f'{key} {r[key]:.3f}±{r[key + "_std"]:.3f}'
            for key in ('ACC', 'NMI', 'ARI', 'modularity', 'loss', 'time_s')
            if key in r)
        print(f'{r["dataset"]:12s} {r["method"]:24s} {figures}')


if __name__ == '__main__':
    main()
