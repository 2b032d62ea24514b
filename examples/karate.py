"""Communities of Zachary's karate club with a trained SymNMF-Net
(SymNMFClustering, method='net'), drawn to a PNG with pyg_symnmf.plot
(needs matplotlib: pip install 'pyg_symnmf[plot]')."""
import argparse

from pyg_symnmf import SymNMFClustering, datasets, metrics
from pyg_symnmf.plot import plot_communities

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument('--out', default='karate_communities.png')
parser.add_argument('--quick', action='store_true',
                    help='smoke run (this example is already quick)')
args = parser.parse_args()

data = datasets.karate()
# The pretrained net: spectral start + safeguarded blocks, no training.
net = SymNMFClustering(4, method='net', seed=0).fit(data)
communities = net.labels_
print(f'ACC {metrics.clustering_accuracy(data.y, communities):.3f}  '
      f'NMI {metrics.nmi(data.y, communities):.3f}  '
      f'modularity {metrics.modularity(data.edge_index, communities):.3f}')
plot_communities(data.edge_index, communities, data.num_nodes, args.out,
                 title='karate club: SymNMF-Net communities')
print(f'plot written to {args.out}')
