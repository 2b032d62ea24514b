r"""PyG transforms: similarity graphs from features, and communities written
onto :class:`~torch_geometric.data.Data`.

For symmetric normalisation without self-loops use PyG's own
``torch_geometric.transforms.GCNNorm(add_self_loops=False)``; the models and
solvers here normalise by default, so a pre-normalised graph is factored
with ``normalize=False``.
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import coalesce

from .estimator import SymNMFClustering
from .factorize import symnmf, validate_method
from .readout import normalize_rows
from .validation import check_number, check_rank, graph_inputs

__all__ = ['SelfTuningKNNGraph', 'DetectCommunities']


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


class DetectCommunities(BaseTransform):
    r"""Writes soft memberships ``data.membership`` (:math:`N \times k`, rows
    summing to one) and hard communities ``data.community`` (:math:`N`).

    By default each graph (each graph of a :class:`~torch_geometric.data.Batch`
    on its own) is factored by :func:`~pyg_symnmf.symnmf` with ``method``;
    with a fitted :class:`~pyg_symnmf.SymNMFClustering` as ``estimator``,
    its :meth:`~pyg_symnmf.SymNMFClustering.transform` is used instead.
    When ``data.x`` exists, the factored operator is
    :func:`~pyg_symnmf.features.feature_graph` of the graph and the
    features (``features=False`` factors the graph alone).

    Args:
        k (int or str): Number of communities (of every graph), or
            ``"auto"`` to choose it per graph (see
            :func:`~pyg_symnmf.factorize.select_k`; rows are then padded to
            the largest chosen :math:`k`). (default: :obj:`"auto"`)
        method (str): A method of :func:`~pyg_symnmf.symnmf`.
            (default: :obj:`"anls"`)
        estimator (SymNMFClustering, optional): A fitted estimator.
        features (bool): Use ``data.x`` when present. (default:
            :obj:`True`)
        **kwargs: Further :func:`~pyg_symnmf.symnmf` arguments.
    """

    def __init__(self, k: Union[int, str] = 'auto', method: str = 'anls',
                 estimator: Optional[SymNMFClustering] = None,
                 features: bool = True, **kwargs) -> None:
        if estimator is not None and not isinstance(estimator,
                                                    SymNMFClustering):
            raise TypeError(f"'estimator' must be a SymNMFClustering, got "
                            f"{type(estimator).__name__}")
        self.k = k if k == 'auto' else check_rank(k)
        self.method = validate_method(method)
        self.estimator = estimator
        self.features = features
        self.kwargs = kwargs

    def forward(self, data: Data) -> Data:
        if self.estimator is not None:
            data.membership = self.estimator.transform(data)
        else:
            graph, edge_weight, x, batch = graph_inputs(data)
            h = symnmf(graph, self.k, edge_weight, data.num_nodes,
                       method=self.method, batch=batch, x=x,
                       features=self.features, **self.kwargs)
            data.membership = normalize_rows(h)
        data.community = data.membership.argmax(dim=1)
        return data

    def __repr__(self) -> str:
        if self.estimator is not None:
            return f'{self.__class__.__name__}(estimator={self.estimator!r})'
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'method={self.method!r})')
