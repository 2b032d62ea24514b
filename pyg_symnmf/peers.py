r"""The peers the command line and the benchmarks compare with, in one
place (each needs the ``peers`` extra):

- :func:`leiden`: Leiden's modularity partition (leidenalg on igraph);
- :func:`spectral_clustering`: scikit-learn's spectral clustering of the
  adjacency;
- :func:`gcn_pool_clustering`: learned unsupervised peers for attributed
  graphs, as in PyG's examples: a 2-layer GCN (64 hidden, ReLU) then
  ``DMoNPooling`` (spectral + cluster + orthogonality loss) or a linear
  assignment and ``dense_mincut_pool`` (mincut + orthogonality loss),
  trained full-graph with Adam on the dense adjacency: :math:`O(N^2)`
  memory, so only for graphs up to a few thousand nodes.

Graphs are given as a symmetric ``edge_index`` (both directions of every
edge) with optional ``edge_weight``; every function returns one community
per node, shape :math:`(N,)`."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

__all__ = ['leiden', 'spectral_clustering', 'GCNPool',
           'gcn_pool_clustering', 'POOL_KINDS']


def leiden(edge_index: Tensor, num_nodes: int,
           edge_weight: Optional[Tensor] = None, *, seed: int = 0,
           resolution: float = 1.0) -> Tensor:
    r"""Leiden's partition maximising modularity at resolution
    :math:`\gamma` (leidenalg's ``ModularityVertexPartition``, or
    ``RBConfigurationVertexPartition`` when :math:`\gamma \ne 1`)."""
    import igraph
    import leidenalg

    edge_index = edge_index.cpu()
    upper = edge_index[0] < edge_index[1]
    graph = igraph.Graph(n=int(num_nodes),
                         edges=edge_index[:, upper].t().tolist())
    weights = None if edge_weight is None else \
        edge_weight.detach().cpu()[upper].tolist()
    if resolution == 1.0:
        part = leidenalg.find_partition(
            graph, leidenalg.ModularityVertexPartition, weights=weights,
            seed=seed)
    else:
        part = leidenalg.find_partition(
            graph, leidenalg.RBConfigurationVertexPartition,
            weights=weights, resolution_parameter=resolution, seed=seed)
    return torch.as_tensor(part.membership, dtype=torch.long)


def spectral_clustering(edge_index: Tensor, num_nodes: int, k: int,
                        edge_weight: Optional[Tensor] = None, *,
                        seed: int = 0, assign_labels: str = 'kmeans'
                        ) -> Tensor:
    """scikit-learn's ``SpectralClustering`` of the weighted adjacency
    (``affinity='precomputed'``); ``assign_labels`` as scikit-learn's
    (``"cluster_qr"`` needs scikit-learn 1.1). Its warnings (a graph that
    is not connected) are the caller's to show or silence."""
    import scipy.sparse
    from sklearn.cluster import SpectralClustering

    row, col = edge_index.cpu().numpy()
    values = np.ones(row.size) if edge_weight is None else \
        edge_weight.detach().cpu().double().numpy()
    n = int(num_nodes)
    matrix = scipy.sparse.csr_matrix((values, (row, col)), shape=(n, n))
    model = SpectralClustering(k, affinity='precomputed',
                               assign_labels=assign_labels,
                               random_state=seed)
    return torch.as_tensor(model.fit_predict(matrix), dtype=torch.long)

POOL_KINDS = ('DMoN', 'MinCut')


class GCNPool(torch.nn.Module):
    """A 2-layer GCN, then DMoN's or MinCutPool's soft assignment.

    Args:
        in_channels (int): Feature width.
        k (int): Number of clusters.
        kind (str): ``"DMoN"`` or ``"MinCut"``.
        hidden (int): GCN width. (default: 64)
    """

    def __init__(self, in_channels: int, k: int, kind: str,
                 hidden: int = 64) -> None:
        super().__init__()
        from torch_geometric.nn import DMoNPooling
        from torch_geometric.nn.models import GCN

        if kind not in POOL_KINDS:
            raise ValueError(f"Unknown kind {kind!r}; use one of "
                             f"{POOL_KINDS}")
        self.kind = kind
        self.gcn = GCN(in_channels, hidden, num_layers=2)
        self.assign = DMoNPooling(hidden, k) if kind == 'DMoN' \
            else torch.nn.Linear(hidden, k)

    def forward(self, x: Tensor, edge_index: Tensor, adj: Tensor
                ) -> tuple[Tensor, Tensor]:
        """Soft assignment :math:`(N, k)` and the unsupervised loss."""
        from torch_geometric.nn import dense_mincut_pool

        h = self.gcn(x, edge_index).relu()
        if self.kind == 'DMoN':
            s, _, _, spectral, ortho, cluster = self.assign(h, adj)
            return s[0], spectral + cluster + ortho
        s = self.assign(h)
        _, _, mincut, ortho = dense_mincut_pool(h, adj, s)
        return s, mincut + ortho


def gcn_pool_clustering(data: Data, k: int, kind: str = 'DMoN', *,
                        epochs: int = 500, lr: float = 1e-3,
                        seed: int = 0) -> Tensor:
    """Trains :class:`GCNPool` on ``data`` (``x``, ``edge_index``) without
    labels; returns the hard clusters, shape :math:`(N,)`."""
    from torch_geometric.utils import to_dense_adj

    x = data.x.to_dense() if data.x.is_sparse else data.x
    x = x.float()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GCNPool(x.size(1), k, kind)
        adj = to_dense_adj(data.edge_index, max_num_nodes=data.num_nodes)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(epochs):
            optimizer.zero_grad()
            _, loss = model(x, data.edge_index, adj)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            s, _ = model(x, data.edge_index, adj)
    return s.argmax(1)
