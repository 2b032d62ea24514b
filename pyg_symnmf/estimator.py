r"""The job, end to end: :class:`SymNMFClustering`, a scikit-learn-style
estimator that owns the start, the training and the readouts."""
from __future__ import annotations

import inspect
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from .adjacency import Adjacency, to_adjacency
from .factorize import factorize, validate_method
from .init import random_membership
from .nn import SymNMFNet
from .readout import normalize_rows
from .solvers import DEFAULT_ALPHA
from .training import train
from .validation import check_finite, check_number, check_rank, graph_inputs

__all__ = ['SymNMFClustering']


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
        k (int): Number of communities.
        method (str): ``"net"``, ``"anls"``, ``"hals"``, ``"mu"`` or
            ``"pgd"``. (default: :obj:`"anls"`)
        num_layers (int): Blocks of the net. (default: 20)
        epochs (int): Training epochs of the net. (default: 200)
        lr (float): Adam's learning rate. (default: 0.01)
        encoder (torch.nn.Module, optional): A GNN mapping
            ``(x, edge_index[, edge_weight])`` to :math:`(N, k)`; the net's
            start is ``softplus`` of its output, trained end to end with
            the blocks. Needs node features ``data.x``.
        deep_supervision (float): Weight of the mean loss of the
            intermediate blocks, added during training. (default: 0)
        max_iter (int): Iterations of a classical method. (default: 300)
        tol (float): Tolerance of a classical method. (default: 1e-6)
        alpha (float): Initial damping/penalty (relative to the operator's
            scale). (default: 0.1)
        normalize (bool, optional): Normalise the adjacency.
            (default: :obj:`True`)
        seed (int): Seeds the start, the encoder's initial weights and the
            training: the same seed gives the same result. (default: 0)
        verbose (bool): Progress bar / loss printing. (default: False)

    Attributes:
        n_communities_ (int): :math:`k`.
        labels_ (torch.Tensor): Hard community of each node of the fitted
            graph, shape :math:`(N,)`.
        embedding_ (torch.Tensor): Memberships :math:`\mathbf{H}`
            :math:`(N, k)` of the fitted graph.
        loss_curve_ (list[float]): Loss per training epoch (net) or per
            iteration (classical).
        n_iter_ (int): Epochs or iterations run.
        model_ (torch.nn.Module or None): The fitted net (``method="net"``).
    """

    def __init__(self, k: int = 2, method: str = 'anls', *,
                 num_layers: int = 20, epochs: int = 200, lr: float = 0.01,
                 encoder: Optional[torch.nn.Module] = None,
                 deep_supervision: float = 0.0, max_iter: int = 300,
                 tol: float = 1e-6, alpha: float = DEFAULT_ALPHA,
                 normalize: Optional[bool] = None, seed: int = 0,
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
        check_number('num_layers', self.num_layers, integer=True, low=0)
        check_number('epochs', self.epochs, integer=True, low=0)
        check_number('lr', self.lr, low=0, low_open=True)
        check_number('deep_supervision', self.deep_supervision, low=0)
        check_number('max_iter', self.max_iter, integer=True, low=0)
        check_number('tol', self.tol, low=0)
        check_number('alpha', self.alpha, low=0, low_open=True)
        check_number('seed', self.seed, integer=True, low=0)
        if self.encoder is not None and self.method != 'net':
            raise ValueError("An 'encoder' needs method='net'")

    def fit(self, data: Data) -> 'SymNMFClustering':
        """Factors the graph of ``data`` (and trains the net); returns
        ``self``."""
        self._validate_params()
        for name in ('n_communities_', 'labels_', 'embedding_', 'loss_curve_',
                     'n_iter_', 'model_'):
            self.__dict__.pop(name, None)
        adj, x, graph = self._inputs(data)
        k = check_rank(self.k, adj.num_nodes)
        self.n_communities_ = k
        if self.method == 'net':
            self.model_ = self._build_net(k, x).to(adj.device)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                self.loss_curve_ = self._train(adj, x, graph)
            self.n_iter_ = len(self.loss_curve_)
            self.embedding_ = self._net_memberships(adj, x, graph)
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
            h = self._net_memberships(adj, x, graph)
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
            net = SymNMFNet(k, self.num_layers)
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
        return random_membership(adj, self.n_communities_, self.seed)

    def _net(self) -> SymNMFNet:
        return self.model_.net if isinstance(self.model_, _EncodedNet) \
            else self.model_

    def _train(self, adj: Adjacency, x: Optional[Tensor], graph: tuple
               ) -> list[float]:
        scale = 1.0 / float(adj.sq_norm.detach().clamp_min(1e-12))
        net = self._net()

        def loss_fn() -> Tensor:
            iterates = list(net.unroll(self._start(adj, x, graph), adj))
            loss = iterates[-1].loss
            if self.deep_supervision > 0 and len(iterates) > 2:
                inner = torch.stack([it.loss for it in iterates[1:-1]])
                loss = loss + self.deep_supervision * inner.mean()
            return loss * scale

        return [value / scale for value in train(
            self.model_, loss_fn, epochs=self.epochs, lr=self.lr,
            verbose=self.verbose)]

    @torch.no_grad()
    def _net_memberships(self, adj: Adjacency, x: Optional[Tensor],
                         graph: tuple) -> Tensor:
        self.model_.eval()
        return self._net()(self._start(adj, x, graph), adj)

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
