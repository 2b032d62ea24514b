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
           'report', 'overlapping_nmi', 'community_f1',
           'modularity_from_edges']


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
    # two_m given: that of a whole graph whose part this is.
    total = float(val.sum()) if two_m is None else float(two_m)
    if labels.numel() == 0 or not total > 0:
        return 0.0
    num = int(labels.max()) + 1 if num is None else num
    same = labels[row] == labels[col]
    inside = _per_community(labels[row[same]], val[same], num)
    vol = _per_community(labels, degree, num)
    return float((inside / total
                  - resolution * (vol / total).square()).sum())


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


def _cover(cover, num_nodes: Optional[int], name: str) -> np.ndarray:
    """A boolean :math:`(N, k)` cover from a 0/1 matrix (NumPy, torch or
    SciPy sparse) or from node lists (then ``num_nodes`` is needed)."""
    if hasattr(cover, 'toarray'):
        cover = cover.toarray()
    if isinstance(cover, Tensor):
        cover = cover.detach().cpu().numpy()
    if isinstance(cover, (list, tuple)):
        if num_nodes is None:
            raise ValueError(f"'{name}' is a list of node lists: pass "
                             f"'num_nodes'")
        matrix = np.zeros((num_nodes, len(cover)), dtype=bool)
        for c, members in enumerate(cover):
            matrix[np.asarray(list(members), dtype=np.int64), c] = True
        return matrix
    cover = np.asarray(cover)
    if cover.ndim != 2 or not np.isin(cover, (0, 1)).all():
        raise ValueError(f"'{name}' must be a 0/1 matrix (num_nodes, k) or "
                         f"a list of node lists, got shape "
                         f"{list(cover.shape)}")
    return cover.astype(bool)


def _cover_pair(pred, true, num_nodes):
    pred = _cover(pred, num_nodes, 'pred_cover')
    true = _cover(true, num_nodes, 'true_cover')
    if pred.shape[0] != true.shape[0]:
        raise ValueError(f"'pred_cover' and 'true_cover' differ in the "
                         f"number of nodes: {pred.shape[0]} vs "
                         f"{true.shape[0]}")
    return pred, true


def _h(w: np.ndarray, n: int) -> np.ndarray:
    """:math:`-w\\log_2(w/n)`, zero at :math:`w = 0`."""
    w = np.asarray(w, dtype=np.float64)
    return -w * np.log2(np.where(w > 0, w, 1) / n)


def _conditional_entropy(x: np.ndarray, y: np.ndarray) -> float:
    r""":math:`H(X|Y) = \sum_i \min_j H(X_i|Y_j)`, where a pair only counts
    when :math:`h(a) + h(d) \ge h(b) + h(c)` (else :math:`H(X_i)`)."""
    n = x.shape[0]
    d = x.T.astype(np.float64) @ y  # in both
    c = x.sum(0)[:, None] - d       # in X_i only
    b = y.sum(0)[None, :] - d       # in Y_j only
    a = n - b - c - d               # in neither
    h_x = _h(c + d, n) + _h(a + b, n)
    cond = _h(a, n) + _h(b, n) + _h(c, n) + _h(d, n) \
        - _h(b + d, n) - _h(a + c, n)
    valid = _h(a, n) + _h(d, n) >= _h(b, n) + _h(c, n)
    pairs = np.where(valid, cond, h_x)
    if pairs.shape[1] == 0:
        return float(_h(x.sum(0), n).sum() + _h(n - x.sum(0), n).sum())
    return float(pairs.min(axis=1).sum())


def overlapping_nmi(pred_cover, true_cover,
                    num_nodes: Optional[int] = None) -> float:
    r"""Overlapping NMI of two covers, McDaid, Greene & Hurley (2011),
    ":math:`\mathrm{NMI}_{max}`":

    .. math::
        \frac{\tfrac12\,[H(X) - H(X|Y) + H(Y) - H(Y|X)]}{\max(H(X), H(Y))}

    with :math:`H(X) = \sum_i H(X_i)` over the communities as binary
    variables and :math:`H(X|Y)` as in Lancichinetti et al. (2009) (each
    :math:`X_i` conditioned on its most informative :math:`Y_j`). 1 for
    identical covers, about 0 for independent ones. Nodes in no community
    are allowed.

    Args:
        pred_cover, true_cover: 0/1 matrices :math:`(N, k)` (NumPy, torch,
            SciPy sparse) or lists of node lists.
        num_nodes (int, optional): :math:`N`, needed for node lists.
    """
    x, y = _cover_pair(pred_cover, true_cover, num_nodes)
    n = x.shape[0]
    h_x = float((_h(x.sum(0), n) + _h(n - x.sum(0), n)).sum())
    h_y = float((_h(y.sum(0), n) + _h(n - y.sum(0), n)).sum())
    if max(h_x, h_y) == 0:  # no community splits the nodes in either
        return 1.0 if h_x == h_y else 0.0
    mutual = 0.5 * (h_x - _conditional_entropy(x, y)
                    + h_y - _conditional_entropy(y, x))
    return float(mutual / max(h_x, h_y))


def community_f1(pred_cover, true_cover,
                 num_nodes: Optional[int] = None) -> float:
    r"""Average best-match F1 of two covers (Yang & Leskovec 2013):
    :math:`\tfrac12\big[\frac{1}{|C^*|}\sum_{C^*}\max_C F_1(C^*, C) +
    \frac{1}{|C|}\sum_{C}\max_{C^*} F_1(C, C^*)\big]`, over the non-empty
    communities; 0 when either cover has none. Arguments as
    :func:`overlapping_nmi`."""
    x, y = _cover_pair(pred_cover, true_cover, num_nodes)
    x, y = x[:, x.any(0)], y[:, y.any(0)]
    if x.shape[1] == 0 or y.shape[1] == 0:
        return 0.0
    both = x.T.astype(np.float64) @ y
    f1 = 2 * both / (x.sum(0)[:, None] + y.sum(0)[None, :])
    return float(0.5 * (f1.max(1).mean() + f1.max(0).mean()))
