r"""Graphs with ground truth: embedded (karate, digits), generated (SBM,
LFR) and downloaded (Planetoid) ones, all as PyG :class:`Data` objects with
``edge_index``, optional ``edge_weight``, and labels ``y``."""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch_geometric.data import Data
from torch import Tensor
from torch_geometric.utils import (coalesce, remove_self_loops,
                                   stochastic_blockmodel_graph, to_undirected)

from .knn import SelfTuningKNNGraph

__all__ = ['karate', 'digits', 'sbm', 'lfr', 'planetoid', 'random_graph',
           'DATASETS', 'NORMALIZE']


def karate() -> Data:
    """Zachary's karate club (34 nodes, 4 communities); ships with PyG."""
    from torch_geometric.datasets import KarateClub

    data = KarateClub()[0]
    return Data(x=data.x, edge_index=data.edge_index, y=data.y,
                num_nodes=data.num_nodes)


def digits(num_neighbors: int = 7) -> Data:
    """scikit-learn's bundled 8x8 digits (1797 images, 10 classes) as a
    self-tuning ``num_neighbors``-NN similarity graph on the raw pixels."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    data = Data(x=torch.from_numpy(x).float(), y=torch.from_numpy(y))
    return SelfTuningKNNGraph(num_neighbors)(data)


def sbm(block_sizes: Sequence[int] = (250, 250, 250, 250),
        p_in: float = 0.1, p_out: float = 0.01, num_features: int = 0,
        feature_noise: float = 1.0, seed: int = 0) -> Data:
    r"""A stochastic block model: edges with probability ``p_in`` inside a
    block and ``p_out`` across. With ``num_features > 0``, ``x`` holds
    Gaussian features centred on a random mean per block (``feature_noise``
    is the standard deviation around it)."""
    gen = torch.Generator().manual_seed(seed)
    sizes = torch.tensor(list(block_sizes))
    k = len(block_sizes)
    probs = torch.full((k, k), float(p_out))
    probs.fill_diagonal_(float(p_in))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        edge_index = stochastic_blockmodel_graph(sizes, probs)
    y = torch.repeat_interleave(torch.arange(k), sizes)
    data = Data(edge_index=edge_index, y=y, num_nodes=int(sizes.sum()))
    if num_features > 0:
        centers = torch.randn(k, num_features, generator=gen)
        noise = torch.randn(data.num_nodes, num_features, generator=gen)
        data.x = centers[y] + feature_noise * noise
    return data


def lfr(num_nodes: int = 1000, mu: float = 0.3, average_degree: int = 20,
        max_degree: int = 50, min_community: int = 20,
        max_community: int = 100, seed: int = 0,
        degree_exponent: float = 3.0, size_exponent: float = 1.5) -> Data:
    """An LFR benchmark graph from networkx (mixing parameter ``mu``; power
    laws of degrees and community sizes with the given exponents), with its
    planted communities as ``y`` and self-loops removed."""
    import networkx as nx

    graph = nx.LFR_benchmark_graph(num_nodes, degree_exponent, size_exponent,
                                   mu,
                                   average_degree=average_degree,
                                   max_degree=max_degree,
                                   min_community=min_community,
                                   max_community=max_community, seed=seed)
    community_of: dict[int, int] = {}
    for node in graph.nodes:
        community_of.setdefault(min(graph.nodes[node]['community']),
                                len(community_of))
    y = torch.tensor([community_of[min(graph.nodes[v]['community'])]
                      for v in range(num_nodes)])
    edges = np.array(graph.edges, dtype=np.int64).reshape(-1, 2).T
    edge_index = torch.from_numpy(np.concatenate([edges, edges[::-1]], 1))
    edge_index, _ = remove_self_loops(edge_index)
    return Data(edge_index=edge_index, y=y, num_nodes=num_nodes)


def planetoid(root: str, name: str = 'Cora') -> Data:
    """A Planetoid citation graph (Cora, CiteSeer, PubMed), downloaded to
    ``root`` on first use (:func:`pyg_symnmf.io.load_pyg_dataset`). Raises
    :class:`~pyg_symnmf.io.DatasetUnavailableError` (a
    :class:`RuntimeError`) naming the folder for the raw files when it is
    neither cached nor reachable."""
    from .io import load_pyg_dataset
    return load_pyg_dataset(f'Planetoid:{name}', root)


def random_graph(num_nodes: int = 30, num_edges: int = 80, seed: int = 0,
                 weighted: bool = True) -> tuple[Tensor, Optional[Tensor]]:
    """A random undirected graph without self-loops (Erdos-Renyi-like):
    ``(edge_index, edge_weight or None)``, ``num_edges`` drawn pairs before
    symmetrising, weights uniform in [0.1, 1.1) (symmetric: the larger of
    the two drawn for a pair)."""
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(num_nodes, (2, num_edges), generator=gen)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    if not weighted:
        return to_undirected(edge_index, num_nodes=num_nodes), None
    weight = torch.rand(edge_index.size(1), generator=gen) + 0.1
    edge_index, weight = to_undirected(edge_index, weight, num_nodes,
                                       reduce='max')
    return edge_index, weight


DATASETS: dict[str, Callable[..., Data]] = {'karate': karate, 'digits': digits,
                                            'sbm': sbm, 'lfr': lfr}

# Whether to factor each dataset's normalised adjacency. Raw kernel
# similarities factor better than their normalised form on the digits graph
# (ACC 0.85 vs 0.72 over 5 seeds of 300 ANLS iterations).
NORMALIZE = {'karate': True, 'digits': False, 'sbm': True, 'lfr': True}


def contextual_sbm(num_nodes: int = 2000, k: int = 4,
                   graph_signal: float = 2.0, feature_signal: float = 1.0,
                   num_features: int = 32, average_degree: float = 10.0,
                   seed: int = 0) -> Data:
    r"""A contextual stochastic block model in the style of `"Contextual
    Stochastic Block Models" <https://arxiv.org/abs/1807.09596>`_
    (Deshpande, Montanari, Mossel, Sen, 2018), with :math:`k` classes of
    equal size (up to one node).

    *Graph:* an undirected SBM of mean degree :math:`d` =
    ``average_degree`` whatever the signal :math:`\lambda` =
    ``graph_signal``: expected degree :math:`c_{\mathrm{in}} = d +
    (k-1)\lambda\sqrt{d}` inside the class and :math:`c_{\mathrm{out}} = d -
    \lambda\sqrt{d}` across, i.e. :math:`p_{\mathrm{in}} =
    c_{\mathrm{in}}/N`, :math:`p_{\mathrm{out}} = c_{\mathrm{out}}/N`.
    :math:`\lambda = 0` is an Erdos-Renyi graph; :math:`\lambda = 1` is the
    Kesten-Stigum threshold :math:`(c_{\mathrm{in}} - c_{\mathrm{out}})^2 =
    k^2 d`, below which the graph alone is not detectable by efficient
    methods; :math:`\lambda \le \sqrt{d}` is required.

    *Features:* :math:`\mathbf{x}_i = \mu\,\mathbf{u}_{y_i} +
    \boldsymbol{\varepsilon}_i`, :math:`\boldsymbol{\varepsilon}_i \sim
    \mathcal{N}(0, \mathbf{I}_p)`, with orthonormal random class directions
    :math:`\mathbf{u}_c \in \mathbb{R}^p` and :math:`\mu` =
    ``feature_signal`` (so class means are :math:`\mu\sqrt{2}` noise
    standard deviations apart; :math:`\mu = 0` makes the features pure
    noise).

    Returns:
        :class:`~torch_geometric.data.Data` with ``x`` :math:`(N, p)`,
        ``edge_index`` (both directions, no self-loops, sorted by source) and
        ``y`` :math:`(N,)`; the same ``seed`` gives the same graph.
    """
    num_nodes, k = int(num_nodes), int(k)
    if k < 1 or num_nodes < k:
        raise ValueError(f"Need 1 <= k <= num_nodes, got k={k}, "
                         f"num_nodes={num_nodes}")
    if num_features < 1:
        raise ValueError(f"'num_features' must be >= 1, got {num_features}")
    d, lam, mu = float(average_degree), float(graph_signal), \
        float(feature_signal)
    if d <= 0 or lam < 0 or mu < 0:
        raise ValueError("'average_degree' must be > 0 and the signals >= 0")
    if lam > d ** 0.5 + 1e-12:
        raise ValueError(f"'graph_signal' must be <= sqrt(average_degree) = "
                         f"{d ** 0.5:.3f} (else p_out < 0), got {lam}")
    c_in = d + (k - 1) * lam * d ** 0.5
    c_out = d - lam * d ** 0.5
    p_in, p_out = min(c_in / num_nodes, 1.0), max(c_out / num_nodes, 0.0)
    sizes = torch.full((k,), num_nodes // k, dtype=torch.long)
    sizes[:num_nodes % k] += 1
    probs = torch.full((k, k), p_out)
    probs.fill_diagonal_(p_in)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        edge_index = stochastic_blockmodel_graph(sizes, probs)
    y = torch.repeat_interleave(torch.arange(k), sizes)
    gen = torch.Generator().manual_seed(seed + 1_000_003)
    directions = torch.randn(max(num_features, k), k, generator=gen)
    directions = torch.linalg.qr(directions)[0][:num_features]  # (p, k)
    if num_features < k:  # cannot be orthogonal: unit random directions
        directions = directions / directions.norm(dim=0).clamp_min(1e-12)
    noise = torch.randn(num_nodes, num_features, generator=gen)
    x = mu * directions.t()[y] + noise
    return Data(x=x, edge_index=edge_index, y=y, num_nodes=num_nodes)


__all__.append('contextual_sbm')


def planted_partition(num_nodes: int, k: int, average_degree: float = 20.0,
                      mu: float = 0.2, degree_exponent: Optional[float] = None,
                      size_concentration: float = 5.0, weighted: bool = False,
                      seed: int = 0) -> Data:
    r"""A (degree-corrected) planted partition drawn edge by edge in
    :math:`O(|\mathcal{E}|)`: each of :math:`N\bar{d}/2` edges joins two
    nodes of one community with probability :math:`1-\mu`, else two nodes
    of the whole graph, endpoints drawn proportionally to node weights
    :math:`\theta_i` (Pareto with ``degree_exponent``, or all equal).
    Community sizes follow a Dirichlet with ``size_concentration`` (large =
    equal sizes). Nodes are randomly numbered; duplicates are summed and
    self-loops dropped; ``weighted`` draws weights in :math:`[0.2, 2]`."""
    rng = np.random.default_rng(seed)
    sizes = np.floor(rng.dirichlet(np.full(k, size_concentration))
                     * (num_nodes - 5 * k) + 5).astype(np.int64)
    sizes[-1] += num_nodes - sizes.sum()
    y = np.repeat(np.arange(k), sizes)
    theta = rng.pareto(degree_exponent, num_nodes) + 1.0 \
        if degree_exponent else np.ones(num_nodes)
    num_edges = int(num_nodes * average_degree / 2)
    inside = rng.random(num_edges) > mu
    # Every endpoint: a community (by theta mass), then a node inside it.
    starts = np.concatenate([[0], np.cumsum(sizes)])
    cum = np.cumsum(theta)
    mass = np.diff(np.concatenate([[0.0], cum[starts[1:] - 1]]))
    community = rng.choice(k, num_edges, p=mass / mass.sum())
    lo = np.where(inside, np.concatenate([[0.0], cum])[starts[community]], 0.0)
    hi = np.where(inside, cum[starts[community + 1] - 1], cum[-1])
    ends = [np.searchsorted(cum, lo + rng.random(num_edges) * (hi - lo),
                            side='right').clip(max=num_nodes - 1)
            for _ in range(2)]
    perm = rng.permutation(num_nodes)
    src, dst = perm[ends[0]], perm[ends[1]]
    weight = rng.uniform(0.2, 2.0, num_edges) if weighted else \
        np.ones(num_edges)
    labels = np.empty(num_nodes, dtype=np.int64)
    labels[perm] = y
    keep = src != dst
    edge_index = torch.from_numpy(np.stack([
        np.concatenate([src[keep], dst[keep]]),
        np.concatenate([dst[keep], src[keep]])]))
    edge_weight = torch.from_numpy(np.concatenate([weight[keep],
                                                   weight[keep]]))
    edge_index, edge_weight = coalesce(edge_index, edge_weight.float(),
                                       num_nodes, reduce='sum')
    data = Data(edge_index=edge_index, y=torch.from_numpy(labels),
                num_nodes=num_nodes)
    if weighted:
        data.edge_weight = edge_weight
    return data


def gaussian_mixture_knn(num_nodes: int, k: int, num_features: int = 8,
                         separation: float = 2.0, num_neighbors: int = 7,
                         seed: int = 0) -> Data:
    r"""A self-tuning ``num_neighbors``-NN similarity graph
    (:class:`~pyg_symnmf.transforms.SelfTuningKNNGraph`) of a Gaussian
    mixture: ``k`` centres with standard deviation ``separation``, unit
    clusters of random widths in :math:`[0.5, 1.5]`; labels are the
    components."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, num_features)) * separation
    y = rng.integers(0, k, num_nodes)
    widths = rng.uniform(0.5, 1.5, k)
    x = centers[y] + rng.normal(size=(num_nodes, num_features)) \
        * widths[y, None]
    data = Data(x=torch.from_numpy(x).float(), y=torch.from_numpy(y))
    return SelfTuningKNNGraph(num_neighbors)(data)


__all__ += ['planted_partition', 'gaussian_mixture_knn']


def overlapping_sbm(num_nodes: int = 1000, k: int = 10,
                    average_degree: float = 20.0, mu: float = 0.1,
                    overlap: float = 0.2, uncovered: float = 0.0,
                    features_per_community: int = 0,
                    seed: int = 0) -> Data:
    r"""An overlapping planted partition in BigCLAM's (AGM's) sense, drawn
    edge by edge in :math:`O(|\mathcal{E}|)`: every node joins one of ``k``
    equal communities, a share ``overlap`` of the nodes a second one, a
    share ``uncovered`` none; a share :math:`1-\mu` of the
    :math:`N\bar{d}/2` edge draws falls inside a community (chosen in
    proportion to its size, endpoints uniform among its members), the rest
    between uniform random nodes. So a node in two communities has about
    twice the inner degree, as in AGM. Duplicates merge and self-loops are
    dropped.

    With ``features_per_community = f > 0``, ``x`` holds :math:`fk` binary
    features: community :math:`c`'s block is on with probability 0.5 for
    its members and 0.05 for the others.

    Returns:
        :class:`Data` with ``edge_index``, ``cover`` (boolean
        :math:`(N, k)`), ``y`` (the first community, :math:`-1` for none)
        and ``x`` when features are asked.
    """
    rng = np.random.default_rng(seed)
    primary = rng.permutation(num_nodes) % k
    cover = np.zeros((num_nodes, k), dtype=bool)
    cover[np.arange(num_nodes), primary] = True
    second = rng.random(num_nodes) < overlap
    other = (primary + rng.integers(1, max(k, 2), num_nodes)) % k
    cover[np.flatnonzero(second & (k > 1)), other[second & (k > 1)]] = True
    none = rng.random(num_nodes) < uncovered
    cover[none] = False
    members = [np.flatnonzero(cover[:, c]) for c in range(k)]
    sizes = np.array([m.size for m in members], dtype=np.float64)
    num_edges = int(num_nodes * average_degree / 2)
    inner = rng.binomial(num_edges, 1 - mu) if sizes.sum() > 0 else 0
    per = rng.multinomial(inner, sizes / sizes.sum()) if inner else \
        np.zeros(k, dtype=np.int64)
    src = [rng.integers(0, num_nodes, num_edges - inner)]
    dst = [rng.integers(0, num_nodes, num_edges - inner)]
    for c in range(k):
        if per[c] and members[c].size > 1:
            src.append(members[c][rng.integers(0, members[c].size, per[c])])
            dst.append(members[c][rng.integers(0, members[c].size, per[c])])
    sources, targets = np.concatenate(src), np.concatenate(dst)
    keep = sources != targets
    edge_index = torch.from_numpy(np.stack([
        np.concatenate([sources[keep], targets[keep]]),
        np.concatenate([targets[keep], sources[keep]])]))
    edge_index = coalesce(edge_index, num_nodes=num_nodes)
    y = np.where(none, -1, primary)
    data = Data(edge_index=edge_index, cover=torch.from_numpy(cover),
                y=torch.from_numpy(y), num_nodes=num_nodes)
    if features_per_community > 0:
        on = np.repeat(cover, features_per_community, axis=1)
        prob = np.where(on, 0.5, 0.05)
        data.x = torch.from_numpy(rng.random(prob.shape) < prob).float()
    return data


__all__ += ['overlapping_sbm']


def degree_corrected_sbm(sizes: Union[Sequence[int], Tensor],
                         theta: Union[Sequence[float], Tensor],
                         average_degree: float, mu: float, seed: int = 0,
                         shuffle: bool = True) -> Data:
    r"""A degree-corrected SBM with the given community ``sizes`` and
    expected-degree weights ``theta``, in :math:`O(|\mathcal{E}|)` memory
    and time (plus one sort to symmetrise), for graphs of millions of
    nodes.

    ``N * average_degree / 2`` edge draws: a first endpoint with probability
    proportional to ``theta``; with probability ``1 - mu`` the second one
    from the same community, otherwise from the others (both proportional
    to ``theta``, by inverting the cumulative weights). Self-loops are
    dropped and duplicates merged, so the mean degree ends slightly below
    ``average_degree``. ``shuffle`` numbers the nodes at random (no
    locality from the generator); else community by community. (The
    smaller :func:`planted_partition` draws its sizes and degrees itself;
    it stays as it is because the pretrained net was trained on it.)"""
    gen = torch.Generator().manual_seed(seed)
    size = torch.as_tensor(sizes, dtype=torch.long)
    n = int(size.sum())
    weight = torch.as_tensor(theta, dtype=torch.float64)
    labels = torch.repeat_interleave(torch.arange(size.numel()), size)
    cum = torch.cat([weight.new_zeros(1), weight.cumsum(0)])
    ends = size.cumsum(0)
    lo, hi = cum[ends - size], cum[ends]  # each community's weight range
    total = float(cum[-1])
    m = int(n * average_degree / 2)

    def draw(r):  # node whose cumulative weight interval holds r
        return torch.searchsorted(cum, r, right=True).sub_(1).clamp_(0, n - 1)

    src = draw(torch.rand(m, generator=gen, dtype=torch.float64) * total)
    c = labels[src]
    inside = torch.rand(m, generator=gen) >= mu
    r = torch.rand(m, generator=gen, dtype=torch.float64)
    width = hi[c] - lo[c]
    r_in = lo[c] + r * width
    r_out = r * (total - width)  # skip over the own community's range
    r_out = torch.where(r_out >= lo[c], r_out + width, r_out)
    dst = draw(torch.where(inside, r_in, r_out))
    del r, r_in, r_out, width, c, inside
    if shuffle:
        perm = torch.randperm(n, generator=gen)
        src, dst, labels = perm[src], perm[dst], labels[torch.argsort(perm)]
    keep = src != dst
    edge_index = to_undirected(torch.stack([src[keep], dst[keep]]),
                               num_nodes=n)
    return Data(edge_index=edge_index, y=labels, num_nodes=n)


def lfr_like(num_nodes: int, k: int, average_degree: float = 20,
             mu: float = 0.2, seed: int = 0, shuffle: bool = True,
             degree_exponent: float = 2.5, size_exponent: float = 1.5,
             max_degree_ratio: float = 50, max_size_ratio: float = 20
             ) -> Data:
    r"""LFR-like benchmark graph: ``k`` communities of power-law sizes
    (exponent ``size_exponent``, largest/smallest up to
    ``max_size_ratio``) and power-law expected degrees (exponent
    ``degree_exponent``, largest/smallest up to ``max_degree_ratio``),
    generated as a degree-corrected SBM with mixing ``mu``
    (:func:`degree_corrected_sbm`), in :math:`O(|\mathcal{E}|)` (networkx's
    LFR, :func:`lfr`, is exact but slow beyond :math:`10^4` nodes)."""
    gen = torch.Generator().manual_seed(seed + 1)

    def power_law(size, exponent, ratio):  # truncated Pareto on [1, ratio]
        u = torch.rand(size, generator=gen, dtype=torch.float64)
        tail = 1 - ratio ** (1 - exponent)
        return (1 - u * tail) ** (-1 / (exponent - 1))

    raw = power_law(k, size_exponent, max_size_ratio)
    sizes = (raw / raw.sum() * num_nodes).floor().long().clamp_min(1)
    sizes[torch.argmax(sizes)] += num_nodes - int(sizes.sum())
    theta = power_law(num_nodes, degree_exponent, max_degree_ratio)
    return degree_corrected_sbm(sizes, theta, average_degree, mu, seed,
                                shuffle)


__all__ += ['degree_corrected_sbm', 'lfr_like']
