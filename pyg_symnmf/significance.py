r"""Splitting communities whose parts are not significantly connected:
:func:`split_insignificant`, the last step of ``k="auto"``'s partition.

Modularity merges two groups :math:`a, b` whenever they share more weight
than the configuration model expects, :math:`e_{ab} > \mu_{ab} =
\gamma\,\mathrm{vol}_a \mathrm{vol}_b / 2m`, however small the excess: on
a large graph :math:`\mu_{ab}` of two small communities is about one
edge, so two of them joined by one or two edges merge (modularity's
resolution limit, Fortunato & Barthélemy 2007). Under the configuration
model :math:`e_{ab}` is a count with Poisson noise :math:`\sqrt{\mu_{ab}}`
(weights in units of the graph's mean edge weight), so such an excess
says nothing. :func:`split_insignificant` keeps two parts of a community
together only when their excess is at least :obj:`SIGNIFICANCE` standard
deviations, :math:`e_{ab} > \mu_{ab} + z\sqrt{\mu_{ab}\,\bar w}`:

1. every community is partitioned by its *own* modularity (its induced
   subgraph as a graph of its own: all communities at once, each one's
   weights scaled to volume 1 and the resolution multiplied by the number
   of communities, which makes the whole graph's modularity the mean of
   the communities' own; :func:`~pyg_symnmf.refine.refine_partition`, two
   passes of at most :obj:`OWN_ROUNDS` rounds of moves);
2. inside each community its parts merge back greedily, the pair with the
   largest z-score first, while it exceeds :math:`z` (on a dense table: a
   community of more than :obj:`~pyg_symnmf.refine.MAX_MERGED` parts is
   kept whole);
3. a group that is not a community in the weak sense (Radicchi et al.
   2004: more weight inside than to the rest of the graph) joins the group
   of its community it has most weight to.

A random community is a single group (its parts share far more edges
than a whole-graph null model expects); two planted communities that
modularity merged are two. On networkx's LFR graphs (20,000 nodes,
degree exponent 2.5, :math:`\mu = 0.3`; 110 planted communities on graph
seed 0) the ``k="auto"`` partitions of graph seeds 0-5 have 52-72
communities (Leiden's 44-60) and NMI 0.971-0.978 (0.963-0.964 without the
split on seeds 0-2), modularity 0.5656 against 0.5657 on seed 0; on the
Enron e-mail and cond-mat networks modularity is unchanged to three
decimals (``benchmarks/networks.py``).
"""
from __future__ import annotations

from typing import Iterator, Optional

import torch
from torch import Tensor

from . import refine
from .adjacency import Adjacency, GraphLike, csr_matrix
from .refine import (_absorb, _coarsen, _compact, _Graph,
                     _greedy_merges, _raw_with_labels, refine_partition)
from .validation import check_number

__all__ = ['split_insignificant', 'SIGNIFICANCE']

#: Standard deviations of Poisson noise by which two parts of a community
#: must share more weight than the configuration model expects to stay
#: together (:func:`split_insignificant`).
SIGNIFICANCE = 1.0
#: Most rounds of node moves per level of the communities' own partitions:
#: their parts need only lie inside sub-communities, and on a 10^5-node
#: planted partition (50 communities) the rounds past 10 took half of the
#: split's 5.7 s for the same groups (LFR and Enron: as many groups).
OWN_ROUNDS = 10


def split_insignificant(graph: GraphLike, labels: Tensor, *,
                        resolution: float = 1.0,
                        z: float = SIGNIFICANCE, seed: int = 0) -> Tensor:
    r"""Splits every community of ``labels`` into groups that are not
    significantly connected to each other (module notes).

    Args:
        graph: The graph in any form :func:`~pyg_symnmf.to_adjacency`
            accepts; its raw weights (an :class:`~pyg_symnmf.Adjacency`
            is used as is, so pass an unnormalised one).
        labels (torch.Tensor): Community of each node, shape :math:`(N,)`.
        resolution (float): :math:`\gamma` of the null model.
            (default: 1.0)
        z (float): Standard deviations of the test. (default:
            :obj:`SIGNIFICANCE`)
        seed (int): Seed of the communities' own partitions.

    Returns:
        Labels :math:`(N,)` in :math:`[0, k')`, numbered by first
        appearance, each group inside one community of ``labels``.
    """
    check_number('z', z, low=0)
    adj, labels = _raw_with_labels(graph, labels)
    whole = _Graph.of(adj)
    labels = _compact(labels.cpu().long())
    if whole.off_val.numel() == 0 or labels.numel() == 0:
        return labels.to(adj.device)
    parts = _own_partitions(whole, labels, resolution, seed)
    count = int(parts.max()) + 1
    community = torch.zeros(count, dtype=torch.long).scatter_(
        0, parts, labels)
    coarse = _coarsen(whole, parts, count)
    unit = float(whole.off_val.mean())
    group = torch.arange(count)
    for members, block in _blocks(coarse, community):
        if block is None:  # too many parts for a dense table: kept whole
            group[members] = members[0]
            continue
        into = _groups(block, coarse.degree[members],
                       whole.two_m / resolution, unit, z)
        group[members] = members[into]
    return _compact(group[parts]).to(adj.device)


def _blocks(coarse: _Graph, community: Tensor
            ) -> Iterator[tuple[Tensor, Optional[Tensor]]]:
    """For every community of more than one part: its parts and the dense
    part-by-part weights among them (internal weight on the diagonal), or
    ``None`` beyond :obj:`~pyg_symnmf.refine.MAX_MERGED` parts."""
    inside = community[coarse.row] == community[coarse.col]
    row, col, val = coarse.row[inside], coarse.col[inside], coarse.val[inside]
    by_part = torch.argsort(community, stable=True)
    sizes = torch.bincount(community)
    local = torch.empty_like(by_part)  # a part's index in its community
    local[by_part] = torch.arange(by_part.numel()) - (
        torch.cumsum(sizes, 0) - sizes)[community[by_part]]
    by_edge = torch.argsort(community[row], stable=True)
    edges = torch.bincount(community[row], minlength=sizes.numel())
    for members, chosen in zip(torch.split(by_part, sizes.tolist()),
                               torch.split(by_edge, edges.tolist())):
        if members.numel() > refine.MAX_MERGED:
            yield members, None
        elif members.numel() > 1:
            block = torch.zeros(members.numel(), members.numel(),
                                dtype=val.dtype)
            block[local[row[chosen]], local[col[chosen]]] = val[chosen]
            yield members, block


def _own_partitions(whole: _Graph, labels: Tensor, resolution: float,
                    seed: int) -> Tensor:
    """Every community's own modularity partition (module notes, step 1):
    compact part labels, each inside one community."""
    inside = labels[whole.row] == labels[whole.col]
    row, col, val = whole.row[inside], whole.col[inside], whole.val[inside]
    volume = torch.zeros(int(labels.max()) + 1, dtype=val.dtype).index_add_(
        0, labels[row], val)
    scaled = val / volume[labels[row]]  # rows stay sorted: CSR order
    own = Adjacency(csr_matrix(row, col, scaled, (whole.n, whole.n)),
                    scaled, normalized=False)
    with_edges = int((volume > 0).sum())
    parts = refine_partition(own, torch.arange(whole.n),
                             resolution=resolution * max(1, with_edges),
                             iterations=2, max_rounds=OWN_ROUNDS, seed=seed)
    return _compact(parts)


def _groups(weight: Tensor, volume: Tensor, two_m: float, unit: float,
            z: float) -> Tensor:
    """Steps 2-3 of the module notes on one community's parts: ``weight``
    the dense part-by-part weights (internal weight on the diagonal),
    ``volume`` their whole-graph volumes, ``two_m`` :math:`2m/\\gamma`.
    Returns the representative part of each part's group."""
    def z_score(w: Tensor, vol_rows: Tensor, vol: Tensor) -> Tensor:
        expected = torch.outer(vol_rows, vol) / two_m
        return (w - expected) / (expected * unit).clamp_min(1e-300).sqrt()

    weight, volume = weight.clone(), volume.clone()
    into = _greedy_merges(weight, volume, z_score, above=z)
    alive = into == torch.arange(into.numel())
    while int(alive.sum()) > 1:
        inner = weight.diagonal()
        weak = alive & (inner <= volume / 2)
        if not bool(weak.any()):
            break
        candidates = torch.nonzero(weak).flatten()
        b = int(candidates[torch.argmin(
            inner[candidates] / volume[candidates].clamp_min(1e-300))])
        ties = torch.where(alive, weight[b], torch.full_like(volume, -1.0))
        ties[b] = -1.0
        a = int(torch.argmax(ties))
        _absorb(weight, volume, alive, into, min(a, b), max(a, b))
    return into
