r"""Readouts of memberships :math:`\mathbf{H}`: soft memberships and
overlapping communities. Non-finite memberships raise instead of turning
into a valid-looking partition."""
from __future__ import annotations

import torch
from torch import Tensor

from .validation import check_finite, check_number

__all__ = ['normalize_rows', 'overlapping_communities']


def normalize_rows(h: Tensor) -> Tensor:
    """Rows scaled to sum to one; all-zero rows (e.g. isolated nodes)
    become uniform. Raises :class:`ValueError` on NaN/Inf."""
    check_finite('memberships', h)
    total = h.sum(dim=1, keepdim=True)
    uniform = torch.full_like(h, 1.0 / h.size(1))
    return torch.where(total > 0, h / total.clamp_min(1e-30), uniform)


def overlapping_communities(membership: Tensor,
                            threshold: float = 0.25) -> Tensor:
    """Boolean :math:`(N, k)` mask of normalised memberships >= ``threshold``
    plus each row's argmax, so that every node belongs to at least one
    community. Raises :class:`ValueError` on NaN/Inf. A constant
    threshold; :func:`pyg_symnmf.overlapping.overlapping_communities`
    derives the cover from the graph's likelihood instead."""
    check_number('threshold', threshold, low=0, low_open=True, high=1)
    check_finite('membership', membership)
    mask = membership >= threshold
    rows = torch.arange(mask.size(0), device=mask.device)
    mask[rows, membership.argmax(dim=1)] = True
    return mask
