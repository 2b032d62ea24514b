"""Attributed graphs: SymNMF of the feature-aware operator
(``pyg_symnmf.features.feature_graph``, used by default when ``data.x``
exists) with ANLS and with the pretrained net, against the GCN-encoder path
of 0.2.0, SymNMF of the graph alone, DMoN, MinCutPool, smoothed-feature
k-means, k-means on X, spectral clustering and Leiden, in one run:

- a grid of contextual SBMs (graph signal x feature signal,
  ``pyg_symnmf.datasets.contextual_sbm``: N=2000, k=4, mean degree 10, 32
  Gaussian features), 3 seeds per cell;
- CiteSeer (3,327 nodes, 3,703 binary features, 6 classes, 438
  components), read from ``../shared/data/planetoid`` (the raw files are
  copied to a temporary folder first; skipped with a notice when absent),
  3 seeds;
- a generated CiteSeer-like graph (:func:`bag_of_words_graph`, "words":
  degree-corrected SBM of mean degree 2.8 with heavy-tailed degrees, many
  components and isolated nodes, sparse binary bag-of-words features), 3
  seeds, with 6 classes ("words") and with 10 ("words, 10 classes")
  (``--no-words`` skips them).

No method sees the labels; k is the number of classes, except Leiden (its
own) and ``k='auto'`` (``SymNMFClustering('auto')``, the k it picks is
reported). DMoN / MinCutPool as in PyG's examples (``pyg_symnmf.peers``:
2-layer GCN, 64 hidden, Adam lr 1e-3, 500 full-graph epochs on the dense
adjacency). Smoothed-feature k-means: the features averaged over 8 SSGC
steps (restart 0.05), rows normalised, scikit-learn k-means with 10
restarts. Figures per run: NMI, ARI, ACC, modularity and conductance of the
partition on the graph, wall-clock seconds, and the peak resident memory
above the level before the method (MB); one CPU thread.

Writes ``attributed.csv`` (means over seeds), ``attributed_runs.csv`` (every
run) and ``attributed.png`` (NMI heatmaps) to ``benchmarks/results`` (or
``$PYG_SYMNMF_RESULTS``) and prints markdown tables. ``--quick``: one small
generated cell, one seed, a few epochs, no real data (seconds).
``--methods A,B``: only those rows (names as in the tables).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import (machine, output_path, peak_rss_mb,  # noqa: E402
                    reset_peak_rss, rss_mb, timed, write_csv)

from pyg_symnmf import SymNMFClustering, datasets, metrics  # noqa: E402
from pyg_symnmf.features import smoothed_feature_kmeans  # noqa: E402
from pyg_symnmf import peers  # noqa: E402
from pyg_symnmf.peers import gcn_pool_clustering  # noqa: E402

GRAPH_SIGNALS = (0.5, 1.5, 2.5)    # lambda; 1 = Kesten-Stigum threshold
FEATURE_SIGNALS = (0.5, 1.0, 2.0)  # mu: class means mu*sqrt(2) apart
PLANETOID = os.path.join(os.path.dirname(__file__), '..', '..', 'shared',
                         'data', 'planetoid')
METHODS = ('SymNMF+X ANLS', 'SymNMF+X net', 'encoder (0.2.0)',
           'SymNMF graph', 'DMoN', 'MinCut', 'smoothed k-means',
           'k-means X', 'spectral', 'Leiden', "k='auto'")


def bag_of_words_graph(num_nodes: int = 3000, k: int = 6,
                       degree: float = 2.8, homophily: float = 0.75,
                       vocabulary: int = 3000, topic_words: int = 150,
                       words: int = 32, topical: float = 0.3,
                       seed: int = 0):
    """A generated attributed graph with CiteSeer's kind of sparsity:
    classes of random sizes; degree propensities ``1 + Pareto(2.5)``; each
    of ``num_nodes * degree / 2`` edges starts at a node drawn by
    propensity and ends, with probability ``homophily``, at a node of the
    same class (by propensity), else anywhere; each node draws
    ``Poisson(words)`` words, each from its class's ``topic_words`` with
    probability ``topical``, else from a Zipf law over the vocabulary
    (binary features, dense storage as Planetoid's)."""
    from torch_geometric.data import Data
    from torch_geometric.utils import coalesce, to_undirected

    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, num_nodes)
    theta = rng.pareto(2.5, num_nodes) + 1
    prob = theta / theta.sum()
    m = int(num_nodes * degree / 2)
    src = rng.choice(num_nodes, m, p=prob)
    dst = rng.choice(num_nodes, m, p=prob)
    members = [np.flatnonzero(y == c) for c in range(k)]
    inside = rng.random(m) < homophily
    for c in range(k):
        pick = inside & (y[src] == c)
        weights = theta[members[c]] / theta[members[c]].sum()
        dst[pick] = rng.choice(members[c], int(pick.sum()), p=weights)
    keep = src != dst
    edge_index = coalesce(to_undirected(torch.as_tensor(
        np.stack([src[keep], dst[keep]])), num_nodes=num_nodes),
        num_nodes=num_nodes)
    zipf = 1 / np.arange(1, vocabulary + 1)
    zipf /= zipf.sum()
    topics = [rng.choice(vocabulary, topic_words, replace=False)
              for _ in range(k)]
    x = np.zeros((num_nodes, vocabulary), dtype=np.float32)
    for i in range(num_nodes):
        count = max(1, rng.poisson(words))
        topical_word = rng.random(count) < topical
        drawn = np.where(topical_word, rng.choice(topics[y[i]], count),
                         rng.choice(vocabulary, count, p=zipf))
        x[i, drawn] = 1
    return Data(x=torch.from_numpy(x), edge_index=edge_index,
                y=torch.as_tensor(y), num_nodes=num_nodes)


def kmeans(data, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    x = data.x.to_dense() if data.x.is_sparse else data.x
    return KMeans(k, n_init=10, random_state=seed).fit_predict(x.numpy())


def spectral(data, k: int, seed: int) -> np.ndarray:
    with warnings.catch_warnings():  # "graph is not fully connected"
        warnings.simplefilter('ignore')
        return peers.spectral_clustering(data.edge_index, data.num_nodes, k,
                                         seed=seed).numpy()


def leiden(data, seed: int) -> np.ndarray:
    return peers.leiden(data.edge_index, data.num_nodes, seed=seed).numpy()


def method_fns(data, k: int, seed: int, epochs: dict) -> dict:
    def auto():
        est = SymNMFClustering('auto', seed=seed).fit(data)
        return est.labels_.numpy()

    return {
        'SymNMF+X ANLS': lambda: SymNMFClustering(k, seed=seed)
        .fit_predict(data).numpy(),
        'SymNMF+X net': lambda: SymNMFClustering(k, 'net', seed=seed)
        .fit_predict(data).numpy(),
        'encoder (0.2.0)': lambda: SymNMFClustering(
            k, 'net', encoder='gcn', epochs=epochs['ours'], seed=seed)
        .fit_predict(data).numpy(),
        'SymNMF graph': lambda: SymNMFClustering(k, features=False,
                                                 seed=seed)
        .fit_predict(data).numpy(),
        'DMoN': lambda: gcn_pool_clustering(data, k, 'DMoN', seed=seed,
                                            epochs=epochs['pool']).numpy(),
        'MinCut': lambda: gcn_pool_clustering(data, k, 'MinCut', seed=seed,
                                              epochs=epochs['pool']).numpy(),
        'smoothed k-means': lambda: smoothed_feature_kmeans(
            data.x, data.edge_index, k, seed=seed).numpy(),
        'k-means X': lambda: kmeans(data, k, seed),
        'spectral': lambda: spectral(data, k, seed),
        'Leiden': lambda: leiden(data, seed),
        "k='auto'": auto,
    }


def run_methods(data, k: int, seed: int, epochs: dict,
                methods=METHODS) -> list[dict]:
    """One row of figures per method on one graph."""
    rows = []
    for name, fn in method_fns(data, k, seed, epochs).items():
        if name not in methods:
            continue
        reset_peak_rss()
        base = rss_mb()
        labels, seconds = timed(fn)
        peak = peak_rss_mb() - base
        labels = torch.as_tensor(labels).long()
        rows.append(dict(
            method=name, k_found=int(labels.unique().numel()),
            nmi=round(metrics.nmi(data.y, labels), 4),
            ari=round(metrics.ari(data.y, labels), 4),
            acc=round(metrics.clustering_accuracy(data.y, labels), 4),
            modularity=round(metrics.modularity(data.edge_index, labels,
                                                num_nodes=data.num_nodes), 4),
            conductance=round(metrics.conductance(
                data.edge_index, labels, num_nodes=data.num_nodes), 4),
            seconds=round(seconds, 3), peak_mb=round(max(peak, 0.0), 1)))
    return rows


FIGURES = ('nmi', 'ari', 'acc', 'modularity', 'conductance', 'seconds',
           'peak_mb', 'k_found')


def summarize(runs: list[dict]) -> list[dict]:
    cells: dict = {}
    for r in runs:
        cells.setdefault((r['dataset'], r['graph_signal'],
                          r['feature_signal'], r['method']), []).append(r)
    rows = []
    for (name, lam, mu, method), rs in cells.items():
        row = dict(dataset=name, graph_signal=lam, feature_signal=mu,
                   method=method, runs=len(rs))
        for key in FIGURES:
            values = [r[key] for r in rs]
            row[f'{key}_mean'] = round(float(np.mean(values)), 4)
        row['nmi_std'] = round(float(np.std([r['nmi'] for r in rs])), 4)
        rows.append(row)
    return rows


def grid_markdown(rows: list[dict], methods=METHODS) -> str:
    by_cell: dict = {}
    for r in rows:
        if r['dataset'] == 'csbm':
            by_cell.setdefault((r['graph_signal'], r['feature_signal']),
                               {})[r['method']] = r
    lines = ['| λ | μ | ' + ' | '.join(methods) + ' |',
             '|' + '---|' * (len(methods) + 2)]
    for (lam, mu), cell in by_cell.items():
        lines.append(f'| {lam} | {mu} | ' + ' | '.join(
            f"{cell[m]['nmi_mean']:.3f}" for m in methods) + ' |')
    return '\n'.join(lines)


def real_markdown(rows: list[dict]) -> str:
    lines = ['| graph | method | k | NMI | ARI | ACC | modularity | '
             'conductance | s | peak MB |', '|' + '---|' * 10]
    for r in rows:
        if r['dataset'] != 'csbm':
            lines.append(
                f"| {r['dataset']} | {r['method']} | {r['k_found_mean']:g} "
                f"| {r['nmi_mean']:.3f}±{r['nmi_std']:.3f} "
                f"| {r['ari_mean']:.3f} | {r['acc_mean']:.3f} "
                f"| {r['modularity_mean']:.3f} "
                f"| {r['conductance_mean']:.3f} | {r['seconds_mean']:.1f} "
                f"| {r['peak_mb_mean']:.0f} |")
    return '\n'.join(lines)


def heatmap(rows: list[dict], lams, mus, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    shown = ('SymNMF+X ANLS', 'DMoN', 'encoder (0.2.0)')
    if not {r['method'] for r in rows} >= set(shown):
        return
    grid = {m: np.full((len(lams), len(mus)), np.nan) for m in shown}
    for r in rows:
        if r['dataset'] == 'csbm' and r['method'] in grid:
            grid[r['method']][lams.index(r['graph_signal']),
                              mus.index(r['feature_signal'])] = r['nmi_mean']
    panels = [('SymNMF + features (ANLS)', grid[shown[0]], 'viridis', 0, 1),
              ('DMoN', grid['DMoN'], 'viridis', 0, 1),
              ('SymNMF + features − encoder (0.2.0)',
               grid[shown[0]] - grid[shown[2]], 'RdBu', -1, 1)]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (title, values, cmap, lo, hi) in zip(axes, panels):
        im = ax.imshow(values, cmap=cmap, vmin=lo, vmax=hi, origin='lower')
        for i in range(len(lams)):
            for j in range(len(mus)):
                ax.text(j, i, f'{values[i, j]:+.2f}' if lo < 0
                        else f'{values[i, j]:.2f}', ha='center',
                        va='center', color='black', fontsize=10,
                        bbox=dict(facecolor='white', alpha=0.6, lw=0))
        ax.set_xticks(range(len(mus)), [str(m) for m in mus])
        ax.set_yticks(range(len(lams)), [str(v) for v in lams])
        ax.set_xlabel('feature signal μ')
        ax.set_ylabel('graph signal λ')
        ax.set_title(f'NMI: {title}', fontsize=10)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def citeseer():
    """CiteSeer from ``../shared/data/planetoid``, copied to a temporary
    folder (PyG writes ``processed/`` beside ``raw/``); None with a notice
    when the files are absent."""
    from torch_geometric.datasets import Planetoid

    raw = os.path.join(PLANETOID, 'CiteSeer', 'raw')
    if not os.path.isdir(raw):
        print(f'[skipped] CiteSeer: no raw files under {raw}')
        return None
    with tempfile.TemporaryDirectory() as root:
        shutil.copytree(raw, os.path.join(root, 'CiteSeer', 'raw'))
        return Planetoid(root, 'CiteSeer')[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--num-nodes', type=int, default=2000)
    parser.add_argument('--pool-epochs', type=int, default=500)
    parser.add_argument('--no-grid', action='store_true',
                        help='CiteSeer only')
    parser.add_argument('--no-words', action='store_true',
                        help='skip the generated bag-of-words graph')
    parser.add_argument('--methods', default=','.join(METHODS),
                        help='comma-separated rows to run (default: all)')
    args = parser.parse_args()
    methods = tuple(m for m in METHODS if m in args.methods.split(','))
    unknown = set(args.methods.split(',')) - set(METHODS)
    if unknown:
        parser.error(f'unknown methods {sorted(unknown)}; known: {METHODS}')
    torch.set_num_threads(1)  # one thread each: comparable times
    if args.quick:
        lams, mus, seeds, n = [2.5], [2.0], 1, 300
        epochs = {'ours': 20, 'pool': 20}
    else:
        lams, mus, seeds, n = list(GRAPH_SIGNALS), list(FEATURE_SIGNALS), \
            args.seeds, args.num_nodes
        epochs = {'ours': None, 'pool': args.pool_epochs}  # None: default
    print(f'# {machine()}', flush=True)
    runs = []

    def record(name, data, k, seed, lam='', mu=''):
        for row in run_methods(data, k, seed, epochs, methods):
            runs.append(dict(dataset=name, graph_signal=lam,
                             feature_signal=mu, seed=seed, **row))
        print(f'{name} λ={lam} μ={mu} seed={seed}: ' + ', '.join(
            f"{r['method']} {r['nmi']:.3f} ({r['seconds']:.1f}s)"
            for r in runs[-len(methods):]), flush=True)

    if not args.quick:
        data = citeseer()
        if data is not None:
            for seed in range(seeds):
                record('CiteSeer', data, 6, seed)
        if not args.no_words:
            for seed in range(seeds):
                record('words', bag_of_words_graph(seed=seed), 6, seed)
            for seed in range(seeds):
                record('words, 10 classes',
                       bag_of_words_graph(k=10, seed=seed), 10, seed)
    if not args.no_grid:
        print(f'# contextual SBM grid, N={n}, k=4, {seeds} seed(s)',
              flush=True)
        for lam in lams:
            for mu in mus:
                for seed in range(seeds):
                    data = datasets.contextual_sbm(n, 4, lam, mu, seed=seed)
                    record('csbm', data, 4, seed, lam, mu)
    rows = summarize(runs)
    write_csv('attributed.csv', rows)
    write_csv('attributed_runs.csv', runs)
    if not args.no_grid:
        heatmap(rows, lams, mus, output_path('attributed.png'))
        print('\nNMI, mean over seeds (contextual SBM grid)')
        print(grid_markdown(rows, methods))
    print('\nReal graphs, mean over seeds (NMI ± std)')
    print(real_markdown(rows))


if __name__ == '__main__':
    main()
