"""Loss against sparse products (SpMMs, the dominant cost) and against
seconds on the digits graph: each classical solver (one run, its
per-iteration loss curve; every iteration is one SpMM, rejected safeguard
steps included; seconds = iteration x the run's mean time per iteration)
and trained SymNMF-Net at depths 5/10/20/50 (one point each: its final
loss, against its SpMMs and its inference time). All from the same random
start."""
from __future__ import annotations

import argparse

import torch

from common import digits_graph, machine, plot_curves, timed, write_csv
from pyg_symnmf import METHODS, SymNMFClustering
from pyg_symnmf.factorize import factorize
from pyg_symnmf.functional import symnmf_loss
from pyg_symnmf.init import random_membership

K = 10


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
        factorize(adj, K, method, max_iter=1, tol=0.0)  # warm-up
        result, seconds = timed(lambda method=method: factorize(
            adj, K, method, seed=args.seed, max_iter=args.iters, tol=0.0))
        per_iter = seconds / max(result.n_iter, 1)
        # SpMMs beyond one per iteration (the start's A H0).
        extra = result.n_spmm - result.n_iter
        rows += [{'method': method.upper(), 'iteration': i,
                  'seconds': i * per_iter, 'loss': loss,
                  'train_seconds': 0.0, 'n_spmm': i + extra}
                 for i, loss in enumerate(result.loss_curve)]
    for depth in args.depths:
        net, train = timed(lambda depth=depth: SymNMFClustering(
            K, method='net', pretrained=False, num_layers=depth,
            epochs=args.epochs,
            normalize=normalize, seed=args.seed, features=False).fit(data))
        h0 = random_membership(adj, K, args.seed)
        with torch.no_grad():
            h, infer = timed(lambda: net.model_(h0, adj))
        # depth blocks (one SpMM each) + the final loss's A H_T, as the
        # classical n_spmm counts.
        rows.append({'method': 'SymNMF-Net', 'iteration': depth,
                     'seconds': infer, 'loss': float(symnmf_loss(adj, h)),
                     'train_seconds': train, 'n_spmm': depth + 1})
        print(rows[-1], flush=True)
    print('wrote', write_csv('convergence.csv', rows))
    for method in METHODS:
        last = [r for r in rows if r['method'] == method.upper()][-1]
        print(f'{method.upper():5s} {last["iteration"]} it '
              f'({last["n_spmm"]} SpMMs): loss {last["loss"]:.4f} in '
              f'{last["seconds"]:.2f} s')
    plot(rows)


def plot(rows):
    best = min(r['loss'] for r in rows)
    curves = {}
    for method in dict.fromkeys(r['method'] for r in rows):
        sub = [r for r in rows if r['method'] == method]
        label = 'SymNMF-Net (trained, one point per depth)' \
            if method == 'SymNMF-Net' else method
        curves[label] = ([r['n_spmm'] for r in sub],
                         [r['loss'] - best + 1e-3 for r in sub])
    print('wrote', plot_curves(
        curves, 'convergence.png', logx=True,
        ylabel='loss - best loss + 1e-3',
        title=f'digits (k = {K}): convergence'))


if __name__ == '__main__':
    main()
