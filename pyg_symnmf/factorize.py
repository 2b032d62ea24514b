r"""The functional entry point :func:`symnmf`: one call from a graph to
memberships :math:`\mathbf{H}`, with the pretrained SymNMF-Net or a
classical solver, for one graph or a batch of graphs."""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor

from .adjacency import Adjacency, GraphLike, to_adjacency
from .init import random_membership
from .solvers import CLASSICAL_METHODS, DEFAULT_ALPHA, SolverResult, solve
from .validation import (check_batch, check_nodes_tensor, check_number,
                         check_rank)

__all__ = ['symnmf', 'factorize', 'METHODS']

METHODS = CLASSICAL_METHODS


def symnmf(
    edge_index: GraphLike,
    k: int,
    edge_weight: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    method: str = 'anls',
    *,
    max_iter: int = 300,
    tol: float = 1e-6,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
    h0: Optional[Tensor] = None,
    normalize: Optional[bool] = None,
    batch: Optional[Tensor] = None,
    verbose: bool = False,
) -> Tensor:
    r"""Symmetric NMF :math:`\min_{\mathbf{H}\ge 0}\|\mathbf{A} -
    \mathbf{H}\mathbf{H}^\top\|_F^2` of a graph.

    Args:
        edge_index: The graph, in any form :func:`~pyg_symnmf.to_adjacency`
            accepts (an :class:`~pyg_symnmf.Adjacency` is used as is).
        k (int): Number of communities, :math:`1 \le k \le N` (of every
            graph, with ``batch``).
        edge_weight (torch.Tensor, optional): Edge weights.
        num_nodes (int, optional): Number of nodes.
        method (str): A classical solver, ``"anls"``, ``"hals"``, ``"mu"``
            or ``"pgd"``: all are safeguarded descent methods (see
            :mod:`pyg_symnmf.solvers`).
        max_iter (int): Maximum number of iterations (one SpMM each).
            (default: 300)
        tol (float): Stop when an accepted step lowers the loss by less than
            ``tol`` relative to it; ``0`` runs all ``max_iter``.
            (default: 1e-6)
        alpha (float): Initial damping :math:`\alpha > 0`, relative to the
            operator's scale. (default: 0.1)
        seed (int): Seed of the random start. (default: 0)
        h0 (torch.Tensor, optional): Start :math:`(N, k)` instead of the
            random one (see :func:`~pyg_symnmf.init.random_membership`).
        normalize (bool, optional): Normalise the adjacency symmetrically.
            (default: :obj:`True`)
        batch (torch.Tensor, optional): Sorted graph index of each node:
            each graph of the batch is factored on its own.
        verbose (bool): Print the loss every 10 iterations.

    Returns:
        :math:`\mathbf{H}` of shape :math:`(N, k)`, nonnegative (the best
        iterate). Use :func:`factorize` or
        :class:`~pyg_symnmf.SymNMFClustering` for the loss curve and the
        iteration count.
    """
    adj = to_adjacency(edge_index, edge_weight, num_nodes,
                       normalize=normalize,
                       dtype=h0.dtype if isinstance(h0, Tensor)
                       and h0.is_floating_point() else None)
    batch = check_batch(batch, adj.num_nodes)
    options = dict(method=method, max_iter=max_iter, tol=tol, alpha=alpha,
                   seed=seed, verbose=verbose)
    if batch is None:
        return factorize(adj, k, h0=h0, **options).h
    parts = [factorize(sub, k, h0=None if h0 is None else h0[start:end],
                       **options).h
             for sub, start, end in split_batch(adj, batch)]
    return torch.cat(parts) if parts else adj.values.new_zeros(0, k)


def factorize(adj: Adjacency, k: int, method: str = 'anls', *,
              max_iter: int = 300, tol: float = 1e-6,
              alpha: float = DEFAULT_ALPHA, seed: int = 0,
              h0: Optional[Tensor] = None, verbose: bool = False,
              warn: bool = True) -> SolverResult:
    """:func:`symnmf` on a built operator, returning the diagnostics too
    (loss curve, iterations, SpMMs). Validates every argument."""
    validate_method(method)
    k = check_rank(k, adj.num_nodes)
    check_number('max_iter', max_iter, integer=True, low=0)
    check_number('tol', tol, low=0)
    check_number('alpha', alpha, low=0, low_open=True)
    check_number('seed', seed, integer=True, low=0)
    if h0 is None:
        h = random_membership(adj, k, seed)
    else:
        check_nodes_tensor('h0', h0, adj.num_nodes, adj.device, adj.dtype, k)
        if bool((h0 < 0).any()):
            raise ValueError("'h0' must be nonnegative")
        h = h0.detach().clone()
    return solve(adj, h, method, max_iter=max_iter, tol=tol, alpha=alpha,
                 verbose=verbose, warn=warn)


def validate_method(method: Union[str, object]) -> str:
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of "
                         f"{', '.join(METHODS)}")
    return method


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
        csr = torch.sparse_csr_tensor(crow[start:end + 1] - lo,
                                      adj.col()[lo:hi] - start,
                                      values.detach(), (size, size),
                                      check_invariants=False)
        if size > 0:
            parts.append((Adjacency(csr, values, adj.normalized), start, end))
        start = end
    return parts
