r"""The functional entry point :func:`symnmf`: one call from a graph to
memberships :math:`\mathbf{H}`, with the pretrained SymNMF-Net or a
classical solver, for one graph or a batch of graphs."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Sequence, Union

import torch
from torch import Tensor

from .adjacency import (Adjacency, GraphLike, normalized_operator,
                        split_batch, to_adjacency)
from .auto_k import (KSelection, choose_k, default_max_k, modularity_start,
                     partition_start)
from .features import (FEATURE_INITS, feature_space, fused_graph,
                       informative, start_score)
from .functional import propagate, symnmf_loss_of
from .init import (optimal_scale, random_membership, spectral_membership,
                   zero_isolated)
from .multilevel import multilevel_symnmf
from .nn import SymNMFNet
from .defaults import DEFAULT_ALPHA, DEFAULT_MAX_ITER, DEFAULT_TOL
from .solvers import (CLASSICAL_METHODS, SolverResult, run_net, solve,
                      warn_unconverged)
from .threads import thread_limit
from .validation import (check_batch, check_nodes_tensor, check_number,
                         check_rank)

__all__ = ['symnmf', 'factorize', 'select_k', 'auto_start',
           'graph_operators', 'feature_operator', 'FeatureOperator',
           'METHODS']

METHODS = ('net', 'multilevel') + CLASSICAL_METHODS


def symnmf(
    edge_index: GraphLike,
    k: Union[int, str],
    edge_weight: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    method: str = 'anls',
    *,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
    h0: Optional[Tensor] = None,
    normalize: Optional[bool] = None,
    batch: Optional[Tensor] = None,
    n_jobs: Optional[int] = None,
    verbose: bool = False,
    x: Optional[Tensor] = None,
    features: bool = True,
    n_init: Optional[int] = None,
    discriminant: bool = True,
) -> Tensor:
    r"""Symmetric NMF :math:`\min_{\mathbf{H}\ge 0}\|\mathbf{A} -
    \mathbf{H}\mathbf{H}^\top\|_F^2` of a graph.

    Args:
        edge_index: The graph, in any form :func:`~pyg_symnmf.to_adjacency`
            accepts (an :class:`~pyg_symnmf.Adjacency` is used as is).
        k (int or str): Number of communities, :math:`1 \le k \le N` (of
            every graph, with ``batch``), or ``"auto"`` to choose it per
            graph by :func:`select_k` (then rows of a batch are padded with
            zero columns to the largest chosen :math:`k`).
        edge_weight (torch.Tensor, optional): Edge weights.
        num_nodes (int, optional): Number of nodes.
        method (str): ``"net"``: the pretrained SymNMF-Net
            (:meth:`~pyg_symnmf.SymNMFNet.pretrained`: spectral start and
            safeguarded blocks, about 30 SpMMs, no training, see
            :func:`~pyg_symnmf.solvers.run_net`); or a classical solver,
            ``"anls"``, ``"hals"``, ``"mu"`` or ``"pgd"``: all are
            safeguarded descent
            methods (see :mod:`pyg_symnmf.solvers`); or ``"multilevel"``:
            coarsen, factor the coarsest graph, prolong with a few ANLS
            iterations per coarser level, then ANLS on the input graph
            (for large graphs, see :mod:`pyg_symnmf.multilevel`).
        max_iter (int): Maximum number of iterations (one SpMM each).
            (default: 300)
        tol (float): Stop when an accepted step lowers the loss by less than
            ``tol`` times :math:`\|\mathbf{A}\|_F^2 - f(\mathbf{H})` (the
            part of :math:`\mathbf{A}` explained so far); ``0`` runs all
            ``max_iter``.
            (default: 1e-6)
        alpha (float): Initial damping :math:`\alpha > 0`, relative to the
            operator's scale. (default: 0.1)
        seed (int): Seed of the random start. (default: 0)
        h0 (torch.Tensor, optional): Start :math:`(N, k)` instead of the
            random one (see :func:`~pyg_symnmf.init.random_membership`).
        normalize (bool, optional): Normalise the adjacency symmetrically.
            (default: :obj:`True`)
        batch (torch.Tensor, optional): Sorted graph index of each node:
            each graph of the batch is factored on its own.
        n_jobs (int, optional): CPU threads (see
            :mod:`pyg_symnmf.threads`: ``None`` chooses by the problem's
            size and the machine's load, ``-1`` every core).
        verbose (bool): Progress bar of the iterations (after 2 s).
        x (torch.Tensor, optional): Node features :math:`(N, F)` (dense or
            sparse). With ``features=True`` the factored operator is
            :func:`~pyg_symnmf.features.feature_graph` of the graph and
            ``x`` (each graph of a batch on its own).
        features (bool): Use ``x`` when given. (default: :obj:`True`)
        n_init (int, optional): Starts tried (seeds ``seed``,
            ``seed + 1``, ...), the lowest loss kept. (default: 1, or
            :obj:`~pyg_symnmf.features.FEATURE_INITS` on a feature-aware
            operator)
        discriminant (bool): With features and :math:`k` given, search
            the operator's neighbours in the discriminant metric of a first
            factorization's communities (:func:`feature_operator`).
            (default: :obj:`True`)

    Returns:
        :math:`\mathbf{H}` of shape :math:`(N, k)`, nonnegative (the best
        iterate). Use :func:`factorize` or
        :class:`~pyg_symnmf.SymNMFClustering` for the loss curve and the
        iteration count.
    """
    dtype = h0.dtype if isinstance(h0, Tensor) and h0.is_floating_point() \
        else None
    use_x = features and informative(x)
    raw = None
    if k == 'auto' or use_x:
        if h0 is not None and k == 'auto':
            raise ValueError("k='auto' chooses k, so 'h0' cannot be given")
        raw, adj = graph_operators(edge_index, edge_weight, num_nodes,
                                   normalize, dtype)
    else:
        adj = to_adjacency(edge_index, edge_weight, num_nodes,
                           normalize=normalize, dtype=dtype)
    batch = check_batch(batch, adj.num_nodes)
    if n_init is None:
        n_init = FEATURE_INITS if use_x else 1
    options: dict[str, Any] = dict(method=method, max_iter=max_iter,
                                   tol=tol, alpha=alpha, seed=seed,
                                   verbose=verbose, n_init=n_init)

    def operators(raw_graph: Optional[Adjacency], graph_adj: Adjacency,
                  rows: slice) -> tuple[Adjacency, Optional[Adjacency],
                                        Optional[Tensor]]:
        """The factored operator, modularity's raw one (k='auto', or
        features) and the communities of the operator's first fit."""
        if not use_x or raw_graph is None or x is None:
            return graph_adj, raw_graph if k == 'auto' else None, None
        fused, prior, _ = feature_operator(
            _rows(x, rows), raw_graph, k=k if isinstance(k, int) else None,
            seed=seed, dtype=graph_adj.dtype, discriminant=discriminant,
            n_jobs=n_jobs)
        return (fused if normalize is False else normalized_operator(fused),
                fused, prior)

    def factor(op: Adjacency, op_raw: Optional[Adjacency],
               prior: Optional[Tensor], start: Optional[Tensor]) -> Tensor:
        if op_raw is not None and k == 'auto':
            chosen, start = auto_start(op, op_raw, seed,
                                       significant=not use_x)
        else:
            chosen = check_rank(k, op.num_nodes)
        score: Optional[Callable[[Tensor], float]] = None
        extra: list[Tensor] = []
        if use_x and op_raw is not None and start is None:  # else one run
            score, extra = feature_ranking(op, op_raw, chosen, method,
                                           seed=seed, prior=prior)
        return factorize(op, chosen, h0=start, score=score, starts=extra,
                         **options).h

    width = k if isinstance(k, int) else 16
    with thread_limit(n_jobs, adj.num_edges * width
                      + adj.num_nodes * width**2):
        if batch is None:
            return factor(*operators(raw, adj, slice(None)), h0)
        raw_parts = split_batch(raw, batch) if raw is not None else []
        parts = [factor(*operators(raw_parts[i][0] if raw_parts else None,
                                   sub, slice(start, end)),
                        None if h0 is None else h0[start:end])
                 for i, (sub, start, end) in enumerate(split_batch(adj,
                                                                   batch))]
    widest = max((h.size(1) for h in parts), default=0)
    # With k='auto' graphs may get different k: pad to the widest.
    return torch.cat([torch.nn.functional.pad(h, (0, widest - h.size(1)))
                      for h in parts]) if parts else adj.values.new_zeros(
                          0, widest if k == 'auto' else int(k))


def graph_operators(graph: GraphLike, edge_weight: Optional[Tensor] = None,
                    num_nodes: Optional[int] = None,
                    normalize: Optional[bool] = None,
                    dtype: Optional[torch.dtype] = None
                    ) -> tuple[Adjacency, Adjacency]:
    r"""The graph's two operators from one build: its unnormalised weights
    (what modularity reads; detached) and the operator to factor (see
    ``normalize`` in :func:`~pyg_symnmf.to_adjacency`; gradients flow to
    ``edge_weight``), derived from the first by
    :func:`~pyg_symnmf.adjacency.normalized_operator`. An
    :class:`Adjacency` is used as it is: an unnormalised one is also
    normalised when ``normalize=True``; a normalised one serves as both
    (its raw weights are gone)."""
    if isinstance(graph, Adjacency):
        if normalize and not graph.normalized:
            graph = to_adjacency(graph, edge_weight, num_nodes, dtype=dtype)
            return graph.detach(), normalized_operator(graph)
        adj = to_adjacency(graph, edge_weight, num_nodes, normalize=normalize,
                           dtype=dtype)
        return adj.detach(), adj
    raw = to_adjacency(graph, edge_weight, num_nodes, normalize=False,
                       dtype=dtype)
    adj = raw if normalize is False else normalized_operator(raw)
    return raw.detach(), adj


def select_k(raw: Adjacency, seed: int = 0, max_k: Optional[int] = None,
             resolution: float = 1.0, significant: bool = True
             ) -> KSelection:
    r"""Chooses :math:`k` as the number of communities of the modularity
    partition (:func:`~pyg_symnmf.auto_k.choose_k`: no factorization, no
    SpMM), at most ``max_k`` (default
    :func:`~pyg_symnmf.auto_k.default_max_k`); the partition itself
    (``labels``) keeps all its communities. Modularity is measured on
    ``raw`` at resolution :math:`\gamma` = ``resolution``. With
    ``significant``, communities whose parts are not significantly
    connected are split (:func:`~pyg_symnmf.significance.
    split_insignificant`): a test on edge counts, so a feature-aware
    operator, whose weights are similarities, goes without it."""
    check_number('resolution', resolution, low=0, low_open=True)
    selection = choose_k(raw, resolution, seed, significant=significant)
    cap = default_max_k(raw.num_nodes) if max_k is None else max_k
    selection.k = max(1, min(selection.k, cap))
    return selection


def auto_start(adj: Adjacency, raw: Adjacency, seed: int = 0,
               resolution: float = 1.0, significant: bool = True
               ) -> tuple[int, Tensor]:
    """:math:`k` chosen by :func:`select_k` and the factorization's start
    from its partition (:func:`~pyg_symnmf.auto_k.partition_start`)."""
    selection = select_k(raw, seed, resolution=resolution,
                         significant=significant)
    assert selection.labels is not None  # choose_k always partitions
    return selection.k, partition_start(adj, raw.degree(), selection.labels,
                                        selection.k)


class FeatureOperator(NamedTuple):
    """What :func:`feature_operator` returns.

    Attributes:
        raw: The feature-aware operator, unnormalised.
        prior: The communities its neighbours were searched by
            (:obj:`None` without the discriminant pass;
            :func:`feature_ranking` starts from them too).
        features: The features as the operator read them
            (:func:`~pyg_symnmf.features.prepared_features`): what
            :func:`~pyg_symnmf.features.agreement_pvalue` tests.
    """
    raw: Adjacency
    prior: Optional[Tensor]
    features: Tensor


def feature_operator(x: Any, graph: GraphLike,
                     edge_weight: Optional[Tensor] = None,
                     num_nodes: Optional[int] = None, *,
                     k: Optional[int] = None, seed: int = 0,
                     dtype: Optional[torch.dtype] = None,
                     resolution: float = 1.0, discriminant: bool = True,
                     n_jobs: Optional[int] = None) -> FeatureOperator:
    r"""The feature-aware operator that :func:`symnmf` and
    :class:`~pyg_symnmf.SymNMFClustering` factor, unnormalised, with the
    communities its neighbours were searched by and the features as it
    read them (:class:`FeatureOperator`):
    :func:`~pyg_symnmf.features.feature_graph`, and with ``discriminant``
    and :math:`k \ge 2` given, that graph fused again with the neighbours
    searched in the discriminant metric
    (:func:`~pyg_symnmf.features.discriminant_metric`) of a first
    factorization's arg-max communities: the first operator is factored
    as a classical fit factors it (ANLS from
    :obj:`~pyg_symnmf.features.FEATURE_INITS` seeded starts and its
    modularity start, ranked by :func:`feature_ranking`), whatever method
    then factors the second, with the threads :mod:`~pyg_symnmf.threads`
    chooses for its size (``n_jobs`` as in :func:`symnmf`). The filtered
    features are computed once. Measured by ``benchmarks/attributed.py`` (README): CiteSeer 0.437 ->
    0.440 NMI, the generated bag-of-words graphs 0.975 -> 0.995 (6
    classes) and 0.925 -> 0.987 (10), at the cost of one more fit."""
    space = feature_space(x, graph, edge_weight, num_nodes, k=k, seed=seed)
    raw = fused_graph(space, normalize=False, dtype=dtype)
    if not discriminant or k is None or k < 2:
        return FeatureOperator(raw, None, space.features)
    adj = normalized_operator(raw)
    with thread_limit(n_jobs, adj.num_edges * k + adj.num_nodes * k * k):
        score, starts = feature_ranking(adj, raw, k, 'anls', resolution,
                                        seed)
        first = factorize(adj, k, 'anls', seed=seed, n_init=FEATURE_INITS,
                          score=score, starts=starts, warn=False)
    labels = first.h.argmax(dim=1)
    return FeatureOperator(fused_graph(space, labels=labels,
                                       normalize=False, dtype=dtype),
                           labels, space.features)


def feature_ranking(adj: Adjacency, raw: Adjacency, k: int, method: str,
                    resolution: float = 1.0, seed: int = 0,
                    prior: Optional[Tensor] = None
                    ) -> tuple[Callable[[Tensor], float], list[Tensor]]:
    r"""How the starts of a feature-aware operator are ranked, and the
    starts they are ranked with besides their own: the modularity of a
    result's read-out on ``raw``
    (:func:`~pyg_symnmf.features.start_score`); the operator's
    modularity partition brought to :math:`k`
    (:func:`~pyg_symnmf.auto_k.modularity_start`; not when the partition
    has fewer than :math:`k` communities) and, when given, the
    communities ``prior`` of a first fit (:func:`feature_operator`), each
    as a block-model start (:func:`~pyg_symnmf.auto_k.partition_start`;
    none for ``"multilevel"``, which starts from its coarsest graph). The
    first fit's communities keep the pretrained net's two starts from
    falling into a worse basin on the contextual SBM at lambda = 1.5,
    mu = 0.5 (NMI 0.534 -> 0.629; ANLS 0.619 -> 0.629)."""
    if method == 'multilevel':
        return start_score(raw, resolution), []
    starts = [modularity_start(adj, raw, k, resolution, seed)]
    if prior is not None:
        starts.append(partition_start(adj, raw.degree(),
                                      prior.to(adj.device), k))
    return (start_score(raw, resolution),
            [start for start in starts if start is not None])


def factorize(adj: Adjacency, k: int, method: str = 'anls', *,
              max_iter: int = DEFAULT_MAX_ITER, tol: float = DEFAULT_TOL,
              alpha: float = DEFAULT_ALPHA, seed: int = 0,
              h0: Optional[Tensor] = None, verbose: bool = False,
              warn: bool = True, net: Optional[SymNMFNet] = None,
              n_init: int = 1,
              score: Optional[Callable[[Tensor], float]] = None,
              starts: Sequence[Tensor] = ()
              ) -> SolverResult:
    """:func:`symnmf` on a built operator, returning the diagnostics too
    (loss curve, iterations, SpMMs). Validates every argument. With
    ``method="net"``, ``net`` (default: :meth:`SymNMFNet.pretrained`) runs
    from ``h0`` or from its spectral start
    (:func:`~pyg_symnmf.solvers.run_net`); ``max_iter``,
    ``tol`` and ``alpha`` concern the classical methods only. ``n_init > 1``
    runs ``n_init`` starts (not with ``h0``): the spectral start of
    :func:`~pyg_symnmf.init.spectral_membership` (a classical method's
    first), then those of seeds ``seed + 1, ...``, and returns the result
    of lowest loss, or of highest ``score(h)`` when given
    (:func:`~pyg_symnmf.features.start_score` on a feature-aware
    operator). ``starts``: more starts (not with ``h0``), such as
    :func:`~pyg_symnmf.auto_k.modularity_start`, run after those and
    ranked alike. With several starts, ``warn`` concerns the returned
    result only: a start passed over may stop at ``max_iter`` silently."""
    check_number('n_init', n_init, integer=True, low=1)
    if method == 'net' and net is None:  # loaded once for every start
        net = SymNMFNet.pretrained()
    if starts and h0 is not None:
        raise ValueError("'starts' are tried besides the seeded starts, so "
                         "'h0' cannot be given with them")
    if (n_init > 1 or starts) and h0 is None:
        check_rank(k, adj.num_nodes)
        first = None
        if method != 'net' and n_init > 1:
            first = spectral_membership(adj, k, seed=seed)
            first = first * optimal_scale(first, propagate(adj, first))
        tries = [(seed + i, first if i == 0 else None)
                 for i in range(n_init)] + [(seed, h) for h in starts]
        runs = [factorize(adj, k, method, max_iter=max_iter, tol=tol,
                          alpha=alpha, seed=s, verbose=verbose, warn=False,
                          net=net, h0=h) for s, h in tries]
        if score is not None:
            chosen = max(runs, key=lambda r: score(r.h))
        else:
            chosen = min(runs, key=lambda r: float(symnmf_loss_of(adj, r.h)))
        # Only the result's own convergence concerns the caller, not that
        # of a start it was chosen over.
        if warn and method in CLASSICAL_METHODS:
            warn_unconverged(chosen, method, max_iter, tol,
                             f' from the chosen start (of {len(runs)})')
        return chosen
    validate_method(method)
    k = check_rank(k, adj.num_nodes)
    check_number('max_iter', max_iter, integer=True, low=0)
    check_number('tol', tol, low=0)
    check_number('alpha', alpha, low=0, low_open=True)
    check_number('seed', seed, integer=True, low=0)
    if method == 'multilevel':
        if h0 is not None:
            raise ValueError("method='multilevel' starts from its coarsest "
                             "graph, so 'h0' cannot be given")
        return multilevel_symnmf(adj, k, max_iter=max_iter, tol=tol,
                                 alpha=alpha, seed=seed, warn=warn)
    blocks = net if method == 'net' else None
    start_spmm = 0
    if h0 is not None:
        check_nodes_tensor('h0', h0, adj.num_nodes, adj.device, adj.dtype, k)
        if bool((h0 < 0).any()):
            raise ValueError("'h0' must be nonnegative")
        h = zero_isolated(adj, h0.detach())
    elif blocks is not None:
        start_spmm = blocks.start_iterations
        h = spectral_membership(adj, k, start_spmm, seed)
    else:
        h = random_membership(adj, k, seed)
    if blocks is not None:
        with torch.no_grad():
            result = run_net(blocks.to(adj.device), adj, h)
        result.n_spmm += start_spmm
        return result
    return solve(adj, h, method, max_iter=max_iter, tol=tol, alpha=alpha,
                 verbose=verbose, warn=warn)


def _rows(x: Tensor, rows: slice) -> Tensor:
    """Rows of dense or sparse features."""
    if rows == slice(None):
        return x
    if isinstance(x, Tensor) and x.is_sparse:
        return x.index_select(0, torch.arange(rows.start, rows.stop,
                                              device=x.device))
    return x[rows]


def validate_method(method: Union[str, object]) -> str:
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of "
                         f"{', '.join(METHODS)}")
    return method
