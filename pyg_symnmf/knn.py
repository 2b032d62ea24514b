r"""Similarity graphs from node features, as a PyG transform: the one
:math:`k`-NN graph builder of the package (below :mod:`pyg_symnmf.datasets`,
which builds the digits graph with it)."""
from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import coalesce

from .validation import check_number

__all__ = ['SelfTuningKNNGraph']


class SelfTuningKNNGraph(BaseTransform):
    r"""Builds a symmetric :math:`k`-NN similarity graph from ``data.x``
    with self-tuning local scaling (Zelnik-Manor & Perona, 2004):

    .. math::
        w_{ij} = \exp\!\big(-\|\mathbf{x}_i - \mathbf{x}_j\|^2 /
        (\sigma_i \sigma_j)\big)

    where :math:`\sigma_i` is the distance from node :math:`i` to its
    ``scale_neighbor``-th nearest neighbour. Node :math:`i` links to its
    ``num_neighbors`` nearest neighbours; the edge set is symmetrised (union)
    and the weights, symmetric by construction, are written to
    ``data.edge_index`` / ``data.edge_weight``. Neighbours come from
    scikit-learn's search (a tree, or brute force over memory-bounded chunks
    of rows), so no :math:`N \times N` distance matrix is ever formed.

    Args:
        num_neighbors (int): Neighbours per node. (default: :obj:`7`)
        scale_neighbor (int): Neighbour defining :math:`\sigma_i`.
            (default: :obj:`7`)
    """

    def __init__(self, num_neighbors: int = 7, scale_neighbor: int = 7):
        check_number('num_neighbors', num_neighbors, integer=True, low=1)
        check_number('scale_neighbor', scale_neighbor, integer=True, low=1)
        self.num_neighbors = num_neighbors
        self.scale_neighbor = scale_neighbor

    def forward(self, data: Data) -> Data:
        from sklearn.neighbors import NearestNeighbors

        x = getattr(data, 'x', None)
        if x is None or x.dim() != 2:
            raise ValueError(f"{self} needs node features 'data.x' of shape "
                             f"[num_nodes, num_features]")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("'data.x' contains NaN or Inf")
        n = x.size(0)
        m = max(self.num_neighbors, self.scale_neighbor)
        if n <= m:
            raise ValueError(f"{self} needs more than {m} nodes, got {n}")
        points = x.detach().cpu().double().numpy()
        dist, nbr = NearestNeighbors(n_neighbors=m + 1).fit(points) \
            .kneighbors(points)  # column 0 is the point itself
        sigma = np.maximum(dist[:, self.scale_neighbor], 1e-12)
        dist, nbr = dist[:, 1:self.num_neighbors + 1], nbr[:, 1:self.num_neighbors + 1]
        rows = np.repeat(np.arange(n), self.num_neighbors)
        cols = nbr.reshape(-1)
        weight = np.exp(-dist.reshape(-1)**2 / (sigma[rows] * sigma[cols]))
        edge_index = torch.from_numpy(np.stack([np.concatenate([rows, cols]),
                                                np.concatenate([cols, rows])]))
        edge_weight = torch.from_numpy(np.concatenate([weight, weight]))
        edge_index, edge_weight = coalesce(edge_index, edge_weight, n,
                                           reduce='max')
        data.edge_index = edge_index.to(x.device)
        data.edge_weight = edge_weight.to(x.device, torch.float32)
        return data

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_neighbors='
                f'{self.num_neighbors}, scale_neighbor={self.scale_neighbor})')
