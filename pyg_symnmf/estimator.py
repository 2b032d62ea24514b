r"""The job, end to end: :class:`SymNMFClustering`, a scikit-learn-style
estimator that owns the start, the training and the readouts."""
from __future__ import annotations

import inspect
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from .adjacency import Adjacency, to_adjacency
from .factorize import (factorize, raw_operator, run_net, select_k,
                        validate_method)
from .functional import propagate, symnmf_loss_of
from .init import random_membership, spectral_membership, zero_isolated
from .nn import SymNMFNet
from .readout import normalize_rows
from .solvers import DEFAULT_ALPHA, SolverResult
from .training import train
from .validation import (check_bool, check_finite, check_number, check_rank,
                         graph_inputs)

__all__ = ['SymNMFClustering', 'signal_features']

# The attributed-graph path (``encoder=``): defaults chosen on the contextual
# SBM grid of benchmarks/attributed.py (N=2000, k=4, mean degree 10, 32
# Gaussian features; NMI, seed 0, against DMoN at 500 epochs):
# - 2 blocks instead of 20: the encoder's start (a function of the features)
#   must survive the blocks; 20 ANLS-like blocks pull every start into the
#   graph-only basin (graph 1.5 x features 2.0: 0.65 -> 0.73 NMI; graph 1.5 x
#   features 1.0: 0.66 -> 0.70; graph-dominated cells unchanged, 0.97).
# - The fused loss ||A + beta K - H H^T||^2 with the denoised feature kernel
#   K (signal_features), beta = 3: features-only cell (graph 0.5 x features
#   2.0) 0.05 -> 0.40, graph 1.5 x features 2.0: 0.73 -> 0.79, and no
#   change where the features are noise (K = 0 at features 0.5). The raw linear
#   kernel (all directions kept) or a fused 10-NN feature graph instead cost
#   0.2-0.6 NMI on the graph-dominated cells.
# - 300 epochs (~6 s at N=2000 on one CPU thread, DMoN: ~20 s): 100 -> 300
#   epochs helps the feature-driven cells (0.35 -> 0.40); 400 adds ~0.01.
# - Not kept: DMoN's collapse regulariser sqrt(k)/N ||sum_i s_i|| - 1
#   (weight 1: features-only cell 0.35 -> 0.26, others +-0.01), 1 or 3 blocks
#   (-0.03 to -0.07 on the feature-driven cells vs 2).
ENCODERS = ('gcn',)
ENCODER_NUM_LAYERS = 2
ENCODER_EPOCHS = 300
FEATURE_WEIGHT = 3.0


class SymNMFClustering:
    r"""Community detection and soft memberships with symmetric NMF, in
    scikit-learn's conventions (``get_params``/``set_params``,
    :func:`sklearn.base.clone`, ``fit`` returns ``self``, fitted attributes
    end with ``_`` and are reset by every ``fit``).

    ``method="net"`` runs SymNMF-Net blocks from a seeded start and, with
    ``epochs > 0``, trains them (and the ``encoder``) without labels on the
    SymNMF loss with :func:`~pyg_symnmf.training.train`. The classical
    methods run the safeguarded solvers of :mod:`pyg_symnmf.solvers`.

    Args:
        k (int or str): Number of communities, or ``"auto"``: chosen by
            :func:`~pyg_symnmf.factorize.select_k` (modularity scan with
            the pretrained net; the scores land in ``k_scores_``).
        method (str): ``"net"``, ``"anls"``, ``"hals"``, ``"mu"``,
            ``"pgd"`` or ``"multilevel"`` (see :func:`~pyg_symnmf.symnmf`).
            (default: :obj:`"anls"`)
        num_layers (int, optional): Blocks of the net. (default: 20, or
            :obj:`ENCODER_NUM_LAYERS` = 2 with an ``encoder``)
        epochs (int, optional): Training epochs of the net. (default: 200,
            or :obj:`ENCODER_EPOCHS` = 300 with an ``encoder``)
        lr (float): Adam's learning rate. (default: 0.01)
        encoder (str or torch.nn.Module, optional): ``"gcn"`` (PyG's
            ``GCN(data.x.size(1), 64, num_layers=2, out_channels=k)``,
            built and seeded at fit time) or any GNN mapping
            ``(x, edge_index[, edge_weight])`` to :math:`(N, k)`; the net's
            start is ``softplus`` of its output, trained end to end with
            the blocks, without labels, on the SymNMF loss of the fused
            operator :math:`\mathbf{A} + \beta\mathbf{K}`, where
            :math:`\mathbf{K} = \tilde{\mathbf{X}}\tilde{\mathbf{X}}^\top`
            keeps only the feature directions whose covariance eigenvalue
            rises above the Marchenko-Pastur noise edge (so pure-noise
            features add nothing; see :func:`signal_features`) and
            :math:`\beta` = :obj:`FEATURE_WEIGHT` = 3. Needs node features
            ``data.x``. See the module notes for the measurements behind
            these defaults.
        deep_supervision (float): Weight of the mean loss of the
            intermediate blocks, added during training. (default: 0)
        max_iter (int): Iterations of a classical method. (default: 300)
        tol (float): Tolerance of a classical method. (default: 1e-6)
        alpha (float): Initial damping/penalty (relative to the operator's
            scale). (default: 0.1)
        normalize (bool, optional): Normalise the adjacency.
            (default: :obj:`True`)
        pretrained (bool, optional): With ``method="net"``, start from the
            shipped k-agnostic blocks (:meth:`SymNMFNet.pretrained
            <pyg_symnmf.SymNMFNet.pretrained>`) and their spectral start,
            run with :func:`~pyg_symnmf.factorize.run_net`'s safeguard;
            ``epochs > 0`` fine-tunes them on the graph. Else a fresh net
            with full :math:`k \times k` weights from a random start.
            (default: pretrained unless an ``encoder`` is given)
        seed (int): Seeds the start, the encoder's initial weights and the
            training: the same seed gives the same result. (default: 0)
        verbose (bool): Progress bar / loss printing. (default: False)

    Attributes:
        n_communities_ (int): :math:`k`.
        labels_ (torch.Tensor): Hard community of each node of the fitted
            graph, shape :math:`(N,)`.
        embedding_ (torch.Tensor): Memberships :math:`\mathbf{H}`
            :math:`(N, k)` of the fitted graph.
        loss_curve_ (list[float]): Loss per training epoch of a trained net;
            else per block (net) or per iteration (classical), index 0 the
            start.
        n_iter_ (int): Epochs or iterations run.
        k_scores_ (dict[int, float]): With ``k="auto"``, the modularity of
            each candidate tried.
        model_ (torch.nn.Module or None): The fitted net (``method="net"``).
    """

    def __init__(self, k: int = 2, method: str = 'anls', *,
                 num_layers: Optional[int] = None,
                 epochs: Optional[int] = None, lr: float = 0.01,
                 encoder: Union[str, torch.nn.Module, None] = None,
                 deep_supervision: float = 0.0, max_iter: int = 300,
                 tol: float = 1e-6, alpha: float = DEFAULT_ALPHA,
                 normalize: Optional[bool] = None,
                 pretrained: Optional[bool] = None, seed: int = 0,
                 verbose: bool = False) -> None:
        self.k = k
        self.method = method
        self.num_layers = num_layers
        self.epochs = epochs
        self.lr = lr
        self.encoder = encoder
        self.deep_supervision = deep_supervision
        self.max_iter = max_iter
        self.tol = tol
        self.alpha = alpha
        self.normalize = normalize
        self.pretrained = pretrained
        self.seed = seed
        self.verbose = verbose

    # scikit-learn's parameter protocol, without importing scikit-learn.
    @classmethod
    def _get_param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != 'self']

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> 'SymNMFClustering':
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for "
                                 f"{type(self).__name__}; valid: {valid}")
            setattr(self, name, value)
        return self

    def _validate_params(self) -> None:
        if self.method != 'net':
            validate_method(self.method)
        if self._num_layers() is not None:
            check_number('num_layers', self._num_layers(), integer=True,
                         low=0)
        check_number('epochs', self._epochs(), integer=True, low=0)
        check_number('lr', self.lr, low=0, low_open=True)
        check_number('deep_supervision', self.deep_supervision, low=0)
        check_number('max_iter', self.max_iter, integer=True, low=0)
        check_number('tol', self.tol, low=0)
        check_number('alpha', self.alpha, low=0, low_open=True)
        check_number('seed', self.seed, integer=True, low=0)
        check_bool('normalize', self.normalize, allow_none=True)
        check_bool('pretrained', self.pretrained, allow_none=True)
        check_bool('verbose', self.verbose)
        if self.encoder is not None and self.method != 'net':
            raise ValueError("An 'encoder' needs method='net'")
        if isinstance(self.encoder, str) and self.encoder not in ENCODERS:
            raise ValueError(f"Unknown encoder {self.encoder!r}; use one of "
                             f"{ENCODERS} or a torch.nn.Module")
        if self.encoder is not None and not isinstance(
                self.encoder, (str, torch.nn.Module)):
            raise ValueError(f"'encoder' must be one of {ENCODERS} or a "
                             f"torch.nn.Module, got "
                             f"{type(self.encoder).__name__}")

    def _pretrained(self) -> bool:
        return self.encoder is None if self.pretrained is None \
            else bool(self.pretrained)

    def _num_layers(self) -> Optional[int]:
        if self.num_layers is not None or self._pretrained():
            return self.num_layers  # None: every pretrained block
        return 20 if self.encoder is None else ENCODER_NUM_LAYERS

    def _epochs(self) -> int:
        if self.epochs is not None:
            return self.epochs
        if self.encoder is not None:
            return ENCODER_EPOCHS
        return 0 if self._pretrained() else 200

    def fit(self, data: Data) -> 'SymNMFClustering':
        """Factors the graph of ``data`` (and trains the net); returns
        ``self``."""
        self._validate_params()
        for name in ('n_communities_', 'labels_', 'embedding_', 'loss_curve_',
                     'n_iter_', 'model_', 'k_scores_'):
            self.__dict__.pop(name, None)
        adj, x, graph = self._inputs(data)
        if self.k == 'auto':
            selection = select_k(raw_operator(*graph, adj), self.seed)
            k, self.k_scores_ = selection.k, selection.scores
        else:
            k = check_rank(self.k, adj.num_nodes)
        self.n_communities_ = k
        if self.method == 'net':
            self.model_ = self._build_net(k, x).to(adj.device)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                curve = self._train(adj, x, graph)
            result = self._net_memberships(adj, x, graph)
            # Trained: the loss per epoch; else the loss per block.
            self.loss_curve_ = curve or result.loss_curve
            self.n_iter_ = len(curve) if curve else result.n_iter
            self.embedding_ = result.h
        else:
            self.model_ = None
            result = factorize(adj, k, self.method, max_iter=self.max_iter,
                               tol=self.tol, alpha=self.alpha, seed=self.seed,
                               verbose=self.verbose)
            self.loss_curve_, self.n_iter_ = result.loss_curve, result.n_iter
            self.embedding_ = result.h
        check_finite('memberships', self.embedding_)
        self.labels_ = self.embedding_.argmax(dim=1)
        return self

    def transform(self, data: Data) -> Tensor:
        r"""Soft memberships of the nodes of ``data`` (rows sum to one; a
        node with an all-zero row gets a uniform row), shape :math:`(N, k)`:
        one forward pass of the fitted net, or the classical method run
        again with the same settings."""
        return normalize_rows(self._memberships(data))

    def predict(self, data: Data) -> Tensor:
        r"""Hard communities of the nodes of ``data``, shape :math:`(N,)`."""
        return self._memberships(data).argmax(dim=1)

    def fit_predict(self, data: Data) -> Tensor:
        return self.fit(data).labels_

    def _memberships(self, data: Data) -> Tensor:
        if not hasattr(self, 'embedding_'):
            raise RuntimeError(f"This {type(self).__name__} is not fitted "
                               f"yet; call fit(data) first")
        adj, x, graph = self._inputs(data)
        if self.model_ is not None:
            h = self._net_memberships(adj, x, graph).h
        else:
            h = factorize(adj, check_rank(self.n_communities_, adj.num_nodes),
                          self.method, max_iter=self.max_iter, tol=self.tol,
                          alpha=self.alpha, seed=self.seed, warn=False).h
        return check_finite('memberships', h)

    def _inputs(self, data: Data) -> tuple[Adjacency, Optional[Tensor],
                                           tuple]:
        graph, edge_weight, x, batch = graph_inputs(data)
        if batch is not None:
            raise ValueError(f"{type(self).__name__} factors one graph; "
                             f"for a Batch use pyg_symnmf.symnmf(..., "
                             f"batch=data.batch)")
        adj = to_adjacency(graph, edge_weight, data.num_nodes,
                           normalize=self.normalize)
        if self.encoder is not None and x is None:
            raise ValueError("The encoder needs node features 'data.x'")
        return adj, x, (graph, edge_weight)

    def _build_net(self, k: int, x: Optional[Tensor]) -> torch.nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if self._pretrained():
                if self.normalize is False:
                    raise ValueError("The pretrained blocks factor normalised "
                                     "graphs; use pretrained=False with "
                                     "normalize=False")
                net = SymNMFNet.pretrained(self._num_layers())
            else:
                net = SymNMFNet(k, self._num_layers(), alpha=self.alpha,
                                normalize=self.normalize is not False)
            if isinstance(self.encoder, str):  # 'gcn', seeded above
                from torch_geometric.nn.models import GCN
                return _EncodedNet(GCN(x.size(1), 64, num_layers=2,
                                       out_channels=k), net)
            if self.encoder is not None:
                encoder = self.encoder
                for module in encoder.modules():
                    if module is not encoder and hasattr(module,
                                                         'reset_parameters'):
                        module.reset_parameters()
                return _EncodedNet(encoder, net)
        return net

    def _start(self, adj: Adjacency, x: Optional[Tensor], graph: tuple
               ) -> Tensor:
        if isinstance(self.model_, _EncodedNet):
            return self.model_.start(x, *graph, adj)
        if self._pretrained():
            return spectral_membership(adj, self.n_communities_,
                                       self._net().start_iterations,
                                       self.seed)
        return random_membership(adj, self.n_communities_, self.seed)

    def _net(self) -> SymNMFNet:
        return self.model_.net if isinstance(self.model_, _EncodedNet) \
            else self.model_

    def _train(self, adj: Adjacency, x: Optional[Tensor], graph: tuple
               ) -> list[float]:
        scale = 1.0 / float(adj.sq_norm.detach().clamp_min(1e-12))
        net = self._net()
        # With an encoder: SymNMF loss of A + beta K, K = Xs Xs^T (module
        # notes); its constant ||A + beta K||^2 - ||A||^2 keeps the curve a
        # nonnegative loss.
        xs = signal_features(x, adj) \
            if isinstance(self.model_, _EncodedNet) else None
        if xs is not None:
            beta = FEATURE_WEIGHT
            offset = float(beta ** 2 * (xs.t() @ xs).pow(2).sum()
                           + 2 * beta * (xs * propagate(adj, xs)).sum())

        def loss_fn() -> Tensor:
            if self._guarded():  # train exactly what inference runs
                h = run_net(net, adj, self._start(adj, x, graph)).h
                return symnmf_loss_of(adj, h) * scale
            iterates = list(net.unroll(self._start(adj, x, graph), adj))
            loss = iterates[-1].loss
            if xs is not None:
                loss = loss + offset - 2 * beta * \
                    (xs.t() @ iterates[-1].h).pow(2).sum()
            if self.deep_supervision > 0 and len(iterates) > 2:
                inner = torch.stack([it.loss for it in iterates[1:-1]])
                loss = loss + self.deep_supervision * inner.mean()
            return loss * scale

        return [value / scale for value in train(
            self.model_, loss_fn, epochs=self._epochs(), lr=self.lr,
            verbose=self.verbose)]

    @torch.no_grad()
    def _net_memberships(self, adj: Adjacency, x: Optional[Tensor],
                         graph: tuple) -> SolverResult:
        """The fitted net on a graph: pretrained blocks run with
        :func:`~pyg_symnmf.factorize.run_net`'s safeguard (only improving
        steps move), other nets plainly, as trained."""
        self.model_.eval()
        start = self._start(adj, x, graph)
        if self._guarded():
            return run_net(self.model_, adj, start)
        # A trained bias can lift the zero rows of isolated nodes.
        return SolverResult(zero_isolated(adj, self._net()(start, adj)))

    def _guarded(self) -> bool:
        """Whether the net runs with :func:`run_net`'s safeguard (the
        pretrained blocks without an encoder), in training and inference
        alike."""
        return self._pretrained() and not isinstance(self.model_,
                                                     _EncodedNet)

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f'{name}={getattr(self, name)!r}'
                   for name in self._get_param_names()
                   if getattr(self, name) is not defaults[name].default
                   and getattr(self, name) != defaults[name].default]
        return f"{type(self).__name__}({', '.join(changed)})"


class _EncodedNet(torch.nn.Module):
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

