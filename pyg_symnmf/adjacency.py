r"""One validated sparse operator for every accepted graph input.

Every module of :mod:`pyg_symnmf` reaches the graph through
:func:`to_adjacency`, which turns an ``edge_index`` (plus optional
``edge_weight``), PyG's :class:`~torch_geometric.EdgeIndex`, a
:class:`torch.sparse` COO/CSR/CSC tensor, a dense tensor or a
:class:`torch_sparse.SparseTensor` into an :class:`Adjacency`: a coalesced
symmetric CSR matrix, optionally normalised as
:math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`.

:class:`Adjacency` is public and reusable: build it once and pass it
wherever a graph is accepted. Layers also keep a one-entry
:class:`OperatorCache` keyed on the graph tensor's identity and version, so
calling a layer again with the same ``edge_index`` does not rebuild it,
while an in-place change or another graph does.

The values stay differentiable in ``edge_weight`` (coalescing, symmetry and
normalisation are index arithmetic that autograd follows), so every loss
and layer has true gradients with respect to the edge weights.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Union

import torch
from torch import Tensor
from torch_geometric import EdgeIndex
from torch_geometric.data import Data
from torch_geometric.typing import SparseTensor
from torch_geometric.utils import (add_remaining_self_loops, coalesce,
                                   is_torch_sparse_tensor, scatter)

from .graphs import external_to_coo, is_external_graph
from .validation import check_bool, graph_inputs

__all__ = ['Adjacency', 'GraphLike', 'OperatorCache', 'to_adjacency',
           'normalized_operator', 'split_batch',
           'csr_matrix', 'graph_fingerprint', 'normalized_values']

#: Every graph form accepted where a graph is expected (SciPy sparse
#: matrices, networkx graphs and NumPy arrays too: see
#: :mod:`pyg_symnmf.graphs`).
GraphLike = Union[Tensor, EdgeIndex, 'SparseTensor', 'Adjacency', Data, Any]

_COMPUTE_DTYPES = (torch.float32, torch.float64)


class Adjacency:
    r"""A validated, coalesced, symmetric sparse matrix :math:`\mathbf{A}`.

    Build it with :func:`to_adjacency`. It holds the CSR structure, the
    values (differentiable in the edge weights it was built from) and
    :math:`\|\mathbf{A}\|_F^2`, the constant term of the SymNMF loss.

    Args:
        csr (torch.Tensor): :math:`N \times N` CSR matrix (its values are
            used detached; ``values`` carries the gradient).
        values (torch.Tensor): The stored values, in CSR order.
        normalized (bool): Whether the matrix is
            :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`.
    """

    def __init__(self, csr: Tensor, values: Tensor, normalized: bool) -> None:
        self.csr = csr
        self.values = values
        self.normalized = normalized
        self.sq_norm = values.square().sum()

    @property
    def num_nodes(self) -> int:
        return self.csr.size(0)

    @property
    def num_edges(self) -> int:
        """Number of stored nonzeros (each undirected edge counts twice)."""
        return self.values.numel()

    @property
    def device(self) -> torch.device:
        return self.values.device

    @property
    def dtype(self) -> torch.dtype:
        return self.values.dtype

    @property
    def scale(self) -> Tensor:
        r"""An upper bound of :math:`\|\mathbf{A}\|_2` that needs no SpMM,
        as a 0-dim tensor (differentiable in the edge weights): 1 for a
        normalised matrix or a graph without edges, else :math:`\min(\max_i
        d_i, \|\mathbf{A}\|_F)`. Penalties :math:`\alpha` are relative to
        it, so one setting serves any weight scale."""
        one = torch.ones((), dtype=self.dtype, device=self.device)
        if self.normalized or self.num_edges == 0:
            return one
        bound = torch.minimum(self.degree().max(), self.sq_norm.sqrt())
        return torch.where(bound > 0, bound, one)

    def row(self) -> Tensor:
        """Row index of every nonzero, in storage order."""
        crow = self.csr.crow_indices()
        return torch.repeat_interleave(
            torch.arange(self.num_nodes, device=self.device), crow.diff())

    def col(self) -> Tensor:
        return self.csr.col_indices()

    def degree(self) -> Tensor:
        """Weighted degree (row sums), shape :math:`(N,)`."""
        return scatter(self.values, self.row(), 0, self.num_nodes, 'sum')

    def to(self, *args: Any, **kwargs: Any) -> 'Adjacency':
        values = self.values.to(*args, **kwargs)
        crow = self.csr.crow_indices().to(values.device)
        return Adjacency(csr_matrix(None, self.col().to(values.device),
                                    values, (self.num_nodes, self.num_nodes),
                                    crow), values, self.normalized)

    def detach(self) -> 'Adjacency':
        """The same operator without the edge-weight gradient."""
        return Adjacency(self.csr, self.values.detach(), self.normalized)

    def __deepcopy__(self, memo: dict) -> 'Adjacency':
        # Non-leaf tensors refuse deepcopy: copy the values detached.
        values = self.values.detach().clone()
        return Adjacency(csr_matrix(None, self.col().clone(), values,
                                    (self.num_nodes, self.num_nodes),
                                    self.csr.crow_indices().clone()),
                         values, self.normalized)

    def __repr__(self) -> str:
        return (f'Adjacency(num_nodes={self.num_nodes}, '
                f'nnz={self.num_edges}, normalized={self.normalized}, '
                f'dtype={self.dtype}, device={self.device})')


def to_adjacency(
    adj: GraphLike,
    edge_weight: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    *,
    normalize: Optional[bool] = None,
    symmetrize: bool = False,
    add_self_loops: bool = False,
    dtype: Optional[torch.dtype] = None,
) -> Adjacency:
    r"""Converts any accepted graph input into one validated
    :class:`Adjacency`.

    Args:
        adj: The graph: an ``edge_index`` of shape :math:`(2, E)` (integer
            dtype; PyG's :class:`~torch_geometric.EdgeIndex` included, whose
            ``sparse_size`` counts), a :class:`torch.sparse` tensor (COO,
            CSR or CSC), a dense floating-point :math:`N \times N` tensor, a
            :class:`torch_sparse.SparseTensor`, a PyG
            :class:`~torch_geometric.data.Data` (its ``edge_index`` and
            ``edge_weight``, or ``adj_t``), a SciPy sparse matrix, a
            networkx graph, a NumPy array (see :mod:`pyg_symnmf.graphs`),
            or an :class:`Adjacency` (returned as is, cast to ``dtype``).
        edge_weight (torch.Tensor, optional): Nonnegative finite weights of
            shape :math:`(E,)`, only with ``edge_index``; gradients flow to
            it. (default: ones)
        num_nodes (int, optional): Number of nodes :math:`N`. Inferred from
            ``edge_index`` (or an ``EdgeIndex``'s ``sparse_size``) when
            omitted; must match the matrix size otherwise.
        normalize (bool, optional): Return :math:`\mathbf{D}^{-1/2}\mathbf{A}
            \mathbf{D}^{-1/2}` (isolated nodes keep zero rows). Defaults to
            :obj:`True`; for an :class:`Adjacency` it must match how the
            operator was built (or be :obj:`None`).
        symmetrize (bool): Replace a non-symmetric input by
            :math:`(\mathbf{A} + \mathbf{A}^\top)/2`, the nearest symmetric
            matrix. Without it, a non-symmetric input raises.
            (default: :obj:`False`)
        add_self_loops (bool): Add unit self-loops to nodes that have none
            before normalising. (default: :obj:`False`)
        dtype (torch.dtype, optional): float32 or float64. Defaults to the
            weights' dtype, float16/bfloat16/integer weights computed in
            float32.

    Raises:
        TypeError: for an input of an unsupported type or dtype.
        ValueError: for a wrong shape, out-of-range indices, mismatched
            devices, negative or non-finite weights, weights whose squares
            overflow or underflow float32 in an unnormalised operator, or a
            non-symmetric matrix without ``symmetrize=True``.
    """
    check_bool('normalize', normalize, allow_none=True)
    check_bool('symmetrize', symmetrize)
    check_bool('add_self_loops', add_self_loops)
    if dtype is not None and dtype not in _COMPUTE_DTYPES:
        raise TypeError(f"'dtype' must be torch.float32 or torch.float64, "
                        f"got {dtype}")
    if isinstance(adj, Adjacency):
        if num_nodes is not None and num_nodes != adj.num_nodes:
            raise ValueError(f"num_nodes={num_nodes} does not match the "
                             f"adjacency's {adj.num_nodes} nodes")
        if normalize is not None and normalize != adj.normalized:
            raise ValueError(f"The Adjacency was built with normalize="
                             f"{adj.normalized} but normalize={normalize} was "
                             f"asked; build the operator again with "
                             f"to_adjacency(..., normalize={normalize})")
        _no_edge_weight(edge_weight, 'an Adjacency')
        return adj if dtype in (None, adj.dtype) else adj.to(dtype)
    normalize = True if normalize is None else normalize

    edge_index, value, n = _to_coo(adj, edge_weight, num_nodes)
    value = _check_values(value, dtype)
    if add_self_loops:
        edge_index, value = add_remaining_self_loops(edge_index, value, 1.0, n)
    edge_index, value = _coalesce(edge_index, value, n)
    edge_index, value, crow, degree = _symmetric(edge_index, value, n,
                                                 symmetrize)
    if normalize:
        value = normalized_values(edge_index, value, n, degree)
    else:
        _check_range(value)
    return Adjacency(csr_matrix(edge_index[0], edge_index[1], value, (n, n),
                                crow), value, normalize)


def normalized_operator(adj: Adjacency) -> Adjacency:
    r""":math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}` of an
    unnormalised operator, on its own structure: the weights rescaled as
    :func:`to_adjacency` rescales them (gradients flow to the weights), in
    :math:`O(E)` and without a second conversion or validation of the graph
    (it was checked when ``adj`` was built). A normalised operator is
    returned as it is."""
    if adj.normalized:
        return adj
    n = adj.num_nodes
    crow, col = adj.csr.crow_indices(), adj.col()
    degree = None
    if adj.num_edges and not adj.values.requires_grad:
        # float64 row sums, as the symmetry probe of a build gives them.
        ones = adj.values.new_ones(n, 5, dtype=torch.float64)
        degree = (csr_matrix(None, col, adj.values.double(), (n, n), crow)
                  @ ones)[:, 4]
    values = normalized_values(torch.stack([adj.row(), col]), adj.values, n,
                               degree)
    return Adjacency(csr_matrix(None, col, values, (n, n), crow), values,
                     True)


def split_batch(adj: Adjacency, batch: Tensor
                ) -> list[tuple[Adjacency, int, int]]:
    """The operator of each graph of a block-diagonal batch (``batch``
    sorted), with its node range; raises if an edge joins two graphs."""
    sizes = torch.bincount(batch).tolist()
    row = adj.row()
    if bool((batch[row] != batch[adj.col()]).any()):
        raise ValueError("An edge joins nodes of two different graphs of the "
                         "batch; 'batch' does not match the graph")
    crow = adj.csr.crow_indices()
    parts, start = [], 0
    for size in sizes:
        end = start + size
        lo, hi = int(crow[start]), int(crow[end])
        values = adj.values[lo:hi]
        csr = csr_matrix(row[lo:hi] - start, adj.col()[lo:hi] - start,
                         values, (size, size))
        if size > 0:
            parts.append((Adjacency(csr, values, adj.normalized), start, end))
        start = end
    return parts


class OperatorCache:
    r"""A one-entry cache of the :class:`Adjacency` built from a graph
    tensor, keyed on the graph's content: a fingerprint of the indices and
    weights (:func:`graph_fingerprint`, a few elementwise passes over the
    edges, far cheaper than a build), the node count and the options. The
    same graph reuses the operator however it is held or changed (in place,
    through ``.data``, a NumPy view or a reused buffer: none of those can
    make it stale); another graph rebuilds it. Weights that require a
    gradient are never cached (each call needs its own autograd graph).
    Copies (``copy.deepcopy``, pickling) start empty."""

    def __init__(self) -> None:
        self._key: Optional[tuple] = None
        self._adj: Optional[Adjacency] = None

    def get(self, graph: GraphLike, edge_weight: Optional[Tensor] = None,
            num_nodes: Optional[int] = None, **options: Any) -> Adjacency:
        """The operator of ``graph`` (see :func:`to_adjacency` for the
        arguments), built only when the cached one does not apply."""
        if not isinstance(graph, Tensor) or (
                isinstance(edge_weight, Tensor) and edge_weight.requires_grad):
            return to_adjacency(graph, edge_weight, num_nodes, **options)
        key = (graph_fingerprint(graph, edge_weight), num_nodes,
               tuple(sorted(options.items())))
        if key == self._key and self._adj is not None:
            return self._adj
        adj = to_adjacency(graph, edge_weight, num_nodes, **options)
        self._key, self._adj = key, adj
        return adj

    def clear(self) -> None:
        self._key, self._adj = None, None

    def __deepcopy__(self, memo: dict) -> 'OperatorCache':
        return OperatorCache()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.clear()


def graph_fingerprint(graph: Tensor, edge_weight: Optional[Tensor] = None
                      ) -> tuple:
    r"""A content key of a graph tensor and its weights: layout, shape,
    dtype, device, an ``EdgeIndex``'s ``sparse_size``, and a 64-bit hash
    of the content. An ``edge_index`` hashes each edge with its weight
    (the order of the edges does not matter, as it does not to the
    operator); other tensors hash each stored entry with its position.
    Changing any entry changes the key (a collision has probability about
    :math:`2^{-64}`). Measured at :math:`10^6` edges, one thread: 5 ms,
    against 38 ms to build the operator of sorted input and 150 ms of
    shuffled input."""
    size = graph.sparse_size() if isinstance(graph, EdgeIndex) else None
    if isinstance(graph, EdgeIndex):
        graph = graph.as_tensor()
    graph = graph.detach()
    key = (graph.layout, tuple(graph.shape), graph.dtype, str(graph.device),
           size, None if edge_weight is None else
           (tuple(edge_weight.shape), edge_weight.dtype))
    is_edge_index = graph.layout == torch.strided and graph.dim() == 2 \
        and graph.size(0) == 2 and not graph.is_floating_point()
    if is_edge_index and (edge_weight is None
                          or edge_weight.shape == graph.shape[1:]):
        edges = graph[0].long() * 2654435761 + graph[1].long()
        if edge_weight is not None:
            edges = edges * _MIX[0] ^ _bits(edge_weight.detach())
        return key + (_mixed_sum(edges),)
    parts = [p.reshape(-1) for p in _stored_parts(graph)]
    if edge_weight is not None:
        parts.append(edge_weight.detach().reshape(-1))
    return key + tuple(_mixed_sum(_bits(p) ^ (torch.arange(
        p.numel(), device=p.device) * _MIX[1])) for p in parts)


# Odd 64-bit constants (splitmix64) for the multiply-xorshift mixer.
_MIX = (-7046029254386353131, -4658895280553007687, -7723592293110705685)


def _bits(t: Tensor) -> Tensor:
    """The entries as int64: integers as they are, floats by their float64
    bit pattern (so -0.0, NaN payloads and tiny changes all count)."""
    if t.is_complex():
        t = torch.view_as_real(t).reshape(-1)
    return t.double().view(torch.int64) if t.is_floating_point() \
        else t.long()


def _mixed_sum(x: Tensor) -> int:
    x = x * _MIX[2]
    return int((x ^ (x >> 32)).sum())


def _stored_parts(t: Tensor) -> tuple[Tensor, ...]:
    if t.layout == torch.sparse_coo:
        return t._indices(), t._values()
    if t.layout == torch.sparse_csr:
        return t.crow_indices(), t.col_indices(), t.values()
    if t.layout == torch.sparse_csc:
        return t.ccol_indices(), t.row_indices(), t.values()
    return (t,)


def csr_matrix(row: Optional[Tensor], col: Tensor, value: Tensor,
               shape: tuple[int, int], crow: Optional[Tensor] = None
               ) -> Tensor:
    r"""The one place that builds a CSR tensor: from COO entries sorted by
    row (``value`` used detached), with the row pointers ``crow`` when
    already known (:func:`row_pointers`; ``row`` is then not needed).
    Indices are made contiguous first (a strided view such as
    ``torch.tensor(pairs).t()[1]`` would otherwise be read as raw memory),
    and the tensor is built with explicit invariant settings, PyTorch's
    beta notice about sparse CSR silenced here."""
    if crow is None:
        assert row is not None, 'csr_matrix needs the rows or their pointers'
        crow = row_pointers(row, shape[0])
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Sparse CSR tensor support '
                                'is in beta state', category=UserWarning)
        return torch.sparse_csr_tensor(crow, col.long().contiguous(),
                                       value.detach().contiguous(), shape,
                                       check_invariants=False)


def row_pointers(row: Tensor, num_rows: int) -> Tensor:
    """CSR row pointers of entries sorted by ``row`` (the conversion PyG's
    ``EdgeIndex`` uses: one pass over sorted rows, faster than counting)."""
    return torch._convert_indices_from_coo_to_csr(row, num_rows)


def row_entries(crow: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """The positions of the stored entries of ``rows`` in a CSR matrix with
    row pointers ``crow`` (ascending rows give ascending positions), and
    for each the index in ``rows`` of its row: :math:`O(\text{entries})`,
    no pass over the whole matrix."""
    begin = crow.index_select(0, rows)
    count = crow.index_select(0, rows + 1) - begin
    total = int(count.sum())
    which = torch.repeat_interleave(
        torch.arange(rows.numel(), device=crow.device), count,
        output_size=total)
    offset = torch.cumsum(count, 0) - count
    position = (begin - offset).index_select(0, which) + torch.arange(
        total, device=crow.device)
    return position, which


def _coalesce(edge_index: Tensor, value: Tensor, n: int
              ) -> tuple[Tensor, Tensor]:
    """Sorts by (row, col) and sums duplicates. One pass tells whether the
    input is already sorted without duplicates (PyG's ``coalesce`` and the
    CSR converters emit that order), and then nothing is moved."""
    if edge_index.size(1) < 2:
        return edge_index, value
    key = edge_index[0] * n
    key += edge_index[1]
    if bool(torch.gt(key[1:], key[:-1]).all()):
        return edge_index, value
    return coalesce(edge_index, value, n, reduce='sum',
                    is_sorted=bool(torch.ge(key[1:], key[:-1]).all()))


def normalized_values(edge_index: Tensor, value: Tensor, n: int,
                      degree: Optional[Tensor] = None) -> Tensor:
    r""":math:`d_i^{-1/2} a_{ij} d_j^{-1/2}`. With ``degree`` (float64 row
    sums, as the symmetry probe gives them for free) and weights that need
    no gradient: two gathers and two products, the float64 degrees keeping
    any finite float32 input in range. Otherwise (or if those degrees
    overflow) computed on the weights divided by their maximum, with
    autograd: scale-invariant, and the degrees cannot overflow whatever the
    finite input."""
    if value.numel() == 0:
        return value
    if degree is not None and not value.requires_grad:
        inv_sqrt = torch.where(degree > 0, degree.rsqrt(),
                               torch.zeros_like(degree))
        if bool(torch.isfinite(inv_sqrt).all()):
            inv_sqrt = inv_sqrt.to(value.dtype)
            row, col = edge_index
            out = inv_sqrt.index_select(0, row).mul_(value)
            return out.mul_(inv_sqrt.index_select(0, col))
    value = value / value.detach().max().clamp_min(torch.finfo(value.dtype)
                                                   .tiny)
    row, col = edge_index
    deg = scatter(value, row, 0, n, 'sum')
    inv_sqrt = torch.where(deg > 0, deg.clamp_min(torch.finfo(deg.dtype)
                                                  .tiny).rsqrt(),
                           torch.zeros_like(deg))
    return inv_sqrt.index_select(0, row) * value \
        * inv_sqrt.index_select(0, col)


def _check_range(value: Tensor) -> None:
    r"""An unnormalised float32 operator must represent
    :math:`\|\mathbf{A}\|_F^2` and the products of the loss: weights whose
    squares overflow or underflow float32 are refused with the fix."""
    if value.dtype != torch.float32 or value.numel() == 0:
        return
    top = float(value.detach().double().abs().max())
    sq_norm = float(value.detach().double().square().sum())
    if sq_norm > torch.finfo(torch.float32).max / 16 or \
            0 < top**2 < torch.finfo(torch.float32).tiny * 1e6:
        raise ValueError(
            f"Edge weights up to {top:.3g} make ||A||_F^2 = {sq_norm:.3g}, "
            f"outside what float32 represents safely; rescale the weights, "
            f"use normalize=True (scale-free), or dtype=torch.float64")


def _to_coo(adj: Any, edge_weight: Optional[Tensor],
            num_nodes: Optional[int]) -> tuple[Tensor, Tensor, int]:
    """Returns ``(edge_index, value, num_nodes)`` for every accepted
    input."""
    if isinstance(adj, Data):
        _no_edge_weight(edge_weight, 'a Data')
        graph, weight, _, _ = graph_inputs(adj)
        return _to_coo(graph, weight, adj.num_nodes if num_nodes is None
                       else num_nodes)
    if is_external_graph(adj):
        _no_edge_weight(edge_weight, f'a {type(adj).__name__}')
        edge_index, weight, n = external_to_coo(adj)
        if num_nodes is not None and num_nodes != n:
            raise ValueError(f"num_nodes={num_nodes} does not match the "
                             f"graph's {n} nodes")
        return _to_coo(edge_index, weight, n)
    if SparseTensor is not None and isinstance(adj, SparseTensor):
        _no_edge_weight(edge_weight, 'a SparseTensor')
        row, col, value = adj.coo()
        n = _square_size(tuple(adj.sizes()), num_nodes)
        if value is None:
            value = torch.ones(row.numel(), device=row.device)
        return torch.stack([row, col]), value, n
    if not isinstance(adj, Tensor):
        raise TypeError(
            f"Expected 'edge_index' (LongTensor of shape [2, E]), a "
            f"torch.sparse tensor, a dense adjacency, a SparseTensor or an "
            f"Adjacency, got {type(adj).__name__}")
    if is_torch_sparse_tensor(adj):
        _no_edge_weight(edge_weight, 'a torch.sparse tensor')
        n = _square_size(tuple(adj.shape), num_nodes)
        coo = adj.to_sparse_coo().coalesce()
        return coo.indices(), coo.values(), n
    if adj.is_floating_point() or adj.dtype == torch.bool:
        _no_edge_weight(edge_weight, 'a dense adjacency')
        if adj.dim() == 2 and adj.size(0) == 2 and adj.size(1) != 2:
            raise ValueError(f"Got a floating-point tensor of shape "
                             f"{list(adj.shape)}: an 'edge_index' must have "
                             f"an integer dtype (int64), a dense adjacency "
                             f"must be square")
        if adj.dim() != 2:
            raise ValueError(f"A dense adjacency must be 2-dimensional, got "
                             f"shape {list(adj.shape)}")
        n = _square_size(tuple(adj.shape), num_nodes)
        edge_index = adj.nonzero().t()
        return edge_index, adj[edge_index[0], edge_index[1]], n
    if isinstance(adj, EdgeIndex) and num_nodes is None:
        num_nodes = _edge_index_size(adj)
    return _edge_index_to_coo(adj, edge_weight, num_nodes)


def _edge_index_size(edge_index: EdgeIndex) -> Optional[int]:
    """The node count an ``EdgeIndex`` declares (``sparse_size``), if any."""
    rows, cols = edge_index.sparse_size()
    sizes = {s for s in (rows, cols) if s is not None}
    if len(sizes) > 1:
        raise ValueError(f"The EdgeIndex has sparse_size ({rows}, {cols}); "
                         f"a SymNMF adjacency must be square")
    return sizes.pop() if sizes else None


def _edge_index_to_coo(edge_index: Tensor, edge_weight: Optional[Tensor],
                       num_nodes: Optional[int]):
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"'edge_index' must have an integer dtype (int64 or "
                        f"int32), got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges], got "
                         f"{list(edge_index.shape)}")
    if isinstance(edge_index, EdgeIndex):  # plain indices from here on
        edge_index = edge_index.as_tensor()
    # Contiguous: views such as torch.tensor(pairs).t() have strides (1, 2).
    edge_index = edge_index.long().contiguous()
    num_edges = edge_index.size(1)
    if edge_weight is None:
        edge_weight = torch.ones(num_edges, device=edge_index.device)
    elif not isinstance(edge_weight, Tensor):
        raise TypeError(f"'edge_weight' must be a tensor, got "
                        f"{type(edge_weight).__name__}")
    elif edge_weight.shape != (num_edges,):
        raise ValueError(f"'edge_weight' must have shape [{num_edges}] (one "
                         f"weight per edge), got {list(edge_weight.shape)}")
    elif edge_weight.device != edge_index.device:
        raise ValueError(f"'edge_weight' is on {edge_weight.device} but "
                         f"'edge_index' is on {edge_index.device}; move both "
                         f"to the same device")
    low, high = (int(t) for t in torch.aminmax(edge_index)) \
        if num_edges > 0 else (0, -1)
    if low < 0:
        raise ValueError("'edge_index' contains negative node indices")
    max_index = high + 1
    if num_nodes is None:
        num_nodes = max_index
    elif isinstance(num_nodes, bool) or not isinstance(num_nodes, int):
        raise TypeError(f"'num_nodes' must be an int, got "
                        f"{type(num_nodes).__name__}")
    elif max_index > num_nodes:
        raise ValueError(f"'edge_index' refers to node {max_index - 1} but "
                         f"num_nodes={num_nodes}; indices must be < num_nodes")
    if num_nodes == 0:
        raise ValueError("The graph has no nodes: pass 'num_nodes' for a "
                         "graph without edges")
    return edge_index, edge_weight, num_nodes


def _square_size(shape: tuple, num_nodes: Optional[int]) -> int:
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"The adjacency matrix must be square, got shape "
                         f"{list(shape)}")
    if num_nodes is not None and num_nodes != shape[0]:
        raise ValueError(f"num_nodes={num_nodes} does not match the "
                         f"{shape[0]}x{shape[1]} adjacency matrix")
    if shape[0] == 0:
        raise ValueError("The graph has no nodes")
    return int(shape[0])


def _no_edge_weight(edge_weight: Optional[Tensor], what: str) -> None:
    if edge_weight is not None:
        raise ValueError(f"'edge_weight' is only accepted with 'edge_index'; "
                         f"{what} carries its own values")


def _check_values(value: Tensor, dtype: Optional[torch.dtype]) -> Tensor:
    if value.dim() != 1:
        raise ValueError(f"Edge weights must be scalars, got values of shape "
                         f"{list(value.shape)}")
    if value.is_complex():
        raise TypeError("Edge weights must be real, got a complex tensor")
    if dtype is None:
        dtype = value.dtype if value.dtype in _COMPUTE_DTYPES \
            else torch.float32
    value = value.to(dtype)
    if value.numel() == 0:
        return value
    # One pass: NaN propagates into both extremes, Inf shows in one.
    low, high = (float(t) for t in torch.aminmax(value.detach()))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("Edge weights contain NaN or Inf; SymNMF needs "
                         "finite nonnegative weights")
    if low < 0:
        raise ValueError("Edge weights contain negative values; SymNMF needs "
                         "a nonnegative matrix (shift or clip the weights)")
    return value


def _symmetric(edge_index: Tensor, value: Tensor, n: int,
               symmetrize: bool
               ) -> tuple[Tensor, Tensor, Tensor, Optional[Tensor]]:
    """Checks (or enforces) symmetry of a coalesced COO matrix; returns it
    with its CSR row pointers and, when the probe saw the final matrix, its
    float64 degrees.

    A Freivalds-style test first: for random vectors :math:`r, s`, a
    symmetric matrix has :math:`r^\top A s = s^\top A r`. Computed in
    float64 by one SpMM of width 3, it costs a pass instead of a sort,
    and any asymmetry above the tolerance fails it (with probability one
    for random vectors). Only then is the exact, sort-based comparison run,
    with a per-entry tolerance relative to the weights' scale."""
    crow = row_pointers(edge_index[0], n)
    probable, degree = _probably_symmetric(edge_index, value, n, crow)
    if probable:
        return edge_index, value, crow, degree
    if _exactly_symmetric(edge_index, value, n):
        return edge_index, value, crow, None
    if not symmetrize:
        raise ValueError(
            "The adjacency matrix is not symmetric. SymNMF factors A ~ H H^T "
            "and needs an undirected graph: convert it with "
            "torch_geometric.utils.to_undirected, or build the operator with "
            "pyg_symnmf.to_adjacency(..., symmetrize=True) (which uses "
            "(A + A^T) / 2) and pass that Adjacency instead of the graph")
    both = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    edge_index, value = coalesce(both, torch.cat([value, value]) / 2, n,
                                 reduce='sum')
    return edge_index, value, row_pointers(edge_index[0], n), None


_SYMMETRY_RTOL = 1e-5


def _probably_symmetric(edge_index: Tensor, value: Tensor, n: int,
                        crow: Tensor) -> tuple[bool, Optional[Tensor]]:
    """The Freivalds test in float64, and the degrees (the probe's column
    of ones) for the normalisation."""
    if value.numel() == 0:
        return True, None
    gen = torch.Generator(device=value.device).manual_seed(0)
    # Columns s, r, 1. Any continuous distribution serves Freivalds' test;
    # uniform draws cost a sixth of normal ones.
    probe = torch.empty(n, 3, dtype=torch.float64, device=value.device)
    probe[:, :2].uniform_(-1, 1, generator=gen)
    probe[:, 2] = 1
    a = csr_matrix(edge_index[0], edge_index[1], value.double(), (n, n),
                   crow)
    out = a @ probe  # one SpMM of width 3
    m = probe[:, :2].t() @ out[:, :2]  # M = [s r]^T A [s r]
    gap = float((m[1, 0] - m[0, 1]).abs())
    # The scale of the compared sums: E|s_i r_j| = 1/4 for uniform draws,
    # so |s|^T A |r| + |r|^T A |s| is about half the total weight (the
    # degrees' sum). Round-off of float32 weights passes; asymmetry above
    # ~1e-9 of the weighted total fails.
    size = 0.5 * float(out[:, 2].sum())
    return gap <= 1e-9 * size, out[:, 2]


def _exactly_symmetric(edge_index: Tensor, value: Tensor, n: int) -> bool:
    row, col = edge_index
    transposed, perm = torch.sort(col * n + row)
    if not torch.equal(transposed, row * n + col):
        return False
    v = value.detach()
    gap = (v[perm] - v).abs()
    return bool((gap <= _SYMMETRY_RTOL * (v.abs() + v.abs().max())).all())
