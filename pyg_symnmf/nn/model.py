from __future__ import annotations

import copy
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.typing import OptTensor
from tqdm.auto import trange

from ..adjacency import Adjacency, to_adjacency
from ..functional import (check_membership, check_rank, propagate,
                          symnmf_loss_parts)
from ..init import random_membership
from ..solvers import DEFAULT_ALPHA, symnmf
from .conv import SymNMFNetConv

INITS = ('random', 'anls')


class SymNMFNet(torch.nn.Module):
    r"""SymNMF-Net: an initial membership :math:`\mathbf{H}_0` refined by
    :math:`T` :class:`SymNMFNetConv` blocks,

    .. math::
        \mathbf{H}_{t+1} = \mathrm{ReLU}\big((\mathbf{A}\mathbf{H}_t +
        \alpha_t\mathbf{H}_t)(\mathbf{H}_t^\top\mathbf{H}_t +
        \alpha_t\mathbf{I})^{-1}\mathbf{W}_t + \mathbf{b}_t\big),
        \qquad t = 0, \dots, T-1,

    trained without labels on the SymNMF loss
    :math:`\|\mathbf{A} - \mathbf{H}_T\mathbf{H}_T^\top\|_F^2`
    (see :meth:`fit`). Untrained, it runs :math:`T` classical ANLS-ReLU
    iterations. The blocks' parameters do not depend on the graph's size,
    so a net trained on some graphs factors new graphs as well.

    :math:`\mathbf{H}_0` is, by priority: the ``h`` given to
    :meth:`forward`; ``softplus(encoder(x, edge_index[, edge_weight]))``
    when an ``encoder`` (any GNN with :math:`k` outputs) and node features
    are given, trained end to end with the blocks; else a seeded random
    start scaled to :math:`\mathbf{A}`, optionally followed by
    ``init_iters`` classical ANLS iterations (``init="anls"``).

    Args:
        k (int): Number of communities.
        num_blocks (int): Number of blocks :math:`T`. (default: :obj:`20`)
        alpha (float): Initial :math:`\alpha_t`. (default: :obj:`0.1`)
        alpha_min (float): Floor of every :math:`\alpha_t`.
            (default: :obj:`1e-3`)
        learn_alpha (bool): Learn :math:`\alpha_t`. (default: :obj:`True`)
        bias (bool): Learn biases :math:`\mathbf{b}_t`.
            (default: :obj:`False`)
        share_weights (bool): One set of parameters for all blocks.
            (default: :obj:`False`)
        init (str): ``"random"`` or ``"anls"``. (default: :obj:`"random"`)
        init_iters (int): Classical iterations of ``init="anls"``.
            (default: :obj:`10`)
        encoder (torch.nn.Module, optional): GNN producing :math:`\mathbf{H}_0`
            from node features.
        normalize (bool): Normalise the adjacency symmetrically.
            (default: :obj:`True`)
        seed (int): Seed of the random start. (default: :obj:`0`)

    Attributes:
        loss_history_ (list[float]): Training loss after each epoch of
            :meth:`fit`.
    """

    def __init__(self, k: int, num_blocks: int = 20,
                 alpha: float = DEFAULT_ALPHA, alpha_min: float = 1e-3,
                 learn_alpha: bool = True, bias: bool = False,
                 share_weights: bool = False, init: str = 'random',
                 init_iters: int = 10,
                 encoder: Optional[torch.nn.Module] = None,
                 normalize: bool = True, seed: int = 0) -> None:
        super().__init__()
        self.k = check_rank(k)
        if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) \
                or num_blocks < 0:
            raise ValueError(f"'num_blocks' must be an int >= 0, got "
                             f"{num_blocks!r}")
        if init not in INITS:
            raise ValueError(f"Unknown init {init!r}; choose one of "
                             f"{', '.join(INITS)}")
        self.num_blocks = num_blocks
        self.init = init
        self.init_iters = init_iters
        self.encoder = encoder
        self.normalize = normalize
        self.seed = seed
        num_distinct = min(num_blocks, 1) if share_weights else num_blocks
        self.blocks = torch.nn.ModuleList([
            SymNMFNetConv(k, alpha, alpha_min, learn_alpha, bias,
                          normalize=normalize) for _ in range(num_distinct)
        ])
        self.loss_history_: list[float] = []

    def reset_parameters(self) -> None:
        for block in self.blocks:
            block.reset_parameters()
        if self.encoder is not None and hasattr(self.encoder,
                                                'reset_parameters'):
            self.encoder.reset_parameters()
        self.loss_history_ = []

    def adjacency(self, edge_index, edge_weight: OptTensor = None,
                  num_nodes: Optional[int] = None,
                  dtype: Optional[torch.dtype] = None) -> Adjacency:
        """The validated operator this model factors (build it once and pass
        it to :meth:`forward` to reuse it)."""
        adj = to_adjacency(edge_index, edge_weight, num_nodes,
                           normalize=self.normalize, dtype=dtype)
        check_rank(self.k, adj.num_nodes)
        return adj

    def initial(self, adj: Adjacency, x: OptTensor = None, h: OptTensor = None,
                batch: OptTensor = None, edge_index=None,
                edge_weight: OptTensor = None) -> Tensor:
        r"""The starting memberships :math:`\mathbf{H}_0`, shape
        :math:`(N, k)`."""
        if h is not None:
            check_membership(h, adj, self.k)
            return h
        if self.encoder is not None and x is not None:
            return self._encode(adj, x, edge_index, edge_weight)
        h = random_membership(adj, self.k, self.seed, batch)
        if self.init == 'anls' and self.init_iters > 0:
            if batch is not None:
                raise ValueError("init='anls' factors one graph; use "
                                 "init='random' for batched graphs")
            h = symnmf(adj, self.k, h0=h, max_iter=self.init_iters, tol=0.0,
                       alpha=self.blocks[0].alpha_init if self.blocks
                       else DEFAULT_ALPHA)
        return h

    def _encode(self, adj: Adjacency, x: Tensor, edge_index,
                edge_weight: OptTensor) -> Tensor:
        if edge_index is None or isinstance(edge_index, Adjacency):
            edge_index = adj.csr  # PyG layers accept torch.sparse adjacency
        args = (x, edge_index) if edge_weight is None \
            else (x, edge_index, edge_weight)
        out = self.encoder(*args)
        if out.dim() != 2 or out.size(0) != adj.num_nodes \
                or out.size(1) != self.k:
            raise ValueError(f"The encoder must return [num_nodes="
                             f"{adj.num_nodes}, k={self.k}], got "
                             f"{list(out.shape)}")
        return F.softplus(out).to(adj.dtype)

    def forward(self, edge_index, edge_weight: OptTensor = None,
                num_nodes: Optional[int] = None, x: OptTensor = None,
                h: OptTensor = None, batch: OptTensor = None,
                return_all: bool = False):
        r"""Factors a graph (or a batch of graphs).

        Args:
            edge_index: The graph in any accepted form, or an
                :class:`~pyg_symnmf.Adjacency` from :meth:`adjacency`.
            edge_weight (torch.Tensor, optional): Edge weights.
            num_nodes (int, optional): Number of nodes.
            x (torch.Tensor, optional): Node features for the ``encoder``.
            h (torch.Tensor, optional): Starting memberships :math:`(N, k)`.
            batch (torch.Tensor, optional): Graph of each node, sorted; every
                graph then gets its own Gram matrix.
            return_all (bool): Return :math:`[\mathbf{H}_0, \dots,
                \mathbf{H}_T]` instead of :math:`\mathbf{H}_T`.

        Returns:
            :math:`\mathbf{H}_T` of shape :math:`(N, k)`, nonnegative.
        """
        if num_nodes is None and x is not None:
            num_nodes = x.size(0)
        dtype = h.dtype if h is not None else None
        adj = self.adjacency(edge_index, edge_weight, num_nodes, dtype)
        hs = self._unroll(adj, x, h, batch, (edge_index, edge_weight))
        return hs if return_all else hs[-1]

    def _unroll(self, adj: Adjacency, x: OptTensor, h: OptTensor,
                batch: OptTensor, encoder_graph: tuple) -> list[Tensor]:
        hs = [self.initial(adj, x, h, batch, *encoder_graph)]
        for t in range(self.num_blocks):
            block = self.blocks[t % len(self.blocks)]
            hs.append(block(hs[-1], adj, batch=batch))
        return hs

    def fit(self, data: Data, epochs: int = 200, lr: float = 0.01,
            deep_supervision: float = 0.0,
            supervised_loss: Optional[Callable[[Tensor], Tensor]] = None,
            progress: bool = True) -> 'SymNMFNet':
        r"""Trains the blocks (and the encoder) with Adam on the SymNMF loss
        of :math:`\mathbf{H}_T`, without labels.

        Args:
            data (torch_geometric.data.Data): The graph (a
                :class:`~torch_geometric.data.Batch` trains on the sum of its
                graphs' losses).
            epochs (int): Number of full-graph steps. (default: 200)
            lr (float): Adam's learning rate. (default: 0.01)
            deep_supervision (float): Weight of the mean loss of the
                intermediate blocks' outputs, added to the last one's.
            supervised_loss (callable, optional): ``H -> scalar`` added to
                the loss, e.g. a cross-entropy on a labelled node mask.
            progress (bool): Show a progress bar. (default: True)
        """
        edge_index, edge_weight, x, batch = graph_inputs(data)
        adj = self.adjacency(edge_index, edge_weight, data.num_nodes)
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=lr) if params else None
        # The loss's scale depends on the graph: normalise it for Adam.
        scale = 1.0 / float(adj.sq_norm.clamp_min(1e-12))
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, max(epochs, 1)) if optimizer is not None else None
        best_loss, best_state = float('inf'), None
        self.train()
        for _ in trange(epochs, disable=not progress, desc='SymNMF-Net'):
            hs = self._unroll(adj, x, None, batch, (edge_index, edge_weight))
            loss = self._loss(adj, hs[-1], batch)
            if deep_supervision > 0 and len(hs) > 2:
                inner = torch.stack([self._loss(adj, h, batch)
                                     for h in hs[1:-1]]).mean()
                loss = loss + deep_supervision * inner
            loss = loss * scale
            if supervised_loss is not None:
                loss = loss + supervised_loss(hs[-1])
            value = float(loss.detach())
            self.loss_history_.append(value / scale)
            if value < best_loss:  # the loss of the parameters used now
                best_loss = value
                best_state = copy.deepcopy(self.state_dict())
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
        if best_state is not None:
            self.load_state_dict(best_state)
        self.eval()
        return self

    @staticmethod
    def _loss(adj: Adjacency, h: Tensor, batch: OptTensor) -> Tensor:
        return symnmf_loss_parts(adj, h, propagate(adj, h), batch).sum()

    @torch.no_grad()
    def embed(self, data: Data) -> Tensor:
        r"""Memberships :math:`\mathbf{H}_T` of shape :math:`(N, k)`: node
        embeddings for downstream models."""
        edge_index, edge_weight, x, batch = graph_inputs(data)
        return self(edge_index, edge_weight, data.num_nodes, x=x, batch=batch)

    def membership(self, data: Data) -> Tensor:
        r"""Soft memberships: rows of :math:`\mathbf{H}_T` normalised to sum
        to one (a node with an all-zero row gets a uniform row)."""
        return normalize_rows(self.embed(data))

    def predict(self, data: Data) -> Tensor:
        r"""Hard communities :math:`\arg\max_j H_{ij}`, shape :math:`(N,)`."""
        return self.embed(data).argmax(dim=1)

    def overlapping(self, data: Data, threshold: float = 0.25) -> Tensor:
        r"""Overlapping communities: a boolean :math:`(N, k)` mask, node
        :math:`i` in community :math:`j` when its normalised membership is
        at least ``threshold`` (its argmax community always included)."""
        return overlapping_communities(self.membership(data), threshold)

    def __repr__(self) -> str:
        encoder = f', encoder={self.encoder.__class__.__name__}' \
            if self.encoder is not None else ''
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'num_blocks={self.num_blocks}, init={self.init!r}'
                f'{encoder})')


def normalize_rows(h: Tensor) -> Tensor:
    """Rows scaled to sum to one; all-zero rows become uniform."""
    total = h.sum(dim=1, keepdim=True)
    uniform = torch.full_like(h, 1.0 / h.size(1))
    return torch.where(total > 0, h / total.clamp_min(1e-30), uniform)


def overlapping_communities(membership: Tensor, threshold: float) -> Tensor:
    """Boolean mask of normalised memberships >= ``threshold`` plus each
    row's argmax, so that every node belongs to at least one community."""
    if not 0 < threshold <= 1:
        raise ValueError(f"'threshold' must be in (0, 1], got {threshold}")
    mask = membership >= threshold
    rows = torch.arange(mask.size(0), device=mask.device)
    mask[rows, membership.argmax(dim=1)] = True
    return mask


def graph_inputs(data: Data):
    """``(adjacency input, edge_weight, x, batch)`` of a PyG ``Data``, with a
    clear error when it carries no graph."""
    if not isinstance(data, Data):
        raise TypeError(f"Expected a torch_geometric.data.Data, got "
                        f"{type(data).__name__}")
    if 'adj_t' in data:
        edge_index, edge_weight = data.adj_t, None
    elif 'edge_index' in data and data.edge_index is not None:
        edge_index = data.edge_index
        edge_weight = data.edge_weight if 'edge_weight' in data else None
    else:
        raise ValueError("'data' has no 'edge_index' or 'adj_t'; for a graph "
                         "without edges pass an empty edge_index of shape "
                         "[2, 0] and set data.num_nodes")
    if data.num_nodes is None:
        raise ValueError("'data' has no nodes: set data.num_nodes")
    x = data.x if 'x' in data else None
    batch = data.batch if 'batch' in data else None
    return edge_index, edge_weight, x, batch
