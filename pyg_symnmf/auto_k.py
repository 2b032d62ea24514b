r"""Choosing the number of communities :math:`k` when it is not known.

The criterion is Newman's modularity of the hard partition that a cheap
factorization gives for each candidate :math:`k` (with the pretrained
SymNMF-Net, a few dozen SpMMs each): modularity rewards splitting a graph
where it has communities and penalises splitting them further, so it peaks
near the planted :math:`k` on graphs that have one. The scan is
coarse-to-fine: a geometric grid over :math:`[2, k_{\max}]`, then a
golden-section search on the integers around each of the two best grid
points (modularity is not always unimodal in :math:`k`: a coarse grid can
rank a sub-multiple of the planted :math:`k` first), so it costs
:math:`O(\log k_{\max})` factorizations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from torch import Tensor
from torch_geometric.utils import scatter

from .adjacency import Adjacency

__all__ = ['KSelection', 'choose_k', 'modularity_of', 'default_max_k']


@dataclass
class KSelection:
    """The chosen :math:`k` and the modularity of every candidate tried."""
    k: int
    scores: dict[int, float] = field(default_factory=dict)


def default_max_k(num_nodes: int) -> int:
    r""":math:`\min(\max(2, 2\sqrt{N}), 256, N)`: communities of fewer than
    about :math:`\sqrt{N}/2` nodes are past modularity's resolution limit
    anyway."""
    return max(1, min(max(2, int(2 * math.sqrt(num_nodes))), 256, num_nodes))


def modularity_of(raw: Adjacency, labels: Tensor) -> float:
    r"""Modularity of ``labels`` on the raw (unnormalised) operator, from
    its nonzeros (see :func:`pyg_symnmf.metrics.modularity`)."""
    two_m = float(raw.values.sum())
    if two_m == 0:
        return 0.0
    num = int(labels.max()) + 1
    row, col, val = raw.row(), raw.col(), raw.values
    same = labels[row] == labels[col]
    inside = scatter(val[same], labels[row[same]], 0, num, 'sum')
    vol = scatter(raw.degree(), labels, 0, num, 'sum')
    return float((inside / two_m - (vol / two_m).square()).sum())


def choose_k(raw: Adjacency, partition: Callable[[int], Tensor],
             max_k: int, min_k: int = 2) -> KSelection:
    r"""Scans :math:`k \in [\mathrm{min\_k}, \mathrm{max\_k}]` for the
    partition of highest modularity.

    Args:
        raw (Adjacency): The unnormalised graph (modularity's weights).
        partition (callable): ``k -> labels`` (a LongTensor of :math:`N`).
        max_k (int): Largest candidate.
        min_k (int): Smallest candidate. (default: 2)
    """
    selection = KSelection(min_k)
    if max_k <= min_k:
        selection.k = max(1, max_k)
        return selection

    def score(k: int) -> float:
        if k not in selection.scores:
            selection.scores[k] = modularity_of(raw, partition(k))
        return selection.scores[k]

    grid = sorted({min(max_k, round(min_k * 1.5**i))
                   for i in range(int(math.log(max_k / min_k, 1.5)) + 2)})
    for best in sorted(grid, key=score, reverse=True)[:2]:
        pos = grid.index(best)
        _golden_section(score, grid[max(pos - 1, 0)],
                        grid[min(pos + 1, len(grid) - 1)])
    selection.k = max(selection.scores, key=selection.scores.get)
    return selection


def _golden_section(score: Callable[[int], float], lo: int, hi: int) -> None:
    """Golden-section search for the best integer of ``[lo, hi]``."""
    ratio = (math.sqrt(5) - 1) / 2
    while hi - lo > 2:
        a = hi - round(ratio * (hi - lo))
        b = lo + round(ratio * (hi - lo))
        if a >= b:
            break
        if score(a) >= score(b):
            hi = b
        else:
            lo = a
    for k in range(lo, hi + 1):
        score(k)
