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

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.utils import scatter

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


# Edges per chunk of the per-edge passes: their temporaries (16 MB of
# float64) stay under glibc's largest mmap threshold (32 MB), so they are
# recycled from the heap instead of being mapped and faulted in afresh; on
# a 10^6-node graph (2e7 edges) the page faults of whole-array temporaries
# were more than half of the coarsening's time.
_CHUNK = 1 << 21


def _chunks(length: int) -> list[slice]:
    return [slice(start, min(start + _CHUNK, length))
            for start in range(0, length, _CHUNK)]


def _best_neighbour(row: Tensor, col: Tensor, score: Tensor, n: int,
                    free: Optional[Tensor] = None) -> Tensor:
    r"""Each node's neighbour of largest score, over the edges between two
    ``free`` nodes when given (all edges otherwise; a score of
    :math:`-\infty` marks an edge never chosen); ``n`` for a node without
    any."""
    def scores(part: slice) -> Tensor:
        s = score[part]
        if free is None:
            return s
        open_ = free.index_select(0, row[part]) & \
            free.index_select(0, col[part])
        return s.masked_fill(~open_, -math.inf)

    parts = _chunks(row.numel())
    top = torch.full((n,), -1.0, dtype=score.dtype, device=score.device)
    for part in parts:
        top.scatter_reduce_(0, row[part], scores(part), 'amax')
    best = torch.full((n,), n, dtype=torch.long, device=row.device)
    for part in parts:
        hit = scores(part) == top.index_select(0, row[part])
        best.scatter_reduce_(0, row[part][hit], col[part][hit], 'amin')
    return best


def coarsen(edge_index: Tensor, weight: Tensor, num_nodes: int, size: Tensor,
            gen: torch.Generator, normalized: bool) -> Level:
    r"""One level of heavy-edge matching (module docstring) of the graph
    ``(edge_index, weight)`` (symmetric, coalesced, sorted by row; its
    nodes stand for ``size`` fine nodes each)."""
    n = num_nodes
    row, col = edge_index
    # A symmetric random factor in [1, 1.01) per edge breaks ties (every
    # edge of an unweighted graph scores alike at the first level); being
    # symmetric, an edge heaviest at both ends is proposed by both.
    # Self-loops score -inf: a node is never its own best neighbour.
    u = torch.rand(n, generator=gen, dtype=torch.float64, device=row.device)
    score = torch.empty(row.numel(), dtype=torch.float64, device=row.device)
    for part in _chunks(row.numel()):
        r, c = row[part], col[part]
        s = weight[part].double() / (size[r] * size[c]) * (
            1 + 0.01 * torch.frac(u[r] + u[c]))
        score[part] = s.masked_fill_(r == c, -math.inf)
    nodes = torch.arange(n, device=row.device)
    group = nodes.clone()
    free = torch.ones(n, dtype=torch.bool, device=row.device)
    for _ in range(_ROUNDS):
        best = _best_neighbour(row, col, score, n, free)
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
    deg = scatter(weight, row, 0, n, 'sum')
    volume = scatter(deg, group, 0, num_groups, 'sum')
    ratio = deg / volume[group].clamp_min(torch.finfo(deg.dtype).tiny)
    scale = ratio.sqrt() if normalized else ratio
    coarse_index, coarse_weight = _summed(row, col, weight, group,
                                          num_groups)
    return Level(coarse_index, coarse_weight, num_groups, group, scale)


def _summed(row: Tensor, col: Tensor, weight: Tensor, group: Tensor,
            n: int) -> tuple[Tensor, Tensor]:
    """The edges ``(group[row], group[col])`` sorted by (row, col),
    duplicates summed: what PyG's ``coalesce(..., reduce='sum')`` returns,
    with one sort of the keys, computed by chunks, and no sort of the
    edge pairs."""
    key = torch.empty_like(row)
    for part in _chunks(row.numel()):
        torch.add(group.index_select(0, col[part]),
                  group.index_select(0, row[part]), alpha=n, out=key[part])
    key, order = key.sort(stable=True)  # duplicates summed in input order
    key, slot = torch.unique_consecutive(key, return_inverse=True)
    summed = weight.new_zeros(key.numel()).index_add_(
        0, slot, weight.index_select(0, order))
    return torch.stack([key // n, key % n]), summed


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
