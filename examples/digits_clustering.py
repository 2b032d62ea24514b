"""Image clustering on scikit-learn's digits (1797 images, 10 classes): a
self-tuning 7-NN similarity graph factored by SymNMF-Net (20 trained
layers), by 300 classical ANLS iterations from the same start, and by
spectral clustering."""
import argparse
import time

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import SpectralClustering

from pyg_symnmf import (SymNMFClustering, datasets, metrics, symnmf,
                        symnmf_loss)

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument('--seeds', type=int, default=1)
parser.add_argument('--epochs', type=int, default=500)
parser.add_argument('--quick', action='store_true', help='few epochs')
args = parser.parse_args()
epochs = 10 if args.quick else args.epochs

data = datasets.digits()
n = data.num_nodes
rows = {'SymNMF-Net (20 blocks)': [], 'ANLS (300 iters)': [],
        'spectral clustering': []}
for seed in range(args.seeds):
    # Raw kernel similarities: see the README for the measured choice.
    start = time.perf_counter()
    net = SymNMFClustering(10, method='net', pretrained=False,
                           num_layers=20, epochs=epochs, normalize=False,
                           seed=seed).fit(data)
    h = net.embedding_
    net_time = time.perf_counter() - start
    start = time.perf_counter()
    h_anls = symnmf(data.edge_index, 10, data.edge_weight, method='anls',
                    normalize=False, seed=seed, max_iter=300, tol=0.0)
    anls_time = time.perf_counter() - start
    start = time.perf_counter()
    a = sp.csr_matrix((data.edge_weight.numpy(), data.edge_index.numpy()),
                      shape=(n, n))
    spectral = SpectralClustering(10, affinity='precomputed',
                                  random_state=seed).fit_predict(a)
    spectral_time = time.perf_counter() - start
    for name, pred, loss, sec in [
            ('SymNMF-Net (20 blocks)', h.argmax(1), h, net_time),
            ('ANLS (300 iters)', h_anls.argmax(1), h_anls, anls_time),
            ('spectral clustering', spectral, None, spectral_time)]:
        loss = float('nan') if loss is None else float(symnmf_loss(
            data.edge_index, loss, data.edge_weight, normalize=False))
        rows[name].append((metrics.clustering_accuracy(data.y, pred),
                           metrics.nmi(data.y, pred), loss, sec))

print(f'digits, mean over {args.seeds} seed(s)')
print(f'{"method":24s} {"ACC":>6s} {"NMI":>6s} {"loss":>10s} {"time_s":>7s}')
for name, values in rows.items():
    acc, nmi, loss, sec = np.mean(values, axis=0)
    print(f'{name:24s} {acc:6.3f} {nmi:6.3f} {loss:10.3f} {sec:7.2f}')
