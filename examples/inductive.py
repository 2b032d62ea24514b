"""Inductive use: a SymNMF-Net trained on a batch of generated graphs
factors held-out graphs without retraining. Compared with classical ANLS
run for the same number of iterations from the same start (mean +- std NMI
over seeds)."""
import argparse

import numpy as np
import torch
from torch_geometric.data import Batch

from pyg_symnmf import SymNMFNet, datasets, metrics, symnmf, to_adjacency
from pyg_symnmf.functional import sq_norm_per_graph, symnmf_loss
from pyg_symnmf.init import random_membership
from pyg_symnmf.threads import thread_limit
from pyg_symnmf.training import train


def graphs(count, seed):
    rng = np.random.default_rng(seed)
    return [datasets.sbm(tuple(rng.integers(30, 60, size=4)), p_in=0.3,
                         p_out=0.03, seed=seed * 1000 + i)
            for i in range(count)]


def fit_on_batch(net, batch, seed, epochs, lr):
    """Trains ``net`` on every graph of ``batch`` at once, without labels:
    the mean over graphs of each one's SymNMF loss relative to its
    ||A_b||_F^2, from each graph's own random start."""
    adj = to_adjacency(batch.edge_index, num_nodes=batch.num_nodes)
    h0 = random_membership(adj, net.k, seed, batch=batch.batch)
    sq_norm = sq_norm_per_graph(adj, batch.batch).clamp_min(1e-12)

    def loss_fn():
        h = net(h0, adj, batch=batch.batch)
        return (symnmf_loss(adj, h, batch=batch.batch) / sq_norm).mean()

    return train(net, loss_fn, epochs=epochs, lr=lr)


parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument('--seeds', type=int, default=5)
parser.add_argument('--layers', '--blocks', type=int, default=5,
                    dest='layers')
parser.add_argument('--quick', action='store_true', help='one small run')
args = parser.parse_args()
seeds = 1 if args.quick else args.seeds

net_nmi, anls_nmi = [], []
num_train = 4 if args.quick else 20
# This script's own loops (generation, training, held-out inference) run
# with the thread count that suits their size, as the library's entry
# points do: at most 240 nodes of about 40 neighbours per graph, k = 4, so
# one thread (PyTorch's default thrashes on a busy machine).
with thread_limit(None, work=num_train * 240 * 40 * 4):
    for seed in range(seeds):
        train_batch = Batch.from_data_list(graphs(num_train, seed))
        net = SymNMFNet(4, num_layers=args.layers)
        fit_on_batch(net, train_batch, seed,
                     epochs=5 if args.quick else 200, lr=0.02)
        for data in graphs(2 if args.quick else 10, 100 + seed):
            adj = to_adjacency(data.edge_index, num_nodes=data.num_nodes)
            h0 = random_membership(adj, 4, seed)
            with torch.no_grad():
                h_net = net(h0, adj)
            h_anls = symnmf(adj, 4, h0=h0, max_iter=args.layers, tol=0.0)
            net_nmi.append(metrics.nmi(data.y, h_net.argmax(1)))
            anls_nmi.append(metrics.nmi(data.y, h_anls.argmax(1)))

print(f'held-out graphs, {args.layers} layers / iterations, {seeds} seed(s)')
print(f'SymNMF-Net (trained elsewhere) NMI {np.mean(net_nmi):.3f} +- '
      f'{np.std(net_nmi):.3f}')
print(f'ANLS                           NMI {np.mean(anls_nmi):.3f} +- '
      f'{np.std(anls_nmi):.3f}')
