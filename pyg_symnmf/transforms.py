r"""PyG transforms: similarity graphs from features
(:class:`SelfTuningKNNGraph`, from :mod:`pyg_symnmf.knn`), and communities
written onto :class:`~torch_geometric.data.Data`.

For symmetric normalisation without self-loops use PyG's own
``torch_geometric.transforms.GCNNorm(add_self_loops=False)``; the models and
solvers here normalise by default, so a pre-normalised graph is factored
with ``normalize=False``.
"""
from __future__ import annotations

from typing import Optional, Union

from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from .estimator import SymNMFClustering
from .factorize import symnmf, validate_method
from .knn import SelfTuningKNNGraph
from .readout import normalize_rows
from .validation import check_rank, graph_inputs

__all__ = ['SelfTuningKNNGraph', 'DetectCommunities']


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
