"""SymNMF memberships as node features downstream: fit SymNMFClustering
without labels (with a GCN encoder, and without one) on a contextual SBM,
then train scikit-learn's default LogisticRegression on 20% of the labels
and report test accuracy against chance (1/k) and the raw node features.
``transform(data)`` (rows sum to one) is compared with the raw memberships
``embedding_`` (un-normalised H)."""
import argparse
import time

import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from pyg_symnmf import SymNMFClustering, datasets

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('--quick', action='store_true', help='small and fast')
parser.add_argument('--graph-signal', type=float, default=1.5)
parser.add_argument('--feature-signal', type=float, default=1.0)
args = parser.parse_args()
torch.set_num_threads(1)
start = time.perf_counter()

k = 4
n = 400 if args.quick else 2000
data = datasets.contextual_sbm(n, k, args.graph_signal, args.feature_signal,
                               seed=0)
y = data.y.numpy()
train, test = train_test_split(torch.arange(n).numpy(), train_size=0.2,
                               stratify=y, random_state=0)


def accuracy(features) -> float:
    features = features.detach().numpy() if torch.is_tensor(features) \
        else features
    clf = LogisticRegression().fit(features[train], y[train])
    return clf.score(features[test], y[test])


epochs = {'GCN encoder': 20 if args.quick else None,  # None: the default
          'no encoder': 20 if args.quick else None}
rows = [('chance (1/k)', 1 / k), ('raw features x', accuracy(data.x))]
for name, encoder in [('GCN encoder', 'gcn'), ('no encoder', None)]:
    est = SymNMFClustering(k, method='net', encoder=encoder,
                           epochs=epochs[name], seed=0).fit(data)
    rows.append((f'{name}: transform(data) (rows sum to 1)',
                 accuracy(est.transform(data))))
    rows.append((f'{name}: raw embedding_ (H)', accuracy(est.embedding_)))

print(f'contextual SBM: N={n}, k={k}, graph signal {args.graph_signal}, '
      f'feature signal {args.feature_signal}; LogisticRegression() on a '
      f'20% train split, test accuracy:')
for name, acc in rows:
    print(f'  {name:45s} {acc:.3f}')
print(f'({time.perf_counter() - start:.1f} s)')
