r"""The feature-aware operator of attributed graphs: :func:`feature_graph`.

On attributed graphs (citation networks, social networks with profiles)
the graph alone often carries little of the communities at the number of
classes, and has many small components; the node features carry most of
it. :func:`feature_graph` builds one sparse symmetric operator from both,
which every solver of the package (and the pretrained net) factors:

1. **Low-pass filter** (SSGC, Zhu & Koniusz 2021): rows of
   :math:`\mathbf{X}` are :math:`\ell_2`-normalised, then
   :math:`\bar{\mathbf{X}} = \frac{1}{T}\sum_{t=1}^{T}\mathbf{X}_t`,
   :math:`\mathbf{X}_t = (1 - r)\,\mathbf{S}\mathbf{X}_{t-1} +
   r\,\mathbf{X}_0`, with :math:`\mathbf{S} = \tilde{\mathbf{D}}^{-1/2}
   (\mathbf{A} + \mathbf{I})\tilde{\mathbf{D}}^{-1/2}`. Wide features
   (:math:`F >` ``max_dim``) are first projected on their top
   ``max_dim`` right singular vectors (:func:`torch.svd_lowrank`, sparse
   input kept sparse); the filter is linear, so this is the filtered
   features projected on that subspace, and no :math:`N \times F` dense
   matrix is formed.
2. **Similarity**: the filtered features are centred and compared by
   cosine; each node keeps its ``num_neighbors`` most similar nodes
   (positive similarities only), found exactly by chunked products (at
   most :obj:`CHUNK_ELEMENTS` similarities in memory, never :math:`N
   \times N`); the kNN graph :math:`\mathbf{W}` is symmetrised by the
   maximum. Every node, isolated or in a small component, gets edges
   from its features.
3. **Fusion**: :math:`\mathbf{D}_W^{-1/2}\mathbf{W}\mathbf{D}_W^{-1/2} +
   w\,\mathbf{D}_A^{-1/2}\mathbf{A}\mathbf{D}_A^{-1/2}`, both with
   spectral radius 1.
4. **Discriminant metric** (with ``labels``, the communities of a first
   fit of this operator, as :func:`~pyg_symnmf.factorize.feature_operator`
   runs it when :math:`k` is given): the neighbours of step 2 are searched
   again among the filtered rows times :math:`\boldsymbol{\Sigma}_w^{-1/2}`
   (:func:`discriminant_metric`), so that directions along which the
   communities spread weigh less than those that tell them apart. The
   filter and the rules are computed once (:func:`feature_space`, then
   :func:`fused_graph` twice).

The settings are chosen without labels (see the module constants and
``benchmarks/attributed.py`` for the measurements):

- ``steps`` :math:`T`: the filter stops when one more step changes the
  average :math:`\bar{\mathbf{X}}` by less than :obj:`STEP_TOL` (relative
  Frobenius norm), at most :obj:`MAX_STEPS`: more steps no longer change
  the features, only cost SpMMs.
- ``restart`` :math:`r`: :math:`1 - (1 - r_0)\,t`, with the trust
  :math:`t = \max(h, \min(1, 25\,\delta_A))` in the graph: :math:`h` the
  agreement of its edges with the features (:func:`edge_agreement`),
  :math:`\delta_A` its relative eigengap at :math:`k` (below): a graph
  whose edges join nodes no more similar than random pairs and that has no
  cluster structure of its own does not smooth the features. :math:`r_0`
  is SSGC's 0.05 or 0.5 (:obj:`RESTARTS`), whichever gives the fused
  operator (steps 2-3) the larger relative eigengap at :math:`k` (the
  stronger filter on a tie): the operator that shows :math:`k` clusters
  more clearly, the criterion of the graph weight below. The graph also
  enters that operator through the fusion, and on a sparse graph of many
  small components a strong filter turns each of them into one feature
  row: CiteSeer (438 components) takes 0.5 on every seed, 0.440 -> 0.448
  NMI; most generated graphs keep 0.05 (module tests; figures in
  ``benchmarks/attributed.py``'s README tables). One more filter, kNN
  search and three eigengaps; the chosen candidate's fused graph is kept
  (:attr:`FeatureSpace.fusion`).
- ``num_neighbors`` :math:`m`: a quarter of the mean community size,
  :math:`N / (4k)`, within [:obj:`MIN_NEIGHBORS`, :obj:`MAX_NEIGHBORS`]
  (:math:`\sqrt{N}` when :math:`k` is unknown): small neighbourhoods
  split communities into many pieces again, while :math:`m \ll N/k` keeps
  most neighbours inside one community.
- ``graph_weight`` :math:`w`: how much more clearly the graph's spectrum
  shows :math:`k` clusters than the feature graph's. With
  :math:`\delta = (\lambda_k - \lambda_{k+1}) / \lambda_k` the relative
  eigengap of a normalised operator, :math:`w = (c\,\delta_A /
  \delta_W)^2`,
  :math:`c` = :obj:`GAP_SCALE`, within [0, :obj:`MAX_GRAPH_WEIGHT`]: a
  graph without cluster structure at :math:`k` (a random graph, or more
  than :math:`k` components, whose eigenvalue 1 repeats) weighs nothing,
  one with a clearer structure than the feature graph weighs more.
  (:math:`k` unknown: the largest gap over :math:`2 \le k \le 10`.)
  At least :math:`h`, the agreement of the graph's edges with the
  features (as for the restart): with more than :math:`k` components the
  eigengap is 0 whatever the structure inside them, and a graph whose edges
  join similar nodes still carries communities. Measured on a generated
  CiteSeer-like graph (``benchmarks/attributed.py``'s
  :func:`bag_of_words_graph`: degree-corrected SBM of mean degree 2.8,
  about 10 % isolated nodes, 3,000 binary words; :math:`h \approx 0.13`,
  eigengap 0; seeds 0-2): NMI 0.15-0.75 with :math:`w = 0` (0.50-0.96
  with the starts ranked by :func:`start_score`), 0.97 with :math:`w = h`
  (on a first draft of the generator: 0.98 with :math:`h`, 0.96 with
  :math:`2h`, 0.90 with :math:`4h`, 0.34-0.43 with 0); the
  contextual-SBM grid, whose graphs are connected, is unchanged (within
  0.006 NMI).

**Which start.** A feature-aware operator is factored from
:obj:`FEATURE_INITS` seeded starts (the pretrained net: its spectral
start) and from its own modularity partition brought to :math:`k`
(:func:`~pyg_symnmf.auto_k.modularity_start`; on a generated bag-of-words
graph with 10 classes every seeded start ended near NMI 0.3 and this one
at 0.92); :func:`start_score` ranks their results by
the modularity, on the raw fused operator, of their arg-max partition, not
by the SymNMF loss. On the contextual SBM with a moderately informative
graph and weak features (``benchmarks/attributed.py``, lambda = 1.5,
mu = 0.5) the starts end in two basins whose losses differ by about
:math:`10^{-4}` (relative), the lower one often the worse partition
(NMI 0.40 against 0.60: two classes merged, one split), while their
modularity on the operator differs by 0.03-0.04 in favour of the better
one; mean NMI over seeds 0-2 0.545 -> 0.614, no other cell of the grid
lower by more than 0.005. The same operator's modularity is what the
read-out's refinement maximises, so the rule asks the starts for the
property the labels are then polished for.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import Tensor
from torch_geometric.utils import coalesce, is_torch_sparse_tensor

from .adjacency import Adjacency, GraphLike, to_adjacency
from .functional import propagate
from .metrics import modularity_from_edges
from .validation import check_number

__all__ = ['feature_graph', 'feature_space', 'FeatureSpace', 'fused_graph',
           'discriminant_metric', 'ledoit_wolf_shrinkage',
           'informative', 'filter_features',
           'knn_cosine_graph',
           'graph_weight_rule', 'relative_eigengap', 'edge_agreement',
           'agreement_pvalue',
           'prepared_features', 'smoothed_feature_kmeans', 'start_score',
           'RESTART', 'RESTARTS', 'STEP_TOL', 'MAX_STEPS', 'MAX_DIM',
           'FEATURE_INITS']

RESTART = 0.05       # SSGC's restart r to the unfiltered features
# Restarts at full trust in the graph tried by feature_space: SSGC's, and a
# filter that keeps half of the unfiltered features (module notes).
RESTARTS = (RESTART, 0.5)
STEP_TOL = 0.05      # stop filtering when the average moves less than this
MAX_STEPS = 16
MAX_DIM = 256        # wider features are projected on this many directions
SPARSE_DENSITY = 0.1  # wide dense features with fewer nonzeros: made sparse
FEATURE_INITS = 8    # starts tried on a feature-aware operator (start_score)
MIN_NEIGHBORS = 10
MAX_NEIGHBORS = 200
CHUNK_ELEMENTS = 1 << 22  # similarities held at once by the kNN search
AGREEMENT_SAMPLE = 4096  # nodes whose neighbours edge_agreement averages
PERMUTATIONS = 99    # null draws of agreement_pvalue (p resolution 0.01)
TEST_EDGES = 1 << 14  # edges agreement_pvalue averages over, at most
GAP_SCALE = 10.0
TRUST_SCALE = 25.0   # a relative eigengap of 0.04 or more: full filter
MAX_GRAPH_WEIGHT = 4.0
MAX_PROBE_K = 10     # k unknown: eigengaps probed up to here
DENSE_EIGEN_NODES = 512  # eigenvalues of smaller operators: dense eigvalsh
# GAP_SCALE, TRUST_SCALE and MAX_GRAPH_WEIGHT were set on the contextual-SBM
# grid of benchmarks/attributed.py (N=2000, k=4; NMI, seeds 0-2): a linear
# weight c * gap_A / gap_W (c = 4 or 8) left the graph too light where it
# carries the signal (lambda=1.5, mu=1: -0.02 to -0.03 against 0.2.0); the
# squared ratio keeps a random graph at about 0 (lambda=0.5, mu=2: w ~ 0.1)
# and gives strong graphs the cap; weights above 4 lost 0.05-0.2 at
# lambda=1.5 on some seeds. Filtering with a graph that is neither
# homophilous nor clustered cost 0.1 NMI at lambda=0.5, mu=2 (hence the
# trust); a trust of 10 * gap_A under-filtered lambda=1.5 (-0.07).


def informative(x: Any) -> bool:
    r"""Whether node features can tell nodes apart by similarity: not
    when every row is the same (constant features), nor when every column
    is nonzero at one node at most (one-hot node ids, as PyG's
    ``KarateClub`` ships): such features only name the nodes. What
    :class:`~pyg_symnmf.SymNMFClustering`, :func:`~pyg_symnmf.symnmf` and
    the CLI check before factoring :func:`feature_graph`."""
    if x is None:
        return False
    features = _as_tensor(x)
    n = features.size(0)
    if n < 2 or features.size(1) == 0:
        return False
    if features.is_sparse:
        cols, values = features.indices()[1], features.values()
        counts = torch.bincount(cols[values != 0],
                                minlength=features.size(1))
        total = torch.zeros(features.size(1), dtype=values.dtype)
        sums = total.index_add(0, cols, values)
        squares = total.index_add(0, cols, values.square())
    else:
        counts = (features != 0).sum(0)
        sums, squares = features.sum(0), features.square().sum(0)
    variance = squares / n - (sums / n).square()
    scale = (squares / n).max().clamp_min(1e-300)
    return int(counts.max()) > 1 and bool((variance > 1e-12 * scale).any())


def feature_graph(x: Any, graph: GraphLike,
                  edge_weight: Optional[Tensor] = None,
                  num_nodes: Optional[int] = None, *,
                  k: Optional[int] = None, steps: Optional[int] = None,
                  restart: Optional[float] = None,
                  num_neighbors: Optional[int] = None,
                  graph_weight: Optional[float] = None,
                  max_dim: int = MAX_DIM, normalize: Optional[bool] = None,
                  seed: int = 0, dtype: Optional[torch.dtype] = None,
                  labels: Optional[Tensor] = None) -> Adjacency:
    r"""The feature-aware operator of an attributed graph (module notes):
    the graph fused with a sparse kNN cosine graph of graph-filtered
    features, as an :class:`~pyg_symnmf.Adjacency` for any solver:
    :func:`fused_graph` of :func:`feature_space`.

    Args:
        x: Node features :math:`(N, F)`: a dense or :mod:`torch.sparse`
            tensor, a NumPy array or a SciPy sparse matrix (kept sparse).
        graph: The graph, in any form :func:`~pyg_symnmf.to_adjacency`
            accepts (symmetric, nonnegative weights).
        edge_weight (torch.Tensor, optional): Edge weights, with an
            ``edge_index``.
        num_nodes (int, optional): :math:`N` (default: ``x``'s rows).
        k (int, optional): The number of communities, for the neighbour
            rule. (default: unknown)
        steps (int, optional): Filter steps :math:`T`. (default: until the
            average moves less than :obj:`STEP_TOL`)
        restart (float, optional): Restart :math:`r \in [0, 1]`.
            (default: from the feature agreement of the graph's edges and
            its eigengap, module notes)
        num_neighbors (int, optional): Neighbours :math:`m` per node.
            (default: :math:`N/(4k)` in [10, 200], or :math:`\sqrt{N}`)
        graph_weight (float, optional): Weight :math:`w \ge 0` of the
            graph. (default: by the eigengaps, at least the edge
            agreement; module notes)
        max_dim (int): Feature width above which features are projected
            by a randomised SVD. (default: 256)
        normalize (bool, optional): Normalise the returned operator
            symmetrically. (default: :obj:`True`)
        seed (int): Seed of the randomised SVD. (default: 0)
        dtype (torch.dtype, optional): Of the operator. (default: float32)
        labels (torch.Tensor, optional): Communities :math:`(N,)` of a
            first factorization: the neighbours are then searched in their
            discriminant metric (:func:`discriminant_metric`).

    Returns:
        :class:`~pyg_symnmf.Adjacency` :math:`N \times N` with at most
        :math:`2Nm + \mathrm{nnz}(\mathbf{A})` nonzeros; not differentiable
        in ``edge_weight``.
    """
    space = feature_space(x, graph, edge_weight, num_nodes, k=k,
                          steps=steps, restart=restart,
                          num_neighbors=num_neighbors,
                          graph_weight=graph_weight, max_dim=max_dim,
                          seed=seed)
    return fused_graph(space, labels=labels, normalize=normalize,
                       dtype=dtype)


@dataclass
class FeatureSpace:
    r"""What the operator is built from before the neighbour search
    (:func:`feature_space`), kept so that it can be fused again in another
    metric (:func:`fused_graph` with ``labels``) without filtering again.

    Attributes:
        features: The features as the filter reads them
            (:func:`prepared_features`), :math:`(N, d)` float64.
        z: The filtered features, centred, unit rows :math:`(N, d)`
            (float64).
        adj: The graph's normalised operator (float64).
        k: The number of communities, if known.
        num_neighbors: Neighbours :math:`m` per node.
        gap: The graph's relative eigengap at :math:`k`.
        agreement: The feature agreement of its edges
            (:func:`edge_agreement`).
        graph_weight: The graph's weight when given, else chosen when
            fusing.
        seed: Seed of the eigengaps.
        restart: The filter's restart :math:`r`.
        fusion: Steps 2-3 without ``labels`` (coalesced ``edge_index`` and
            float64 weights), kept once :func:`fused_graph` computed them
            (the restart's choice does), so they are not computed again.
    """
    features: Tensor
    z: Tensor
    adj: Adjacency
    k: Optional[int]
    num_neighbors: int
    gap: float
    agreement: float
    graph_weight: Optional[float]
    seed: int
    restart: float
    fusion: Optional[tuple[Tensor, Tensor]] = field(default=None,
                                                    repr=False)


def feature_space(x: Any, graph: GraphLike,
                  edge_weight: Optional[Tensor] = None,
                  num_nodes: Optional[int] = None, *,
                  k: Optional[int] = None, steps: Optional[int] = None,
                  restart: Optional[float] = None,
                  num_neighbors: Optional[int] = None,
                  graph_weight: Optional[float] = None,
                  max_dim: int = MAX_DIM, seed: int = 0) -> FeatureSpace:
    """Steps 1 and the rules of :func:`feature_graph` (same arguments):
    the filtered features and the graph's statistics."""
    if restart is not None:
        check_number('restart', restart, low=0, high=1)
    if graph_weight is not None:
        check_number('graph_weight', graph_weight, low=0)
    check_number('max_dim', max_dim, integer=True, low=1)
    check_number('seed', seed, integer=True, low=0)
    features = _as_tensor(x)
    if not informative(features):
        raise ValueError("'x' cannot tell nodes apart (constant rows, or "
                         "one-hot node ids): factor the graph alone")
    if isinstance(graph, Adjacency):  # its weights, whatever its scaling
        graph = graph.csr
    n = features.size(0) if num_nodes is None else num_nodes
    if features.size(0) != n:
        raise ValueError(f"'x' has {features.size(0)} rows but the graph has "
                         f"{n} nodes; give one feature row per node")
    adj = to_adjacency(graph, edge_weight, n, normalize=True,
                       dtype=torch.float64).detach()
    if n < 2:
        raise ValueError("A feature graph needs at least 2 nodes")
    m = _num_neighbors(n, k, num_neighbors)
    x0 = prepared_features(features, max_dim, seed)
    gap_a = relative_eigengap(adj, k, seed) if adj.num_edges > 0 and (
        restart is None or graph_weight is None) else 0.0
    agreement = edge_agreement(x0, adj, m, seed) if restart is None or \
        graph_weight is None else 0.0
    if restart is None:
        trust = max(agreement, min(1.0, TRUST_SCALE * gap_a))
        restarts = sorted({1 - (1 - r0) * trust for r0 in RESTARTS})
    else:
        restarts = [restart]
    spaces = []
    for r in restarts:
        z = filter_features(x0, adj, steps=steps, restart=r,
                            max_dim=max_dim, seed=seed, graph=graph,
                            edge_weight=edge_weight)
        spaces.append(FeatureSpace(x0, _centred_unit_rows(z), adj, k, m,
                                   gap_a, agreement, graph_weight, seed, r))
    if len(spaces) == 1:
        return spaces[0]
    # The filter whose fused operator shows k clusters most clearly; the
    # stronger one (SSGC's) on a tie.
    return max(spaces, key=lambda space: relative_eigengap(
        fused_graph(space, normalize=True), k, seed))


def fused_graph(space: FeatureSpace, *, labels: Optional[Tensor] = None,
                normalize: Optional[bool] = None,
                dtype: Optional[torch.dtype] = None) -> Adjacency:
    """Steps 2 and 3 of :func:`feature_graph`: the kNN graph of the
    filtered features (in the discriminant metric of ``labels`` when
    given, :func:`discriminant_metric`) fused with the graph."""
    index, value = _fusion(space, labels)
    return to_adjacency(index, value.to(dtype or torch.float32),
                        space.z.size(0), normalize=normalize)


def _fusion(space: FeatureSpace, labels: Optional[Tensor]
            ) -> tuple[Tensor, Tensor]:
    """The fused graph's ``(edge_index, weight)`` in float64, from
    ``space.fusion`` when ``labels`` is None and it was computed before."""
    if labels is None and space.fusion is not None:
        return space.fusion
    z = space.z if labels is None else discriminant_metric(space.z, labels)
    n, adj = z.size(0), space.adj
    knn_index, knn_value = knn_cosine_graph(z, space.num_neighbors)
    knn = to_adjacency(knn_index, knn_value, n, normalize=True,
                       dtype=torch.float64)
    graph_weight = space.graph_weight
    if graph_weight is None:
        graph_weight = max(graph_weight_rule(space.gap, knn, space.k,
                                             space.seed), space.agreement)
    parts = [(knn.row(), knn.col(), knn.values)]
    if graph_weight > 0 and adj.num_edges > 0:
        parts.append((adj.row(), adj.col(), graph_weight * adj.values))
    row, col, value = (torch.cat(p) for p in zip(*parts))
    fusion = coalesce(torch.stack([row, col]), value, n, reduce='sum')
    if labels is None:
        space.fusion = fusion
    return fusion


def discriminant_metric(z: Tensor, labels: Tensor) -> Tensor:
    r"""The rows of ``z`` :math:`(N, d)` in the metric that separates the
    groups ``labels`` :math:`(N,)`, as linear discriminant analysis's:
    :math:`\mathbf{z}_i \boldsymbol{\Sigma}_w^{-1/2}`, with
    :math:`\boldsymbol{\Sigma}_w` the pooled within-group covariance
    shrunk towards :math:`\frac{\mathrm{tr}\,\boldsymbol{\Sigma}_w}{d}
    \mathbf{I}` by Ledoit and Wolf's rule (:func:`ledoit_wolf_shrinkage`),
    then centred with unit rows (float64). Directions along which the
    groups spread weigh less, directions that tell them apart more: on
    a generated 10-class bag-of-words graph the default call's NMI goes
    from 0.925 to 0.987 with the neighbours searched in the metric of
    its own first partition (module notes). ``z`` unchanged when every
    group is a single point."""
    if labels.shape != (z.size(0),):
        raise ValueError(f"'labels' must have shape [{z.size(0)}], got "
                         f"{list(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or (
            labels.numel() and int(labels.min()) < 0):
        raise ValueError("'labels' must be nonnegative integer community "
                         "ids")
    labels = labels.to(z.device, torch.long)
    groups = int(labels.max()) + 1 if labels.numel() else 0
    sums = z.new_zeros(groups, z.size(1)).index_add_(0, labels, z)
    counts = torch.bincount(labels, minlength=groups).clamp_min(1)
    residual = z - (sums / counts.unsqueeze(1).to(z.dtype))[labels]
    cov, shrink = _ledoit_wolf(residual)
    target = float(cov.trace()) / z.size(1)
    if not target > 0:
        return z
    eye = torch.eye(z.size(1), dtype=z.dtype, device=z.device)
    values, vectors = torch.linalg.eigh((1 - shrink) * cov
                                        + shrink * target * eye)
    # Round-off can leave an eigenvalue of a singular covariance at 0.
    floor = torch.finfo(z.dtype).eps * target
    root = (vectors * values.clamp_min(floor).rsqrt()) @ vectors.t()
    return _centred_unit_rows(z @ root)


def ledoit_wolf_shrinkage(x: Tensor) -> float:
    r"""Ledoit and Wolf's (2004) shrinkage :math:`a \in [0, 1]` of the
    covariance of the rows of ``x`` :math:`(n, p)` (taken as centred)
    towards :math:`\mu\mathbf{I}`, :math:`\mu` its mean eigenvalue: the
    :math:`a` that minimises the expected squared error of
    :math:`(1 - a)\mathbf{S} + a\mu\mathbf{I}`, estimated from the data
    (scikit-learn's ``ledoit_wolf_shrinkage`` with
    ``assume_centered=True``)."""
    return _ledoit_wolf(x)[1]


def _ledoit_wolf(x: Tensor) -> tuple[Tensor, float]:
    r"""The empirical covariance :math:`\mathbf{X}^\top\mathbf{X}/n` of
    the rows of ``x`` (taken as centred) and its Ledoit-Wolf shrinkage,
    from one product :math:`\mathbf{X}^\top\mathbf{X}`."""
    n, p = x.shape
    gram = x.t() @ x
    squares = x.square()
    trace = float(squares.sum(0).div(n).sum())
    mu = trace / p
    delta_ = float(gram.square().sum()) / n ** 2
    beta_ = float((squares.t() @ squares).sum())
    beta = (beta_ / n - delta_) / (p * n)
    delta = (delta_ - 2 * mu * trace + p * mu ** 2) / p
    beta = min(beta, delta)
    return gram / max(n, 1), 0.0 if beta <= 0 else beta / delta


def _centred_unit_rows(z: Tensor) -> Tensor:
    z = z - z.mean(0)
    return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)


def start_score(raw: Adjacency, resolution: float = 1.0
                ) -> Callable[[Tensor], float]:
    r"""How the starts of a feature-aware operator are ranked (module
    notes; higher is better): :math:`\mathbf{H} \mapsto Q(\arg\max_c
    H_{ic})`, the modularity at ``resolution`` of the arg-max partition on
    ``raw``, the unnormalised fused operator (:func:`feature_graph` with
    ``normalize=False``). :math:`O(\mathrm{nnz} + Nk)` per call."""
    raw = raw.detach()
    row, col, values, degree = raw.row(), raw.col(), raw.values, raw.degree()

    def score(h: Tensor) -> float:
        labels = h.detach().argmax(dim=1).to(row.device)
        return modularity_from_edges(row, col, values, degree, labels,
                                     resolution)
    return score


def filter_features(x: Any, adj: Adjacency, *, steps: Optional[int] = None,
                    restart: float = RESTART, max_dim: int = MAX_DIM,
                    seed: int = 0, graph: Optional[GraphLike] = None,
                    edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""The SSGC low-pass filter :math:`\bar{\mathbf{X}}` of the
    row-normalised features (module notes), dense :math:`(N, \min(F,
    \text{max\_dim}))` in float64. ``adj`` is the graph's operator; the
    filter uses the self-looped one, built from ``graph`` (and
    ``edge_weight``) when given, else from ``adj``'s structure."""
    if steps is not None:
        check_number('steps', steps, integer=True, low=1)
    features = prepared_features(x, max_dim, seed)
    if graph is None or isinstance(graph, Adjacency):
        graph, edge_weight = (adj if graph is None else graph).csr, None
    looped = to_adjacency(graph, edge_weight, adj.num_nodes,
                          add_self_loops=True,
                          dtype=torch.float64).detach()
    return _ssgc(features.to(torch.float64), looped, steps, restart)


def _ssgc(x0: Tensor, looped: Adjacency, steps: Optional[int],
          restart: float) -> Tensor:
    """The average of the filter steps (all ``steps``, or until it
    settles)."""
    xt, total = x0, torch.zeros_like(x0)
    for t in range(1, (steps or MAX_STEPS) + 1):
        xt = (1 - restart) * propagate(looped, xt) + restart * x0
        previous = total / max(t - 1, 1)
        total = total + xt
        if steps is None and t > 1 and float(
                (total / t - previous).norm()) < STEP_TOL * float(
                    (total / t).norm()):
            break
    return total / t


def smoothed_feature_kmeans(x: Any, graph: GraphLike, k: int,
                            edge_weight: Optional[Tensor] = None, *,
                            steps: int = 8, restart: float = RESTART,
                            seed: int = 0, n_init: int = 10) -> Tensor:
    r"""A peer to compare with, not part of the operator: the features as
    given (dense :math:`N \times F`, so only for moderate :math:`N F`)
    averaged over ``steps`` SSGC steps, rows :math:`\ell_2`-normalised,
    then scikit-learn's k-means (``n_init`` restarts). Returns the labels,
    shape :math:`(N,)`."""
    from sklearn.cluster import KMeans

    check_number('steps', steps, integer=True, low=1)
    features = _as_tensor(x)
    features = features.to_dense() if features.is_sparse else features
    if isinstance(graph, Adjacency):
        graph = graph.csr
    looped = to_adjacency(graph, edge_weight, features.size(0),
                          add_self_loops=True, dtype=torch.float64).detach()
    smooth = _ssgc(features, looped, steps, restart)
    smooth = smooth / smooth.norm(dim=1, keepdim=True).clamp_min(1e-12)
    labels = KMeans(k, n_init=n_init, random_state=seed).fit_predict(
        smooth.numpy())
    return torch.from_numpy(labels).long()


def prepared_features(x: Any, max_dim: int = MAX_DIM, seed: int = 0
                      ) -> Tensor:
    r"""Rows :math:`\ell_2`-normalised when the features are nonnegative
    (counts, binary words, TF-IDF: a row's direction is its content; a
    signed row near the origin has no reliable direction, so signed
    features keep their scale), projected on the top ``max_dim``
    right singular vectors when wider (randomised SVD, sparse input kept
    sparse): dense :math:`(N, \min(F, \text{max\_dim}))` float64. Already
    prepared features (dense, unit or zero rows, narrow) pass unchanged.
    Wide dense features with fewer than :obj:`SPARSE_DENSITY` nonzeros (bag
    of words stored dense, as Planetoid's) are made sparse first: the same
    projection (to rounding) in a third of the time on CiteSeer."""
    features = _as_tensor(x)
    if features.size(1) > max_dim and not features.is_sparse and \
            features.numel() and float((features != 0).sum()) < \
            SPARSE_DENSITY * features.numel():
        features = features.to_sparse()
    if _nonnegative(features):
        features = _row_normalized(features)
    if features.size(1) > max_dim:
        return _projected(features, max_dim, seed)
    return features.to_dense() if features.is_sparse else features


def edge_agreement(x: Tensor, adj: Adjacency, num_neighbors: int,
                   seed: int = 0) -> float:
    r"""How much the graph's edges agree with the features, in [0, 1]:
    with :math:`\mathbf{z}_i` the centred unit feature rows, the mean
    cosine along the edges minus that of all pairs, over the same excess
    for a node's ``num_neighbors`` most similar nodes: 1 when edges join
    nodes as similar as feature neighbours, 0 for edges at random. The
    filter's restart is :math:`1 - (1 - r_0)\,h` (:math:`r_0` =
    :obj:`RESTART`): a graph that disagrees with the features does not
    smooth them. The neighbours' mean is taken over every node, or over
    :obj:`AGREEMENT_SAMPLE` seeded nodes on larger graphs (a mean, so a
    sample estimates it; the search costs :math:`O(N^2 F)` otherwise)."""
    if adj.num_edges == 0:
        return 0.0
    z = _centred_unit_rows(x)
    n = z.size(0)
    at_random = float(z.sum(0).square().sum()) / n ** 2
    along = _mean_cosine(z, adj.row(), adj.col())
    rows = None
    if n > AGREEMENT_SAMPLE:
        gen = torch.Generator().manual_seed(seed)
        rows = torch.randperm(n, generator=gen)[:AGREEMENT_SAMPLE].sort()[0]
    _, _, nearest = _most_similar(z, num_neighbors, rows)
    nearest = nearest[nearest > 0]
    excess = float(nearest.mean()) - at_random if nearest.numel() else 0.0
    if excess <= 0:
        return 0.0
    return min(1.0, max(0.0, (along - at_random) / excess))


def agreement_pvalue(x: Tensor, adj: Adjacency, *,
                     permutations: int = PERMUTATIONS, seed: int = 0
                     ) -> float:
    r"""Whether the features agree with the graph's edges beyond chance:
    the permutation p-value of the mean cosine of the centred feature
    rows along the edges, against the same mean with the rows shuffled
    among the nodes (``permutations`` seeded draws),
    :math:`p = (1 + \#\{\text{draws} \ge \text{observed}\}) / (1 +
    \text{permutations})` (Phipson & Smyth 2010). Features drawn
    independently of the graph give a uniform :math:`p`; features that
    carry the graph's communities a :math:`p` at its floor,
    :math:`1/(1 + \text{permutations})`. ``x`` are the features as the
    operator reads them (:func:`prepared_features`, not filtered: filtered
    rows agree with any graph they were smoothed over); ``adj`` gives the
    edges (its pattern; self-loops ignored). At most :obj:`TEST_EDGES`
    edges, a seeded sample of larger graphs, so the cost is
    :math:`O(\text{permutations} \cdot \min(|\mathcal{E}|,
    2^{14})\,d)`. 1.0 for a graph without edges."""
    check_number('permutations', permutations, integer=True, low=1)
    row, col = adj.row(), adj.col()
    keep = row < col
    row, col = row[keep], col[keep]
    if row.numel() == 0:
        return 1.0
    gen = torch.Generator().manual_seed(seed)
    if row.numel() > TEST_EDGES:
        sample = torch.randperm(row.numel(), generator=gen)[:TEST_EDGES]
        row, col = row[sample], col[sample]
    z = _centred_unit_rows(x.to(torch.float64))
    observed = _mean_cosine(z, row, col)
    above = 0
    for _ in range(permutations):
        # Shuffling the rows' owners, not the N x d rows themselves.
        owner = torch.randperm(z.size(0), generator=gen)
        above += _mean_cosine(z, owner[row], owner[col]) >= observed
    return (1 + above) / (1 + permutations)


def _mean_cosine(z: Tensor, row: Tensor, col: Tensor) -> float:
    """The mean product of the rows of ``z`` at the pairs ``(row, col)``:
    their mean cosine when the rows are unit (what :func:`edge_agreement`
    and :func:`agreement_pvalue` compare along the edges)."""
    return float((z[row] * z[col]).sum(1).mean())


def knn_cosine_graph(z: Tensor, num_neighbors: int
                     ) -> tuple[Tensor, Tensor]:
    r"""Symmetric kNN graph of the rows of ``z`` (unit rows: the products
    are cosines): each node keeps its ``num_neighbors`` most similar other
    nodes, positive similarities only; the union of both directions with
    the similarity as weight. Exact, by chunks of rows (at most
    :obj:`CHUNK_ELEMENTS` similarities at once). Returns ``(edge_index,
    edge_weight)``, coalesced."""
    row, col, value = _most_similar(z, num_neighbors)
    keep = value > 0
    row, col, value = row[keep], col[keep], value[keep]
    index = torch.stack([torch.cat([row, col]), torch.cat([col, row])])
    return coalesce(index, torch.cat([value, value]), z.size(0),
                    reduce='max')


def _most_similar(z: Tensor, num_neighbors: int,
                  rows: Optional[Tensor] = None
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """For each of ``rows`` (default: all), its ``num_neighbors`` largest
    products with the other rows of ``z``, by chunks of at most
    :obj:`CHUNK_ELEMENTS` products: ``(row, col, value)``, flat."""
    n = z.size(0)
    m = min(num_neighbors, n - 1)
    rows = torch.arange(n) if rows is None else rows
    chunk = max(1, CHUNK_ELEMENTS // n)
    found = []
    for start in range(0, rows.numel(), chunk):
        idx = rows[start:start + chunk]
        sim = z.index_select(0, idx) @ z.t()
        sim[torch.arange(idx.numel()), idx] = -math.inf  # no self-loops
        value, col = sim.topk(m, dim=1)
        found.append((idx.repeat_interleave(m), col.reshape(-1),
                      value.reshape(-1)))
    row, col, value = (torch.cat(part) for part in zip(*found))
    return row, col, value


def _num_neighbors(n: int, k: Optional[int], given: Optional[int]) -> int:
    if given is not None:
        check_number('num_neighbors', given, integer=True, low=1)
        return min(given, n - 1)
    target = n / (4 * k) if k else math.sqrt(n)
    return max(1, min(n - 1, MAX_NEIGHBORS,
                      max(MIN_NEIGHBORS, round(target))))


def graph_weight_rule(gap_a: float, knn: Adjacency, k: Optional[int],
                      seed: int = 0) -> float:
    r""":math:`w = (c\,\delta_A / \delta_W)^2` (module notes) from the
    graph's relative eigengap ``gap_a`` and the normalised kNN operator, in
    [0, :obj:`MAX_GRAPH_WEIGHT`]."""
    if gap_a <= 0:
        return 0.0
    gap_w = relative_eigengap(knn, k, seed)
    if gap_w <= 0:
        return MAX_GRAPH_WEIGHT
    return min(MAX_GRAPH_WEIGHT, (GAP_SCALE * gap_a / gap_w) ** 2)


def relative_eigengap(adj: Adjacency, k: Optional[int], seed: int = 0
                      ) -> float:
    r""":math:`(\lambda_k - \lambda_{k+1}) / \lambda_k` of the largest
    eigenvalues of ``adj`` (0 when :math:`\lambda_k \le 0`); the largest
    over :math:`2 \le k \le` :obj:`MAX_PROBE_K` when ``k`` is None.
    LOBPCG on the sparse operator (dense ``eigvalsh`` up to
    :obj:`DENSE_EIGEN_NODES` nodes)."""
    n = adj.num_nodes
    top = min(n - 1, (k or MAX_PROBE_K) + 1)
    if top < 2:
        return 0.0
    a = adj.csr.to(torch.float64)
    if n <= max(DENSE_EIGEN_NODES, 3 * top):
        values = torch.linalg.eigvalsh(a.to_dense()).flip(0)[:top]
    else:
        gen = torch.Generator().manual_seed(seed)
        start = torch.randn(n, 2 * top, generator=gen, dtype=torch.float64)
        values, _ = torch.lobpcg(a, k=top,
                                 X=start.to(a.device), largest=True,
                                 niter=200, tol=1e-4)
        values = values.sort(descending=True).values
    ks = [k] if k else range(2, top)
    gaps = [float((values[j - 1] - values[j]) / values[j - 1])
            for j in ks if j < top and values[j - 1] > 0]
    return max(gaps, default=0.0)


def _as_tensor(x: Any) -> Tensor:
    """Dense or sparse (COO) float64 tensor of a tensor, array or SciPy
    sparse matrix, with a clear error for anything else."""
    if hasattr(x, 'tocoo') and not isinstance(x, Tensor):  # SciPy sparse
        coo = x.tocoo()
        import numpy as np
        index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(
            np.int64))
        x = torch.sparse_coo_tensor(index, torch.from_numpy(
            coo.data.astype(np.float64)), coo.shape, check_invariants=False)
    elif not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"'x' must be a tensor, an array or a SciPy "
                            f"sparse matrix, got {type(x).__name__}") from err
    if x.dim() != 2:
        raise ValueError(f"'x' must have shape [num_nodes, num_features], "
                         f"got {list(x.shape)}")
    if is_torch_sparse_tensor(x):
        x = x.to_sparse_coo().coalesce().to(torch.float64)
        values = x.values()
    else:
        x = x.detach().to(torch.float64)
        values = x
    if not bool(torch.isfinite(values).all()):
        raise ValueError("'x' contains NaN or Inf")
    return x


def _nonnegative(x: Tensor) -> bool:
    values = x.coalesce().values() if x.is_sparse else x
    return bool((values >= 0).all())


def _row_normalized(x: Tensor) -> Tensor:
    if x.is_sparse:
        row = x.indices()[0]
        norm = torch.zeros(x.size(0), dtype=x.dtype).index_add_(
            0, row, x.values().square()).sqrt()
        values = x.values() / norm[row].clamp_min(1e-12)
        # Same (coalesced) indices; checked invariants would cost a pass.
        return torch.sparse_coo_tensor(x.indices(), values, x.shape,
                                       is_coalesced=True,
                                       check_invariants=False)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _projected(x: Tensor, dim: int, seed: int) -> Tensor:
    r""":math:`\mathbf{X}\mathbf{V}`, :math:`\mathbf{V}` the top ``dim``
    right singular vectors (randomised SVD, seeded), dense :math:`(N,
    \text{dim})`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, _, v = torch.svd_lowrank(x, q=dim, niter=2)
    return torch.sparse.mm(x, v) if x.is_sparse else x @ v
