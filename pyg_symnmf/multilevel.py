r"""Multilevel SymNMF for large graphs: coarsen, factor the small graph,
prolong and refine.

1. **Coarsen** by heavy-edge matching, :math:`O(|\mathcal{E}|)` per level:
   every node proposes to the neighbour of largest
   :math:`a_{ij}/(n_i n_j)` (:math:`n` = fine nodes merged so far, so
   merged nodes stay balanced; ties broken by a seeded symmetric random
   factor), mutual proposals are matched (three rounds, each among the
   nodes still unmatched), and a node left unmatched joins the group of its
   best neighbour. The coarse graph is
   :math:`\mathbf{P}^\top\mathbf{A}\mathbf{P}` (weights summed, weights
   inside a group kept as self-loops), so its degrees are the groups'
   volumes. Levels are added until at most ``coarse_nodes`` nodes remain
   or a level shrinks the graph by less than 10 %.
2. **Factor** the coarsest graph (normalised as the input is) from its
   spectral start (:func:`~pyg_symnmf.init.spectral_membership`) with
   safeguarded ANLS.
3. **Prolong and refine**, level by level: node :math:`i` of group
   :math:`I` starts from :math:`\mathbf{h}_i = s_i\,\mathbf{h}_I`, with
   :math:`s_i = \sqrt{d_i/D_I}` on a normalised operator (exact when
   :math:`\mathbf{A}` is degree-corrected block-constant: then
   :math:`d_i^{-1/2}a_{ij}d_j^{-1/2} = s_i s_j\,\hat{a}_{IJ}`) and
   :math:`s_i = d_i/D_I` on a raw one (for the same reason), followed by
   ``refine_iter`` safeguarded ANLS iterations on every coarser level's
   operator and by ANLS to ``tol`` (at most ``max_iter`` iterations) on
   the input graph, as a single-level solve runs.

The coarser levels cost a few SpMMs of fewer nonzeros each; the prolonged
start spares the input graph the random start's plateau (N = 2·10⁵,
k = 50, planted partition at mixing 0.3: 14 iterations at the input
graph against 44 from a random start, the same NMI; see
``benchmarks/scale.py`` and the README), at the cost of the coarsening's
sorts. Three iterations at the input graph instead, as before, left the
communities short of the optimum (NMI 0.885 against ANLS's 0.981 on the
LFR-like graph at 10⁶ nodes). On graphs of at most ``coarse_nodes``
nodes it is the single-level spectral start and ANLS.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.utils import coalesce, scatter

from .adjacency import Adjacency, csr_matrix, normalized_values
from .init import spectral_membership, zero_isolated
from .defaults import DEFAULT_ALPHA, DEFAULT_MAX_ITER, DEFAULT_TOL
from .solvers import SolverResult, solve, warn_unconverged

__all__ = ['Level', 'coarsen', 'hierarchy', 'multilevel_symnmf',
           'default_coarse_nodes']


@dataclass
class Level:
    """One coarsening step: the coarse graph (raw summed weights, as COO
    sorted by row, self-loops included), the group of every fine node and
    the prolongation scale :math:`s_i` of every fine node."""
    edge_index: Tensor
    weight: Tensor
    num_nodes: int
    group: Tensor
    scale: Tensor


# Matching rounds per level, each among the nodes still unmatched. Measured
# on a planted partition (N = 2e5, k = 50, mixing 0.3): one round then
# attaching left 4 levels and NMI 0.954, three rounds 3 levels and 0.990.
_ROUNDS = 3


def default_coarse_nodes(k: int) -> int:
    r"""Size of the coarsest graph: :math:`\max(20k, 2000)` nodes, enough
    for its spectral start and k-means to see every community with room to
    spare (the rule of the sampled k-means of the spectral start)."""
    return max(20 * k, 2000)


def _best_neighbour(row: Tensor, col: Tensor, score: Tensor, n: int
                    ) -> Tensor:
    """Each node's neighbour of largest score over the given edges; ``n``
    for a node without any."""
    top = torch.full((n,), -1.0, dtype=score.dtype, device=score.device)
    top = top.scatter_reduce(0, row, score, 'amax')
    hit = score == top[row]
    best = torch.full((n,), n, dtype=torch.long, device=row.device)
    return best.scatter_reduce(0, row[hit], col[hit], 'amin')


def coarsen(edge_index: Tensor, weight: Tensor, num_nodes: int, size: Tensor,
            gen: torch.Generator, normalized: bool) -> Level:
    r"""One level of heavy-edge matching (module docstring) of the graph
    ``(edge_index, weight)`` (symmetric, coalesced, sorted by row; its
    nodes stand for ``size`` fine nodes each)."""
    n = num_nodes
    row, col = edge_index
    off = row != col
    row, col, w = row[off], col[off], weight[off]
    # A symmetric random factor in [1, 1.01) per edge breaks ties (every
    # edge of an unweighted graph scores alike at the first level); being
    # symmetric, an edge heaviest at both ends is proposed by both.
    u = torch.rand(n, generator=gen, dtype=torch.float64, device=w.device)
    score = w.double() / (size[row] * size[col]) * (
        1 + 0.01 * torch.frac(u[row] + u[col]))
    nodes = torch.arange(n, device=row.device)
    group = nodes.clone()
    free = torch.ones(n, dtype=torch.bool, device=row.device)
    for _ in range(_ROUNDS):
        open_ = free[row] & free[col]
        best = _best_neighbour(row[open_], col[open_], score[open_], n)
        partner = best.clamp(max=n - 1)
        mutual = (best < n) & (best[partner] == nodes)
        group = torch.where(mutual, torch.minimum(nodes, partner), group)
        free &= ~mutual
    # Nodes left unmatched join their best neighbour's group.
    best = _best_neighbour(row, col, score, n)
    loose = free & (best < n)
    group = torch.where(loose, group[best.clamp(max=n - 1)], group)
    group = torch.unique(group, return_inverse=True)[1]
    num_groups = int(group.max()) + 1 if n > 0 else 0
    deg = scatter(weight, edge_index[0], 0, n, 'sum')
    volume = scatter(deg, group, 0, num_groups, 'sum')
    ratio = deg / volume[group].clamp_min(torch.finfo(deg.dtype).tiny)
    scale = ratio.sqrt() if normalized else ratio
    coarse_index, coarse_weight = coalesce(group[edge_index], weight,
                                           num_groups, reduce='sum')
    return Level(coarse_index, coarse_weight, num_groups, group, scale)


def hierarchy(adj: Adjacency, coarse_nodes: int, seed: int = 0
              ) -> list[Level]:
    """The levels of coarsening of ``adj`` (its stored values as weights)
    down to at most ``coarse_nodes`` nodes, or until a level shrinks the
    graph by less than 10 %."""
    gen = torch.Generator(device=adj.device).manual_seed(seed)
    edge_index = torch.stack([adj.row(), adj.col()])
    weight, n = adj.values.detach(), adj.num_nodes
    size = torch.ones(n, dtype=torch.float64, device=adj.device)
    levels: list[Level] = []
    while n > coarse_nodes:
        level = coarsen(edge_index, weight, n, size, gen, adj.normalized)
        if level.num_nodes > 0.9 * n:
            break
        levels.append(level)
        size = scatter(size, level.group, 0, level.num_nodes, 'sum')
        edge_index, weight, n = level.edge_index, level.weight, \
            level.num_nodes
    return levels


def _operator(edge_index: Tensor, weight: Tensor, n: int,
              normalized: bool) -> Adjacency:
    values = normalized_values(edge_index, weight, n) if normalized \
        else weight
    return Adjacency(csr_matrix(edge_index[0], edge_index[1], values,
                                (n, n)), values, normalized)


def multilevel_symnmf(adj: Adjacency, k: int, *, refine_iter: int = 3,
                      coarse_iter: int = 30, coarse_nodes: Optional[int] = None,
                      max_iter: int = DEFAULT_MAX_ITER,
                      tol: float = DEFAULT_TOL, alpha: float = DEFAULT_ALPHA,
                      seed: int = 0, start_iterations: int = 10,
                      warn: bool = True) -> SolverResult:
    r"""SymNMF of ``adj`` by the multilevel scheme of the module docstring.

    Args:
        adj (Adjacency): The operator (validated; normalised or raw).
        k (int): Number of communities.
        refine_iter (int): Safeguarded ANLS iterations at every level
            between the coarsest and the input graph. (default: 3)
        coarse_iter (int): Most ANLS iterations on the coarsest graph
            (stopped by ``tol``) when it is not the input. (default: 30)
        coarse_nodes (int, optional): Coarsen until at most this many nodes
            remain. (default: :func:`default_coarse_nodes`)
        max_iter (int): Most ANLS iterations on the input graph.
        tol (float): Stopping tolerance of the coarsest and of the input
            graph's solve.
        alpha (float): Initial damping of every solve.
        seed (int): Seeds the matching's tie-breaks and the spectral start.
        start_iterations (int): SpMMs of the coarsest spectral start.
        warn (bool): Warn with :class:`~pyg_symnmf.ConvergenceWarning`
            when the input graph's solve reaches ``max_iter``.

    Returns:
        :class:`~pyg_symnmf.solvers.SolverResult` of the finest level:
        ``h`` :math:`(N, k)`, its loss curve; ``n_spmm`` counts the SpMMs of
        every level weighted by its share of the input's nonzeros (SpMMs of
        the input graph's size), ``n_iter`` the finest level's iterations.
    """
    coarse_nodes = default_coarse_nodes(k) if coarse_nodes is None \
        else coarse_nodes
    levels = hierarchy(adj, max(coarse_nodes, k), seed)
    operators = [adj]
    for level in levels:
        operators.append(_operator(level.edge_index, level.weight,
                                   level.num_nodes, adj.normalized))
    coarsest = operators[-1]
    h = spectral_membership(coarsest, k, start_iterations, seed)
    result = solve(coarsest, h, 'anls', max_iter=coarse_iter if levels
                   else max_iter, tol=tol, alpha=alpha, warn=False)
    spmm = (start_iterations + result.n_spmm) * coarsest.num_edges
    for level, fine in zip(reversed(levels), reversed(operators[:-1])):
        h = zero_isolated(fine, result.h[level.group]
                          * level.scale.to(result.h.dtype)[:, None])
        # The coarser levels only carry the start down; the input graph is
        # solved to tol (a few iterations there stop short of its optimum).
        finest = fine is adj
        result = solve(fine, h, 'anls',
                       max_iter=max_iter if finest else refine_iter,
                       tol=tol if finest else 0.0, alpha=alpha, warn=False)
        spmm += result.n_spmm * fine.num_edges
    if warn:
        warn_unconverged(result, 'multilevel', max_iter, tol,
                         ' on the input graph')
    result.n_spmm = round(spmm / max(adj.num_edges, 1))
    return result
