r"""The feature-aware operator of attributed graphs: :func:`feature_graph`.

On attributed graphs (citation networks, social networks with profiles)
the graph alone often carries little of the communities at the number of
classes, and has many small components; the node features carry most of
it. :func:`feature_graph` builds one sparse symmetric operator from both,
which every solver of the package (and the pretrained net) factors:

1. **Low-pass filter** (SSGC, Zhu & Koniusz 2021): rows of
   :math:`\mathbf{X}` are :math:`\ell_2`-normalised, then
   :math:`\bar{\mathbf{X}} = \frac{1}{T}\sum_{t=1}^{T}\mathbf{X}_t`,
   :math:`\mathbf{X}_t = (1 - r)\,\mathbf{S}\mathbf{X}_{t-1} +
   r\,\mathbf{X}_0`, with :math:`\mathbf{S} = \tilde{\mathbf{D}}^{-1/2}
   (\mathbf{A} + \mathbf{I})\tilde{\mathbf{D}}^{-1/2}`. Wide features
   (:math:`F >` ``max_dim``) are first projected on their top
   ``max_dim`` right singular vectors (:func:`torch.svd_lowrank`, sparse
   input kept sparse); the filter is linear, so this is the filtered
   features projected on that subspace, and no :math:`N \times F` dense
   matrix is formed.
2. **Similarity**: the filtered features are centred and compared by
   cosine; each node keeps its ``num_neighbors`` most similar nodes
   (positive similarities only), found exactly by chunked products (at
   most :obj:`CHUNK_ELEMENTS` similarities in memory, never :math:`N
   \times N`); the kNN graph :math:`\mathbf{W}` is symmetrised by the
   maximum. Every node, isolated or in a small component, gets edges
   from its features.
3. **Fusion**: :math:`\mathbf{D}_W^{-1/2}\mathbf{W}\mathbf{D}_W^{-1/2} +
   w\,\mathbf{D}_A^{-1/2}\mathbf{A}\mathbf{D}_A^{-1/2}`, both with
   spectral radius 1.

The settings are chosen without labels (see the module constants and
``benchmarks/attributed.py`` for the measurements):

- ``steps`` :math:`T`: the filter stops when one more step changes the
  average :math:`\bar{\mathbf{X}}` by less than :obj:`STEP_TOL` (relative
  Frobenius norm), at most :obj:`MAX_STEPS`: more steps no longer change
  the features, only cost SpMMs.
- ``num_neighbors`` :math:`m`: a quarter of the mean community size,
  :math:`N / (4k)`, within [:obj:`MIN_NEIGHBORS`, :obj:`MAX_NEIGHBORS`]
  (:math:`\sqrt{N}` when :math:`k` is unknown): small neighbourhoods
  split communities into many pieces again, while :math:`m \ll N/k` keeps
  most neighbours inside one community.
- ``graph_weight`` :math:`w`: how well the graph's edges agree with the
  features, the mean cosine similarity along the edges of
  :math:`\mathbf{A}` over that along the kNN edges, clipped to [0, 1]: a
  graph whose edges join dissimilar nodes weighs little.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import torch
from torch import Tensor
from torch_geometric.utils import coalesce, is_torch_sparse_tensor

from .adjacency import Adjacency, GraphLike, to_adjacency
from .functional import propagate
from .validation import check_number

__all__ = ['feature_graph', 'filter_features', 'knn_cosine_graph',
           'RESTART', 'STEP_TOL', 'MAX_STEPS', 'MAX_DIM', 'FEATURE_INITS']

RESTART = 0.05       # SSGC's restart r to the unfiltered features
STEP_TOL = 0.05      # stop filtering when the average moves less than this
MAX_STEPS = 16
MAX_DIM = 256        # wider features are projected on this many directions
FEATURE_INITS = 8    # starts tried on a feature-aware operator (lowest loss)
MIN_NEIGHBORS = 10
MAX_NEIGHBORS = 200
CHUNK_ELEMENTS = 1 << 22  # similarities held at once by the kNN search


def feature_graph(x: Any, graph: GraphLike,
                  edge_weight: Optional[Tensor] = None,
                  num_nodes: Optional[int] = None, *,
                  k: Optional[int] = None, steps: Optional[int] = None,
                  restart: float = RESTART,
                  num_neighbors: Optional[int] = None,
                  graph_weight: Optional[float] = None,
                  max_dim: int = MAX_DIM, normalize: Optional[bool] = None,
                  seed: int = 0, dtype: Optional[torch.dtype] = None
                  ) -> Adjacency:
    r"""The feature-aware operator of an attributed graph (module notes):
    the graph fused with a sparse kNN cosine graph of graph-filtered
    features, as an :class:`~pyg_symnmf.Adjacency` for any solver.

    Args:
        x: Node features :math:`(N, F)`: a dense or :mod:`torch.sparse`
            tensor, a NumPy array or a SciPy sparse matrix (kept sparse).
        graph: The graph, in any form :func:`~pyg_symnmf.to_adjacency`
            accepts (symmetric, nonnegative weights).
        edge_weight (torch.Tensor, optional): Edge weights, with an
            ``edge_index``.
        num_nodes (int, optional): :math:`N` (default: ``x``'s rows).
        k (int, optional): The number of communities, for the neighbour
            rule. (default: unknown)
        steps (int, optional): Filter steps :math:`T`. (default: until the
            average moves less than :obj:`STEP_TOL`)
        restart (float): Restart :math:`r \in [0, 1]`. (default: 0.05)
        num_neighbors (int, optional): Neighbours :math:`m` per node.
            (default: :math:`N/(4k)` in [10, 200], or :math:`\sqrt{N}`)
        graph_weight (float, optional): Weight :math:`w \ge 0` of the
            graph. (default: the feature agreement of its edges)
        max_dim (int): Feature width above which features are projected
            by a randomised SVD. (default: 256)
        normalize (bool, optional): Normalise the returned operator
            symmetrically. (default: :obj:`True`)
        seed (int): Seed of the randomised SVD. (default: 0)
        dtype (torch.dtype, optional): Of the operator. (default: float32)

    Returns:
        :class:`~pyg_symnmf.Adjacency` :math:`N \times N` with at most
        :math:`2Nm + \mathrm{nnz}(\mathbf{A})` nonzeros; not differentiable
        in ``edge_weight``.
    """
    check_number('restart', restart, low=0, high=1)
    check_number('max_dim', max_dim, integer=True, low=1)
    check_number('seed', seed, integer=True, low=0)
    features = _as_tensor(x)
    if isinstance(graph, Adjacency):  # its weights, whatever its scaling
        graph = graph.csr
    n = features.size(0) if num_nodes is None else num_nodes
    if features.size(0) != n:
        raise ValueError(f"'x' has {features.size(0)} rows but the graph has "
                         f"{n} nodes; give one feature row per node")
    adj = to_adjacency(graph, edge_weight, n, normalize=True,
                       dtype=torch.float64).detach()
    if n < 2:
        raise ValueError("A feature graph needs at least 2 nodes")
    m = _num_neighbors(n, k, num_neighbors)
    z = filter_features(features, adj, steps=steps, restart=restart,
                        max_dim=max_dim, seed=seed, graph=graph,
                        edge_weight=edge_weight)
    z = z - z.mean(0)
    z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    knn_index, knn_value = knn_cosine_graph(z, m)
    if graph_weight is None:
        graph_weight = _agreement(z, adj, knn_index, knn_value)
    check_number('graph_weight', graph_weight, low=0)
    knn = to_adjacency(knn_index, knn_value, n, normalize=True,
                       dtype=torch.float64)
    parts = [(knn.row(), knn.col(), knn.values)]
    if graph_weight > 0 and adj.num_edges > 0:
        parts.append((adj.row(), adj.col(), graph_weight * adj.values))
    row, col, value = (torch.cat(p) for p in zip(*parts))
    index, value = coalesce(torch.stack([row, col]), value, n, reduce='sum')
    return to_adjacency(index, value.to(dtype or torch.float32), n,
                        normalize=normalize)


def filter_features(x: Any, adj: Adjacency, *, steps: Optional[int] = None,
                    restart: float = RESTART, max_dim: int = MAX_DIM,
                    seed: int = 0, graph: Optional[GraphLike] = None,
                    edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""The SSGC low-pass filter :math:`\bar{\mathbf{X}}` of the
    row-normalised features (module notes), dense :math:`(N, \min(F,
    \text{max\_dim}))` in float64. ``adj`` is the graph's operator; the
    filter uses the self-looped one, built from ``graph`` (and
    ``edge_weight``) when given, else from ``adj``'s structure."""
    if steps is not None:
        check_number('steps', steps, integer=True, low=1)
    features = _row_normalized(_as_tensor(x))
    if features.size(1) > max_dim:
        features = _projected(features, max_dim, seed)
    elif features.is_sparse:
        features = features.to_dense()
    if graph is None or isinstance(graph, Adjacency):
        graph, edge_weight = (adj if graph is None else graph).csr, None
    looped = to_adjacency(graph, edge_weight, adj.num_nodes,
                          add_self_loops=True,
                          dtype=torch.float64).detach()
    x0 = features.to(torch.float64)
    xt, total = x0, torch.zeros_like(x0)
    for t in range(1, (steps or MAX_STEPS) + 1):
        xt = (1 - restart) * propagate(looped, xt) + restart * x0
        previous = total / max(t - 1, 1)
        total = total + xt
        if steps is None and t > 1 and float(
                (total / t - previous).norm()) < STEP_TOL * float(
                    (total / t).norm()):
            break
    return total / t


def knn_cosine_graph(z: Tensor, num_neighbors: int
                     ) -> tuple[Tensor, Tensor]:
    r"""Symmetric kNN graph of the rows of ``z`` (unit rows: the products
    are cosines): each node keeps its ``num_neighbors`` most similar other
    nodes, positive similarities only; the union of both directions with
    the similarity as weight. Exact, by chunks of rows (at most
    :obj:`CHUNK_ELEMENTS` similarities at once). Returns ``(edge_index,
    edge_weight)``, coalesced."""
    n = z.size(0)
    m = min(num_neighbors, n - 1)
    chunk = max(1, CHUNK_ELEMENTS // n)
    rows, cols, values = [], [], []
    for start in range(0, n, chunk):
        sim = z[start:start + chunk] @ z.t()
        idx = torch.arange(start, min(start + chunk, n))
        sim[idx - start, idx] = -math.inf  # no self-loops
        value, col = sim.topk(m, dim=1)
        rows.append(idx.repeat_interleave(m))
        cols.append(col.reshape(-1))
        values.append(value.reshape(-1))
    row, col, value = torch.cat(rows), torch.cat(cols), torch.cat(values)
    keep = value > 0
    row, col, value = row[keep], col[keep], value[keep]
    index = torch.stack([torch.cat([row, col]), torch.cat([col, row])])
    return coalesce(index, torch.cat([value, value]), n, reduce='max')


def _num_neighbors(n: int, k: Optional[int], given: Optional[int]) -> int:
    if given is not None:
        check_number('num_neighbors', given, integer=True, low=1)
        return min(given, n - 1)
    target = n / (4 * k) if k else math.sqrt(n)
    return max(1, min(n - 1, MAX_NEIGHBORS,
                      max(MIN_NEIGHBORS, round(target))))


def _agreement(z: Tensor, adj: Adjacency, knn_index: Tensor,
               knn_value: Tensor) -> float:
    """Mean cosine along the graph's edges over that along the kNN edges,
    in [0, 1]."""
    if adj.num_edges == 0 or knn_value.numel() == 0:
        return 0.0
    along = float((z[adj.row()] * z[adj.col()]).sum(1).mean())
    return min(1.0, max(0.0, along / float(knn_value.mean())))


def _as_tensor(x: Any) -> Tensor:
    """Dense or sparse (COO) float64 tensor of a tensor, array or SciPy
    sparse matrix, with a clear error for anything else."""
    if hasattr(x, 'tocoo') and not isinstance(x, Tensor):  # SciPy sparse
        coo = x.tocoo()
        import numpy as np
        index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(
            np.int64))
        x = torch.sparse_coo_tensor(index, torch.from_numpy(
            coo.data.astype(np.float64)), coo.shape)
    elif not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"'x' must be a tensor, an array or a SciPy "
                            f"sparse matrix, got {type(x).__name__}") from err
    if x.dim() != 2:
        raise ValueError(f"'x' must have shape [num_nodes, num_features], "
                         f"got {list(x.shape)}")
    if is_torch_sparse_tensor(x):
        x = x.to_sparse_coo().coalesce().to(torch.float64)
        values = x.values()
    else:
        x = x.detach().to(torch.float64)
        values = x
    if not bool(torch.isfinite(values).all()):
        raise ValueError("'x' contains NaN or Inf")
    return x


def _row_normalized(x: Tensor) -> Tensor:
    if x.is_sparse:
        row = x.indices()[0]
        norm = torch.zeros(x.size(0), dtype=x.dtype).index_add_(
            0, row, x.values().square()).sqrt()
        values = x.values() / norm[row].clamp_min(1e-12)
        return torch.sparse_coo_tensor(x.indices(), values, x.shape,
                                       is_coalesced=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _projected(x: Tensor, dim: int, seed: int) -> Tensor:
    r""":math:`\mathbf{X}\mathbf{V}`, :math:`\mathbf{V}` the top ``dim``
    right singular vectors (randomised SVD, seeded), dense :math:`(N,
    \text{dim})`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, _, v = torch.svd_lowrank(x, q=dim, niter=2)
    return torch.sparse.mm(x, v) if x.is_sparse else x @ v
