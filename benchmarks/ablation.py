"""The design choices of SymNMF-Net, measured on the digits graph: the
initial alpha (and whether it is learned), a bias, weights shared across
layers; and for classical ANLS (safeguarded, so alpha adapts from there),
the initial alpha from 0.01 to the safe floor of Zhu et al. (2018),
alpha > (||A||_2 + ||A - H0 H0^T||_F - sigma_min(A)) / 2 (given relative
to the operator's scale, as the solvers take it). Final loss and ACC, mean
over seeds, from the same random starts."""
from __future__ import annotations

import argparse

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from common import digits_graph, machine, train_net, write_csv
from pyg_symnmf import SymNMFNet, metrics, symnmf
from pyg_symnmf.functional import symnmf_loss
from pyg_symnmf.init import random_membership

VARIANTS = {
    'default (alpha 0.1, learned)': {},
    'alpha 0.01': {'alpha': 0.01},
    'alpha 1.0': {'alpha': 1.0},
    'alpha fixed': {'learn_alpha': False},
    'bias': {'bias': True},
    'shared weights': {'share_weights': True},
}


def safe_alpha(adj, k: int, seed: int) -> float:
    """Zhu et al.'s floor for the start of ``seed``, relative to
    ``adj.scale`` (the unit of the solvers' alpha)."""
    a = sp.csr_matrix((adj.values.detach().double().numpy(),
                       adj.col().numpy(), adj.csr.crow_indices().numpy()),
                      shape=(adj.num_nodes,) * 2)
    top = spla.eigsh(a, k=1, which='LA', return_eigenvectors=False)[0]
    low = spla.eigsh(a, k=1, which='SA', return_eigenvectors=False)[0]
    sigma_min = 0.0 if low < 0 < top else min(abs(low), abs(top))
    h0 = random_membership(adj, k, seed)
    residual = float(symnmf_loss(adj, h0)) ** 0.5
    floor = 0.5 * (max(abs(top), abs(low)) + residual - sigma_min)
    return floor / float(adj.scale)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--epochs', type=int, default=300)
    parser.add_argument('--layers', '--blocks', type=int, default=20,
                        dest='layers')
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.epochs, args.layers = 1, 2, 3
    print(machine())
    data, normalize, adj = digits_graph()
    rows = []
    for seed in range(args.seeds):
        for name, kwargs in VARIANTS.items():
            # The estimator builds only the default net: train the
            # variants with the same loop.
            net = SymNMFNet(10, num_layers=args.layers, normalize=normalize,
                            **kwargs)
            h0 = random_membership(adj, 10, seed)
            train_net(net, adj, h0, args.epochs)
            with torch.no_grad():
                h = net(h0, adj)
            rows.append({'model': 'SymNMF-Net', 'variant': name, 'seed': seed,
                         'alpha': kwargs.get('alpha', 0.1),
                         'loss': float(symnmf_loss(adj, h)),
                         'ACC': metrics.clustering_accuracy(data.y,
                                                            h.argmax(1))})
        for variant, alpha in [('alpha 0.01', 0.01), ('alpha 0.1', 0.1),
                               ('alpha 1.0', 1.0),
                               ('safe alpha', safe_alpha(adj, 10, seed))]:
            h = symnmf(adj, 10, alpha=alpha, seed=seed, max_iter=300, tol=0.0)
            rows.append({'model': 'ANLS 300 it', 'variant': variant,
                         'seed': seed, 'alpha': alpha,
                         'loss': float(symnmf_loss(adj, h)),
                         'ACC': metrics.clustering_accuracy(data.y,
                                                            h.argmax(1))})
    write_csv('ablation_runs.csv', rows)
    summary = []
    for key in dict.fromkeys((r['model'], r['variant']) for r in rows):
        sub = [r for r in rows if (r['model'], r['variant']) == key]
        summary.append({'model': key[0], 'variant': key[1], **{
            name: float(np.mean([r[name] for r in sub]))
            for name in ('alpha', 'loss', 'ACC')},
            'loss_std': float(np.std([r['loss'] for r in sub]))})
        print(summary[-1])
    print('wrote', write_csv('ablation.csv', summary))


if __name__ == '__main__':
    main()
