"""Preprocessing as PyG transforms: node features -> self-tuning kNN
similarity graph -> communities written to data.membership /
data.community, composed with torch_geometric.transforms.Compose."""
import argparse

import torch
import torch_geometric.transforms as T
from sklearn.datasets import load_digits
from torch_geometric.data import Data

from pyg_symnmf import metrics
from pyg_symnmf.transforms import DetectCommunities, SelfTuningKNNGraph

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument('--quick', action='store_true', help='fewer images')
args = parser.parse_args()

x, y = load_digits(return_X_y=True)
n = 400 if args.quick else len(y)
data = Data(x=torch.from_numpy(x[:n]).float(), y=torch.from_numpy(y[:n]))
transform = T.Compose([
    SelfTuningKNNGraph(num_neighbors=7),
    DetectCommunities(k=10, method='anls', normalize=False, max_iter=2000),
])
print(transform)
data = transform(data)
print(data)
print(f'ACC {metrics.clustering_accuracy(data.y, data.community):.3f}  '
      f'NMI {metrics.nmi(data.y, data.community):.3f}')
