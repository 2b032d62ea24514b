r"""Overlapping communities read from nonnegative memberships through the
Bernoulli-Poisson link of BigCLAM (Yang & Leskovec 2013).

The model: nodes :math:`i, j` are linked with probability
:math:`P_{ij} = 1 - \exp(-\mathbf{f}_i^\top\mathbf{f}_j)`, with
affiliations :math:`\mathbf{F} \ge 0` of shape :math:`(N, k)`. Its
negative log-likelihood over the ordered pairs :math:`i \ne j`,

.. math::
    \ell(\mathbf{F}) = -\sum_{(i,j)\in\mathcal{E}}
    \log\big(1 - e^{-x_{ij}}\big) + \sum_{(i,j)\notin\mathcal{E},
    i\ne j} x_{ij}, \qquad x_{ij} = \mathbf{f}_i^\top\mathbf{f}_j,

costs :math:`O(|\mathcal{E}|k + Nk)`: the sum over non-edges is
:math:`\|\sum_i \mathbf{f}_i\|^2 - \sum_i\|\mathbf{f}_i\|^2 -
\sum_{\mathcal{E}} x_{ij}`. A node is a member of community :math:`c`
when :math:`F_{ic} \ge \delta = \sqrt{-\log(1-\varepsilon)}`, with
:math:`\varepsilon` the edge density: a node belonging to :math:`c` alone
then links to another member of :math:`c` with at least the background
probability.

**Calibration of SymNMF's H.** SymNMF fits :math:`\mathbf{H}\mathbf{H}^\top
\approx \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}` (normalised
operator) or :math:`\approx \mathbf{A}`, i.e. edge probabilities up to the
degree factor :math:`\sqrt{d_i d_j}`; for small probabilities
:math:`1 - e^{-x} \approx x`. So :func:`affiliations` maps
:math:`\mathbf{H}` to :math:`\mathbf{F} = c\,\mathbf{D}^{1/2}\mathbf{H}`
(:math:`c\,\mathbf{H}` for an unnormalised operator), with the one scalar
:math:`c` that maximises the Bernoulli-Poisson likelihood of the graph
(a concave problem in :math:`c^2`, solved by safeguarded Newton steps):
no constant is tuned, the graph itself sets the scale of the threshold.

**Pricing memberships.** A squared-loss factor spreads small memberships
widely (small entries of :math:`\mathbf{H}\mathbf{H}^\top` cost little
in :math:`\|\cdot\|_F^2`, but linearly in the likelihood).
:func:`overlapping_communities` therefore keeps a membership only if it
also pays for itself under BIC: its log-likelihood gain
(:func:`membership_gain`) is at least :math:`\tfrac12\log\binom{N}{2}`
(:func:`bic_cost`). Both rules are functions of the graph alone.

Measured by ``benchmarks/overlapping.py`` (see the README): on the
development ego nets, BigCLAM's rule on the calibrated memberships beats
the previous constant readout, BIC pricing adds to it, and refining on the
likelihood (``SymNMFClustering(loss='bernoulli_poisson')``, from the
calibrated factor) helps on the generated graphs but not on the ego nets.

**Features.** The estimator reads the cover from the memberships of the
feature-aware operator when the features agree with the graph's edges
beyond chance (:func:`~pyg_symnmf.features.agreement_pvalue`), and from
the graph alone otherwise: on the development ego nets the features of
three nets agree (p = 0.01, the floor) and the cover gains 0.02 overlapping
NMI on two of them; those of the fourth do not (p = 0.17), and there the
feature-aware cover loses 0.10.
"""
from __future__ import annotations

import math
import warnings
from typing import Optional, Sequence

import torch
from torch import Tensor

from .adjacency import (Adjacency, GraphLike, csr_matrix, row_entries,
                        to_adjacency)
from .exceptions import ConvergenceWarning
from .solvers import _RAISE, _RELAX, SolverResult
from .validation import check_finite, check_nodes_tensor, check_number

__all__ = ['edge_set', 'edge_density', 'membership_threshold',
           'membership_gain', 'bic_cost', 'bp_loss', 'affiliations',
           'fit_bernoulli_poisson', 'bigclam', 'overlapping_communities',
           'community_lists', 'cover_matrix']

# Edge products are clamped here: -log(1 - exp(-x)) is finite and its
# gradient 1/x bounded by 1e8 for rows that start at zero.
_MIN_PRODUCT = 1e-8


def edge_set(graph: GraphLike, num_nodes: Optional[int] = None) -> Adjacency:
    r"""The unweighted, symmetric, self-loop-free graph of ``graph`` (any
    form :func:`~pyg_symnmf.to_adjacency` accepts; an
    :class:`~pyg_symnmf.Adjacency` keeps its nonzero pattern): the edges
    the Bernoulli-Poisson model explains, as a float64 operator with
    unit values."""
    adj = graph if isinstance(graph, Adjacency) else to_adjacency(
        graph, num_nodes=num_nodes, normalize=False, symmetrize=True)
    values = adj.values.detach()
    row, col = adj.row(), adj.col()
    keep = (row != col) & (values != 0)
    if not adj.normalized and values.dtype == torch.float64 and \
            bool(keep.all()) and bool((values == 1).all()):
        return adj.detach()  # already an edge set
    # A subset of a valid operator's entries, in its order: no new build.
    ones = torch.ones(int(keep.sum()), dtype=torch.float64,
                      device=adj.device)
    n = adj.num_nodes
    return Adjacency(csr_matrix(row[keep], col[keep], ones, (n, n)), ones,
                     False)


def edge_density(edges: Adjacency) -> float:
    r""":math:`\varepsilon = 2|\mathcal{E}| / (N(N-1))` of an
    :func:`edge_set`, clamped to :math:`[10^{-12}, 1 - 10^{-12}]`."""
    n = edges.num_nodes
    pairs = max(n * (n - 1), 1)
    return min(max(edges.num_edges / pairs, 1e-12), 1 - 1e-12)


def membership_threshold(edges: Adjacency) -> float:
    r"""BigCLAM's :math:`\delta = \sqrt{-\log(1 - \varepsilon)}`,
    :math:`\varepsilon` the :func:`edge_density`."""
    return math.sqrt(-math.log1p(-edge_density(edges)))


def _edge_products(edges: Adjacency, f: Tensor) -> Tensor:
    """:math:`x_{ij} = f_i^T f_j` at every stored edge (an SDDMM), clamped
    below at ``_MIN_PRODUCT``."""
    x = torch.sparse.sampled_addmm(edges.csr.to(f.dtype), f, f.t(),
                                   beta=0.0).values()
    return x.clamp_min(_MIN_PRODUCT)


def _loss_and_products(edges: Adjacency, f: Tensor, weight: float = 1.0
                       ) -> tuple[float, Tensor]:
    x = _edge_products(edges, f)
    total = f.sum(0)
    non_edges = total.dot(total) - f.square().sum() - x.sum()
    # -log(1 - e^{-x}) = -log(-expm1(-x)), accurate for small and large x.
    loss = -weight * torch.log(-torch.expm1(-x)).sum() + non_edges
    return float(loss), x


def bp_loss(graph: GraphLike, f: Tensor,
            num_nodes: Optional[int] = None) -> Tensor:
    r"""The Bernoulli-Poisson negative log-likelihood :math:`\ell(\mathbf{F})`
    (module docstring; ordered pairs, so each undirected pair counts twice)
    of affiliations ``f`` :math:`(N, k)`, in :math:`O(|\mathcal{E}|k)`: a
    0-dim tensor, without gradient (the fit computes its own)."""
    edges = edge_set(graph, num_nodes if num_nodes is not None
                     else f.size(0))
    check_nodes_tensor('f', f, edges.num_nodes, edges.device, f.dtype)
    return torch.tensor(_loss_and_products(edges, f.double())[0],
                        dtype=f.dtype, device=f.device)


def _bp_gradient(edges: Adjacency, f: Tensor, x: Tensor,
                 weight: float = 1.0) -> tuple[Tensor, Tensor]:
    r"""The gradient :math:`\nabla_i \ell = 2\big(\mathbf{s} - \mathbf{f}_i -
    \sum_{j\in N(i)} \mathbf{f}_j / (1 - e^{-x_{ij}})\big)`, with
    :math:`\mathbf{s} = \sum_j \mathbf{f}_j`, and the diagonal of the
    Hessian, :math:`2\sum_{j\in N(i)} \mathbf{f}_j^2\, e^{-x_{ij}} / (1 -
    e^{-x_{ij}})^2` (the non-edge term is linear in each row): two SpMMs.
    ``weight`` multiplies the edge terms (NOCD's balance)."""
    crow, col = edges.csr.crow_indices(), edges.csr.col_indices()
    q = -torch.expm1(-x)  # 1 - e^{-x}

    def spmm(values: Tensor, dense: Tensor) -> Tensor:
        n = edges.num_nodes
        return csr_matrix(None, col, values, (n, n), crow) @ dense

    # The non-edge sum counts the edges too (the weight - 1).
    grad = 2 * (f.sum(0, keepdim=True) - f
                + spmm((weight - 1) - weight / q, f))
    curvature = 2 * weight * spmm((1.0 - q) / q.square(), f.square())
    return grad, curvature


def fit_bernoulli_poisson(graph: GraphLike, f0: Tensor, *,
                          max_iter: int = 300, tol: float = 1e-6,
                          balanced: bool = False,
                          num_nodes: Optional[int] = None,
                          warn: bool = True) -> SolverResult:
    r"""Minimises :math:`\ell(\mathbf{F})` over :math:`\mathbf{F} \ge 0`
    from ``f0`` by projected diagonal Newton steps :math:`\Delta F_{ic} =
    -\partial_{ic}\ell / (\alpha\,\partial^2_{ic}\ell)` (curvature
    floored at 1, so rows without edges take gradient steps), safeguarded
    like :func:`pyg_symnmf.solvers.solve`: a step is taken only if the loss
    does not rise, then :math:`\alpha` relaxes (times 0.7, down to 1, the
    full Newton step); otherwise :math:`\alpha` grows fourfold from the
    same point. The loss history is monotone and the result the best
    iterate. A taken step costs one SDDMM and two SpMMs, a refused one an
    SDDMM: :math:`O(|\mathcal{E}|k)`.

    Args:
        graph: The graph (its nonzero pattern, see :func:`edge_set`).
        f0 (torch.Tensor): Nonnegative start :math:`(N, k)`.
        max_iter (int): Iterations. (default: 300)
        tol (float): Stop when a step lowers the loss by less than ``tol``
            times the loss. (default: 1e-6)
        balanced (bool): Weight the edge terms by non-edges per edge, so
            that edges and non-edges weigh the same (NOCD's loss).
            (default: :obj:`False`, BigCLAM's likelihood)
        num_nodes (int, optional): :math:`N` when ``graph`` is an
            ``edge_index``. (default: ``f0.size(0)``)
        warn (bool): Warn with :class:`~pyg_symnmf.ConvergenceWarning` when
            ``max_iter`` is reached. (default: :obj:`True`)

    Returns:
        A :class:`~pyg_symnmf.solvers.SolverResult` whose ``h`` is
        :math:`\mathbf{F}` (float64) and ``loss_curve`` the values of
        :math:`\ell`.
    """
    edges = edge_set(graph, num_nodes if num_nodes is not None
                     else f0.size(0))
    check_nodes_tensor('f0', f0, edges.num_nodes, edges.device, f0.dtype)
    check_number('max_iter', max_iter, integer=True, low=0)
    check_number('tol', tol, low=0)
    if bool((f0 < 0).any()):
        raise ValueError("'f0' must be nonnegative")
    f = f0.detach().double()
    alpha = 1.0
    weight = _edge_weight(edges) if balanced else 1.0
    loss, x = _loss_and_products(edges, f, weight)
    result = SolverResult(f, [loss], 0, 3)  # sparse products
    grad, curv = _bp_gradient(edges, f, x, weight)
    for it in range(1, max_iter + 1):
        # A diagonal Newton step, damped by alpha (floored curvature: rows
        # without edges move by the plain gradient).
        cand = (f - grad / (alpha * curv.clamp_min(1.0))).clamp_min_(0)
        cand_loss, cand_x = _loss_and_products(edges, cand, weight)
        result.n_iter, result.n_spmm = it, result.n_spmm + 1
        if cand_loss <= loss:
            done = loss - cand_loss <= tol * abs(loss)
            f, x, loss = cand, cand_x, cand_loss
            grad, curv = _bp_gradient(edges, f, x, weight)
            result.n_spmm += 2
            alpha = max(alpha * _RELAX, 1.0)
        else:
            alpha *= _RAISE
            done = alpha > 1e12  # no step descends: stationary
        result.loss_curve.append(loss)
        if done:
            result.converged = True
            break
    if warn and tol > 0 and not result.converged and max_iter > 0:
        warnings.warn(f"The Bernoulli-Poisson fit reached max_iter="
                      f"{max_iter} before the relative loss decrease fell "
                      f"below tol={tol:g}", ConvergenceWarning, stacklevel=2)
    result.h, result.alpha = f, alpha
    return result


def _edge_weight(edges: Adjacency) -> float:
    """NOCD's balance: the edge term weighted by non-edges per edge, so
    that edges and non-edges weigh the same in all."""
    n = edges.num_nodes
    return max(n * (n - 1) - edges.num_edges, 1) / max(edges.num_edges, 1)


def _calibrated_scale(edges: Adjacency, f: Tensor) -> float:
    r"""The :math:`t = c^2 > 0` maximising the likelihood of
    :math:`c\mathbf{F}`: the root of :math:`\sum_{\mathcal{E}}
    x/(e^{tx}-1) - \sum_{\text{non-edges}} x` (decreasing in :math:`t`),
    found in :math:`u = \log t` by Newton steps kept inside a bracket that
    each evaluation narrows, bisecting where a step would leave it
    (``rtsafe``): 4-11 passes over the edges on the development graphs,
    where bisection from :math:`e^{\pm 60}` to the same width took 40."""
    x = _edge_products(edges, f)
    total = f.sum(0)
    non_edges = float(total.dot(total) - f.square().sum() - x.sum())
    if non_edges <= 0:  # a complete graph (or F explains no pair): keep F
        return 1.0
    lo, hi = -60.0, 60.0  # excess > 0 at lo, <= 0 at hi
    # Small t x: x / (e^{tx} - 1) ~ 1/t, so the root is near E / non-edges.
    u = min(max(math.log(x.numel() / non_edges), lo), hi)
    for _ in range(200):
        t = math.exp(u)
        e = torch.expm1(t * x)
        q = x / e
        excess = float(q.sum()) - non_edges
        # d/du = t d/dt, and d/dt x/(e^{tx}-1) = -q x (1 + 1/e) (0 where
        # e overflows).
        slope = -t * float((q * x * (1 + 1 / e)).sum())
        if excess > 0:
            lo = u
        else:
            hi = u
        step = excess / slope if slope < 0 else math.inf
        new = u - step
        if not lo < new < hi:
            new = (lo + hi) / 2
        if abs(new - u) <= 1e-12 or hi - lo <= 1e-10:
            return math.exp(new)
        u = new
    return math.exp((lo + hi) / 2)


def affiliations(h: Tensor, graph: GraphLike, *,
                 normalized: Optional[bool] = None) -> Tensor:
    r"""BigCLAM affiliations :math:`\mathbf{F} = c\,\mathbf{D}^{1/2}
    \mathbf{H}` (or :math:`c\,\mathbf{H}` when ``h`` factors the
    unnormalised adjacency) from SymNMF memberships, :math:`c` the maximum
    likelihood scale (module docstring).

    Args:
        h (torch.Tensor): Memberships :math:`(N, k)`, nonnegative.
        graph: The graph ``h`` was factored on.
        normalized (bool, optional): Whether ``h`` factors the normalised
            operator. (default: the :class:`~pyg_symnmf.Adjacency`'s own
            flag, else :obj:`True`, the package's default)

    Returns:
        :math:`\mathbf{F}` of shape :math:`(N, k)`, float64.
    """
    edges = edge_set(graph, h.size(0) if isinstance(h, Tensor) else None)
    check_nodes_tensor('h', h, edges.num_nodes, edges.device, h.dtype)
    check_finite('h', h)
    if bool((h < 0).any()):
        raise ValueError("'h' must be nonnegative")
    if normalized is None:
        normalized = graph.normalized if isinstance(graph, Adjacency) \
            else True
    f = h.detach().double()
    if normalized:
        f = f * edges.degree().sqrt()[:, None]
    if edges.num_edges == 0 or not bool((f > 0).any()):
        return f
    return f * math.sqrt(_calibrated_scale(edges, f))


def membership_gain(f: Tensor, graph: GraphLike) -> Tensor:
    r"""What each membership is worth to the model: the log-likelihood
    gain :math:`g_{ic}` of the pairs at node :math:`i` from
    :math:`F_{ic}` over setting it to zero, the rest of :math:`\mathbf{F}`
    fixed,

    .. math::
        g_{ic} = \sum_{j\in N(i)} \log\frac{1 - e^{-x_{ij}}}
        {1 - e^{-x_{ij} + F_{ic}F_{jc}}} - F_{ic}\Big(s_c - F_{ic} -
        \sum_{j\in N(i)}F_{jc}\Big),

    :math:`\mathbf{s} = \sum_j \mathbf{f}_j`. A membership that alone
    explains one of the node's edges is worth :math:`+\infty` (products are
    floored at :obj:`_MIN_PRODUCT` = 1e-8, as in the fit, which gives
    about 18 per such edge: measured on the development ego nets, any floor
    below :math:`1/N^2` gives the same covers). Time: for each community,
    the degrees of its support (the nodes with :math:`F_{ic} > 0`),
    :math:`O(|\mathcal{E}|k)` at most; :math:`O(|\mathcal{E}|)` extra
    memory (one community at a time).

    Args:
        f (torch.Tensor): Affiliations :math:`(N, k)`, e.g.
            :func:`affiliations`.
        graph: The graph (its nonzero pattern, see :func:`edge_set`).

    Returns:
        :math:`(N, k)`, float64.
    """
    edges = edge_set(graph, f.size(0))
    check_nodes_tensor('f', f, edges.num_nodes, edges.device, f.dtype)
    check_finite('f', f)
    if bool((f < 0).any()):
        raise ValueError("'f' must be nonnegative (affiliations)")
    f = f.detach().double()
    crow, col = edges.csr.crow_indices(), edges.col()
    x = _edge_products(edges, f)
    log_q = torch.log(-torch.expm1(-x))
    gain = -f * (f.sum(0, keepdim=True) - f - edges.csr @ f)
    support = (f > 0).t().contiguous()
    for c in range(f.size(1)):
        # Only edges inside the community's support count: elsewhere the
        # product is 0 and the term log_q - log_q is exactly 0. O(sum of
        # the support's degrees), not O(|E|), per community. Gathers by
        # index_select: half the time of boolean masks and fancy indexing
        # here (2*10^5 nodes, k = 50).
        member = f[:, c]
        nodes = torch.nonzero(support[c]).flatten()
        position, which = row_entries(crow, nodes)
        neighbour = col.index_select(0, position)
        inside = torch.nonzero(support[c].index_select(0, neighbour)
                               ).flatten()
        position = position.index_select(0, inside)
        row = nodes.index_select(0, which.index_select(0, inside))
        product = member.index_select(0, row) * member.index_select(
            0, neighbour.index_select(0, inside))
        without = (x.index_select(0, position) - product).clamp_min(
            _MIN_PRODUCT)
        gain[:, c].index_add_(0, row, log_q.index_select(0, position)
                              - torch.log(-torch.expm1(-without)))
    return gain


def bic_cost(graph: GraphLike, num_nodes: Optional[int] = None) -> float:
    r"""The BIC price of one membership: :math:`\tfrac12\log\binom{N}{2}`,
    half the log of the number of pairs the model explains."""
    n = edge_set(graph, num_nodes).num_nodes
    return 0.5 * math.log(max(n * (n - 1) / 2, 1.0))


def overlapping_communities(h: Tensor, graph: GraphLike, *,
                            normalized: Optional[bool] = None,
                            calibrate: bool = True,
                            prune: bool = True) -> Tensor:
    r"""Overlapping communities of memberships ``h`` by the
    Bernoulli-Poisson model of ``graph``: node :math:`i` is in community
    :math:`c` when

    1. :math:`F_{ic} \ge \delta = \sqrt{-\log(1-\varepsilon)}`,
       :math:`\varepsilon` the edge density (BigCLAM's rule), and
    2. with ``prune``, the membership pays for itself under BIC:
       :func:`membership_gain` :math:`g_{ic} \ge` :func:`bic_cost`
       :math:`= \tfrac12\log\binom{N}{2}`,

    where :math:`\mathbf{F}` = :func:`affiliations` of ``h``
    (``calibrate=False``: ``h`` is already :math:`\mathbf{F}`, e.g. from
    :func:`fit_bernoulli_poisson` or :func:`bigclam`). A node may belong to
    several communities or to none (its affiliations all fall below the
    background). The rule has no free constant; BIC prunes the weak
    memberships a squared-loss factor spreads (on the development ego nets
    of ``benchmarks/overlapping.py`` it cut the memberships per node from
    1.7 to about 1 on the smallest net).

    Returns:
        Boolean cover :math:`(N, k)`; :func:`community_lists` gives its node
        lists.
    """
    edges = edge_set(graph, h.size(0) if isinstance(h, Tensor) else None)
    if normalized is None:  # the edge set is never the normalised operator
        normalized = graph.normalized if isinstance(graph, Adjacency) \
            else True
    f = affiliations(h, edges, normalized=normalized) if calibrate \
        else check_finite('h', h).double()
    cover = f >= membership_threshold(edges)
    if prune:
        cover &= membership_gain(f, edges) >= bic_cost(edges)
    return cover


def community_lists(cover: Tensor) -> list[list[int]]:
    """The members of each community of a boolean cover :math:`(N, k)`, as
    sorted node lists (cdlib's ``NodeClustering.communities`` format);
    empty communities are kept as empty lists, so list ``c`` is column
    ``c``."""
    cover = torch.as_tensor(cover).bool()
    return [torch.nonzero(cover[:, c]).flatten().tolist()
            for c in range(cover.size(1))]


def cover_matrix(communities: Sequence[Sequence[int]],
                 num_nodes: int) -> Tensor:
    """Boolean cover :math:`(N, k)` from node lists (the inverse of
    :func:`community_lists`)."""
    cover = torch.zeros(num_nodes, len(communities), dtype=torch.bool)
    for c, nodes in enumerate(communities):
        members = torch.as_tensor(list(nodes), dtype=torch.long)
        if members.numel() and (members.min() < 0
                                or members.max() >= num_nodes):
            raise ValueError(f"Community {c} names a node outside "
                             f"0..{num_nodes - 1}")
        cover[members, c] = True
    return cover


def _neighborhood_seeds(edges: Adjacency, k: int) -> Tensor:
    r"""BigCLAM's start: the closed neighbourhoods of the :math:`k` nodes
    of lowest neighbourhood conductance among those that are locally
    minimal (no neighbour's is lower), as a 0/1 matrix :math:`(N, k)`;
    fewer such nodes leave the remaining columns to the next lowest.
    Triangles come from the sparse product :math:`\mathbf{A}^2`, whose
    :math:`\sum_i d_i^2` entries bound the memory."""
    n = edges.num_nodes
    row, col = edges.row(), edges.col()
    deg = edges.degree()
    # Triangles at i: half the i-th row sum of (A A) * A (sparse).
    a = edges.csr.to_sparse_coo()
    tri = torch.sparse.sum((a @ a) * a, 1).to_dense() / 2 \
        if edges.num_edges else deg.new_zeros(n)
    vol = deg + deg.new_zeros(n).index_add_(0, row, deg[col])
    inside = 2 * (deg + tri)
    cut = vol - inside
    denom = torch.minimum(vol, deg.sum() - vol)
    phi = torch.where(denom > 0, cut / denom.clamp_min(1e-30),
                      torch.ones_like(vol))
    phi = torch.where(deg > 0, phi, torch.full_like(phi, 2.0))
    nbr_min = torch.full((n,), math.inf, dtype=torch.float64,
                         device=edges.device).scatter_reduce(
        0, row, phi[col], 'amin')
    local = phi <= nbr_min
    order = torch.argsort(phi + 10.0 * (~local).double(), stable=True)
    f = torch.zeros(n, k, dtype=torch.float64, device=edges.device)
    seeds = order[:k]
    f[seeds, torch.arange(seeds.numel(), device=edges.device)] = 1.0
    # The neighbours of each seed: rows of A at the seeds.
    f[:, :seeds.numel()] += torch.index_select(
        a, 0, seeds).to_dense().t().clamp_max(1)
    return f


def bigclam(graph: GraphLike, k: int, *, max_iter: int = 300,
            tol: float = 1e-6, num_nodes: Optional[int] = None,
            warn: bool = True) -> SolverResult:
    r"""BigCLAM (Yang & Leskovec 2013): :func:`fit_bernoulli_poisson` from
    the closed neighbourhoods of locally minimal conductance; BigCLAM's
    own communities are ``overlapping_communities(result.h, graph,
    calibrate=False, prune=False)``."""
    edges = edge_set(graph, num_nodes)
    check_number('k', k, integer=True, low=1)
    return fit_bernoulli_poisson(edges, _neighborhood_seeds(edges, k),
                                 max_iter=max_iter, tol=tol, warn=warn)
