"""Communities of a Planetoid citation graph (Cora by default), downloaded
by PyG on first use. Offline, it says so and exits with status 2."""
import argparse
import sys

from pyg_symnmf import SymNMFClustering, datasets, metrics

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument('--root', default='data/Planetoid')
parser.add_argument('--name', default='Cora')
parser.add_argument('--quick', action='store_true',
                    help='smoke run (this example is already quick)')
args = parser.parse_args()

try:
    data = datasets.planetoid(args.root, args.name)
except RuntimeError as err:
    print(err, file=sys.stderr)
    sys.exit(2)
k = int(data.y.max()) + 1
net = SymNMFClustering(k, method='net', seed=0).fit(data)  # pretrained
pred = net.labels_
print(f'{args.name}: ACC {metrics.clustering_accuracy(data.y, pred):.3f}  '
      f'NMI {metrics.nmi(data.y, pred):.3f}  '
      f'modularity {metrics.modularity(data.edge_index, pred):.3f}')
