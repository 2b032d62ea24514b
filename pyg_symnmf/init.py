r"""Initial memberships :math:`\mathbf{H}_0` for the solvers and SymNMF-Net."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch_geometric.utils import scatter

from .adjacency import Adjacency

__all__ = ['random_membership']


def random_membership(adj: Adjacency, k: int, seed: int = 0,
                      batch: Optional[Tensor] = None) -> Tensor:
    r"""Uniform random :math:`\mathbf{H}_0 \in [0, 2\sqrt{\bar{a}/k}]^{N
    \times k}`, where :math:`\bar{a}` is the mean entry of
    :math:`\mathbf{A}` (of each graph's own block when ``batch`` is given),
    so that :math:`\mathbb{E}[\mathbf{H}_0\mathbf{H}_0^\top]` matches
    :math:`\mathbf{A}` in scale. Seeded by its own generator: the same
    ``seed`` gives the same :math:`\mathbf{H}_0` without touching the
    global random state.
    """
    gen = torch.Generator(device=adj.device).manual_seed(seed)
    h = torch.rand(adj.num_nodes, k, generator=gen, device=adj.device,
                   dtype=adj.dtype)
    deg = adj.degree()
    if batch is None:
        mean = deg.sum() / adj.num_nodes**2
        return h * (2 * (mean / k).sqrt())
    total = scatter(deg, batch, 0, reduce='sum')
    size = scatter(torch.ones_like(deg), batch, 0, reduce='sum')
    mean = total / size.square()
    return h * (2 * (mean / k).sqrt())[batch].unsqueeze(-1)
