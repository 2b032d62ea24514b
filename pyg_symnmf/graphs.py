r"""The graph types users already hold, turned into PyG's.

Every entry point that takes a graph (:func:`~pyg_symnmf.to_adjacency`,
and so :func:`~pyg_symnmf.symnmf`, the metrics and the estimator) accepts,
besides PyG's own forms, a :class:`~torch_geometric.data.Data`, a SciPy
sparse matrix or array (what ``SpectralClustering(affinity='precomputed')``,
networkx and igraph users have), a networkx graph (its ``weight`` edge
attribute, nodes in ``G.nodes`` order) and a dense NumPy array. Weights
arrive as float32 (PyG's default), and a graph whose weights are all one
is unweighted, so each form gives the answer its ``Data`` gives.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor
from torch_geometric import EdgeIndex
from torch_geometric.data import Data

__all__ = ['is_external_graph', 'as_data', 'external_to_coo']


def _is_scipy_sparse(graph: Any) -> bool:
    return type(graph).__module__.startswith('scipy.sparse')


def _is_networkx(graph: Any) -> bool:
    return type(graph).__module__.startswith('networkx')


def is_external_graph(graph: Any) -> bool:
    """Whether ``graph`` is a SciPy sparse matrix, a networkx graph or a
    NumPy array (the forms this module converts)."""
    return _is_scipy_sparse(graph) or _is_networkx(graph) or \
        isinstance(graph, np.ndarray)


def external_to_coo(graph: Any) -> tuple[Tensor, Optional[Tensor], int]:
    """``(edge_index, edge_weight or None, num_nodes)`` of a SciPy sparse
    matrix, a networkx graph or a dense NumPy adjacency."""
    if _is_networkx(graph):
        import networkx as nx
        graph = nx.to_scipy_sparse_array(graph, nodelist=list(graph.nodes),
                                         weight='weight', format='coo')
    elif isinstance(graph, np.ndarray):
        if graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
            raise ValueError(f"A dense adjacency must be square, got shape "
                             f"{list(graph.shape)}")
        row, col = np.nonzero(graph)
        return _coo(row, col, graph[row, col], graph.shape[0])
    if graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
        raise ValueError(f"The adjacency matrix must be square, got shape "
                         f"{list(graph.shape)}")
    coo = graph.tocoo()
    return _coo(coo.row, coo.col, coo.data, graph.shape[0])


def _coo(row: np.ndarray, col: np.ndarray, values: np.ndarray, n: int
         ) -> tuple[Tensor, Optional[Tensor], int]:
    if np.iscomplexobj(values):
        raise TypeError("Edge weights must be real, got complex values")
    edge_index = torch.from_numpy(np.stack([row, col]).astype(np.int64))
    values = np.asarray(values)
    if values.dtype == np.bool_ or bool(np.all(values == 1)):
        return edge_index, None, int(n)
    weight = torch.from_numpy(np.asarray(values, dtype=np.float64))
    # float32 as PyG's default, unless float32 cannot hold the weights.
    if bool((weight.abs() <= torch.finfo(torch.float32).max).all()):
        weight = weight.float()
    return edge_index, weight, int(n)


def as_data(graph: Any, edge_weight: Optional[Tensor] = None,
            num_nodes: Optional[int] = None) -> Data:
    """A :class:`~torch_geometric.data.Data` of any accepted graph: a
    ``Data`` as it is, an ``edge_index`` (with ``edge_weight``), a
    :class:`torch.sparse` or dense tensor or an
    :class:`~pyg_symnmf.Adjacency` (as ``adj_t``), a SciPy sparse matrix, a
    networkx graph or a NumPy array."""
    if isinstance(graph, Data):
        if edge_weight is not None:
            raise ValueError("'edge_weight' is only accepted with an "
                             "'edge_index'; a Data carries its own")
        return graph
    if is_external_graph(graph):
        edge_index, weight, n = external_to_coo(graph)
        data = Data(edge_index=edge_index, num_nodes=n)
        if weight is not None:
            data.edge_weight = weight
        return data
    if isinstance(graph, Tensor) and not graph.is_floating_point() and \
            graph.layout == torch.strided:
        if num_nodes is None:  # as to_adjacency infers it
            sizes = graph.sparse_size() if isinstance(graph, EdgeIndex) \
                else (None,)
            num_nodes = next((s for s in sizes if s is not None), None)
            if num_nodes is None:
                num_nodes = int(graph.max()) + 1 if graph.numel() else 0
        data = Data(edge_index=graph, num_nodes=num_nodes)
        if edge_weight is not None:
            data.edge_weight = edge_weight
        return data
    if isinstance(graph, Tensor) or type(graph).__name__ == 'SparseTensor':
        return Data(adj_t=graph, num_nodes=int(graph.size(0)))
    from .adjacency import Adjacency  # it imports this module

    if isinstance(graph, Adjacency):  # a built operator, used as it is
        return Data(adj_t=graph, num_nodes=graph.num_nodes)
    raise TypeError(f"Expected a graph: a torch_geometric Data, an "
                    f"'edge_index', a torch.sparse or dense tensor, a "
                    f"SparseTensor, a SciPy sparse matrix, a networkx graph or "
                    f"a NumPy array; got {type(graph).__name__}")
