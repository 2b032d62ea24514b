from __future__ import annotations

from typing import Iterator, NamedTuple, Optional, Sequence

import torch
from torch import Tensor
from torch_geometric.typing import OptTensor

from ..adjacency import Adjacency, GraphLike, OperatorCache
from ..defaults import DEFAULT_NUM_LAYERS
from ..functional import (loss_from_parts, sq_norm_per_graph,
                          symnmf_loss_of)
from ..validation import (check_batch, check_nodes_tensor, check_number,
                          check_rank)
from .conv import SymNMFNetConv
from .weights_file import PRETRAINED_FILE, load_pretrained

__all__ = ['SymNMFNet', 'Iterate', 'PRETRAINED_FILE']

class Iterate(NamedTuple):
    """One iterate of an unrolled net: memberships and their SymNMF loss
    (a scalar, or one per graph with ``batch``)."""
    h: Tensor
    loss: Tensor


class SymNMFNet(torch.nn.Module):
    r"""SymNMF-Net from the `"SymNMF-Net for The Symmetric NMF Problem"
    <https://arxiv.org/abs/2205.13214>`_ paper (Li, Kong, Lin, 2022):
    :math:`T` :class:`SymNMFNetConv` blocks that refine a start
    :math:`\mathbf{H}_0`,

    .. math::
        \mathbf{H}_{t+1} = \mathrm{ReLU}\big((\mathbf{A}\mathbf{H}_t +
        \alpha_t s\mathbf{H}_t)(\mathbf{H}_t^\top\mathbf{H}_t +
        \alpha_t s\mathbf{I})^{-1}\mathbf{W}_t + \mathbf{b}_t +
        c_t(\mathbf{H}_t - \mathbf{H}_{t-1})\big),
        \qquad t = 0, \dots, T-1

    (:math:`\mathbf{H}_{-1} = \mathbf{H}_0`). Like any PyG layer stack it
    takes the node tensor first and trains nothing by itself: the start
    comes from :func:`~pyg_symnmf.init.random_membership`,
    :func:`~pyg_symnmf.init.spectral_membership` or any encoder (made
    nonnegative), and the job of training it on the SymNMF loss
    :math:`\|\mathbf{A}-\mathbf{H}_T\mathbf{H}_T^\top\|_F^2` is
    :class:`~pyg_symnmf.SymNMFClustering`'s. Untrained, it runs :math:`T`
    classical ANLS-ReLU iterations. Its parameters do not depend on
    :math:`N` (nor on :math:`k` with ``weight="equivariant"``), so one net
    factors many graphs; :meth:`pretrained` loads such a net shipped with
    the package.

    Args:
        k (int, optional): Number of communities (required for
            ``weight="full"``).
        num_layers (int): Number of blocks :math:`T`. (default: :obj:`20`)
        weight (str): ``"full"`` or ``"equivariant"`` (see
            :class:`SymNMFNetConv`). (default: :obj:`"full"`)
        momentum (bool): Learned extrapolation in every block.
            (default: :obj:`False`)
        share_weights (bool): One set of parameters for all blocks.
            (default: :obj:`False`)
        checkpoint (bool): Recompute each block in the backward pass instead
            of keeping its intermediates (activation checkpointing): training
            memory then holds one :math:`N \times k` input per block, at the
            price of one more SpMM per block. (default: :obj:`False`)
        **kwargs: Further :class:`SymNMFNetConv` arguments (``alpha``,
            ``alpha_min``, ``learn_alpha``, ``bias``, ``normalize``).

    Attributes:
        start_iterations (int): SpMMs of the spectral start
            (:func:`~pyg_symnmf.init.spectral_membership`) that the
            estimator and :func:`~pyg_symnmf.symnmf` give these blocks;
            set from the weights file by :meth:`pretrained`.

    Shapes:
        - **input:** start :math:`\mathbf{H}_0` :math:`(N, k)`, a graph in
          any accepted form with optional edge weights, optional sorted
          ``batch`` :math:`(N)`
        - **output:** :math:`\mathbf{H}_T` :math:`(N, k)`, nonnegative
    """

    start_iterations: int = 10

    def __init__(self, k: Optional[int] = None,
                 num_layers: int = DEFAULT_NUM_LAYERS,
                 weight: str = 'full', momentum: bool = False,
                 share_weights: bool = False, checkpoint: bool = False,
                 **kwargs) -> None:
        super().__init__()
        check_number('num_layers', num_layers, integer=True, low=0)
        self.k = None if k is None and weight != 'full' else check_rank(k)
        self.num_layers = num_layers
        self.share_weights = share_weights
        self.checkpoint = checkpoint
        self.normalize = kwargs.get('normalize', True)
        num_distinct = min(num_layers, 1) if share_weights else num_layers
        # A ModuleList at run time; typed by what it holds.
        self.blocks: Sequence[SymNMFNetConv] = torch.nn.ModuleList([
            SymNMFNetConv(self.k, weight, momentum, **kwargs)
            for _ in range(num_distinct)
        ])  # type: ignore[assignment]
        self._cache = OperatorCache()
        self._config = dict(k=self.k, num_layers=num_layers, weight=weight,
                            momentum=momentum, share_weights=share_weights,
                            checkpoint=checkpoint, **kwargs)

    @classmethod
    def pretrained(cls, num_layers: Optional[int] = None) -> 'SymNMFNet':
        r"""The k-agnostic blocks pretrained on a broad generated family of
        graphs (:mod:`pyg_symnmf.pretrain`), shipped in the package. They
        factor any normalised graph with any :math:`k` without training;
        fine-tune them on your graphs with
        :class:`~pyg_symnmf.SymNMFClustering` (``epochs > 0``).

        Args:
            num_layers (int, optional): Use the first ``num_layers``
                pretrained blocks. (default: all)
        """
        config, start_iterations, state = load_pretrained()
        available = config['num_layers']
        if num_layers is None:
            num_layers = available
        check_number('num_layers', num_layers, integer=True, low=1,
                     high=available)
        net = cls(**{**config, 'num_layers': num_layers})
        net.load_state_dict({name: value for name, value in state.items()
                             if int(name.split('.')[1]) < num_layers})
        net.start_iterations = start_iterations
        return net

    def reset_parameters(self) -> None:
        for block in self.blocks:
            block.reset_parameters()
        self._cache.clear()

    def adjacency(self, edge_index: GraphLike, edge_weight: OptTensor = None,
                  num_nodes: Optional[int] = None,
                  dtype: Optional[torch.dtype] = None) -> Adjacency:
        """The operator this net factors, cached on the graph tensor's
        identity and version."""
        return self._cache.get(edge_index, edge_weight, num_nodes,
                               normalize=self.normalize, dtype=dtype)

    def forward(self, h: Tensor, edge_index: GraphLike,
                edge_weight: OptTensor = None,
                batch: OptTensor = None) -> Tensor:
        adj, batch = self._prepare(h, edge_index, edge_weight, batch)
        for h, _, _ in self._run(h, adj, batch):
            pass
        return h

    def unroll(self, h: Tensor, edge_index: GraphLike,
               edge_weight: OptTensor = None,
               batch: OptTensor = None) -> Iterator[Iterate]:
        r"""Yields :math:`(\mathbf{H}_t, f(\mathbf{H}_t))` for :math:`t = 0,
        \dots, T`. The loss of each block's input comes for free from the
        block's own products; only :math:`f(\mathbf{H}_T)` costs one more
        SpMM. Without gradients only two iterates are alive at a time."""
        adj, batch = self._prepare(h, edge_index, edge_weight, batch)
        sq_norm = adj.sq_norm if batch is None else \
            sq_norm_per_graph(adj, batch)
        for out, g, cross in self._run(h, adj, batch):
            yield Iterate(h, loss_from_parts(sq_norm, cross, g))
            h = out
        yield Iterate(h, symnmf_loss_of(adj, h, batch=batch))

    def _prepare(self, h: Tensor, edge_index: GraphLike,
                 edge_weight: OptTensor, batch: OptTensor
                 ) -> tuple[Adjacency, OptTensor]:
        dtype = h.dtype if isinstance(h, Tensor) and h.is_floating_point() \
            else None
        adj = self.adjacency(edge_index, edge_weight,
                             h.size(0) if isinstance(h, Tensor) else None,
                             dtype)
        check_nodes_tensor('h', h, adj.num_nodes, adj.device, adj.dtype,
                           self.k)
        return adj, check_batch(batch, adj.num_nodes)

    def _run(self, h: Tensor, adj: Adjacency, batch: OptTensor
             ) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """Yields each block's ``(output, H^T H, <H, A H>)`` of its input."""
        h_prev = h
        for t in range(self.num_layers):
            block = self.blocks[t % len(self.blocks)]
            if self.checkpoint and torch.is_grad_enabled():
                # Imported here: it loads torch._dynamo (and with it scipy).
                from torch.utils.checkpoint import checkpoint
                out, g, cross = checkpoint(
                    block.step, h, adj, batch, h_prev, use_reentrant=False)
            else:
                out, g, cross = block.step(h, adj, batch, h_prev)
            yield out, g, cross
            h_prev, h = h, out

    def __repr__(self) -> str:
        block = self.blocks[0] if len(self.blocks) else None
        form = f', weight={block.weight_form!r}' if block is not None else ''
        momentum = ', momentum=True' if block is not None and \
            block.momentum else ''
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'num_layers={self.num_layers}{form}{momentum})')
