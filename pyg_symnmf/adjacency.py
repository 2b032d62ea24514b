r"""One validated sparse operator for every accepted graph input.

Every module of :mod:`pyg_symnmf` reaches the graph through
:func:`to_adjacency`, which turns an ``edge_index`` (plus optional
``edge_weight``), PyG's :class:`~torch_geometric.EdgeIndex`, a
:class:`torch.sparse` COO/CSR/CSC tensor, a dense tensor or a
:class:`torch_sparse.SparseTensor` into an :class:`Adjacency`: a coalesced
symmetric CSR matrix, optionally normalised as
:math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`. Building it costs one
sort of the edges; pass the returned :class:`Adjacency` wherever a graph is
accepted to reuse it.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor
from torch_geometric.index import index2ptr
from torch_geometric.typing import SparseTensor
from torch_geometric.utils import coalesce, is_torch_sparse_tensor

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@dataclass(frozen=True)
class Adjacency:
    r"""A validated, coalesced, symmetric sparse matrix :math:`\mathbf{A}`.

    Attributes:
        csr (torch.Tensor): :math:`N \times N` matrix in
            :obj:`torch.sparse_csr` layout.
        sq_norm (torch.Tensor): :math:`\|\mathbf{A}\|_F^2` as a 0-dim tensor,
            the constant term of the SymNMF loss.
    """
    csr: Tensor
    sq_norm: Tensor

    @property
    def num_nodes(self) -> int:
        return self.csr.size(0)

    @property
    def num_edges(self) -> int:
        """Number of stored nonzeros (each undirected edge counts twice)."""
        return self.csr._nnz()

    @property
    def device(self) -> torch.device:
        return self.csr.device

    @property
    def dtype(self) -> torch.dtype:
        return self.csr.dtype

    def row(self) -> Tensor:
        """Row index of every nonzero, in storage order."""
        crow = self.csr.crow_indices()
        return torch.repeat_interleave(
            torch.arange(self.num_nodes, device=self.device), crow.diff())

    def col(self) -> Tensor:
        return self.csr.col_indices()

    def values(self) -> Tensor:
        return self.csr.values()

    def degree(self) -> Tensor:
        """Weighted degree (row sums), shape :math:`(N,)`."""
        deg = torch.zeros(self.num_nodes, dtype=self.dtype, device=self.device)
        return deg.index_add_(0, self.row(), self.values())

    def to(self, *args: Any, **kwargs: Any) -> 'Adjacency':
        return Adjacency(self.csr.to(*args, **kwargs),
                         self.sq_norm.to(*args, **kwargs))

    def __repr__(self) -> str:
        return (f'Adjacency(num_nodes={self.num_nodes}, '
                f'nnz={self.num_edges}, dtype={self.dtype}, '
                f'device={self.device})')


def to_adjacency(
    adj: Any,
    edge_weight: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    *,
    normalize: bool = True,
    symmetrize: bool = False,
    add_self_loops: bool = False,
    dtype: Optional[torch.dtype] = None,
) -> Adjacency:
    r"""Converts any accepted graph input into one validated
    :class:`Adjacency`.

    Args:
        adj: The graph: an ``edge_index`` of shape :math:`(2, E)` (integer
            dtype, PyG's :class:`~torch_geometric.EdgeIndex` included), a
            :class:`torch.sparse` tensor (COO, CSR or CSC), a dense
            floating-point :math:`N \times N` tensor, a
            :class:`torch_sparse.SparseTensor`, or an :class:`Adjacency`
            (returned as is).
        edge_weight (torch.Tensor, optional): Nonnegative finite weights of
            shape :math:`(E,)`, only with ``edge_index``. (default: ones)
        num_nodes (int, optional): Number of nodes :math:`N`. Inferred from
            ``edge_index`` when omitted; must match the matrix size
            otherwise. Isolated nodes beyond the largest index need it.
        normalize (bool): Return :math:`\mathbf{D}^{-1/2}\mathbf{A}
            \mathbf{D}^{-1/2}` (isolated nodes keep zero rows).
            (default: :obj:`True`)
        symmetrize (bool): Replace a non-symmetric input by
            :math:`(\mathbf{A} + \mathbf{A}^\top)/2`, the nearest symmetric
            matrix; SymNMF's loss differs from the original one only by a
            constant. Without it, a non-symmetric input raises.
            (default: :obj:`False`)
        add_self_loops (bool): Add unit self-loops to nodes that have none
            before normalising. (default: :obj:`False`)
        dtype (torch.dtype, optional): Floating dtype of the values. Defaults
            to the weights' dtype, with float16/bfloat16 computed in float32
            (the sparse kernels and the inversion layer need it).

    Raises:
        TypeError: for an input of an unsupported type or dtype.
        ValueError: for a wrong shape, out-of-range indices, mismatched
            devices, negative or non-finite weights, or a non-symmetric
            matrix without ``symmetrize=True``.
    """
    if isinstance(adj, Adjacency):
        if num_nodes is not None and num_nodes != adj.num_nodes:
            raise ValueError(f"num_nodes={num_nodes} does not match the "
                             f"adjacency's {adj.num_nodes} nodes")
        return adj if dtype in (None, adj.dtype) else adj.to(dtype)

    row, col, value, n = _to_coo(adj, edge_weight, num_nodes)
    value = _check_values(value, dtype)
    if add_self_loops:
        row, col, value = _add_missing_self_loops(row, col, value, n)
    # Sorting by (row, col) coalesces duplicates (summed) and yields CSR order.
    edge_index, value = coalesce(torch.stack([row, col]), value, n,
                                 reduce='sum')
    row, col = edge_index[0], edge_index[1]
    row, col, value = _symmetric(row, col, value, n, symmetrize)
    if normalize:
        inv_sqrt = inv_sqrt_degree(row, value, n)
        value = inv_sqrt[row] * value * inv_sqrt[col]
    return Adjacency(csr_matrix(row, col, value, (n, n)), value.square().sum())


def inv_sqrt_degree(row: Tensor, value: Tensor, num_rows: int) -> Tensor:
    r""":math:`d_i^{-1/2}` of each row's weighted degree (0 for empty rows)."""
    deg = torch.zeros(num_rows, dtype=value.dtype, device=value.device)
    deg.index_add_(0, row, value)
    return deg.pow(-0.5).masked_fill_(deg == 0, 0.0)


def csr_matrix(row: Tensor, col: Tensor, value: Tensor,
               shape: tuple[int, int]) -> Tensor:
    """A CSR tensor from row-sorted COO entries (no invariant checks)."""
    with warnings.catch_warnings():  # CSR's "beta" notice, on every build
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(index2ptr(row, shape[0]), col, value,
                                       shape, check_invariants=False)


def _to_coo(adj: Any, edge_weight: Optional[Tensor],
            num_nodes: Optional[int]) -> tuple[Tensor, Tensor, Tensor, int]:
    """Returns ``(row, col, value, num_nodes)`` for every accepted input."""
    if SparseTensor is not None and isinstance(adj, SparseTensor):
        _no_edge_weight(edge_weight, 'a SparseTensor')
        row, col, value = adj.coo()
        n = _square_size(tuple(adj.sizes()), num_nodes)
        if value is None:
            value = torch.ones(row.numel(), device=row.device)
        return row, col, value, n
    if not isinstance(adj, Tensor):
        raise TypeError(
            f"Expected 'edge_index' (LongTensor of shape [2, E]), a "
            f"torch.sparse tensor, a dense adjacency or a SparseTensor, "
            f"got {type(adj).__name__}")
    if is_torch_sparse_tensor(adj):
        _no_edge_weight(edge_weight, 'a torch.sparse tensor')
        n = _square_size(tuple(adj.shape), num_nodes)
        coo = adj.to_sparse_coo().coalesce()
        row, col = coo.indices()
        return row, col, coo.values(), n
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
        row, col = adj.nonzero().t()
        return row, col, adj[row, col], n
    return _edge_index_to_coo(adj, edge_weight, num_nodes)


def _edge_index_to_coo(edge_index: Tensor, edge_weight: Optional[Tensor],
                       num_nodes: Optional[int]):
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"'edge_index' must have an integer dtype (int64 or "
                        f"int32), got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges], got "
                         f"{list(edge_index.shape)}")
    edge_index = edge_index.as_subclass(Tensor).long()  # drop EdgeIndex meta
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
    if num_edges > 0 and int(edge_index.min()) < 0:
        raise ValueError("'edge_index' contains negative node indices")
    max_index = int(edge_index.max()) + 1 if num_edges > 0 else 0
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
    return edge_index[0], edge_index[1], edge_weight, num_nodes


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
    if dtype is None:
        dtype = value.dtype if value.dtype in (torch.float32, torch.float64) \
            else torch.float32
    elif dtype not in _FLOAT_DTYPES[2:]:
        raise TypeError(f"'dtype' must be torch.float32 or torch.float64, "
                        f"got {dtype}")
    if value.is_complex():
        raise TypeError("Edge weights must be real, got a complex tensor")
    value = value.to(dtype)
    if not bool(torch.isfinite(value).all()):
        raise ValueError("Edge weights contain NaN or Inf; SymNMF needs "
                         "finite nonnegative weights")
    if bool((value < 0).any()):
        raise ValueError("Edge weights contain negative values; SymNMF needs "
                         "a nonnegative matrix (shift or clip the weights)")
    return value


def _add_missing_self_loops(row: Tensor, col: Tensor, value: Tensor, n: int):
    has_loop = torch.zeros(n, dtype=torch.bool, device=row.device)
    has_loop[row[row == col]] = True
    loop = (~has_loop).nonzero().view(-1)
    return (torch.cat([row, loop]), torch.cat([col, loop]),
            torch.cat([value, value.new_ones(loop.numel())]))


def _symmetric(row: Tensor, col: Tensor, value: Tensor, n: int,
               symmetrize: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Checks (or enforces) symmetry of a coalesced COO matrix."""
    # Position of each entry's transpose in (row, col) order.
    perm = torch.argsort(col * n + row, stable=True)
    if (torch.equal(row[perm], col) and torch.equal(col[perm], row)
            and torch.allclose(value[perm], value, rtol=1e-5, atol=1e-12)):
        return row, col, value
    if not symmetrize:
        raise ValueError(
            "The adjacency matrix is not symmetric. SymNMF factors A ~ H H^T "
            "and needs an undirected graph: convert it with "
            "torch_geometric.utils.to_undirected, or pass symmetrize=True to "
            "use (A + A^T) / 2")
    edge_index = torch.cat([torch.stack([row, col]), torch.stack([col, row])],
                           dim=1)
    edge_index, value = coalesce(edge_index, torch.cat([value, value]) / 2, n,
                                 reduce='sum')
    return edge_index[0], edge_index[1], value
