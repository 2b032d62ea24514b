"""``pyg-symnmf``: community detection with SymNMF-Net and the classical
solvers on one graph, side by side.

With no arguments it factors Zachary's karate club (embedded in PyG) and
prints ACC, NMI, ARI, modularity, the SymNMF loss and the time of each
method.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from typing import Optional, Sequence

import torch
from torch_geometric.data import Data

from . import metrics
from .adjacency import to_adjacency
from .datasets import DATASETS, NORMALIZE
from .nn import SymNMFNet
from .solvers import METHODS, symnmf



def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='pyg-symnmf', description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--dataset', default='karate', choices=DATASETS,
                        help='embedded or generated graph to factor')
    parser.add_argument('-k', type=int, default=None,
                        help='number of communities (default: classes)')
    parser.add_argument('--blocks', type=int, default=20,
                        help='SymNMF-Net blocks')
    parser.add_argument('--epochs', type=int, default=300,
                        help='SymNMF-Net training epochs')
    parser.add_argument('--lr', type=float, default=0.01,
                        help="SymNMF-Net's Adam learning rate")
    parser.add_argument('--iters', type=int, default=300,
                        help='iterations of each classical solver')
    parser.add_argument('--methods', nargs='*', default=list(METHODS),
                        choices=METHODS, help='classical solvers to compare')
    parser.add_argument('--normalize', action=argparse.BooleanOptionalAction,
                        default=None, help='normalise the adjacency '
                        '(default: per dataset; off for digits)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--output', metavar='labels.csv',
                        help="write SymNMF-Net's community of each node")
    parser.add_argument('--plot', metavar='communities.png',
                        help='draw the graph coloured by community')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress bar')
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> list[dict]:
    """Factors the chosen dataset with every method; one result row each."""
    torch.manual_seed(args.seed)
    data: Data = DATASETS[args.dataset](seed=args.seed) \
        if args.dataset in ('sbm', 'lfr') else DATASETS[args.dataset]()
    data = data.to(args.device)
    k = args.k if args.k is not None else int(data.y.max()) + 1
    normalize = NORMALIZE[args.dataset] if args.normalize is None \
        else args.normalize
    adj = to_adjacency(data.edge_index, data.get('edge_weight'),
                       data.num_nodes, normalize=normalize)
    rows = []

    start = time.perf_counter()
    net = SymNMFNet(k, num_blocks=args.blocks, normalize=normalize,
                    seed=args.seed).to(args.device)
    net.fit(data, epochs=args.epochs, lr=args.lr, progress=not args.quiet)
    h = net.embed(data)
    rows.append(_row(f'SymNMF-Net ({args.blocks} blocks, trained)', h, adj,
                     data, time.perf_counter() - start))
    labels = h.argmax(dim=1)
    for method in args.methods:
        start = time.perf_counter()
        h = symnmf(adj, k, method=method, max_iter=args.iters, tol=0.0,
                   seed=args.seed)
        rows.append(_row(f'{method.upper()} ({args.iters} iters)', h, adj,
                         data, time.perf_counter() - start))
    if args.output:
        with open(args.output, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['node', 'community'])
            writer.writerows(enumerate(labels.tolist()))
    if args.plot:
        plot_communities(data, labels, args.plot)
    return rows


def _row(name: str, h: torch.Tensor, adj, data: Data, seconds: float) -> dict:
    return {'method': name, **metrics.report(data, h.argmax(dim=1), h, adj),
            'time_s': seconds}


def format_table(rows: list[dict]) -> str:
    columns = list(rows[0])
    cells = [[f'{r[c]:.4f}' if isinstance(r[c], float) else str(r[c])
              for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells))
              for i, c in enumerate(columns)]
    lines = ['  '.join(c.ljust(w) for c, w in zip(columns, widths)),
             '  '.join('-' * w for w in widths)]
    lines += ['  '.join(v.ljust(w) for v, w in zip(row, widths))
              for row in cells]
    return '\n'.join(lines)


def plot_communities(data: Data, labels: torch.Tensor, path: str) -> None:
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise SystemExit("--plot needs matplotlib: pip install "
                         "'pyg_symnmf[plot]'") from err
    import networkx as nx
    from torch_geometric.utils import to_networkx

    graph = to_networkx(Data(edge_index=data.edge_index.cpu(),
                             num_nodes=data.num_nodes), to_undirected=True)
    pos = nx.spring_layout(graph, seed=0)
    fig, ax = plt.subplots(figsize=(6, 6))
    nx.draw_networkx(graph, pos, ax=ax, node_color=labels.cpu().numpy(),
                     cmap='tab10', with_labels=data.num_nodes <= 100,
                     node_size=120 if data.num_nodes <= 100 else 10,
                     width=0.3, font_size=7)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        rows = run(args)
    except (ValueError, TypeError, RuntimeError) as err:
        print(f'pyg-symnmf: error: {err}', file=sys.stderr)
        return 2
    print(f'dataset: {args.dataset}')
    print(format_table(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
