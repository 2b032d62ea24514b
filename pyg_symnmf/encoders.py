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

Wide features (F > :obj:`ENCODER_MAX_DIM`, e.g. CiteSeer's 3,703 binary
words) cost most of the time otherwise: the encoder's first layer is an
N x F by F x 64 product each epoch (forward and backward), and the signal
directions an F x F eigendecomposition. So the encoder reads
:math:`\mathbf{X}\mathbf{V}`, :math:`\mathbf{V}` the top
:obj:`ENCODER_MAX_DIM` right singular vectors of :math:`\mathbf{X}`
(:func:`input_projection`, seeded randomised SVD, fitted once and kept with
the model, so ``predict`` projects new features on the same basis), and
:func:`signal_features` takes its directions from a randomised SVD of the
standardised features. Mostly-zero dense features (bag of words) are
multiplied as sparse tensors.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .adjacency import Adjacency
from .nn import SymNMFNet

__all__ = ['ENCODERS', 'ENCODER_NUM_LAYERS', 'ENCODER_EPOCHS',
           'ENCODER_MAX_DIM', 'FEATURE_WEIGHT', 'EncodedNet',
           'encoder_width', 'input_projection', 'signal_features']

ENCODERS = ('gcn',)
ENCODER_NUM_LAYERS = 2
ENCODER_EPOCHS = 300
ENCODER_MAX_DIM = 256  # wider features reach the encoder projected
FEATURE_WEIGHT = 3.0
SPARSE_DENSITY = 0.1  # dense features with fewer nonzeros: sparse products
# Power iterations of the wide signal directions: on CiteSeer (p = 3,703,
# 140 directions above the edge exactly) 2 keep 111, 4 keep 130, 8 keep 138;
# those missed lie just above the edge, where the shrinkage is near 0.
WIDE_POWER_ITERATIONS = 4


class EncodedNet(torch.nn.Module):
    r"""An encoder whose ``softplus`` output starts the net. With a
    ``projection`` :math:`\mathbf{V}` (:math:`F \times d`, see
    :func:`input_projection`) the encoder reads :math:`\mathbf{X}
    \mathbf{V}` (computed once per feature tensor) instead of
    :math:`\mathbf{X}`; :math:`\mathbf{V}` is a buffer of the model."""

    projection: Optional[Tensor]

    def __init__(self, encoder: torch.nn.Module, net: SymNMFNet,
                 projection: Optional[Tensor] = None) -> None:
        super().__init__()
        self.encoder, self.net = encoder, net
        self.register_buffer('projection', projection)
        self._cached: Optional[tuple[Tensor, Tensor]] = None

    def inputs(self, x: Tensor) -> Tensor:
        """What the encoder reads: ``x``, or ``x`` projected (cached for
        the last ``x`` seen, so training projects once)."""
        if self.projection is None:
            return x
        if self._cached is not None and self._cached[0] is x and \
                self._cached[1].device == self.projection.device:
            return self._cached[1]
        if x.size(1) != self.projection.size(0):
            raise ValueError(f"The encoder was fitted on "
                             f"{self.projection.size(0)} feature columns, "
                             f"got {x.size(1)}")
        xs = _sparse_if_mostly_zero(x.detach())
        v = self.projection.to(xs.dtype)
        out = torch.sparse.mm(xs, v) if xs.is_sparse else xs @ v
        self._cached = (x, out.to(self.projection.dtype))
        return self._cached[1]

    def start(self, x: Tensor, edge_index, edge_weight: Optional[Tensor],
              adj: Adjacency) -> Tensor:
        x = self.inputs(x)
        args = (x, edge_index) if edge_weight is None \
            else (x, edge_index, edge_weight)
        out = self.encoder(*args)
        if out.dim() != 2 or out.shape != (adj.num_nodes, self.net.k):
            raise ValueError(f"The encoder must return [num_nodes="
                             f"{adj.num_nodes}, k={self.net.k}], got "
                             f"{list(out.shape)}")
        return F.softplus(out).to(adj.dtype)


def encoder_width(x: Tensor, max_dim: int = ENCODER_MAX_DIM) -> int:
    """The encoder's input width for features ``x``: :math:`\\min(F,
    \\text{max\\_dim})`."""
    return min(x.size(1), max_dim)


def input_projection(x: Tensor, max_dim: int = ENCODER_MAX_DIM,
                     seed: int = 0) -> Optional[Tensor]:
    r"""The top ``max_dim`` right singular vectors :math:`\mathbf{V}`
    (:math:`F \times` ``max_dim``, the dtype of ``x``) of the features
    when :math:`F >` ``max_dim``, else ``None``: a seeded randomised SVD
    (:func:`torch.svd_lowrank`, two power iterations), on a sparse copy when
    fewer than :obj:`SPARSE_DENSITY` of the entries are nonzero, so no
    :math:`F \times F` matrix is formed. :math:`\mathbf{X}\mathbf{V}`
    keeps what a linear first layer can read of :math:`\mathbf{X}` in
    its ``max_dim`` strongest directions."""
    if x.dim() != 2 or x.size(1) <= max_dim:
        return None
    xs = _sparse_if_mostly_zero(x.detach()).to(torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, _, v = torch.svd_lowrank(xs, q=max_dim, niter=2)
    dtype = x.dtype if x.dtype.is_floating_point else torch.float32
    return v.to(dtype)


def _sparse_if_mostly_zero(x: Tensor) -> Tensor:
    if x.is_sparse:
        return x.coalesce()
    if x.numel() and float((x != 0).sum()) < SPARSE_DENSITY * x.numel():
        return x.to_sparse()
    return x


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

    More features than nodes and than :obj:`ENCODER_MAX_DIM`
    (:math:`p > N`, :math:`p >` :obj:`ENCODER_MAX_DIM`; CiteSeer): the
    top :math:`q = \min(` :obj:`ENCODER_MAX_DIM`, :math:`N)` eigenpairs
    come from a seeded randomised SVD of the standardised features (centred
    implicitly, sparse input kept sparse), :math:`\sigma^2 = \mathrm{tr}
    \,\mathbf{C}/p` as above: no :math:`p \times p` matrix, and at most
    :math:`q` directions kept (those missed by the randomised SVD's
    accuracy lie just above the edge, shrunk to almost zero).
    """
    if x is None or x.dim() != 2 or x.size(0) < 3 or x.size(1) < 1:
        return None
    if x.size(1) > max(ENCODER_MAX_DIM, x.size(0)):
        return _wide_signal_features(x, adj)
    xc = x.detach().to(torch.float64)
    xc = xc - xc.mean(0)
    std = xc.std(0)
    xc = xc[:, std > 1e-12] / std[std > 1e-12]
    n, p = xc.shape
    if p == 0:
        return None
    values, vectors = torch.linalg.eigh(xc.t() @ xc / n)
    sigma2 = values.median() if p <= n else values.sum() / p
    return _above_noise(values, lambda keep, shrink:
                        xc @ (vectors[:, keep] * shrink), sigma2, n, p, adj)



def _wide_signal_features(x: Tensor, adj: Adjacency,
                          seed: int = 0) -> Optional[Tensor]:
    """:func:`signal_features` of features wider than the graph (:math:`p >
    N`) by a randomised SVD."""
    z = _sparse_if_mostly_zero(x.detach()).to(torch.float64)
    n, width = z.shape
    if z.is_sparse:
        col, val = z.indices()[1], z.values()
        sums = torch.zeros(width, dtype=val.dtype).index_add(0, col, val)
        squares = torch.zeros(width, dtype=val.dtype).index_add(
            0, col, val.square())
    else:
        sums, squares = z.sum(0), z.square().sum(0)
    mean = sums / n
    std = ((squares - n * mean.square()) / (n - 1)).clamp_min(0).sqrt()
    kept = (std > 1e-12).nonzero().view(-1)
    p = kept.numel()
    if p == 0:
        return None
    scale = 1 / std[kept]
    if z.is_sparse:  # the kept columns, scaled: still sparse
        where = torch.full((width,), -1, dtype=torch.long)
        where[kept] = torch.arange(p)
        index, values = z.indices(), z.values()
        mask = where[index[1]] >= 0
        cols = where[index[1][mask]]
        # Indices of a coalesced tensor's entries: valid by construction.
        z = torch.sparse_coo_tensor(
            torch.stack([index[0][mask], cols]),
            values[mask] * scale[cols], (n, p),
            check_invariants=False).coalesce()
    else:
        z = z[:, kept] * scale
    q = min(ENCODER_MAX_DIM, n, p)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        u, s, _ = torch.svd_lowrank(z, q=q, niter=WIDE_POWER_ITERATIONS,
                                    M=(mean[kept] * scale).unsqueeze(0))
    sigma2 = (n - 1) / n  # tr C / p: standardised columns (p > N)
    return _above_noise(s.square() / n, lambda keep, shrink:
                        u[:, keep] * (s[keep] * shrink), sigma2, n, p, adj)


def _above_noise(values: Tensor,
                 project: Callable[[Tensor, Tensor], Tensor],
                 sigma2: Any, n: int, p: int, adj: Adjacency
                 ) -> Optional[Tensor]:
    r"""The feature directions whose covariance eigenvalue (``values``)
    rises above the Marchenko-Pastur edge :math:`\sigma^2(1 +
    \sqrt{p/N})^2`, each shrunk by :math:`\sqrt{(\lambda -
    \text{edge})/\lambda}` (``project(keep, shrink)`` maps them to node
    rows), scaled to the operator; ``None`` when none rises."""
    if not sigma2 > 0:
        return None
    edge = sigma2 * (1 + (p / n) ** 0.5) ** 2
    keep = values > edge
    if not keep.any():
        return None
    shrink = ((values[keep] - edge) / values[keep]).sqrt()
    xs = project(keep, shrink) / (n * sigma2) ** 0.5
    return (xs * adj.scale ** 0.5).to(adj.dtype).to(adj.device)
