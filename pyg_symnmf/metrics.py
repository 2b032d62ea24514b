r"""Clustering quality: against ground truth (ACC, NMI, ARI) and from the
graph alone (modularity, conductance, computed on the sparse adjacency)."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor
from torch_geometric.utils import scatter

from .adjacency import to_adjacency
from .functional import symnmf_loss

__all__ = ['clustering_accuracy', 'nmi', 'ari', 'modularity', 'conductance',
           'report', 'modularity_from_edges']


def _labels(y, name: str) -> np.ndarray:
    y = np.asarray(y.detach().cpu() if isinstance(y, Tensor) else y)
    if y.ndim != 1:
        raise ValueError(f"'{name}' must be one label per node (1-D), got "
                         f"shape {list(y.shape)}")
    return y


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = _labels(y_true, 'y_true'), _labels(y_pred, 'y_pred')
    if y_true.shape != y_pred.shape:
        raise ValueError(f"'y_true' and 'y_pred' differ in length: "
                         f"{len(y_true)} vs {len(y_pred)}")
    return y_true, y_pred


def clustering_accuracy(y_true, y_pred) -> float:
    """Accuracy after the best one-to-one matching of predicted communities
    to classes (Hungarian algorithm)."""
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = _pair(y_true, y_pred)
    if y_true.size == 0:
        return float('nan')
    counts = confusion_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / y_true.size)


def nmi(y_true, y_pred) -> float:
    """Normalised mutual information (arithmetic normalisation)."""
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(*_pair(y_true, y_pred)))


def ari(y_true, y_pred) -> float:
    """Adjusted Rand index."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(*_pair(y_true, y_pred)))


def _graph_and_labels(edge_index, communities, edge_weight, num_nodes):
    adj = to_adjacency(edge_index, edge_weight, num_nodes, normalize=False,
                       dtype=torch.float64)
    labels = torch.as_tensor(_labels(communities, 'communities'),
                             device=adj.device).long()
    if labels.numel() != adj.num_nodes:
        raise ValueError(f"'communities' has {labels.numel()} labels for "
                         f"{adj.num_nodes} nodes")
    _, labels = torch.unique(labels, return_inverse=True)
    return adj, labels, int(labels.max()) + 1


def _per_community(labels: Tensor, values: Tensor, num: int) -> Tensor:
    """Sum of ``values`` per community label."""
    return scatter(values, labels, 0, num, 'sum')


def modularity(edge_index, communities, edge_weight: Optional[Tensor] = None,
               num_nodes: Optional[int] = None, *,
               resolution: float = 1.0) -> float:
    r"""Newman's modularity :math:`Q = \sum_c \big[\frac{L_c}{2m} -
    \gamma(\frac{d_c}{2m})^2\big]` of a hard partition, where :math:`L_c`
    sums :math:`A_{ij}` inside community :math:`c`, :math:`d_c` its degrees,
    :math:`2m = \sum_{ij} A_{ij}` (the raw, unnormalised weights) and
    :math:`\gamma` is ``resolution`` (larger: smaller communities; the
    convention of leidenalg, igraph, networkx and networkit)."""
    adj, labels, num = _graph_and_labels(edge_index, communities,
                                         edge_weight, num_nodes)
    return modularity_from_edges(adj.row(), adj.col(), adj.values,
                                 adj.degree(), labels, resolution, num)


def modularity_from_edges(row: Tensor, col: Tensor, val: Tensor,
                          degree: Tensor, labels: Tensor,
                          resolution: float = 1.0,
                          num: Optional[int] = None,
                          two_m: Optional[float] = None) -> float:
    r""":func:`modularity` from the stored nonzeros of a symmetric matrix
    (``row``, ``col``, ``val``: each undirected edge twice, a self-loop
    once), its row sums ``degree`` and ``labels`` in :math:`[0,
    \mathrm{num})`: :math:`O(|\mathcal{E}| + N)`, no validation (the
    shared kernel of :func:`modularity`, :mod:`~pyg_symnmf.auto_k` and
    :mod:`~pyg_symnmf.refine`)."""
    two_m = val.sum() if two_m is None else two_m  # else: of a whole graph
    if labels.numel() == 0 or not float(two_m) > 0:
        return 0.0
    num = int(labels.max()) + 1 if num is None else num
    same = labels[row] == labels[col]
    inside = _per_community(labels[row[same]], val[same], num)
    vol = _per_community(labels, degree, num)
    return float((inside / two_m
                  - resolution * (vol / two_m).square()).sum())


def conductance(edge_index, communities, edge_weight: Optional[Tensor] = None,
                num_nodes: Optional[int] = None) -> float:
    r"""Mean conductance :math:`\phi(S) = \mathrm{cut}(S) /
    \min(\mathrm{vol}(S), \mathrm{vol}(V \setminus S))` over the
    communities whose both sides have positive volume (lower is better)."""
    adj, labels, num = _graph_and_labels(edge_index, communities,
                                         edge_weight, num_nodes)
    row, col, val = adj.row(), adj.col(), adj.values
    crossing = labels[row] != labels[col]
    cut = _per_community(labels[row[crossing]], val[crossing], num)
    vol = _per_community(labels, adj.degree(), num)
    denom = torch.minimum(vol, val.sum() - vol)
    valid = denom > 0
    if not bool(valid.any()):
        return 0.0
    return float((cut[valid] / denom[valid]).mean())


def report(data, communities, h: Optional[Tensor] = None,
           adj=None) -> dict[str, float]:
    """Every applicable figure for one partition of ``data``: ACC, NMI and
    ARI when ``data.y`` exists, modularity and conductance on the raw
    weights, and the SymNMF loss of ``h`` on ``adj`` (the operator it was
    factored on) when both are given."""
    row = {}
    if data.get('y') is not None:
        row['ACC'] = clustering_accuracy(data.y, communities)
        row['NMI'] = nmi(data.y, communities)
        row['ARI'] = ari(data.y, communities)
    graph = (data.edge_index, communities, data.get('edge_weight'),
             data.num_nodes)
    row['modularity'] = modularity(*graph)
    row['conductance'] = conductance(*graph)
    if h is not None and adj is not None:
        row['loss'] = float(symnmf_loss(adj, h.detach()))
    return row
