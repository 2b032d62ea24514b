r"""Initial memberships :math:`\mathbf{H}_0` for the solvers and SymNMF-Net."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.utils import scatter

from .adjacency import Adjacency
from .functional import gram, propagate

__all__ = ['random_membership', 'spectral_membership', 'optimal_scale',
           'zero_isolated']


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
    h = zero_isolated(adj, h, deg)
    if batch is None:
        mean = deg.sum() / adj.num_nodes**2
        return h * (2 * (mean / k).sqrt())
    total = scatter(deg, batch, 0, reduce='sum')
    size = scatter(torch.ones_like(deg), batch, 0, reduce='sum')
    mean = total / size.square()
    return h * (2 * (mean / k).sqrt())[batch].unsqueeze(-1)


def zero_isolated(adj: Adjacency, h: Tensor,
                  degree: Optional[Tensor] = None) -> Tensor:
    r"""``h`` with exact zero rows for the nodes without edges: their best
    membership is zero, and every solver keeps a zero row of an isolated
    node at zero (its rows of :math:`\mathbf{A}\mathbf{H}` and of every
    update vanish), so their labels never come from round-off."""
    degree = adj.degree() if degree is None else degree
    return h * (degree > 0).to(h.dtype).unsqueeze(-1)


def spectral_membership(adj: Adjacency, k: int, num_iter: int = 10,
                        seed: int = 0, kmeans_iters: int = 10,
                        kmeans_sample: Optional[int] = None) -> Tensor:
    r"""A nonnegative start from the leading eigenvectors of
    :math:`\mathbf{A}`, in ``num_iter`` SpMMs:

    1. subspace iteration :math:`\mathbf{Q} \leftarrow \mathrm{qr}(\mathbf{A}
       \mathbf{Q})` from a seeded Gaussian :math:`N \times k` block, then
       Rayleigh-Ritz with the last product (:math:`\mathbf{Q}^\top\mathbf{A}
       \mathbf{Q} = \mathbf{W}\boldsymbol{\Lambda}\mathbf{W}^\top`),
       whose :math:`\mathbf{A}\mathbf{Q}\mathbf{W}` gives one more power
       step for free;
    2. the spectral embedding :math:`\mathbf{E} = \mathbf{U}
       \boldsymbol{\Lambda}_+^{1/2}` (so :math:`\mathbf{E}\mathbf{E}^\top
       \approx \mathbf{A}` on the leading space);
    3. seeded k-means++ and ``kmeans_iters`` Lloyd steps on its
       row-normalised rows, on a seeded sample of ``kmeans_sample`` rows
       (default :math:`\max(20k, 2000)`; all rows when :math:`N` is not
       larger), then one assignment of every row to its nearest centre,
       and :math:`\mathbf{H}_0 = \mathrm{onehot}(\text{cluster}_i)\,
       \|\mathbf{e}_i\|`, a nonnegative matrix shaped like
       :math:`\mathbf{E}`.

    Orthonormalisation is Cholesky QR (:func:`_orthonormal`), with
    Householder QR when the block is too ill-conditioned for it. With the sampled
    k-means the start costs ``num_iter`` SpMMs plus :math:`O(Nk^2)` dense
    work of about one SpMM at any :math:`k` (at :math:`N = 2\cdot10^5`,
    :math:`k = 50`, k-means on all rows cost about 50 SpMMs); graphs of
    at most :math:`\max(20k, 2000)` nodes get the k-means of all rows.

    This is spectral clustering's embedding made nonnegative; measured on
    generated and real graphs, it puts SymNMF in a better basin than a
    random start (see ``benchmarks/pretrained.py``). Rescale with
    :func:`optimal_scale` before iterating.
    """
    n = adj.num_nodes
    gen = torch.Generator(device=adj.device).manual_seed(seed)
    q = torch.randn(n, k, generator=gen, dtype=adj.dtype, device=adj.device)
    q = _orthonormal(q)
    for it in range(num_iter):
        aq = propagate(adj, q)
        if it < num_iter - 1:
            q = _orthonormal(aq)
    if num_iter == 0:
        aq = q
    ritz = q.t() @ aq
    lam, w = torch.linalg.eigh((ritz + ritz.t()) / 2)
    u = aq @ w
    u = u / u.norm(dim=0, keepdim=True).clamp_min(torch.finfo(u.dtype).tiny)
    emb = u * lam.clamp_min(1e-6).sqrt()
    radius = emb.norm(dim=1)
    sample = max(20 * k, 2000) if kmeans_sample is None else kmeans_sample
    labels = _kmeans(emb / radius.clamp_min(torch.finfo(u.dtype).tiny)[:, None],
                     k, gen, kmeans_iters, sample)
    return zero_isolated(adj, F.one_hot(labels, k).to(adj.dtype)
                         * radius[:, None])


def _orthonormal(y: Tensor) -> Tensor:
    r"""An orthonormal basis of the columns of ``y`` (:math:`N \times k`) by
    Cholesky QR, :math:`\mathbf{Q} = \mathbf{Y}\mathbf{L}^{-\top}` with
    :math:`\mathbf{L}\mathbf{L}^\top = \mathbf{Y}^\top\mathbf{Y}`: two
    matrix products, several times faster than Householder QR at large
    :math:`N`. Its loss of orthogonality grows as
    :math:`\kappa(\mathbf{Y})^2\epsilon`, so a block whose Cholesky
    diagonal spans more than :math:`\epsilon^{-1/4}` (e.g. eigenvalues
    near zero, as at :math:`k` close to :math:`N`) gets Householder QR."""
    chol, info = torch.linalg.cholesky_ex(y.t() @ y)
    diag = chol.diagonal()
    if int(info) != 0 or not bool(torch.isfinite(chol).all()) or not bool(
            diag.min() > torch.finfo(y.dtype).eps ** 0.25 * diag.max()):
        return torch.linalg.qr(y)[0]
    eye = torch.eye(y.size(1), dtype=y.dtype, device=y.device)
    return y @ torch.linalg.solve_triangular(chol, eye, upper=False).t()


def _kmeans(x: Tensor, k: int, gen: torch.Generator, iters: int,
            sample: int) -> Tensor:
    """Seeded k-means++ and Lloyd steps on ``sample`` random rows of ``x``
    (all rows if there are not more), then every row's nearest centre;
    labels."""
    n, sample = x.size(0), max(sample, k)
    fit = x if n <= sample else x[torch.randperm(
        n, generator=gen, device=x.device)[:sample]]
    m = fit.size(0)
    centers = fit[torch.randint(m, (1,), generator=gen, device=x.device)]
    dist = (fit - centers[0]).square().sum(1)
    for _ in range(1, k):
        pick = torch.multinomial(dist.clamp_min(0) + 1e-30, 1, generator=gen)
        centers = torch.cat([centers, fit[pick]])
        dist = torch.minimum(dist, (fit - fit[pick]).square().sum(1))
    labels = torch.cdist(fit, centers).argmin(1)
    for _ in range(iters):
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        sums = scatter(fit, labels, 0, k, 'sum')
        centers = torch.where(counts[:, None] > 0,
                              sums / counts.clamp_min(1)[:, None], centers)
        labels = torch.cdist(fit, centers).argmin(1)
    if fit is x:
        return labels
    # Nearest centre by ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2: one product.
    return torch.addmm(centers.square().sum(1), x, centers.t(),
                       alpha=-2).argmin(1)


def optimal_scale(h: Tensor, ah: Tensor) -> Tensor:
    r"""The :math:`c \ge 0` minimising :math:`f(c\mathbf{H})`:
    :math:`c^2 = \langle\mathbf{H}, \mathbf{A}\mathbf{H}\rangle /
    \|\mathbf{H}^\top\mathbf{H}\|_F^2` (no SpMM beyond
    :math:`\mathbf{A}\mathbf{H}`; :math:`\mathbf{A}c\mathbf{H} =
    c\mathbf{A}\mathbf{H}`)."""
    cross = torch.vdot(h.reshape(-1), ah.reshape(-1)).clamp_min(0)
    g_sq = gram(h).square().sum()
    return torch.where(g_sq > 0, (cross / g_sq.clamp_min(
        torch.finfo(h.dtype).tiny)).sqrt(), torch.ones_like(g_sq))
