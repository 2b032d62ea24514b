r"""Polishing a hard partition by modularity: local moves, merges and
connected communities, in the spirit of Louvain and Leiden.

A factorization gives soft, global structure; its argmax is a partition
that single nodes may still prefer to leave. :func:`refine_partition`
turns it into one that holds up under modularity

.. math::
    Q_\gamma = \sum_c \Big[\frac{L_c}{2m} - \gamma\Big(\frac{d_c}{2m}
    \Big)^2\Big]

(:func:`pyg_symnmf.metrics.modularity`), in three vectorised steps, each
:math:`O(|\mathcal{E}|)` per round and none lowering :math:`Q_\gamma`:

1. **Local moves.** Every node computes the exact gain of moving to each
   community it has an edge to, or to a new community of its own,

   .. math::
       \Delta Q_{i: c \to d} = \frac{2(w_{id} - w_{ic})}{2m}
       - \gamma\,\frac{2 k_i (d_d - d_c + k_i)}{(2m)^2},

   (:math:`w_{id}` the weight from :math:`i` to :math:`d`, :math:`k_i` its
   degree) and the nodes with a positive best gain move together. Moves
   made together interact (two neighbours swapping communities), so the new
   :math:`Q_\gamma` is computed exactly (from the edges of the moved nodes
   and the volumes of their communities, not by a pass over all edges) and
   the round is taken only if it rose; otherwise a random half of the
   movers tries again, then a quarter, and finally the moves that share no
   community with a better move, whose gains add up exactly. Each round a
   random half of the communities may only receive nodes and the other half
   only send them (the other way round when that gives no move), so that
   two groups never swap places at once: on a 10^5-node planted partition,
   moving every node together merged planted communities. A node alone in
   its community joins another lone node only if that one has a smaller
   label. A node that stays as a sender for two rounds retires until a
   neighbour moves (Leiden's queue). From the given partition, and inside
   communities in step 2, the moves stop early when they no longer pay
   (:obj:`EARLY`: a round's rise per edge scanned under 5 % of the mean so
   far; on a 10^5-node planted partition, from singletons, rounds kept
   moving a tenth of the nodes for ever smaller rises); step 2 and the last
   pass take it from there.
2. **Refinement and merges** (``aggregate``, Leiden's second phase): each
   community is refined from singletons by step 1 restricted to its own
   edges; the sub-communities become the nodes of a weighted graph
   (internal weight as self-loops), start in their community, and step 1
   moves them between communities there (so a community can split); while
   a community holds several of them, they are refined and aggregated
   again, level after level as in Leiden (from singletons, two passes of
   one level each reached :math:`Q_\gamma` 0.616 on Enron's e-mail
   network and 0.726 on cond-mat, leidenalg 0.611 and 0.727, means over
   seeds 0-2; with the levels, 0.619 and 0.731 at the same cost); then
   the communities merge level after level until nothing merges
   (Louvain's aggregation). Steps 1-2 repeat ``iterations`` times or
   until :math:`Q_\gamma` stops rising; with ``iterations=None`` until a
   pass no longer pays: its rise under :obj:`EARLY` times the mean rise
   of the passes after the first (the first builds the partition). On the
   two networks above that gave 0.621 and 0.738, a ``k='auto'`` fit
   taking 2.7 and 3.0 times leidenalg's time (passes until
   :math:`Q_\gamma` stops rising: 0.624 and 0.739, 5.3 and 5.2 times).
3. **Connected communities**: a community made of pieces without edges
   between them is split into its connected components (this always
   raises :math:`Q_\gamma`: Leiden's guarantee that communities are
   connected).

After the last pass, step 1 runs once more, so that the result is not a
level's (parts moved) but one that single nodes hold to.

With ``fixed_k`` the number of communities never rises: step 1 runs
without new communities, and then (``aggregate``) step 2 keeps it: each
community is split by its own modularity partition (step 1 from
singletons on its edges, then merges inside it, with the whole graph's
null model), the parts are merged back greedily to the given number of
communities, the pair of largest :math:`\Delta Q_\gamma` first (CNM's
agglomeration on the :math:`k' \times k'` graph of parts), and step 1
runs again; the result is taken only if :math:`Q_\gamma` rose, for at most
``iterations`` passes. This undoes what node moves cannot: two communities
merged in one label while another is cut in two (a factorization's
typical local optimum at a given :math:`k`; on power-law graphs with 40
planted communities it left two merged pairs and two near-empty labels).
A near-empty column is the sign (:func:`wasted_column`): the estimator runs
step 2 only then, as it costs more than the factorization on large graphs
(2·10⁵ nodes: 37 s against 24 s, for no change on a planted partition).
Rounds stop when :math:`Q_\gamma` rises by less than ``tol`` or after
``max_rounds``.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import Tensor

from .adjacency import (Adjacency, GraphLike, row_entries, row_pointers,
                        to_adjacency)
from .metrics import modularity_from_edges

__all__ = ['refine_partition', 'wasted_column', 'merged_to', 'NEAR_EMPTY',
           'MAX_MERGED']

#: Most groups merged greedily on one dense table (:func:`merged_to`, the
#: fixed-k split and merge): 4,096² float64 is 134 MB per table. A partition
#: of more communities (a graph of very many small components) is not
#: brought to k by :func:`~pyg_symnmf.auto_k.partition_at`, and a fixed-k
#: pass whose split gives more parts is not taken.
MAX_MERGED = 4096

# Gains below this are float64 rounding of the sums, not a move's worth.
_MIN_GAIN = 1e-12
#: A column whose community holds under this share of the mean community
#: volume is near-empty (:func:`wasted_column`).
NEAR_EMPTY = 0.01
#: Local moves from a given partition stop early when a round's rise per
#: scanned edge falls below this share of the mean rise per scanned edge
#: of all rounds before (:func:`_local_moves`).
EARLY = 0.05
#: Most passes of steps 1-2 with ``iterations=None``, a safeguard against
#: passes whose rises shrink too slowly for the rule to stop them: on the
#: Enron and cond-mat networks the rule stopped after 7 and 12 passes, on a
#: 10^5-node planted partition after 4.
MAX_PASSES = 20


def refine_partition(graph: GraphLike, labels: Tensor, *,
                     edge_weight: Optional[Tensor] = None,
                     num_nodes: Optional[int] = None,
                     resolution: float = 1.0, aggregate: bool = True,
                     iterations: Optional[int] = 2, max_rounds: int = 100,
                     tol: float = 1e-7, fixed_k: bool = False,
                     seed: int = 0) -> Tensor:
    r"""Refines a hard partition for modularity :math:`Q_\gamma` (module
    notes): the result's :math:`Q_\gamma` is never below that of
    ``labels``, and its communities are connected.

    Args:
        graph: The graph in any form :func:`~pyg_symnmf.to_adjacency`
            accepts; modularity uses its raw weights (an
            :class:`~pyg_symnmf.Adjacency` is used as is, so pass an
            unnormalised one).
        labels (torch.Tensor): Community of each node, shape :math:`(N,)`
            (any integers).
        edge_weight (torch.Tensor, optional): Edge weights.
        num_nodes (int, optional): Number of nodes.
        resolution (float): :math:`\gamma > 0`. (default: 1.0)
        aggregate (bool): Also refine inside communities and move and merge
            the parts (step 2; with ``fixed_k``, its split and merge back
            to the given number). (default: :obj:`True`)
        iterations (int, optional): Most passes of steps 1-2 (they stop
            early when :math:`Q_\gamma` no longer rises); 2 is leidenalg's
            default. :obj:`None`: passes until one no longer pays (its
            rise under :obj:`EARLY` times the mean rise of the passes
            after the first, module notes), at most :obj:`MAX_PASSES`.
            (default: 2)
        max_rounds (int): Most rounds of local moves per level.
            (default: 100)
        tol (float): Stop a level when a round raises :math:`Q_\gamma` by
            less. (default: 1e-7)
        fixed_k (bool): Keep the given number of communities: nodes move
            between them, and (``aggregate``) communities are split and
            merged back to that number (module notes); it never rises.
            (default: :obj:`False`)
        seed (int): Seed of the random halving of conflicting moves.

    Returns:
        Labels :math:`(N,)` on the device of ``labels``: with ``fixed_k``,
        the given labels; else in :math:`[0, k')`, numbered by first
        appearance.
    """
    if not resolution > 0:
        raise ValueError(f"'resolution' must be positive, got {resolution}")
    adj, labels = _raw_with_labels(graph, labels, edge_weight, num_nodes)
    device = labels.device
    graph_ = _Graph.of(adj)
    gen = torch.Generator().manual_seed(seed)
    ids, current = torch.unique(labels.cpu().long(), return_inverse=True)
    if graph_.two_m > 0 and fixed_k:
        current = _local_moves(graph_, current, resolution, max_rounds, tol,
                               gen, new_communities=False)
        if aggregate:
            current = _fixed_k_levels(graph_, current, ids.numel(),
                                      resolution, iterations, max_rounds,
                                      tol, gen)
    elif graph_.two_m > 0:
        current = connected_communities(graph_, current)
        quality = graph_.modularity(current, resolution)
        gains: list[float] = []  # each pass's rise
        while len(gains) < (MAX_PASSES if iterations is None
                            else iterations):
            current = _local_moves(graph_, current, resolution, max_rounds,
                                   tol, gen, early=EARLY)
            if not aggregate:
                break
            better = _leiden_level(graph_, current, resolution, max_rounds,
                                   tol, gen)
            q = graph_.modularity(better, resolution)
            if not q > quality + tol:
                break
            gains.append(q - quality)
            current, quality = better, q
            if iterations is None and _no_longer_pays(gains):
                break
        # A last pass of node moves: no node gains by leaving its community
        # (a level's result moved parts, not nodes).
        current = _local_moves(graph_, current, resolution, max_rounds, tol,
                               gen)
        current = connected_communities(graph_, current)
    if fixed_k:  # the given labels, one per community
        return ids[current].to(device)
    return _compact(current).to(device)


def _raw_with_labels(graph: GraphLike, labels: Tensor,
                     edge_weight: Optional[Tensor] = None,
                     num_nodes: Optional[int] = None
                     ) -> tuple[Adjacency, Tensor]:
    """The raw weights of ``graph`` (an :class:`Adjacency` as it is) and
    ``labels``, checked to hold one community per node."""
    adj = graph if isinstance(graph, Adjacency) else to_adjacency(
        graph, edge_weight, num_nodes, normalize=False, dtype=torch.float64)
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.numel() != adj.num_nodes:
        raise ValueError(f"'labels' must hold one community per node "
                         f"({adj.num_nodes}), got shape {list(labels.shape)}")
    return adj, labels


def _no_longer_pays(gains: list[float]) -> bool:
    r"""Whether passes of steps 1-2 stop (``iterations=None``): the last
    pass raised :math:`Q_\gamma` by less than :obj:`EARLY` times the mean
    rise of the passes after the first (the first builds the partition,
    from singletons in :func:`~pyg_symnmf.auto_k.choose_k`, and its rise
    says nothing of what polishing still gives); the rule of
    :func:`_local_moves`' early stop, one level up."""
    if len(gains) < 3:
        return False
    polish = gains[1:]
    return gains[-1] < EARLY * sum(polish) / len(polish)


def wasted_column(graph: GraphLike, labels: Tensor, k: int) -> bool:
    r"""Whether one of ``k`` columns of a factorization read out as
    ``labels`` (values in :math:`[0, k)`) holds less than
    :obj:`NEAR_EMPTY` (1 %) of the mean community volume (an empty column
    included): the factorization all but wasted it, the sign of two
    communities merged in another column, which node moves cannot undo and
    :func:`refine_partition`'s fixed-:math:`k` split and merge can."""
    adj = graph if isinstance(graph, Adjacency) else to_adjacency(
        graph, normalize=False)
    degree = adj.degree().detach().double()
    volume = torch.zeros(k, dtype=torch.float64,
                         device=degree.device).index_add_(
        0, labels.to(degree.device), degree)
    return bool(volume.min() < NEAR_EMPTY * volume.mean())


def merged_to(graph: GraphLike, labels: Tensor, count: int, *,
              resolution: float = 1.0) -> Tensor:
    r"""Merges the communities of ``labels`` two at a time, the pair of
    largest :math:`\Delta Q_\gamma` first (CNM's greedy agglomeration, the
    one the fixed-:math:`k` refinement uses), until ``count`` remain; as
    given when there are not more. Labels in :math:`[0, \text{count})`,
    numbered by first appearance."""
    adj = graph if isinstance(graph, Adjacency) else to_adjacency(
        graph, normalize=False, dtype=torch.float64)
    current = _compact(labels.cpu().long())
    if current.numel() and int(current.max()) + 1 > count:
        current = _merge_to(_Graph.of(adj), current, count, resolution)
    return _compact(current).to(labels.device)


class _Graph:
    """The stored nonzeros of a symmetric matrix, its degrees and
    :math:`2m`, on the CPU in float64 (gains are differences of sums)."""

    def __init__(self, row: Tensor, col: Tensor, val: Tensor,
                 n: int) -> None:
        self.row, self.col, self.val, self.n = row, col, val, n
        self.degree = torch.zeros(n, dtype=val.dtype).index_add_(0, row, val)
        self.two_m = float(val.sum())
        # A part of a graph (:meth:`restricted`) keeps the whole graph's
        # degrees and 2m, also when coarsened.
        self.partial = False
        off = row != col
        self.off_row, self.off_col, self.off_val = row[off], col[off], val[off]
        # Rows come sorted (CSR order, kept by every subset and coarsening).
        self.off_ptr = row_pointers(self.off_row, n)
        self.off_count = self.off_ptr.diff()

    @classmethod
    def of(cls, adj: Adjacency) -> '_Graph':
        """The stored nonzeros of an unnormalised :class:`Adjacency`."""
        return cls(adj.row().cpu(), adj.col().cpu(),
                   adj.values.detach().cpu().to(torch.float64),
                   adj.num_nodes)

    def edges_of(self, nodes: Tensor) -> tuple[Tensor, Tensor]:
        """Positions of the off-diagonal entries in the rows ``nodes``
        and their rows (ascending nodes give ascending positions), from
        the row pointers: :math:`O(\\sum \\deg)`, no pass over all
        edges."""
        position, which = row_entries(self.off_ptr, nodes)
        return position, nodes.index_select(0, which)

    def restricted(self, labels: Tensor) -> '_Graph':
        """The edges inside the communities of ``labels``, with the whole
        graph's degrees and :math:`2m` (modularity's null model): moves on
        it never leave a community, and its modularity equals the whole
        graph's for partitions finer than ``labels``."""
        inside = labels[self.row] == labels[self.col]
        part = _Graph(self.row[inside], self.col[inside], self.val[inside],
                      self.n)
        part.degree, part.two_m = self.degree, self.two_m
        part.partial = True
        return part

    def modularity(self, labels: Tensor, resolution: float) -> float:
        # 2m of the whole graph (a restricted part keeps it).
        return modularity_from_edges(self.row, self.col, self.val,
                                     self.degree, labels, resolution, self.n,
                                     two_m=self.two_m)


def connected_communities(graph: _Graph, labels: Tensor) -> Tensor:
    r"""Splits every community into its connected components: min-label
    hooking and pointer jumping over the intra-community edges,
    :math:`O(|\mathcal{E}|)` per round. A node without edges stays with
    the rest of its community (it changes no modularity)."""
    same = labels[graph.off_row] == labels[graph.off_col]
    row, col = graph.off_row[same], graph.off_col[same]
    parent = torch.arange(graph.n)
    while True:
        low = torch.minimum(parent[row], parent[col])
        high = torch.maximum(parent[row], parent[col])
        hooked = parent.scatter_reduce(0, high, low, 'amin')
        while True:  # pointer jumping: every node points at its root
            jumped = hooked[hooked]
            if torch.equal(jumped, hooked):
                break
            hooked = jumped
        if torch.equal(hooked, parent):
            break
        parent = hooked
    isolated = graph.degree == 0
    if bool(isolated.any()) and not bool(isolated.all()):
        root = torch.full((graph.n,), graph.n).scatter_reduce(
            0, labels[~isolated], parent[~isolated], 'amin')[labels]
        parent = torch.where(isolated & (root < graph.n), root, parent)
    return parent


def _local_moves(graph: _Graph, labels: Tensor, resolution: float,
                 max_rounds: int, tol: float, gen: torch.Generator,
                 new_communities: bool = True,
                 early: Optional[float] = None) -> Tensor:
    """Step 1 of the module notes until ``Q`` stops rising, or (with
    ``early``) until it no longer pays: a round's rise per off-diagonal
    entry its senders scanned falls below ``early`` times the mean rise
    per entry scanned since the start. Rounds that still move many nodes
    for little gain stop; a tail of cheap rounds (few nodes still active)
    goes on. Each round's rise is exact and incremental (:func:`_rise`)."""
    n = graph.n
    quality = graph.modularity(labels, resolution)
    start = quality
    work = 0.0
    active = torch.ones(n, dtype=torch.bool)
    idle = torch.zeros(n, dtype=torch.long)
    for _ in range(max_rounds):
        # A random half of the communities only receives this round, the
        # rest only sends: no two groups of nodes swap places at once.
        receives = torch.rand(n, generator=gen) < 0.5
        for receives in (receives, ~receives):  # then the other way round
            sending = active & ~_at(receives, labels)
            moves = _best_moves(graph, labels, resolution, sending,
                                new_communities, receives)
            if moves is not None:
                break
        if moves is None:
            break
        node, target, gain = moves
        vol = torch.zeros(n, dtype=graph.degree.dtype).index_add_(
            0, labels, graph.degree)
        accepted = None
        fraction = 1.0
        while accepted is None and fraction >= 0.25:
            keep = torch.rand(node.numel(), generator=gen) < fraction \
                if fraction < 1 else torch.ones(node.numel(), dtype=torch.bool)
            if bool(keep.any()):
                chosen = torch.nonzero(keep).flatten()
                trial = labels.index_copy(0, _at(node, chosen),
                                          _at(target, chosen))
                rise, near = _rise(graph, labels, trial, _at(node, chosen),
                                   vol, resolution)
                if rise > 0:
                    accepted = trial
            fraction /= 2
        if accepted is None:  # the moves whose gains add up exactly
            keep = _independent(_at(labels, node), target, gain, n)
            chosen = torch.nonzero(keep).flatten()
            accepted = labels.index_copy(0, _at(node, chosen),
                                         _at(target, chosen))
            rise, near = _rise(graph, labels, accepted, _at(node, chosen),
                               vol, resolution)
        quality_new = quality + rise
        # Leiden's queue: a node retires after two rounds as a sender
        # without moving (once, its best community may not have been
        # receiving) and comes back when a neighbour moves.
        moved = accepted != labels
        idle = torch.where(sending & ~moved, idle + 1, idle)
        idle[moved] = 0
        idle[near] = 0
        active = idle < 2
        labels, quality = accepted, quality_new
        scanned = float(torch.where(sending, graph.off_count, 0).sum())
        work += scanned
        if rise < tol or (early is not None and rise * work
                          < early * (quality - start) * scanned):
            break
    return labels


def _rise(graph: _Graph, old: Tensor, new: Tensor, node: Tensor,
          vol: Tensor, resolution: float) -> tuple[float, Tensor]:
    r"""The exact change of :math:`Q_\gamma` from ``old`` to ``new`` labels,
    which differ at the nodes ``node`` only (no repeats), from their edges
    alone: :math:`O(\sum_{i \in \text{node}} \deg_i + N)`, not
    :math:`O(|\mathcal{E}|)`. ``vol``: the community volumes under
    ``old``. Also returns the neighbours of ``node``.

    With :math:`L` the stored weight inside communities and :math:`M` the
    moved nodes, the entries :math:`(i, j)` with :math:`i \in M` are
    gathered by row; those with :math:`j \notin M` stand for their mirror
    :math:`(j, i)` too, so they count twice; :math:`\Delta Q_\gamma =
    \Delta L / 2m - \gamma \sum_c (v'_c - v_c)(v'_c + v_c) / (2m)^2`
    over the communities whose volume changed."""
    idx, row = graph.edges_of(node)
    col = _at(graph.off_col, idx)
    val = _at(graph.off_val, idx)
    change = val * ((_at(new, row) == _at(new, col)).to(val.dtype)
                    - (_at(old, row) == _at(old, col)).to(val.dtype))
    outside = torch.ones(graph.n, dtype=torch.bool)
    outside[node] = False
    # Entries with one end moved stand for their mirror too.
    inside = float(change.sum()
                   + torch.where(_at(outside, col), change, 0.0).sum())
    deg = _at(graph.degree, node)
    new_c, old_c = _at(new, node), _at(old, node)
    step = torch.zeros_like(vol).index_add_(0, new_c, deg).index_add_(
        0, old_c, -deg)
    comm = torch.cat([new_c, old_c]).unique()
    shift = _at(step, comm)
    volume = float((shift * (2 * _at(vol, comm) + shift)).sum())
    two_m = graph.two_m
    return inside / two_m - resolution * volume / two_m ** 2, col


def _best_moves(graph: _Graph, labels: Tensor, resolution: float,
                active: Tensor, new_communities: bool = True,
                receives: Optional[Tensor] = None
                ) -> Optional[tuple[Tensor, Tensor, Tensor]]:
    """The best move with a positive exact gain of each ``active`` node:
    ``(node, target community, gain)``, or ``None`` when none gains.
    Targets of moves to a new community are unused labels."""
    n, two_m, deg = graph.n, graph.two_m, graph.degree
    idx, row = graph.edges_of(torch.nonzero(active).flatten())
    to = _at(labels, _at(graph.off_col, idx))
    if receives is not None:  # only edges to a community open to it count
        keep = torch.nonzero(_at(receives, to)
                             | (to == _at(labels, row))).flatten()
        idx, row, to = _at(idx, keep), _at(row, keep), _at(to, keep)
    val = _at(graph.off_val, idx)
    # Weight from each node to each community it touches: one sort.
    key = row * n + to
    pairs, inverse = torch.unique(key, return_inverse=True)
    weight = torch.zeros(pairs.numel(), dtype=val.dtype).index_add_(
        0, inverse, val)
    node, comm = pairs // n, pairs % n
    src = _at(labels, node)
    own = src == comm
    w_own = torch.zeros(n, dtype=val.dtype).index_add_(
        0, node, torch.where(own, weight, torch.zeros_like(weight)))
    vol = torch.zeros(n, dtype=val.dtype).index_add_(0, labels, deg)
    size = torch.bincount(labels, minlength=n)
    deg_node = _at(deg, node)
    gain = 2 * (weight - _at(w_own, node)) / two_m - resolution * 2 \
        * deg_node * (_at(vol, comm) - _at(vol, src) + deg_node) / two_m ** 2
    # No swaps of lone nodes: one joins the other only downwards.
    swap = (_at(size, src) == 1) & (_at(size, comm) == 1) & (comm > src)
    blocked = own | swap
    if receives is not None:
        blocked |= ~_at(receives, comm)
    gain = torch.where(blocked, torch.full_like(gain, -torch.inf), gain)
    best = torch.full((n,), -torch.inf, dtype=gain.dtype).scatter_reduce(
        0, node, gain, 'amax')
    pick = torch.full((n,), n, dtype=torch.long).scatter_reduce(
        0, node, torch.where(gain == _at(best, node), comm, n), 'amin')
    # Leaving for a community of its own (only from a shared community).
    alone = -2 * w_own / two_m + resolution * 2 * deg \
        * (_at(vol, labels) - deg) / two_m ** 2
    alone = torch.where((_at(size, labels) > 1) & active & new_communities,
                        alone, torch.full_like(alone, -torch.inf))
    leave = alone > best
    best = torch.where(leave, alone, best)
    movers = torch.nonzero(best > _MIN_GAIN).flatten()
    if movers.numel() == 0:
        return None
    free = torch.nonzero(size == 0).flatten()
    leaving = movers[leave[movers]]
    if leaving.numel() > free.numel():  # whole communities leaving at once
        movers = movers[~torch.isin(movers, leaving[free.numel():])]
        leaving = leaving[:free.numel()]
    target = pick.clone()
    target[leaving] = free[:leaving.numel()]
    return movers, _at(target, movers), _at(best, movers)


def _at(values: Tensor, index: Tensor) -> Tensor:
    """``values[index]`` along the first dimension (``index_select``:
    several times faster than advanced indexing on the CPU)."""
    return values.index_select(0, index)


def _independent(src: Tensor, dst: Tensor, gain: Tensor, n: int) -> Tensor:
    """Moves that are the best (by gain, then node order) of every move
    touching their source or target community: no two share a community,
    so their gains add up exactly (and the best move is always among
    them)."""
    rank = torch.empty_like(src)
    rank[torch.argsort(gain, stable=True)] = torch.arange(src.numel())
    top = torch.full((n,), -1, dtype=torch.long)
    top = top.scatter_reduce(0, src, rank, 'amax').scatter_reduce(
        0, dst, rank, 'amax')
    return (top[src] == rank) & (top[dst] == rank)


def _leiden_level(graph: _Graph, labels: Tensor, resolution: float,
                  max_rounds: int, tol: float, gen: torch.Generator) -> Tensor:
    """Step 2, level after level as in Leiden: each community is refined
    from singletons by moves inside it (so a community can later split);
    the sub-communities become the nodes of the next level, start in their
    community and move there; while some community holds several of them,
    they are refined and aggregated again; then communities merge."""
    to_level = torch.arange(graph.n)  # each node's node at this level
    while True:
        inner = _local_moves(graph.restricted(labels), torch.arange(graph.n),
                             resolution, max_rounds, tol, gen, early=EARLY)
        inner = _compact(inner)
        k = int(inner.max()) + 1
        coarse = _coarsen(graph, inner, k)
        start = torch.empty(k, dtype=torch.long)
        start[inner] = labels
        start = _compact(start)
        moved = _local_moves(coarse, start, resolution, max_rounds, tol,
                             gen)
        to_level = inner[to_level]
        if not (k < graph.n and int(torch.unique(moved).numel()) < k):
            break
        graph, labels = coarse, moved
    merged = _merge(coarse, moved, resolution, max_rounds, tol, gen)
    return (moved if merged is None else merged)[to_level]


def _merge(graph: _Graph, labels: Tensor, resolution: float,
           max_rounds: int, tol: float, gen: torch.Generator
           ) -> Optional[Tensor]:
    """Local moves on the graph of communities, level after level (Louvain's
    aggregation); the merged labels, or ``None`` when nothing merged."""
    labels = _compact(labels)
    merged = labels
    while True:
        k = int(merged.max()) + 1
        coarse = _coarsen(graph, merged, k)
        moved = _local_moves(coarse, torch.arange(k), resolution,
                             max_rounds, tol, gen)
        moved = _compact(moved)
        if int(moved.max()) + 1 == k:
            break
        merged = moved[merged]
    if int(merged.max()) == int(labels.max()):
        return None
    return merged


def _coarsen(graph: _Graph, labels: Tensor, k: int) -> _Graph:
    """The graph of communities: summed weights between them, each
    community's internal weight as its self-loop."""
    key = labels[graph.row] * k + labels[graph.col]
    pairs, inverse = torch.unique(key, return_inverse=True)
    val = torch.zeros(pairs.numel(), dtype=graph.val.dtype).index_add_(
        0, inverse, graph.val)
    coarse = _Graph(pairs // k, pairs % k, val, k)
    if graph.partial:  # the null model of the whole graph
        coarse.degree = torch.zeros(k, dtype=graph.degree.dtype).index_add_(
            0, labels, graph.degree)
        coarse.two_m, coarse.partial = graph.two_m, True
    return coarse


def _fixed_k_levels(graph: _Graph, labels: Tensor, count: int,
                    resolution: float, iterations: Optional[int],
                    max_rounds: int, tol: float,
                    gen: torch.Generator) -> Tensor:
    """Step 2 with the number of communities kept: each community is split
    by its own modularity partition (:func:`_split`), the parts are merged
    back greedily to the ``count`` communities given (:func:`_merge_to`;
    fewer when there are fewer parts), and nodes move again; taken while
    :math:`Q_\\gamma` rises, at most ``iterations`` times (:obj:`None`:
    until a pass no longer pays, :func:`_no_longer_pays`). A split merged
    pair and a joined split community are undone together."""
    quality = graph.modularity(labels, resolution)
    gains: list[float] = []
    while len(gains) < (MAX_PASSES if iterations is None else iterations):
        parts = _split(graph, labels, resolution, max_rounds, tol, gen)
        num_parts = int(parts.max()) + 1
        if not int(torch.unique(labels).numel()) < num_parts <= MAX_MERGED:
            break
        trial = _merge_to(graph, parts, min(count, num_parts), resolution)
        trial = _local_moves(graph, trial, resolution, max_rounds, tol, gen,
                             new_communities=False)
        q = graph.modularity(trial, resolution)
        if not q > quality + tol:
            break
        gains.append(q - quality)
        labels, quality = _matched(trial, labels, count), q
        if iterations is None and _no_longer_pays(gains):
            break
    return labels


def _split(graph: _Graph, labels: Tensor, resolution: float,
           max_rounds: int, tol: float, gen: torch.Generator) -> Tensor:
    """Every community's own modularity partition (with the whole graph's
    null model): local moves from singletons on the edges inside it, then
    merges level after level; compact labels, each inside one community of
    ``labels``."""
    inside = graph.restricted(labels)
    inner = _compact(_local_moves(inside, torch.arange(graph.n), resolution,
                                  max_rounds, tol, gen))
    coarse = _coarsen(inside, inner, int(inner.max()) + 1)
    merged = _merge(coarse, torch.arange(coarse.n), resolution, max_rounds,
                    tol, gen)
    parts = inner if merged is None else merged[inner]
    # A node without edges stays with its community, not alone.
    lone = graph.degree == 0
    if bool(lone.any()) and not bool(lone.all()):
        nodes = torch.arange(graph.n)
        first = torch.full((graph.n + 1,), graph.n).scatter_reduce(
            0, labels[~lone], nodes[~lone], 'amin')[labels]
        pick = torch.cat([parts, parts.new_zeros(1)])[first]
        parts = torch.where(lone & (first < graph.n), pick, parts)
    return _compact(parts)


def _merge_to(graph: _Graph, labels: Tensor, count: int,
              resolution: float) -> Tensor:
    r"""Merges communities two at a time, each time the pair with the
    largest :math:`\Delta Q_\gamma = 2 e_{ab}/2m - 2\gamma\,
    \mathrm{vol}_a \mathrm{vol}_b / (2m)^2` (CNM's greedy agglomeration;
    pairs without edges between them too), until ``count`` remain, on the
    dense :math:`k' \times k'` graph of communities
    (:func:`_greedy_merges`)."""
    k = int(labels.max()) + 1
    coarse = _coarsen(graph, labels, k)
    weight = torch.zeros(k, k, dtype=coarse.val.dtype)
    weight[coarse.row, coarse.col] = coarse.val
    two_m = graph.two_m

    def gain(w: Tensor, vol_rows: Tensor, vol: Tensor) -> Tensor:
        return 2 * w / two_m - resolution * 2 * torch.outer(vol_rows, vol) \
            / two_m ** 2

    into = _greedy_merges(weight, coarse.degree.clone(), gain,
                          merges=k - count)
    return _compact(into)[labels]


PairScore = Callable[[Tensor, Tensor, Tensor], Tensor]


def _greedy_merges(weight: Tensor, volume: Tensor, score: PairScore, *,
                   merges: Optional[int] = None, above: float = -math.inf
                   ) -> Tensor:
    r"""Greedy agglomeration on a dense graph of groups (internal weight on
    the diagonal): while two groups remain, the pair of highest
    ``score(weight[rows], volume[rows], volume)`` (a block of pair scores,
    each a function of its pair alone) merges, the first pair in row-major
    order on a tie, for ``merges`` merges or while the best score exceeds
    ``above``. Modifies ``weight`` and ``volume`` in place (the merged
    groups' sums); returns each group's representative.

    Each row keeps its best pair; a merge scores only the merged group's
    row and column again. A row whose best pair was one of the merged
    groups keeps its old best (or its new pair with the merged group, if
    higher) as a bound, and is scored again only when that bound comes
    first: the choice is exact, and a merge costs :math:`O(p)` for
    :math:`p` groups, not the :math:`O(p^2)` of scoring the whole table
    (1,000 groups: 7-14 s before)."""
    size = volume.numel()
    alive = torch.ones(size, dtype=torch.bool)
    into = torch.arange(size)
    table = score(weight, volume, volume)
    table.fill_diagonal_(-math.inf)
    best_col = torch.argmax(table, dim=1)  # the first maximum of each row
    best = table.gather(1, best_col[:, None]).squeeze(1)
    bound = torch.zeros(size, dtype=torch.bool)  # best is only a bound
    done = 0
    while size - done > 1 and (merges is None or done < merges):
        row = int(torch.argmax(best))
        while bool(bound[row]):
            best_col[row] = torch.argmax(table[row])
            best[row] = table[row, best_col[row]]
            bound[row] = False
            row = int(torch.argmax(best))
        col = int(best_col[row])
        if not float(best[row]) > above:
            break
        a, b = min(row, col), max(row, col)
        _absorb(weight, volume, alive, into, a, b)
        done += 1
        table[b] = table[:, b] = best[b] = -math.inf
        bound[b] = False
        # Row and column apart: the weights need not be symmetric to the
        # last bit.
        merged = score(weight[a:a + 1], volume[a:a + 1], volume)[0]
        column = score(weight[:, a:a + 1], volume, volume[a:a + 1])[:, 0]
        merged, column = (torch.where(alive, t, -math.inf)
                          for t in (merged, column))
        merged[a] = column[a] = -math.inf
        table[a], table[:, a] = merged, column
        lost = alive & ((best_col == a) | (best_col == b))
        bound |= lost
        wins = ~bound & ((column > best) | ((column == best) & (best_col > a)))
        best_col[wins] = a
        best = torch.where(wins | bound, torch.maximum(best, column), best)
        best_col[a] = torch.argmax(merged)
        best[a] = merged[best_col[a]]
        bound[a] = False
    return into


def _absorb(weight: Tensor, volume: Tensor, alive: Tensor, into: Tensor,
            a: int, b: int) -> None:
    """Community ``b`` joins ``a`` on the dense graph of communities
    (internal weight on the diagonal, which keeps it): rows, columns and
    volumes summed, ``b`` retired, the parts it held now ``a``'s."""
    weight[a] += weight[b]
    weight[:, a] += weight[:, b]
    weight[b] = 0
    weight[:, b] = 0
    volume[a] += volume[b]
    alive[b] = False
    into[into == b] = a


def _matched(labels: Tensor, before: Tensor, count: int) -> Tensor:
    """``labels`` (at most ``count`` communities) renamed into
    :math:`[0, \\text{count})`, the labels of ``before``: each community
    takes the old label it shares most nodes with (greedy maximum overlap),
    so that a community keeps its column; the rest take unused labels."""
    new = _compact(labels)
    k_new = int(new.max()) + 1
    pairs, overlap = torch.unique(new * count + before, return_counts=True)
    name = [-1] * k_new
    taken = [False] * count
    for pair in pairs[torch.argsort(overlap, descending=True,
                                    stable=True)].tolist():
        a, b = divmod(pair, count)
        if name[a] < 0 and not taken[b]:
            name[a], taken[b] = b, True
    free = [b for b in range(count) if not taken[b]]
    for a in range(k_new):
        if name[a] < 0:
            name[a] = free.pop(0)
    return torch.tensor(name)[new]


def _compact(labels: Tensor) -> Tensor:
    """Labels renumbered :math:`0, 1, \\dots` by first appearance."""
    if labels.numel() == 0:
        return labels.long()
    uniq, inverse = torch.unique(labels, return_inverse=True)
    first = torch.full((uniq.numel(),), labels.numel(), dtype=torch.long
                       ).scatter_reduce(0, inverse,
                                        torch.arange(labels.numel()), 'amin')
    order = torch.empty_like(first)
    order[torch.argsort(first)] = torch.arange(uniq.numel())
    return order[inverse]
