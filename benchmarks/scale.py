"""Scaling of SymNMF against community-detection peers on generated graphs
with planted communities.

Graphs (benchmarks/common.py, O(E) generators, nodes numbered at random):
``planted`` (k equal communities, mean degree 20, mixing ``--mu``,
default 0.2) and ``lfr`` (LFR-like: power-law community sizes and degrees,
a degree-corrected SBM with the same mean degree and mixing), at each
``--sizes`` N with k = 50 communities.

Methods, each run in a fresh subprocess on the same saved graph so that its
peak RSS (VmHWM) is its own:

- ``anls``: the project's safeguarded ANLS from the random start (tol
  1e-4, max_iter 100);
- ``anls_tol0``: the same with tol = 0 (runs until a step no longer lowers
  the loss at all, at most 100 iterations; not run by default);
- ``net``: the pretrained SymNMF-Net, ``symnmf(..., method='net')``
  (spectral start and 19 safeguarded blocks, 30 SpMMs);
- ``multilevel``: ``symnmf(..., method='multilevel')`` (coarsen by
  heavy-edge matching, factor the coarsest graph, prolong and refine with
  3 ANLS iterations per level);
- ``plm``, ``parallel_leiden``: networkit (skipped with a notice when it
  is not installed);
- ``leidenalg``: Leiden on igraph (skipped above 10^6 nodes: too slow).

Times include turning the edge list into each method's own graph
structure (``convert_s`` reports that part); the median of
``--repeats`` runs below 10^6 nodes (with ``--interleave``, of rounds
that run every method once, each in a fresh process), one run from 10^6
up. NMI against
the planted labels and modularity (:func:`pyg_symnmf.metrics.modularity`)
of the hard partition (``argmax`` of H). Writes ``scale.csv``,
``scale_slopes.csv`` (log-log slope of time against nonzeros per
generator and method) and ``scale.png`` (``scale_mu<mu>.*`` for another
``--mu`` than 0.2).

``--training`` instead measures one training epoch (the SymNMF loss of a
20-layer net's output, backward) with and without activation checkpointing
(``scale_training.csv``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

METHODS = ('anls', 'anls_tol0', 'net', 'multilevel', 'plm',
           'parallel_leiden', 'leidenalg')
DEFAULT_METHODS = tuple(m for m in METHODS if m != 'anls_tol0')
GENERATORS = ('planted', 'lfr')
LEIDENALG_MAX_NODES = 10**6
THREADS = 2


# --------------------------------------------------------------------------
# One method in a fresh process
# --------------------------------------------------------------------------

def _networkit_graph(edge_index, num_nodes):
    import networkit as nk

    row, col = edge_index.numpy()
    upper = row < col
    return nk.graph.GraphFromCoo((row[upper].astype('uint64'),
                                  col[upper].astype('uint64')),
                                 n=num_nodes, directed=False)


def _run_method(method, edge_index, num_nodes, k):
    """``(labels, convert seconds, extra info)`` of one run."""
    import numpy as np

    if method in ('anls', 'anls_tol0', 'net', 'multilevel'):
        from pyg_symnmf import to_adjacency
        from pyg_symnmf.factorize import factorize

        start = time.perf_counter()
        adj = to_adjacency(edge_index, num_nodes=num_nodes)
        convert = time.perf_counter() - start
        tol = 0.0 if method == 'anls_tol0' else 1e-4
        result = factorize(adj, k, method[:4] if method.startswith('anls')
                           else method, max_iter=100, tol=tol, seed=0,
                           warn=False)
        return result.h.argmax(1).numpy(), convert, {
            'iterations': result.n_iter, 'spmm': result.n_spmm}
    if method in ('plm', 'parallel_leiden'):
        import networkit as nk

        nk.setNumberOfThreads(THREADS)
        start = time.perf_counter()
        graph = _networkit_graph(edge_index, num_nodes)
        convert = time.perf_counter() - start
        algo = nk.community.PLM(graph, refine=True) if method == 'plm' \
            else nk.community.ParallelLeiden(graph)
        algo.run()
        return np.asarray(algo.getPartition().getVector()), convert, {}
    if method == 'leidenalg':
        import igraph as ig
        import leidenalg as la

        start = time.perf_counter()
        row, col = edge_index.numpy()
        upper = row < col
        graph = ig.Graph(n=num_nodes, edges=np.stack(
            [row[upper], col[upper]], axis=1).tolist())
        convert = time.perf_counter() - start
        part = la.find_partition(graph, la.ModularityVertexPartition,
                                 seed=0)
        return np.asarray(part.membership), convert, {}
    raise ValueError(method)


def child(spec: dict) -> dict:
    """Runs ``spec['method']`` ``spec['repeats']`` times on the saved graph;
    prints its measures as JSON."""
    import torch

    torch.set_num_threads(THREADS)
    from common import peak_rss_mb, reset_peak_rss, rss_mb
    from pyg_symnmf import metrics

    graph = torch.load(spec['graph'])
    edge_index, labels = graph['edge_index'], graph['labels']
    n = labels.numel()
    base = rss_mb()
    reset_peak_rss()
    times, converts = [], []
    for _ in range(spec['repeats']):
        start = time.perf_counter()
        pred, convert, info = _run_method(spec['method'], edge_index, n,
                                          spec['k'])
        times.append(time.perf_counter() - start)
        converts.append(convert)
    peak = peak_rss_mb()
    return {'time_s': statistics.median(times),
            'convert_s': statistics.median(converts),
            'peak_rss_mb': round(peak, 1), 'graph_rss_mb': round(base, 1),
            'nmi': round(metrics.nmi(labels, pred), 4),
            'modularity': round(metrics.modularity(
                edge_index, torch.as_tensor(pred), num_nodes=n), 4),
            'communities': int(len(set(pred.tolist()))), **info}


def available(method: str) -> bool:
    import importlib.util

    module = {'plm': 'networkit', 'parallel_leiden': 'networkit',
              'leidenalg': 'leidenalg'}.get(method)
    return module is None or importlib.util.find_spec(module) is not None


def in_subprocess(spec: dict, timeout: float) -> dict:
    try:
        out = subprocess.run([sys.executable, __file__, '--child',
                              json.dumps(spec)], capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {'status': f'timeout after {timeout:.0f} s'}
    if out.returncode != 0:
        return {'status': 'failed: ' + out.stderr.strip().splitlines()[-1]}
    return {'status': 'ok', **json.loads(out.stdout.strip().splitlines()[-1])}


# --------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------

def make_graph(generator: str, n: int, k: int, mu: float = 0.2,
               seed: int = 0):
    from common import lfr_like, planted_partition

    fn = planted_partition if generator == 'planted' else lfr_like
    return fn(n, k, avg_degree=20, mu=mu, seed=seed)


def estimated_peak_gb(n: int, nnz: float, k: int) -> float:
    """Rough peak of the largest method (ANLS): int64 edge list and its
    sorted copies while symmetrising (about 4 x 16 B per nonzero), the CSR
    (12 B per nonzero) and six float32 N x k matrices."""
    return (nnz * (4 * 16 + 12) + 6 * 4 * n * k) / 2**30


def sweep(args) -> list[dict]:
    import torch

    from common import machine

    torch.set_num_threads(THREADS)
    print(machine(), flush=True)
    rows = []
    skipped = [m for m in args.methods if not available(m)]
    for method in skipped:
        print(f'NOTICE: {method} skipped: '
              f"pip install 'pyg_symnmf[peers]' to include it", flush=True)
    methods = [m for m in args.methods if m not in skipped]
    with tempfile.TemporaryDirectory() as tmp:
        for generator in args.generators:
            for n in args.sizes:
                nnz_estimate = 20 * n
                if estimated_peak_gb(n, nnz_estimate, args.k) > args.max_gb:
                    note = (f'skipped: needs about '
                            f'{estimated_peak_gb(n, nnz_estimate, args.k):.0f}'
                            f' GB > --max-gb {args.max_gb:g}')
                    print(f'{generator} N={n}: {note}', flush=True)
                    rows.append({'generator': generator, 'method': 'all',
                                 'nodes': n, 'nnz': nnz_estimate,
                                 'status': note})
                    continue
                start = time.perf_counter()
                edge_index, labels = make_graph(generator, n, args.k, args.mu)
                generate = time.perf_counter() - start
                path = os.path.join(tmp, 'graph.pt')
                torch.save({'edge_index': edge_index, 'labels': labels}, path)
                nnz = edge_index.size(1)
                del edge_index, labels
                print(f'{generator} N={n} nnz={nnz} generated in '
                      f'{generate:.1f} s', flush=True)
                # --interleave: rounds of one fresh process per method
                # (A B C A B C ...), so that load on a shared machine hits
                # every method alike; the row of the median time is kept.
                rounds = args.repeats if args.interleave and n < 10**6 \
                    else 1
                runs = {method: [] for method in methods}
                for _ in range(rounds):
                    for method in methods:
                        row = run_one(args, path, generator, method, n, nnz,
                                      1 if args.interleave else None)
                        runs[method].append(row)
                        print(row, flush=True)
                for method in methods:
                    ok = sorted((r for r in runs[method]
                                 if r.get('status') == 'ok'),
                                key=lambda r: r['time_s'])
                    row = ok[(len(ok) - 1) // 2] if ok else runs[method][0]
                    rows.append({**row, 'rounds': rounds})
    return rows


def run_one(args, path: str, generator: str, method: str, n: int,
            nnz: int, repeats=None) -> dict:
    """One row: ``method`` on the saved graph, ``repeats`` runs (default:
    ``--repeats`` below 10^6 nodes, else 1) in one fresh process."""
    row = {'generator': generator, 'method': method, 'nodes': n,
           'nnz': nnz, 'k': args.k, 'mu': args.mu}
    if method == 'leidenalg' and n > LEIDENALG_MAX_NODES:
        row['status'] = (f'skipped: leidenalg above {LEIDENALG_MAX_NODES} '
                         f'nodes is too slow')
        return row
    if repeats is None:
        repeats = args.repeats if n < 10**6 else 1
    row['repeats'] = repeats
    spec = {'graph': path, 'method': method, 'k': args.k,
            'repeats': repeats}
    row.update({'status': 'ok', **child(spec)} if args.in_process
               else in_subprocess(spec, args.timeout))
    return row


def slopes(rows: list[dict]) -> list[dict]:
    """Log-log slope of time (and peak RSS) against nonzeros per generator
    and method, over the sizes that ran (1 = linear in edges)."""
    import numpy as np

    out = []
    for generator in dict.fromkeys(r['generator'] for r in rows):
        for method in dict.fromkeys(r['method'] for r in rows):
            sub = [r for r in rows if r['generator'] == generator and
                   r['method'] == method and r.get('status') == 'ok']
            if len(sub) < 2:
                continue
            x = np.log([r['nnz'] for r in sub])
            out.append({
                'generator': generator, 'method': method,
                'sizes': '/'.join(str(r['nodes']) for r in sub),
                'time_slope': round(float(np.polyfit(
                    x, np.log([max(r['time_s'], 1e-6) for r in sub]),
                    1)[0]), 3),
                'rss_slope': round(float(np.polyfit(
                    x, np.log([r['peak_rss_mb'] for r in sub]), 1)[0]), 3)})
    return out


def plot(rows: list[dict], name: str) -> str:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from common import output_path

    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {'planted': ('-', 'o'), 'lfr': ('--', 's')}
    methods = list(dict.fromkeys(r['method'] for r in rows))
    for generator in dict.fromkeys(r['generator'] for r in rows):
        for i, method in enumerate(methods):
            sub = [r for r in rows if r['generator'] == generator and
                   r['method'] == method and r.get('status') == 'ok']
            line, marker = styles.get(generator, (':', '^'))
            if sub:
                ax.loglog([r['nnz'] for r in sub], [r['time_s'] for r in sub],
                          line, marker=marker, color=f'C{i}',
                          label=f'{method} ({generator})')
    ax.set_xlabel('stored nonzeros of A')
    ax.set_ylabel(f'seconds ({THREADS} threads)')
    ax.set_title('Time to a partition vs graph size (k = 50)')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path = output_path(name)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------
# Training memory: one epoch with and without activation checkpointing
# --------------------------------------------------------------------------

def training_child(spec: dict) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    from common import peak_rss_mb, random_graph, reset_peak_rss, rss_mb
    from pyg_symnmf import SymNMFNet, to_adjacency
    from pyg_symnmf.functional import symnmf_loss_of
    from pyg_symnmf.init import random_membership

    n, k = spec['nodes'], spec['k']
    edge_index = random_graph(n, 20)
    adj = to_adjacency(edge_index, num_nodes=n)
    train_adj = adj
    fraction = spec.get('subgraph')
    if fraction:  # train on the subgraph induced by a random node subset
        from torch_geometric.utils import subgraph
        subset = torch.randperm(n, generator=torch.Generator().manual_seed(
            0))[:int(fraction * n)]
        sub_index, _ = subgraph(subset, edge_index, relabel_nodes=True,
                                num_nodes=n)
        train_adj = to_adjacency(sub_index, num_nodes=subset.numel())
        del sub_index
    del edge_index
    h0 = random_membership(train_adj, k)
    net = SymNMFNet(k, spec['layers'], checkpoint=spec['checkpoint'])
    base = rss_mb()
    reset_peak_rss()
    times = []
    for _ in range(spec['epochs']):
        start = time.perf_counter()
        net.zero_grad()
        loss = symnmf_loss_of(train_adj, net(h0, train_adj)) / \
            train_adj.sq_norm
        loss.backward()
        times.append(time.perf_counter() - start)
    row = {'mode': f'subgraph {fraction:.0%}' if fraction else 'full graph',
           'nodes': n, 'train_nodes': train_adj.num_nodes,
           'nnz': adj.num_edges, 'train_nnz': train_adj.num_edges, 'k': k,
           'layers': spec['layers'], 'checkpoint': spec['checkpoint'],
           'epoch_s': round(statistics.median(times), 3),
           'base_rss_mb': round(base, 1),
           'peak_rss_mb': round(peak_rss_mb(), 1),
           'epoch_extra_mb': round(peak_rss_mb() - base, 1),
           'loss': float(loss)}
    if fraction:  # then apply the trained blocks to the whole graph
        start = time.perf_counter()
        with torch.no_grad():
            full = net(random_membership(adj, k), adj)
        row['apply_full_s'] = round(time.perf_counter() - start, 3)
        row['full_loss'] = float(symnmf_loss_of(adj, full) / adj.sq_norm)
    return row


def training(args) -> list[dict]:
    rows = []
    for checkpoint, fraction in ((False, None), (True, None),
                                 (False, args.subgraph)):
        if fraction == 0:
            continue
        spec = {'nodes': args.train_nodes, 'k': args.train_k,
                'layers': 20, 'checkpoint': checkpoint,
                'epochs': args.train_epochs, 'subgraph': fraction}
        try:
            out = subprocess.run([sys.executable, __file__, '--child',
                                  json.dumps({**spec, 'training': True})],
                                 capture_output=True, text=True,
                                 timeout=args.timeout)
            ok = out.returncode == 0
            row = json.loads(out.stdout.strip().splitlines()[-1]) if ok \
                else {**spec, 'status': 'failed: ' +
                      out.stderr.strip().splitlines()[-1]}
        except subprocess.TimeoutExpired:
            row = {**spec, 'status': f'timeout after {args.timeout:.0f} s'}
        rows.append(row)
        print(row, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='*',
                        default=[10**4, 10**5, 10**6])
    parser.add_argument('-k', type=int, default=50)
    parser.add_argument('--methods', nargs='*',
                        default=list(DEFAULT_METHODS), choices=METHODS)
    parser.add_argument('--mu', type=float, default=0.2,
                        help='mixing: share of edges leaving a community')
    parser.add_argument('--generators', nargs='*', default=list(GENERATORS),
                        choices=GENERATORS)
    parser.add_argument('--repeats', type=int, default=3,
                        help='runs per method below 10^6 nodes (median)')
    parser.add_argument('--interleave', action='store_true',
                        help='below 10^6 nodes: --repeats rounds of one '
                        'fresh process per method, interleaved; the '
                        'median round is kept')
    parser.add_argument('--max-gb', type=float, default=20,
                        help='skip sizes whose estimated peak exceeds this')
    parser.add_argument('--timeout', type=float, default=1800,
                        help='seconds allowed to one method at one size')
    parser.add_argument('--quick', action='store_true',
                        help='N = 10^3 and 10^4, one run each, in this '
                        'process (seconds)')
    parser.add_argument('--in-process', action='store_true',
                        help='no subprocess per method (then peak RSS is '
                        "this process's so far)")
    parser.add_argument('--out', help='output folder (default: results/)')
    parser.add_argument('--append', action='store_true',
                        help='merge into the existing scale.csv (rows of '
                        'the same generator, method and size replaced)')
    parser.add_argument('--training', action='store_true',
                        help='measure one training epoch instead')
    parser.add_argument('--train-nodes', type=int, default=10**6)
    parser.add_argument('--train-k', type=int, default=16)
    parser.add_argument('--train-epochs', type=int, default=1)
    parser.add_argument('--subgraph', type=float, default=0.1,
                        help='also train on the subgraph of this share of '
                        'the nodes, then apply to the whole graph (0: no)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(training_child(spec) if spec.get('training')
                         else child(spec)))
        return
    if args.out:
        os.environ['PYG_SYMNMF_RESULTS'] = args.out
    import common
    common.RESULTS = os.environ.get('PYG_SYMNMF_RESULTS', common.RESULTS)
    if args.quick:
        args.sizes, args.repeats, args.in_process = [10**3, 10**4], 1, True
        args.train_nodes, args.train_k = 2000, 4
    if args.training:
        rows = training(args)
        print('wrote', common.write_csv('scale_training.csv',
                                        _same_keys(rows)))
        return
    # Another mixing than the table's 0.2 goes to its own files.
    name = 'scale' if args.mu == 0.2 else f'scale_mu{args.mu:g}'
    rows = sweep(args)
    if args.append:
        rows = _merged(_read_csv(common.output_path(f'{name}.csv')), rows)
    print('wrote', common.write_csv(f'{name}.csv', _same_keys(rows)))
    slope_rows = slopes(rows)
    for row in slope_rows:
        print(row)
    if slope_rows:
        print('wrote', common.write_csv(f'{name}_slopes.csv', slope_rows))
    print('wrote', plot(rows, f'{name}.png'))


def _read_csv(path: str) -> list[dict]:
    import csv

    if not os.path.exists(path):
        return []

    def value(text: str):
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    with open(path, newline='') as f:
        return [{key: value(text) for key, text in row.items()}
                for row in csv.DictReader(f)]


def _merged(old: list[dict], new: list[dict]) -> list[dict]:
    def key(row):
        return row['generator'], row['method'], int(row['nodes'])

    fresh = {key(row) for row in new}
    rows = [row for row in old if key(row) not in fresh] + new
    order = {name: i for i, name in enumerate(GENERATORS + METHODS)}
    return sorted(rows, key=lambda r: (order.get(r['generator'], 99),
                                       int(r['nodes']),
                                       order.get(r['method'], 99)))


def _same_keys(rows: list[dict]) -> list[dict]:
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return [{key: row.get(key, '') for key in keys} for row in rows]


if __name__ == '__main__':
    main()
