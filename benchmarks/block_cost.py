"""Cost of one SymNMF-Net block against the bare sparse-dense product
A @ H of the same shape (the floor), measured interleaved in one process:
median of --repeats runs of forward, and of forward + backward. Peak memory
of each configuration comes from a fresh subprocess."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch

from common import (interleaved_medians, machine, output_path,
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


def plot(rows: list[dict], path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for k in sorted({r['k'] for r in rows}):
        sub = [r for r in rows if r['k'] == k]
        nnz = [r['nnz'] for r in sub]
        for key, style in [('spmm_s', ':'), ('block_fwd_s', '-'),
                           ('block_fwd_bwd_s', '--')]:
            ax.loglog(nnz, [r[key] for r in sub], style, marker='o',
                      label=f'k={k} {key[:-2]}')
    ax.set_xlabel('stored nonzeros of A')
    ax.set_ylabel('seconds (median)')
    ax.set_title('SymNMF-Net block vs A@H floor')
    ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


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
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.ks, args.repeats = [1000, 4000], [8], 2
    print(machine())
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
    plot(rows, output_path('block_cost.png'))
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
