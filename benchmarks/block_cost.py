"""Cost of one SymNMF-Net layer (SymNMFNetConv) against the bare
sparse-dense product A @ H of the same shape (the floor), measured
interleaved in one process: median of --repeats runs of forward, and of
forward + backward. Peak memory of each configuration comes from a fresh
subprocess. ``--build`` instead times building the operator
(``to_adjacency``) and each of its phases in SpMMs of width 16;
``--solver`` and ``--locality`` measure solver iterations and node
orders."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch

from common import (interleaved_medians, machine, plot_curves,
                    random_graph, write_csv)
from pyg_symnmf import SymNMFNetConv, to_adjacency
from pyg_symnmf.functional import propagate


def measure(num_nodes: int, k: int, degree: float, repeats: int) -> dict:
    adj = to_adjacency(random_graph(num_nodes, degree), num_nodes=num_nodes)
    conv = SymNMFNetConv(k)
    h = torch.rand(num_nodes, k)
    h_grad = h.clone().requires_grad_()

    def floor_fwd():
        return torch.sparse.mm(adj.csr, h)

    def block_fwd():
        with torch.no_grad():
            return conv(h, adj)

    def floor_bwd():
        propagate(adj, h_grad).sum().backward()

    def block_bwd():
        conv(h_grad, adj).sum().backward()

    t = interleaved_medians({'floor_fwd': floor_fwd, 'block_fwd': block_fwd,
                             'floor_fwd_bwd': floor_bwd,
                             'block_fwd_bwd': block_bwd}, repeats)
    return {'num_nodes': num_nodes, 'nnz': adj.num_edges, 'k': k,
            'spmm_s': t['floor_fwd'], 'block_fwd_s': t['block_fwd'],
            'fwd_ratio': t['block_fwd'] / t['floor_fwd'],
            'spmm_fwd_bwd_s': t['floor_fwd_bwd'],
            'block_fwd_bwd_s': t['block_fwd_bwd'],
            'fwd_bwd_ratio': t['block_fwd_bwd'] / t['floor_fwd']}


def peak_memory(num_nodes: int, k: int, degree: float, what: str) -> float:
    """Peak memory (MB) that ``what`` (spmm, block or block_fwd_bwd) adds,
    run once in a fresh process on top of the graph and H."""
    code = f'''
import sys; sys.path.insert(0, {repr(sys.path[0])})
import torch, json
from common import random_graph, peak_rss_mb, reset_peak_rss, rss_mb
from pyg_symnmf import SymNMFNetConv, to_adjacency
adj = to_adjacency(random_graph({num_nodes}, {degree}), num_nodes={num_nodes})
h = torch.rand({num_nodes}, {k}, requires_grad={what == 'block_fwd_bwd'})
reset_peak_rss()
base = rss_mb()
if '{what}' == 'spmm':
    torch.sparse.mm(adj.csr, h)
elif '{what}' == 'block':
    with torch.no_grad():
        SymNMFNetConv({k})(h, adj)
else:
    SymNMFNetConv({k})(h, adj).sum().backward()
print(json.dumps([base, peak_rss_mb()]))
'''
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout
    base, peak = json.loads(out)
    return peak - base


def plot(rows: list[dict], name: str) -> str:
    curves = {}
    for k in sorted({r['k'] for r in rows}):
        sub = [r for r in rows if r['k'] == k]
        for key in ('spmm_s', 'block_fwd_s', 'block_fwd_bwd_s'):
            curves[f'k={k} {key[:-2]}'] = ([r['nnz'] for r in sub],
                                          [r[key] for r in sub])
    return plot_curves(curves, name, logx=True,
                       xlabel='stored nonzeros of A',
                       ylabel='seconds (median)',
                       title='SymNMF-Net block vs A@H floor')


# --------------------------------------------------------------------------
# Solver iterations: time and memory of the buffered loop
# --------------------------------------------------------------------------

def solver_child(spec: dict) -> dict:
    """Times ``spec['iters']`` ANLS iterations (tol = 0) on the saved
    graph, and one bare SpMM of the same width; peak RSS is this
    process's."""
    import time

    from common import peak_rss_mb, reset_peak_rss, rss_mb
    from pyg_symnmf.init import random_membership
    from pyg_symnmf.solvers import solve

    torch.set_num_threads(spec['threads'])
    edge_index = torch.load(spec['graph'])
    adj = to_adjacency(edge_index, num_nodes=spec['nodes'])
    del edge_index
    h0 = random_membership(adj, spec['k'])
    base = rss_mb()
    reset_peak_rss()
    start = time.perf_counter()
    result = solve(adj, h0, 'anls', max_iter=spec['iters'], tol=0.0,
                   warn=False)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    spmm_s = sorted(_seconds(lambda: adj.csr @ h0) for _ in range(5))[2]
    return {'nodes': spec['nodes'],
            'nnz': adj.num_edges, 'k': spec['k'], 'iters': spec['iters'],
            'iter_s': round(seconds / spec['iters'], 4),
            'iter_in_spmms': round(seconds / spec['iters'] / spmm_s, 2),
            'base_rss_mb': round(base, 1),
            'peak_rss_mb': round(peak, 1),
            'solve_extra_mb': round(peak - base, 1),
            'final_loss': result.loss_curve[-1]}


def _seconds(fn) -> float:
    import time

    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def solver_iterations(args) -> list[dict]:
    """Time per ANLS iteration (also in bare SpMMs of the same width) and
    the memory the solve adds, each run in a fresh process (``--rounds``
    times)."""
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = f'{tmp}/graph.pt'
        for n in args.sizes:
            torch.save(random_graph(n, args.degree), path)
            for k in args.ks:
                for _ in range(args.rounds):
                    spec = {'graph': path, 'nodes': n, 'k': k,
                            'iters': args.iters,
                            'threads': torch.get_num_threads()}
                    row = _child(spec)
                    rows.append(row)
                    print(row, flush=True)
    return rows


# --------------------------------------------------------------------------
# Memory locality: A @ H after renumbering the nodes
# --------------------------------------------------------------------------

def renumbered(adj, perm: torch.Tensor):
    """``P A P^T`` for the new order ``perm`` (new node i = old perm[i])."""
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel())
    row, col = inv[adj.row()], inv[adj.col()]
    return to_adjacency(torch.stack([row, col]), adj.values,
                        adj.num_nodes, normalize=False)


def orders(adj, labels=None, parts: int = 256) -> dict:
    """``{name: (permutation, seconds to compute it)}``."""
    import time

    import numpy as np
    import scipy.sparse as sp
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    out = {}
    crow = adj.csr.crow_indices().numpy()
    col = adj.csr.col_indices().numpy()
    n = adj.num_nodes
    start = time.perf_counter()
    matrix = sp.csr_matrix((np.ones(col.size, dtype=np.float32), col, crow),
                           shape=(n, n))
    perm = reverse_cuthill_mckee(matrix, symmetric_mode=True)
    out['rcm'] = (torch.from_numpy(perm.astype(np.int64)),
                  time.perf_counter() - start)
    try:
        import pymetis
    except ImportError:
        print('NOTICE: pymetis not installed: no METIS order')
    else:
        start = time.perf_counter()
        _, membership = pymetis.part_graph(parts, xadj=crow, adjncy=col)
        perm = torch.argsort(torch.as_tensor(membership), stable=True)
        out[f'metis{parts}'] = (perm, time.perf_counter() - start)
    if labels is not None:
        start = time.perf_counter()
        out['planted_labels'] = (torch.argsort(labels, stable=True),
                                 time.perf_counter() - start)
    return out


def locality(args) -> list[dict]:
    """A @ H time in the given order and after each renumbering; the
    renumbering cost (order + permuting the CSR) and how many SpMMs repay
    it."""
    import time

    from common import planted_partition

    rows = []
    for n in args.sizes:
        graphs = {'random': (random_graph(n, args.degree), None),
                  'planted_shuffled': planted_partition(n, 50,
                                                        args.degree)}
        for name, (edge_index, labels) in graphs.items():
            adj = to_adjacency(edge_index, num_nodes=n)
            del edge_index
            for order, (perm, order_s) in orders(adj, labels).items():
                start = time.perf_counter()
                permuted = renumbered(adj, perm)
                permute_s = time.perf_counter() - start
                for k in args.ks:
                    h = torch.rand(n, k)
                    hp = h[perm]
                    t = interleaved_medians(
                        {'given': lambda: adj.csr @ h,
                         'renumbered': lambda: permuted.csr @ hp},
                        args.repeats)
                    cost = order_s + permute_s
                    gain = t['given'] - t['renumbered']
                    row = {'graph': name, 'nodes': n, 'nnz': adj.num_edges,
                           'k': k, 'order': order,
                           'spmm_given_s': round(t['given'], 4),
                           'spmm_renumbered_s': round(t['renumbered'], 4),
                           'speedup': round(t['given'] / t['renumbered'], 3),
                           'order_s': round(order_s, 3),
                           'permute_s': round(permute_s, 3),
                           'break_even_spmms': round(cost / gain, 1)
                           if gain > 0 else 'never'}
                    rows.append(row)
                    print(row, flush=True)
                del permuted
    return rows


# --------------------------------------------------------------------------
# Building the operator, in SpMMs of width 16
# --------------------------------------------------------------------------

def build_cost(num_nodes: int, num_pairs: int, repeats: int) -> list[dict]:
    """Time of ``to_adjacency`` (sorted and shuffled ``edge_index``) and of
    each of its phases, divided by the time of one CSR SpMM with a
    16-column dense matrix, interleaved; medians of ``repeats``."""
    import statistics
    import time

    from pyg_symnmf import adjacency as A
    from pyg_symnmf.testing import random_graph as package_graph

    n = num_nodes
    edge_index, _ = package_graph(n, num_pairs, seed=0, weighted=False)
    shuffled = edge_index[:, torch.randperm(
        edge_index.size(1), generator=torch.Generator().manual_seed(0))]
    adj = A.to_adjacency(edge_index, num_nodes=n)
    h = torch.rand(n, 16)

    def phases() -> dict:
        out = {}

        def lap(name, start):
            out[name] = time.perf_counter() - start
            return time.perf_counter()

        t = time.perf_counter()
        torch.sparse.mm(adj.csr, h)
        t = lap('spmm16', t)
        ei, value, _ = A._to_coo(edge_index, None, n)
        t = lap('read indices', t)
        value = A._check_values(value, None)
        t = lap('check weights', t)
        ei, value = A._coalesce(ei, value, n)
        t = lap('sortedness check', t)
        crow = A.row_pointers(ei[0], n)
        t = lap('row pointers', t)
        _, degree = A._probably_symmetric(ei, value, n, crow)
        t = lap('symmetry probe', t)
        value = A.normalized_values(ei, value, n, degree)
        t = lap('normalise', t)
        A.Adjacency(A.csr_matrix(ei[0], ei[1], value, (n, n), crow), value,
                    True)
        t = lap('csr and norm', t)
        A.to_adjacency(edge_index, num_nodes=n)
        t = lap('to_adjacency sorted', t)
        A.to_adjacency(shuffled, num_nodes=n)
        lap('to_adjacency shuffled', t)
        return out

    phases()  # warm-up
    runs = [phases() for _ in range(repeats)]
    spmm = statistics.median(r['spmm16'] for r in runs)
    return [{'num_nodes': n, 'nnz': adj.num_edges,
             'threads': torch.get_num_threads(), 'what': name,
             'seconds': statistics.median(r[name] for r in runs),
             'spmm16': statistics.median(r[name] for r in runs) / spmm}
            for name in runs[0]]


def _child(spec: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, '--child',
                          json.dumps(spec)], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--sizes', type=int, nargs='*',
                        default=[10_000, 100_000, 1_000_000])
    parser.add_argument('--ks', type=int, nargs='*', default=[8, 32, 128])
    parser.add_argument('--degree', type=float, default=20)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument('--quick', action='store_true',
                        help='tiny sizes for a smoke test')
    parser.add_argument('--solver', action='store_true',
                        help='time per ANLS iteration, also in bare SpMMs, '
                        'and the memory the solve adds (solver_cost.csv)')
    parser.add_argument('--locality', action='store_true',
                        help='A @ H after RCM / METIS / community '
                        'renumbering (locality.csv)')
    parser.add_argument('--build', action='store_true',
                        help='operator build in SpMMs of width 16, by '
                        'phase (build_cost.csv; N = 10^5, 10^6 pairs)')
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(solver_child(json.loads(args.child))))
        return
    torch.set_num_threads(args.threads)
    if args.quick:
        args.sizes, args.ks, args.repeats = [1000, 4000], [8], 2
        args.iters = 3
    print(machine())
    if args.build:
        n, pairs = (4000, 40_000) if args.quick else (100_000, 1_000_000)
        rows = build_cost(n, pairs, max(args.repeats, 3))
        for row in rows:
            print(f"{row['what']:24s} {row['seconds'] * 1e3:8.1f} ms "
                  f"{row['spmm16']:6.2f} SpMMs")
        print('wrote', write_csv('build_cost.csv', rows))
        return
    if args.solver or args.locality:
        if args.solver:
            print('wrote', write_csv('solver_cost.csv',
                                     solver_iterations(args)))
        if args.locality:
            print('wrote', write_csv('locality.csv', locality(args)))
        return
    rows = []
    for n in args.sizes:
        for k in args.ks:
            row = measure(n, k, args.degree, args.repeats)
            if not args.no_memory:
                for what in ('spmm', 'block', 'block_fwd_bwd'):
                    row[f'{what}_peak_mb'] = peak_memory(n, k, args.degree,
                                                         what)
            rows.append(row)
            print({key: round(v, 4) if isinstance(v, float) else v
                   for key, v in row.items()}, flush=True)
    print('wrote', write_csv('block_cost.csv', rows))
    print('wrote', plot(rows, 'block_cost.png'))
    for row in slopes(rows):
        print(row)


def slopes(rows: list[dict]) -> list[dict]:
    """Log-log slope of each measure against the number of nonzeros, per k
    (1 = linear in edges)."""
    import numpy as np

    out = []
    for k in sorted({r['k'] for r in rows}):
        sub = [r for r in rows if r['k'] == k]
        if len(sub) < 2:
            continue
        x = np.log([r['nnz'] for r in sub])
        out.append({'k': k, **{
            f'slope_{key}': round(float(np.polyfit(x, np.log(np.maximum(
                [r[key] for r in sub], 1e-9)), 1)[0]), 3)
            for key in ('spmm_s', 'block_fwd_s', 'block_fwd_bwd_s',
                        'block_peak_mb', 'block_fwd_bwd_peak_mb')
            if key in sub[0]}})
    return out


if __name__ == '__main__':
    main()
