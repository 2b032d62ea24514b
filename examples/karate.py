"""Communities of Zachary's karate club with a trained SymNMF-Net, drawn to
a PNG (needs matplotlib: pip install 'pyg_symnmf[plot]')."""
import argparse

from pyg_symnmf import SymNMFNet, datasets, metrics
from pyg_symnmf.cli import plot_communities

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument('--out', default='karate_communities.png')
parser.add_argument('--quick', action='store_true', help='few epochs')
args = parser.parse_args()

data = datasets.karate()
net = SymNMFNet(k=4, num_blocks=20).fit(data, epochs=20 if args.quick
                                        else 300, progress=False)
communities = net.predict(data)
print(f'ACC {metrics.clustering_accuracy(data.y, communities):.3f}  '
      f'NMI {metrics.nmi(data.y, communities):.3f}  '
      f'modularity {metrics.modularity(data.edge_index, communities):.3f}')
plot_communities(data, communities, args.out)
print(f'plot written to {args.out}')
