r"""The attributed-graph path of the estimator (``encoder=``): a GNN whose
output starts SymNMF-Net, trained end to end on the SymNMF loss of the
graph fused with the denoised feature kernel (:func:`signal_features`).

Defaults chosen on the contextual SBM grid of ``benchmarks/attributed.py``
(N=2000, k=4, mean degree 10, 32 Gaussian features; NMI, seed 0, against
DMoN at 500 epochs):

- 2 blocks instead of 20: the encoder's start (a function of the features)
  must survive the blocks; 20 ANLS-like blocks pull every start into the
  graph-only basin (graph 1.5 x features 2.0: 0.65 -> 0.73 NMI; graph 1.5 x
  features 1.0: 0.66 -> 0.70; graph-dominated cells unchanged, 0.97).
- The fused loss ||A + beta K - H H^T||^2 with the denoised feature kernel
  K (signal_features), beta = 3: features-only cell (graph 0.5 x features
  2.0) 0.05 -> 0.40, graph 1.5 x features 2.0: 0.73 -> 0.79, and no
  change where the features are noise (K = 0 at features 0.5). The raw linear
  kernel (all directions kept) or a fused 10-NN feature graph instead cost
  0.2-0.6 NMI on the graph-dominated cells.
- 300 epochs (~6 s at N=2000 on one CPU thread, DMoN: ~20 s): 100 -> 300
  epochs helps the feature-driven cells (0.35 -> 0.40); 400 adds ~0.01.
- Not kept: DMoN's collapse regulariser sqrt(k)/N ||sum_i s_i|| - 1
  (weight 1: features-only cell 0.35 -> 0.26, others +-0.01), 1 or 3 blocks
  (-0.03 to -0.07 on the feature-driven cells vs 2).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .adjacency import Adjacency
from .nn import SymNMFNet

__all__ = ['ENCODERS', 'ENCODER_NUM_LAYERS', 'ENCODER_EPOCHS',
           'FEATURE_WEIGHT', 'EncodedNet', 'signal_features']

ENCODERS = ('gcn',)
ENCODER_NUM_LAYERS = 2
ENCODER_EPOCHS = 300
FEATURE_WEIGHT = 3.0


class EncodedNet(torch.nn.Module):
    """An encoder whose ``softplus`` output starts the net."""

    def __init__(self, encoder: torch.nn.Module, net: SymNMFNet) -> None:
        super().__init__()
        self.encoder, self.net = encoder, net

    def start(self, x: Tensor, edge_index, edge_weight: Optional[Tensor],
              adj: Adjacency) -> Tensor:
        args = (x, edge_index) if edge_weight is None \
            else (x, edge_index, edge_weight)
        out = self.encoder(*args)
        if out.dim() != 2 or out.shape != (adj.num_nodes, self.net.k):
            raise ValueError(f"The encoder must return [num_nodes="
                             f"{adj.num_nodes}, k={self.net.k}], got "
                             f"{list(out.shape)}")
        return F.softplus(out).to(adj.dtype)


def signal_features(x: Optional[Tensor], adj: Adjacency) -> Optional[Tensor]:
    r"""The part of the node features that rises above their noise: the
    columns of ``x`` are standardised, and the eigen-directions of their
    covariance :math:`\mathbf{C}` whose eigenvalue :math:`\ell` exceeds the
    Marchenko-Pastur edge :math:`\sigma^2(1 + \sqrt{p/N})^2` of pure noise
    (:math:`\sigma^2` the median eigenvalue, or :math:`\mathrm{tr}\,
    \mathbf{C}/p` when :math:`p > N`) are kept, shrunk to
    :math:`\sqrt{\ell - \text{edge}}`, in units of the noise:
    :math:`\tilde{\mathbf{X}}\tilde{\mathbf{X}}^\top` then has
    eigenvalues :math:`(\ell - \text{edge})/\sigma^2` (times the
    operator's scale, 1 when normalised), comparable to those of the
    normalised adjacency. Returns :math:`(N, r)`, or ``None`` when no
    direction is kept: features that are noise add nothing to the loss (or,
    from finite-sample fluctuations, a direction barely above the edge,
    shrunk to almost zero).
    """
    if x is None or x.dim() != 2 or x.size(0) < 3 or x.size(1) < 1:
        return None
    xc = x.detach().to(torch.float64)
    xc = xc - xc.mean(0)
    std = xc.std(0)
    xc = xc[:, std > 1e-12] / std[std > 1e-12]
    n, p = xc.shape
    if p == 0:
        return None
    values, vectors = torch.linalg.eigh(xc.t() @ xc / n)
    sigma2 = values.median() if p <= n else values.sum() / p
    if not sigma2 > 0:
        return None
    edge = sigma2 * (1 + (p / n) ** 0.5) ** 2
    keep = values > edge
    if not keep.any():
        return None
    shrink = ((values[keep] - edge) / values[keep]).sqrt()
    xs = xc @ (vectors[:, keep] * shrink) / (n * sigma2).sqrt()
    return (xs * adj.scale ** 0.5).to(adj.dtype).to(adj.device)

