"""Loss against iterations and against seconds on the digits graph: each
classical solver (one run, per-iteration losses; seconds = iteration x the
run's mean time per iteration) and trained SymNMF-Net at depths 5/10/20/50
(one point each: its final loss, against its depth and its inference
time). All from the same random start."""
from __future__ import annotations

import argparse
import time

import torch

from common import digits_graph, machine, output_path, write_csv
from pyg_symnmf import METHODS, SymNMFNet, symnmf
from pyg_symnmf.functional import symnmf_loss


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--depths', type=int, nargs='*',
                        default=[5, 10, 20, 50])
    parser.add_argument('--epochs', type=int, default=500)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args()
    if args.quick:
        args.iters, args.depths, args.epochs = 10, [2, 4], 3
    print(machine())
    data, normalize, adj = digits_graph()
    rows = []
    for method in METHODS:
        start = time.perf_counter()
        _, history = symnmf(adj, 10, method=method, seed=args.seed,
                            max_iter=args.iters, tol=0.0, return_history=True)
        per_iter = (time.perf_counter() - start) / args.iters
        rows += [{'method': method.upper(), 'iteration': i,
                  'seconds': i * per_iter, 'loss': loss,
                  'train_seconds': 0.0} for i, loss in enumerate(history)]
    for depth in args.depths:
        net = SymNMFNet(10, num_blocks=depth, normalize=normalize,
                        seed=args.seed)
        start = time.perf_counter()
        net.fit(data, epochs=args.epochs, progress=False)
        train = time.perf_counter() - start
        with torch.no_grad():
            start = time.perf_counter()
            h = net(adj)
            infer = time.perf_counter() - start
        rows.append({'method': 'SymNMF-Net', 'iteration': depth,
                     'seconds': infer, 'loss': float(symnmf_loss(adj, h)),
                     'train_seconds': train})
        print(rows[-1], flush=True)
    print('wrote', write_csv('convergence.csv', rows))
    for method in METHODS:
        last = [r for r in rows if r['method'] == method.upper()][-1]
        print(f'{method.upper():5s} {args.iters} it: loss {last["loss"]:.4f}'
              f' in {last["seconds"]:.2f} s')
    plot(rows, output_path('convergence.png'))


def plot(rows, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    best = min(r['loss'] for r in rows)
    for method in dict.fromkeys(r['method'] for r in rows):
        sub = [r for r in rows if r['method'] == method]
        style = dict(marker='o', linestyle='none', color='k', zorder=3) \
            if method == 'SymNMF-Net' else {}
        sub = [r for r in sub if r['iteration'] > 0]  # log axis
        for ax, x in zip(axes, ('iteration', 'seconds')):
            ax.plot([r[x] for r in sub], [r['loss'] - best + 1e-3
                                           for r in sub], label=method,
                    **style)
    for ax, x in zip(axes, ('iterations / blocks', 'seconds (inference)')):
        ax.set_xlabel(x)
        ax.set_yscale('log')
        ax.set_ylabel('loss - best loss + 1e-3')
    axes[0].set_xscale('log')
    axes[0].legend()
    fig.suptitle('digits (k = 10): convergence')
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == '__main__':
    main()
