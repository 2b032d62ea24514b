r"""The job, end to end: :class:`SymNMFClustering`, a scikit-learn-style
estimator that owns the start, the training and the readouts."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import torch
from torch import Tensor

from .adjacency import Adjacency, normalized_operator
from .auto_k import KSelection, partition_at, partition_start
from .defaults import (DEFAULT_ALPHA, DEFAULT_EPOCHS, DEFAULT_LR,
                       DEFAULT_MAX_ITER, DEFAULT_NUM_LAYERS, DEFAULT_TOL)
from .factorize import (factorize, feature_operator, feature_ranking,
                        graph_operators, select_k, validate_method)
from .features import FEATURE_INITS, agreement_pvalue, informative
from .functional import propagate, symnmf_loss_of
from .encoders import (ENCODER_EPOCHS, ENCODER_NUM_LAYERS, ENCODERS,
                       FEATURE_WEIGHT, EncodedNet, encoder_width,
                       input_projection, signal_features)
from .graphs import as_data
from .init import random_membership, spectral_membership, zero_isolated
from .metrics import modularity, modularity_from_edges
from .nn import SymNMFNet
from .overlapping import (affiliations, community_lists, edge_set,
                          fit_bernoulli_poisson, overlapping_communities)
from .readout import normalize_rows
from .refine import refine_partition, wasted_column
from .solvers import SolverResult, run_net
from .threads import resolve_threads, thread_limit
from .training import train
from .validation import (check_bool, check_finite, check_number, check_rank,
                         graph_inputs)

__all__ = ['SymNMFClustering', 'FitPlan', 'GraphInputs']

# k='auto' polishes the modularity partition's start in rounds of this many
# iterations, each judged by its read-out's modularity.
AUTO_ROUND = 5

# The cover is read from feature-aware memberships when the features agree
# with the graph's edges at this level (features.agreement_pvalue), the
# conventional 5 %. On the development ego nets of
# benchmarks/overlapping.py the p-values are 0.01 (the floor of 99
# draws) or 0.17, so any level between them decides alike.
COVER_LEVEL = 0.05

LOSSES = ('squared', 'bernoulli_poisson')


@dataclass(frozen=True)
class FitPlan:
    """What :meth:`SymNMFClustering.fit` runs, decided once from the
    parameters (:meth:`SymNMFClustering.plan`).

    Attributes:
        mode: ``"classical"`` (a solver of :mod:`pyg_symnmf.solvers` or
            the multilevel path), ``"pretrained"`` (the shipped blocks) or
            ``"fresh"`` (a net with full :math:`k \times k` weights).
        encoded: Whether a GNN encoder gives the net its start (trained
            end to end with the blocks).
        num_layers: Blocks of the net (``None``: every pretrained block or
            a classical method).
        epochs: Training epochs (0: none).
    """
    mode: str
    encoded: bool = False
    num_layers: Optional[int] = None
    epochs: int = 0

    @property
    def guarded(self) -> bool:
        """Whether the net runs with :func:`~pyg_symnmf.solvers.run_net`'s
        safeguard, in training and inference alike: the pretrained blocks
        without an encoder."""
        return self.mode == 'pretrained' and not self.encoded

    @property
    def loss_curve(self) -> str:
        """What ``loss_curve_`` and ``n_iter_`` count: ``"iterations"``
        (classical), ``"epochs"`` (a trained net) or ``"blocks"``."""
        if self.mode == 'classical':
            return 'iterations'
        return 'epochs' if self.epochs else 'blocks'


@dataclass
class GraphInputs:
    """A graph as the estimator reads it, its operators built once.

    Attributes:
        adj: The factored operator: the graph's, or the fused feature
            graph's when the features are used.
        raw: Its unnormalised weights (modularity of ``k="auto"`` and of
            the refinement).
        graph_adj: The given graph's own operator (``adj`` without
            features).
        graph_raw: The given graph's unnormalised weights (``modularity_``
            and the edges the cover explains).
        x: Node features, if any.
        graph: The graph and its edge weights as given (what an encoder
            and the feature operator read).
        prior: The communities of the feature operator's first fit, when
            its neighbours were searched in their discriminant metric
            (:func:`~pyg_symnmf.factorize.feature_operator`).
        prepared: The features as the feature operator read them
            (:func:`~pyg_symnmf.features.prepared_features`), when used.
    """
    adj: Adjacency
    raw: Adjacency
    graph_adj: Adjacency
    graph_raw: Adjacency
    x: Optional[Tensor]
    graph: tuple[Any, Optional[Tensor]]
    prior: Optional[Tensor] = None
    prepared: Optional[Tensor] = None

    @property
    def feature_aware(self) -> bool:
        """Whether the fused feature graph is factored."""
        return self.adj is not self.graph_adj


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
        k (int or str): Number of communities, or ``"auto"``: the number
            of communities of the modularity partition, those whose parts
            are not significantly connected split (on the graph; not on a
            feature-aware operator: :func:`~pyg_symnmf.factorize.select_k`,
            :mod:`~pyg_symnmf.significance`; at most
            :func:`~pyg_symnmf.auto_k.default_max_k`), which is also the
            factorization's start (:func:`~pyg_symnmf.auto_k.
            partition_start`); its modularity lands in ``k_scores_``.
        method (str): ``"net"``, ``"anls"``, ``"hals"``, ``"mu"``,
            ``"pgd"`` or ``"multilevel"`` (see :func:`~pyg_symnmf.symnmf`).
            (default: :obj:`"anls"`)
        num_layers (int, optional): Blocks of the net. (default: every
            pretrained block; a fresh net :obj:`~pyg_symnmf.defaults.
            DEFAULT_NUM_LAYERS` = 20, or :obj:`ENCODER_NUM_LAYERS` = 2 with
            an ``encoder``)
        epochs (int, optional): Training epochs of the net. (default: 0 for
            the pretrained net, :obj:`~pyg_symnmf.defaults.DEFAULT_EPOCHS`
            = 200 for a fresh one, :obj:`ENCODER_EPOCHS` = 300 with an
            ``encoder``)
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
        max_iter (int): Iterations of a classical method (with
            ``"multilevel"``: of its solve on the input graph).
            (default: 300)
        tol (float): Tolerance of a classical method (and of the
            multilevel path's solves). (default: 1e-6)
        alpha (float): Initial damping/penalty (relative to the operator's
            scale). (default: 0.1)
        normalize (bool, optional): Normalise the adjacency.
            (default: :obj:`True`)
        pretrained (bool, optional): With ``method="net"``, start from the
            shipped k-agnostic blocks (:meth:`SymNMFNet.pretrained
            <pyg_symnmf.SymNMFNet.pretrained>`) and their spectral start,
            run with :func:`~pyg_symnmf.solvers.run_net`'s safeguard;
            ``epochs > 0`` fine-tunes them on the graph. Else a fresh net
            with full :math:`k \times k` weights from a random start.
            (default: pretrained unless an ``encoder`` is given)
        loss (str): ``"squared"``: the memberships are the SymNMF
            factor. ``"bernoulli_poisson"``: they are then refined on
            BigCLAM's likelihood :math:`P_{ij} = 1 - e^{-\mathbf{f}_i^\top
            \mathbf{f}_j}` (from the calibrated factor, see
            :mod:`pyg_symnmf.overlapping`), and ``embedding_`` holds the
            affiliations :math:`\mathbf{F}`. (default: :obj:`"squared"`)
        seed (int): Seeds the start, the encoder's initial weights and the
            training: the same seed (and thread count) gives the same
            result. (default: 0)
        n_jobs (int, optional): CPU threads: ``None`` chooses (one for
            small problems, the idle cores for large ones; see
            :mod:`pyg_symnmf.threads`), ``-1`` every core, else that many.
            (default: :obj:`None`)
        features (bool): When ``data.x`` exists and is informative
            (:func:`~pyg_symnmf.features.informative`: not constant, not
            one-hot node ids) and no ``encoder`` is given, factor
            :func:`~pyg_symnmf.features.feature_graph` of the graph and the
            features instead of the graph alone; a graph without ``x`` is
            factored as is. (default: :obj:`True`)
        n_init (int, optional): Starts of a classical method (seeds
            ``seed``, ``seed + 1``, ...), the lowest loss kept. (default:
            :obj:`~pyg_symnmf.features.FEATURE_INITS` on a feature-aware
            operator, else 1)
        discriminant (bool): With features and :math:`k` given, the
            operator's neighbours are searched in the discriminant metric of
            a first classical fit's communities
            (:func:`~pyg_symnmf.factorize.feature_operator`; one more fit).
            (default: :obj:`True`)
        resolution (float): :math:`\gamma` of the modularity that
            ``k="auto"`` and ``refine`` maximise (larger: more, smaller
            communities). (default: 1.0)
        refine (bool): Polish the hard labels by modularity
            (:func:`~pyg_symnmf.refine.refine_partition`): with :math:`k`
            given, nodes move between the :math:`k` communities, which are
            also split and merged back to :math:`k` when a column of
            :math:`\mathbf{H}` holds under 1 % of the mean community volume
            (:func:`~pyg_symnmf.refine.wasted_column`; their number never
            rises; then the ``k="auto"`` modularity partition brought to
            :math:`k`, :func:`~pyg_symnmf.auto_k.partition_at`, is refined
            alike and kept if its modularity is higher), and a node
            without edges, in no community, is one of
            its own, labelled from :math:`k` on (as with ``k="auto"`` and
            as Leiden leaves it); with ``k="auto"``, the argmax of
            :math:`\mathbf{H}` is refined by local moves and ``labels_`` is
            whichever of it and the modularity partition has the higher
            modularity. ``False``: ``labels_`` is the argmax of
            :math:`\mathbf{H}`. (default: :obj:`True`)
        verbose (bool): Progress bar / loss printing. (default: False)

    A parameter that the chosen mode would ignore is refused with a message
    (for example ``epochs`` with a classical method, ``max_iter`` with the
    net, ``alpha`` with the pretrained blocks): :meth:`plan` says what
    ``fit`` runs.

    Every method taking a graph accepts any form
    :func:`~pyg_symnmf.to_adjacency` does: a
    :class:`~torch_geometric.data.Data` (its ``x`` used by an encoder), an
    ``edge_index``, a :class:`torch.sparse` tensor, a SciPy sparse matrix,
    a networkx graph, or a built :class:`~pyg_symnmf.Adjacency` (also as a
    ``Data``'s ``adj_t``, beside ``x``): an unnormalised one is normalised
    with ``normalize=True`` and serves as modularity's weights, so a caller
    that factors one graph many times builds it once. ``fit(X, y=None)``
    ignores ``y`` (unsupervised), so the estimator sits at the end of a
    scikit-learn ``Pipeline``.

    Attributes:
        n_communities_ (int): :math:`k`, the columns of ``embedding_``.
        labels_ (torch.Tensor): Hard community of each node of the fitted
            graph, shape :math:`(N,)` (see ``refine``: a node without edges
            is alone, labelled from :math:`k` on; with ``k="auto"`` a
            partition with more than :math:`k` communities when :math:`k`
            was capped).
        embedding_ (torch.Tensor): Memberships :math:`\mathbf{H}`
            :math:`(N, k)` of the fitted graph.
        cover_ (torch.Tensor): Overlapping communities, boolean
            :math:`(N, k)`, by BigCLAM's rule and BIC
            (:func:`~pyg_symnmf.overlapping.overlapping_communities`): a
            node may be in several communities or in none.
        cover_source_ (str): ``"features"`` or ``"graph"``: the
            memberships ``cover_`` was read from. With informative features,
            those of the feature-aware operator when the features agree
            with the graph's edges beyond chance
            (:func:`~pyg_symnmf.features.agreement_pvalue` at most
            :obj:`COVER_LEVEL`); otherwise the graph alone is factored too
            (the same classical method and starts, or the same blocks) and
            read.
        overlapping_communities_ (list[list[int]]): The nodes of each
            community of ``cover_`` (cdlib's format).
        loss_curve_ (list[float]): Loss per training epoch of a trained net;
            else per block (net) or per iteration (classical), index 0 the
            start.
        n_iter_ (int): Epochs or iterations run.
        k_scores_ (dict[int, float]): With ``k="auto"``, the modularity of
            the partition that gave :math:`k`.
        model_ (torch.nn.Module or None): The fitted net (``method="net"``).
        modularity_ (float): Modularity of ``labels_`` on the fitted graph's
            raw weights.
        communities_ (list[list[int]]): The nodes of each community, largest
            first (cdlib's convention), empty communities left out.
    """

    # Fitted state (set by fit; declared for type checkers).
    _plan: FitPlan
    embedding_: Tensor
    model_: Optional[torch.nn.Module]
    _auto: Optional[KSelection] = None
    _h0: Optional[Tensor] = None

    def __init__(self, k: Union[int, str] = 'auto', method: str = 'anls', *,
                 num_layers: Optional[int] = None,
                 epochs: Optional[int] = None, lr: float = DEFAULT_LR,
                 encoder: Union[str, torch.nn.Module, None] = None,
                 deep_supervision: float = 0.0,
                 max_iter: int = DEFAULT_MAX_ITER, tol: float = DEFAULT_TOL,
                 alpha: float = DEFAULT_ALPHA,
                 normalize: Optional[bool] = None,
                 pretrained: Optional[bool] = None,
                 loss: str = 'squared', seed: int = 0,
                 n_jobs: Optional[int] = None, resolution: float = 1.0,
                 refine: bool = True, verbose: bool = False,
                 features: bool = True,
                 n_init: Optional[int] = None,
                 discriminant: bool = True) -> None:
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
        self.loss = loss
        self.seed = seed
        self.n_jobs = n_jobs
        self.resolution = resolution
        self.refine = refine
        self.verbose = verbose
        self.features = features
        self.n_init = n_init
        self.discriminant = discriminant

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

    def plan(self) -> FitPlan:
        """Validates the parameters and decides what :meth:`fit` runs;
        refuses, with a message, a parameter that this mode would
        ignore."""
        if self.method != 'net':
            validate_method(self.method)
        check_number('lr', self.lr, low=0, low_open=True)
        check_number('deep_supervision', self.deep_supervision, low=0)
        check_number('max_iter', self.max_iter, integer=True, low=0)
        check_number('tol', self.tol, low=0)
        check_number('alpha', self.alpha, low=0, low_open=True)
        check_number('seed', self.seed, integer=True, low=0)
        check_bool('normalize', self.normalize, allow_none=True)
        check_bool('pretrained', self.pretrained, allow_none=True)
        check_bool('verbose', self.verbose)
        resolve_threads(self.n_jobs, 0)  # validates n_jobs
        check_bool('features', self.features)
        check_bool('discriminant', self.discriminant)
        if self.loss not in LOSSES:
            raise ValueError(f"Unknown loss {self.loss!r}; use one of "
                             f"{LOSSES}")
        if self.n_init is not None:
            check_number('n_init', self.n_init, integer=True, low=1)
        check_bool('refine', self.refine)
        check_number('resolution', self.resolution, low=0, low_open=True)
        if isinstance(self.encoder, str) and self.encoder not in ENCODERS:
            raise ValueError(f"Unknown encoder {self.encoder!r}; use one of "
                             f"{ENCODERS} or a torch.nn.Module")
        if self.encoder is not None and not isinstance(
                self.encoder, (str, torch.nn.Module)):
            raise ValueError(f"'encoder' must be one of {ENCODERS} or a "
                             f"torch.nn.Module, got "
                             f"{type(self.encoder).__name__}")
        if self.method != 'net':
            self._refuse({'num_layers': None, 'epochs': None,
                          'lr': DEFAULT_LR, 'encoder': None,
                          'deep_supervision': 0.0, 'pretrained': None},
                         "applies to method='net' only")
            return FitPlan('classical')
        self._refuse({'n_init': None}, "applies to the classical methods "
                     "(the net runs from one seeded start)")
        if self.loss == 'squared':
            self._refuse({'max_iter': DEFAULT_MAX_ITER, 'tol': DEFAULT_TOL},
                         "applies to the classical methods and to "
                         "loss='bernoulli_poisson', not to the net")
        encoded = self.encoder is not None
        pretrained = not encoded if self.pretrained is None \
            else bool(self.pretrained)
        if pretrained:
            self._refuse({'alpha': DEFAULT_ALPHA}, "has no effect on the "
                         "pretrained blocks, which carry their own "
                         "penalties; use pretrained=False")
            if not encoded:
                self._refuse({'deep_supervision': 0.0}, "has no effect on "
                             "the pretrained net, which trains the "
                             "safeguarded run it infers with; use "
                             "pretrained=False")
        num_layers = self.num_layers
        if num_layers is None and not pretrained:
            num_layers = ENCODER_NUM_LAYERS if encoded else DEFAULT_NUM_LAYERS
        if num_layers is not None:
            check_number('num_layers', num_layers, integer=True, low=0)
        epochs = self.epochs
        if epochs is None:
            epochs = ENCODER_EPOCHS if encoded else \
                0 if pretrained else DEFAULT_EPOCHS
        check_number('epochs', epochs, integer=True, low=0)
        return FitPlan('pretrained' if pretrained else 'fresh', encoded,
                       num_layers, epochs)

    def _refuse(self, defaults: dict[str, Any], why: str) -> None:
        """Raises for the first parameter set away from its default."""
        for name, default in defaults.items():
            value = getattr(self, name)
            if value is not default and value != default:
                raise ValueError(f"{name!r}={value!r} {why}")

    def fit(self, data: Any, y: Any = None) -> 'SymNMFClustering':
        """Factors the graph ``data`` (any accepted form; see the class
        notes) and trains the net; ``y`` is ignored. Returns ``self``."""
        self._plan = self.plan()
        for name in ('n_communities_', 'labels_', 'embedding_', 'loss_curve_',
                     'n_iter_', 'model_', 'k_scores_', 'modularity_',
                     'communities_', 'cover_', 'cover_source_',
                     'overlapping_communities_'):
            self.__dict__.pop(name, None)
        inputs = self._inputs(data)
        with self._threads(inputs.adj):
            labels = self._fit(inputs)
            self.embedding_, self.cover_ = self._overlapping(
                inputs, self.embedding_)
            if labels is None or self.loss == 'bernoulli_poisson':
                labels = self._read_out(inputs.raw, self.embedding_)[0]
        self.labels_ = labels
        self.overlapping_communities_ = community_lists(self.cover_)
        # On the user's graph, also when the fused feature graph was
        # factored.
        self.modularity_ = modularity(inputs.graph_raw, self.labels_)
        self.communities_ = _node_lists(self.labels_)
        return self

    def _fit(self, inputs: GraphInputs) -> Optional[Tensor]:
        """Sets ``embedding_`` and the fitted state; returns the labels a
        classical method's read-out gave (``None`` for the net)."""
        adj, raw, x = inputs.adj, inputs.raw, inputs.x
        self._auto = self._h0 = None
        labels = None
        if self.k == 'auto':
            self._auto = self._select_k(inputs)
            k, self.k_scores_ = self._auto.k, self._auto.scores
            self._h0 = partition_start(adj, raw.degree(),
                                       self._partition(), k)
        else:
            k = check_rank(self.k, adj.num_nodes)
        self.n_communities_ = k
        if self._plan.mode != 'classical':
            self.model_ = self._build_net(k, x).to(adj.device)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                start, ranked = self._fixed_start(inputs)
                curve = self._train(inputs, start)
            # Ranking the starts already ran the untrained blocks from the
            # chosen one: that run is the result unless training followed.
            result = ranked if ranked is not None and not curve \
                else self._net_memberships(inputs, start)
            # Trained: the loss per epoch; else the loss per block.
            self.loss_curve_ = curve or result.loss_curve
            self.n_iter_ = len(curve) if curve else result.n_iter
            self.embedding_ = result.h
        else:
            self.model_ = None
            result, labels = self._classical(inputs, k, self.verbose)
            self.loss_curve_, self.n_iter_ = result.loss_curve, result.n_iter
            self.embedding_ = result.h
        check_finite('memberships', self.embedding_)
        return labels

    def _classical(self, inputs: GraphInputs, k: int, verbose: bool = False,
                   warn: bool = True) -> tuple[SolverResult, Tensor]:
        """A classical method and its read-out. With ``k="auto"``: from the
        modularity partition's start, in rounds of :obj:`AUTO_ROUND`
        iterations (up to ``max_iter``), stopping at the first round whose
        read-out has a lower modularity than the best so far, and returning
        the best; a tie stops too (the loss alone drifts towards the degree
        direction on heavy-tailed graphs, so the read-out is the
        safeguard)."""
        adj, raw = inputs.adj, inputs.raw
        options: dict[str, Any] = dict(tol=self.tol, alpha=self.alpha,
                                       seed=self.seed, verbose=verbose)
        if self._h0 is None:
            # On a feature-aware operator the starts, among them its
            # modularity partition brought to k, are ranked by the
            # modularity of their read-out (features.start_score).
            score: Optional[Callable[[Tensor], float]] = None
            starts: list[Tensor] = []
            if inputs.feature_aware:
                score, starts = feature_ranking(adj, raw, k, self.method,
                                                self.resolution, self.seed,
                                                inputs.prior)
            result = factorize(adj, k, self.method, max_iter=self.max_iter,
                               warn=warn, n_init=self._n_init(inputs),
                               score=score, starts=starts, **options)
            return result, self._read_out(raw, result.h)[0]
        best = SolverResult(self._h0, [], 0, 0)
        labels, quality = self._read_out(raw, self._h0)
        curve: list[float] = []
        spent = 0
        while spent < self.max_iter:
            step = min(AUTO_ROUND, self.max_iter - spent)
            result = factorize(adj, k, self.method, max_iter=step,
                               h0=best.h if spent == 0 else result.h,
                               warn=False, **options)
            spent += step
            curve += result.loss_curve[1 if curve else 0:]
            round_labels, q = self._read_out(raw, result.h)
            if not q > quality:
                break
            best, labels, quality = result, round_labels, q
            if result.converged:
                break
        best.loss_curve = curve or [float(symnmf_loss_of(adj, self._h0))]
        best.n_iter = spent
        return best, labels

    def score(self, data: Any, y: Any = None) -> float:
        """Modularity of the communities :meth:`predict` gives on ``data``
        (higher is better; ``y`` is ignored), so that model selection over
        ``k`` works as with any scikit-learn estimator."""
        inputs = self._inputs(data)
        return modularity(inputs.graph_raw, self._predicted(inputs))

    def _threads(self, adj: Adjacency):
        k = self.k if isinstance(self.k, int) else 16
        return thread_limit(self.n_jobs, adj.num_edges * k
                            + adj.num_nodes * k * k)

    def _overlapping(self, inputs: GraphInputs, h: Tensor
                     ) -> tuple[Tensor, Tensor]:
        """The memberships (the Bernoulli-Poisson affiliations with that
        loss) and their cover by BigCLAM's rule and BIC. The model explains
        the edges of the graph itself, also when ``h`` factors the
        feature-aware operator (measured on the ego nets of
        ``benchmarks/overlapping.py``: the fused graph's edges as the
        model's lower the overlapping NMI). When ``h`` factors the
        feature-aware operator, it is read only if the features agree with
        the graph's edges beyond chance (:func:`~pyg_symnmf.features.
        agreement_pvalue` at most :obj:`COVER_LEVEL`): features unrelated
        to the edges say nothing of the communities the edges form, so the
        graph alone is then factored (:meth:`_graph_alone`) and read;
        ``cover_source_`` says which. ``embedding_`` stays ``h`` with the
        squared loss."""
        edges = edge_set(inputs.graph_raw)
        self.cover_source_ = 'features' if inputs.feature_aware else 'graph'
        read = h
        if inputs.prepared is not None and agreement_pvalue(
                inputs.prepared, edges, seed=self.seed) > COVER_LEVEL:
            self.cover_source_ = 'graph'
            read = self._graph_alone(inputs, h.size(1))
        f = affiliations(read, edges, normalized=inputs.adj.normalized)
        if self.loss == 'bernoulli_poisson':
            f = fit_bernoulli_poisson(edges, f, max_iter=self.max_iter,
                                      tol=self.tol, warn=False).h
            h = f.to(h.dtype)
        return h, overlapping_communities(f, edges, calibrate=False)

    def _graph_alone(self, inputs: GraphInputs, k: int) -> Tensor:
        """Memberships of the graph without its features, as this
        estimator factors a graph: the classical method from the same
        starts, or the fitted blocks from their spectral start."""
        if self._plan.mode == 'classical':
            return factorize(inputs.graph_adj, k, self.method,
                             max_iter=self.max_iter, tol=self.tol,
                             alpha=self.alpha, seed=self.seed, warn=False,
                             n_init=self._n_init(inputs)).h
        with torch.no_grad():
            return factorize(inputs.graph_adj, k, 'net', seed=self.seed,
                             net=self._net()).h

    def transform(self, data: Any) -> Tensor:
        r"""Soft memberships of the nodes of ``data`` (rows sum to one; a
        node with an all-zero row gets a uniform row), shape :math:`(N, k)`:
        one forward pass of the fitted net, or the classical method run
        again with the same settings."""
        return normalize_rows(self._memberships(data))

    def predict(self, data: Any) -> Tensor:
        r"""Hard communities of the nodes of ``data``, shape :math:`(N,)`
        (refined as ``labels_``, see ``refine``)."""
        return self._predicted(self._inputs(data))

    def _predicted(self, inputs: GraphInputs) -> Tensor:
        self._check_fitted()
        with self._threads(inputs.adj):
            h = self._memberships_of(inputs)
            return self._read_out(inputs.raw, h)[0]

    def fit_predict(self, data: Any, y: Any = None) -> Tensor:
        return self.fit(data).labels_

    def _check_fitted(self) -> None:
        if not hasattr(self, 'embedding_'):
            raise RuntimeError(f"This {type(self).__name__} is not fitted "
                               f"yet; call fit(data) first")

    def _memberships(self, data: Any) -> Tensor:
        self._check_fitted()
        inputs = self._inputs(data)
        with self._threads(inputs.adj):
            return self._memberships_of(inputs)

    def _memberships_of(self, inputs: GraphInputs) -> Tensor:
        """The memberships of a fitted estimator on a graph."""
        adj, raw = inputs.adj, inputs.raw
        if self.k == 'auto':  # the start from this graph's own partition
            self._auto = self._select_k(inputs)
            self._h0 = partition_start(adj, raw.degree(),
                                       self._partition(),
                                       self.n_communities_)
        if self.model_ is not None:
            h = self._net_memberships(inputs).h
        else:
            h = self._classical(inputs, check_rank(self.n_communities_,
                                                   adj.num_nodes),
                                warn=False)[0].h
        check_finite('memberships', h)
        return self._overlapping(inputs, h)[0] \
            if self.loss == 'bernoulli_poisson' else h

    def _select_k(self, inputs: GraphInputs) -> KSelection:
        """``k='auto'``'s modularity partition of the factored operator,
        its communities that are not significantly connected split on a
        graph (edge counts), not on a feature-aware operator
        (similarities)."""
        return select_k(inputs.raw, self.seed, resolution=self.resolution,
                        significant=not inputs.feature_aware)

    def _partition(self) -> Tensor:
        """The modularity partition of ``k='auto'`` (always computed)."""
        assert self._auto is not None and self._auto.labels is not None
        return self._auto.labels

    def _better_partition(self, raw: Adjacency, labels: Tensor, k: int,
                          options: dict[str, Any]) -> Tensor:
        """After a wasted column, k given: ``labels`` or the modularity
        partition of ``k='auto'`` brought to the same k
        (:func:`~pyg_symnmf.auto_k.partition_at`) and refined alike,
        whichever has the higher modularity (on the DC-SBMs of
        ``benchmarks/networks.py``, graph seeds 0-5, the second had the
        higher modularity and NMI on all 11 draws where it has k
        communities)."""
        other = partition_at(raw, k, self.resolution, self.seed)
        if other is None:
            return labels
        other = refine_partition(raw, other.to(labels.device), **options)
        if self._modularity(raw, other) > self._modularity(raw, labels):
            return other
        return labels

    def _modularity(self, raw: Adjacency, labels: Tensor) -> float:
        """Modularity at ``resolution`` of ``labels`` on the raw operator
        (no validation: the read-out's own labels)."""
        return modularity_from_edges(raw.row(), raw.col(),
                                     raw.values.detach(), raw.degree(),
                                     labels.to(raw.device), self.resolution)

    def _read_out(self, raw: Adjacency, h: Tensor) -> tuple[Tensor, float]:
        r"""Hard labels from :math:`\mathbf{H}` (see ``refine``) and their
        modularity (``nan`` when not needed)."""
        labels = h.argmax(dim=1)
        if self.refine:
            options: dict[str, Any] = dict(resolution=self.resolution,
                                           fixed_k=True, seed=self.seed)
            labels = refine_partition(raw, labels, aggregate=False,
                                      **options)
            # Split and merge back only where node moves left a column
            # near-empty (it costs more than the factorization at scale).
            if self._auto is None and wasted_column(raw, labels, h.size(1)):
                labels = refine_partition(raw, labels, **options)
                labels = self._better_partition(raw, labels, h.size(1),
                                                options)
        if self._auto is None:
            if self.refine:  # nodes without edges: alone, as with 'auto'
                lone = torch.nonzero(raw.degree() == 0).flatten()
                labels[lone] = h.shape[1] + torch.arange(
                    lone.numel(), device=labels.device)
            return labels, float('nan')
        partition = self._partition()
        # Nodes without edges: alone, as in the modularity partition.
        labels = torch.where(partition >= self.n_communities_, partition,
                             labels)
        scores = [self._modularity(raw, candidate)
                  for candidate in (labels, partition)]
        if not self.refine or scores[0] > scores[1]:
            return labels, scores[0]
        return partition, scores[1]

    def _inputs(self, data: Any) -> GraphInputs:
        """The graph's operators, built once (a graph given as an
        :class:`~pyg_symnmf.Adjacency` is used as it is, see
        :func:`~pyg_symnmf.factorize.graph_operators`)."""
        data = as_data(data)
        graph, edge_weight, x, batch = graph_inputs(data)
        if batch is not None:
            raise ValueError(f"{type(self).__name__} factors one graph; "
                             f"for a Batch use pyg_symnmf.symnmf(..., "
                             f"batch=data.batch)")
        graph_raw, adj = graph_operators(graph, edge_weight, data.num_nodes,
                                         self.normalize)
        if self.encoder is not None and x is None:
            raise ValueError("The encoder needs node features 'data.x'")
        if not self._uses_features(x):
            return GraphInputs(adj, graph_raw, adj, graph_raw, x,
                               (graph, edge_weight))
        # The thread count symnmf builds it with: its eigengaps' last bits,
        # and so the operator, depend on it.
        with self._threads(adj):
            raw, prior, prepared = feature_operator(
                x, graph, edge_weight, data.num_nodes,
                k=self.k if isinstance(self.k, int) and self.k >= 1
                else None, seed=self.seed, dtype=adj.dtype,
                resolution=self.resolution, discriminant=self.discriminant,
                n_jobs=self.n_jobs)
        fused, graph_adj = raw, adj
        if self.normalize is not False:  # the graph's own scaled alike
            fused = normalized_operator(raw)
            graph_adj = normalized_operator(adj)
        return GraphInputs(fused, raw, graph_adj, graph_raw, x,
                           (graph, edge_weight), prior, prepared)

    def _uses_features(self, x: Optional[Tensor]) -> bool:
        return bool(self.features) and self.encoder is None and \
            informative(x)

    def _n_init(self, inputs: GraphInputs) -> int:
        if self.n_init is not None:
            return self.n_init
        return FEATURE_INITS if inputs.feature_aware else 1

    def _build_net(self, k: int, x: Optional[Tensor]) -> torch.nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if self._plan.mode == 'pretrained':
                if self.normalize is False:
                    raise ValueError("The pretrained blocks factor normalised "
                                     "graphs; use pretrained=False with "
                                     "normalize=False")
                net = SymNMFNet.pretrained(self._plan.num_layers)
            else:
                layers = self._plan.num_layers
                assert layers is not None  # a fresh net has a default
                net = SymNMFNet(k, layers, alpha=self.alpha,
                                normalize=self.normalize is not False)
            if isinstance(self.encoder, str):  # 'gcn', seeded above
                from torch_geometric.nn.models import GCN
                assert x is not None  # checked by _inputs
                return EncodedNet(GCN(encoder_width(x), 64, num_layers=2,
                                       out_channels=k), net,
                                  input_projection(x, seed=self.seed))
            if self.encoder is not None:
                encoder = self.encoder
                for module in encoder.modules():
                    reset = getattr(module, 'reset_parameters', None)
                    if module is not encoder and callable(reset):
                        reset()
                return EncodedNet(encoder, net)
        return net

    def _start(self, inputs: GraphInputs) -> Tensor:
        """The net's start on a graph: the encoder's output, else
        :meth:`_fixed_start`'s."""
        if isinstance(self.model_, EncodedNet):
            assert inputs.x is not None  # checked by _inputs
            return self.model_.start(inputs.x, *inputs.graph, inputs.adj)
        start = self._fixed_start(inputs)[0]
        assert start is not None  # None only with an encoder
        return start

    def _fixed_start(self, inputs: GraphInputs
                     ) -> tuple[Optional[Tensor], Optional[SolverResult]]:
        """A start that does not depend on the net's parameters (``None``
        with an encoder, whose output is the start), and the run of the
        untrained blocks from it when choosing it took one
        (:meth:`_pretrained_start`)."""
        if isinstance(self.model_, EncodedNet):
            return None, None
        if self._h0 is not None:  # k='auto'
            return self._h0, None
        if self._plan.mode == 'pretrained':
            return self._pretrained_start(inputs)
        return random_membership(inputs.adj, self.n_communities_,
                                 self.seed), None

    def _pretrained_start(self, inputs: GraphInputs
                          ) -> tuple[Tensor, Optional[SolverResult]]:
        """The pretrained blocks' spectral start; on a feature-aware
        operator, or the operator's modularity partition brought to k
        (:func:`~pyg_symnmf.auto_k.modularity_start`), whichever the
        blocks take to the higher read-out modularity
        (:func:`~pyg_symnmf.features.start_score`), as the classical
        methods rank their starts (on a generated 10-class bag-of-words
        graph the spectral start alone gave NMI 0.44); then also the
        blocks' run from it."""
        adj = inputs.adj
        start = spectral_membership(adj, self.n_communities_,
                                    self._net().start_iterations, self.seed)
        if not inputs.feature_aware:
            return start, None
        score, others = feature_ranking(adj, inputs.raw, self.n_communities_,
                                        'net', self.resolution, self.seed,
                                        inputs.prior)
        starts = [start, *others]
        with torch.no_grad():
            runs = [run_net(self._net(), adj, s) for s in starts]
        scores = [score(run.h) for run in runs]
        best = scores.index(max(scores))  # the first on a tie
        return starts[best], runs[best]

    def _net(self) -> SymNMFNet:
        model = self.model_.net if isinstance(self.model_, EncodedNet) \
            else self.model_
        assert isinstance(model, SymNMFNet)
        return model

    def _train(self, inputs: GraphInputs, fixed_start: Optional[Tensor]
               ) -> list[float]:
        adj = inputs.adj
        scale = 1.0 / float(adj.sq_norm.detach().clamp_min(1e-12))
        net = self._net()
        # With an encoder: SymNMF loss of A + beta K, K = Xs Xs^T (module
        # notes); its constant ||A + beta K||^2 - ||A||^2 keeps the curve a
        # nonnegative loss.
        xs = signal_features(inputs.x, adj) \
            if isinstance(self.model_, EncodedNet) else None
        if xs is not None:
            beta = FEATURE_WEIGHT
            offset = float(beta ** 2 * (xs.t() @ xs).pow(2).sum()
                           + 2 * beta * (xs * propagate(adj, xs)).sum())

        # Without an encoder the start does not depend on the parameters:
        # computed once (fixed_start), not every epoch.
        def start() -> Tensor:
            return self._start(inputs) if fixed_start is None \
                else fixed_start

        def loss_fn() -> Tensor:
            if self._plan.guarded:  # train exactly what inference runs
                h = run_net(net, adj, start()).h
                return symnmf_loss_of(adj, h) * scale
            iterates = list(net.unroll(start(), adj))
            loss = iterates[-1].loss
            if xs is not None:
                loss = loss + offset - 2 * beta * \
                    (xs.t() @ iterates[-1].h).pow(2).sum()
            if self.deep_supervision > 0 and len(iterates) > 2:
                inner = torch.stack([it.loss for it in iterates[1:-1]])
                loss = loss + self.deep_supervision * inner.mean()
            return loss * scale

        assert self.model_ is not None  # built by fit
        return [value / scale for value in train(
            self.model_, loss_fn, epochs=self._plan.epochs, lr=self.lr,
            verbose=self.verbose)]

    @torch.no_grad()
    def _net_memberships(self, inputs: GraphInputs,
                         start: Optional[Tensor] = None) -> SolverResult:
        """The fitted net on a graph, from ``start`` (default:
        :meth:`_start`): pretrained blocks run with
        :func:`~pyg_symnmf.solvers.run_net`'s safeguard (only improving
        steps move), other nets plainly, as trained."""
        assert self.model_ is not None  # a fitted net
        self.model_.eval()
        adj = inputs.adj
        start = self._start(inputs) if start is None else start
        if self._plan.guarded:
            return run_net(self._net(), adj, start)
        # A trained bias can lift the zero rows of isolated nodes.
        return SolverResult(zero_isolated(adj, self._net()(start, adj)))

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f'{name}={getattr(self, name)!r}'
                   for name in self._get_param_names()
                   if getattr(self, name) is not defaults[name].default
                   and getattr(self, name) != defaults[name].default]
        return f"{type(self).__name__}({', '.join(changed)})"


def _node_lists(labels: Tensor) -> list[list[int]]:
    """The nodes of each community, largest community first."""
    order = torch.argsort(labels, stable=True)
    sizes = torch.bincount(labels).tolist()
    groups = [part.tolist() for part in torch.split(order.cpu(), sizes)]
    return sorted((g for g in groups if g), key=len, reverse=True)
