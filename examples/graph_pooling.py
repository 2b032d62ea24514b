"""Graph classification with SymNMFPooling on generated graphs: class 0 has
two planted communities, class 1 has four. A GCN layer, SymNMF pooling to
k = 4 clusters (its loss as an auxiliary term), and a linear classifier."""
import argparse

import torch
import torch.nn.functional as F
from torch_geometric.data import Batch
from torch_geometric.nn import GCNConv

from pyg_symnmf import SymNMFPooling, datasets


def make_graphs(count, seed):
    graphs = []
    for i in range(count):
        label = i % 2
        sizes = (20, 20) if label == 0 else (10, 10, 10, 10)
        data = datasets.sbm(sizes, p_in=0.5, p_out=0.03, seed=seed + i)
        data.x = torch.ones(data.num_nodes, 1)
        data.y = torch.tensor([label])
        graphs.append(data)
    return graphs


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = GCNConv(1, 16)
        self.pool = SymNMFPooling(16, k=4, num_layers=3)
        self.out = torch.nn.Linear(16 + 16, 2)

    def forward(self, batch):
        x = F.relu(self.conv(batch.x, batch.edge_index))
        pooled_x, pooled_adj, aux, _ = self.pool(x, batch.edge_index,
                                                 batch=batch.batch)
        # Spread of the pooled adjacency tells 2 from 4 communities.
        adj_profile = pooled_adj.flatten(1).sort(dim=1).values
        return self.out(torch.cat([pooled_x.mean(1), adj_profile], 1)), aux


parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument('--quick', action='store_true', help='a few epochs')
args = parser.parse_args()
torch.manual_seed(0)
train = Batch.from_data_list(make_graphs(40 if not args.quick else 8, 0))
test = Batch.from_data_list(make_graphs(20 if not args.quick else 4, 1000))
model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
for _ in range(5 if args.quick else 150):
    optimizer.zero_grad()
    logits, aux = model(train)
    loss = F.cross_entropy(logits, train.y) + aux
    loss.backward()
    optimizer.step()
model.eval()
with torch.no_grad():
    accuracy = (model(test)[0].argmax(1) == test.y).float().mean()
print(f'train loss {loss.item():.3f}  aux {aux.item():.3f}  '
      f'test accuracy {float(accuracy):.3f}')
