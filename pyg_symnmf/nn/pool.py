from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import OptTensor
from torch_geometric.utils import to_dense_batch

from ..adjacency import GraphLike
from ..functional import (gram, propagate, sq_norm_per_graph,
                          symnmf_loss_of)
from ..validation import check_batch
from .model import SymNMFNet

__all__ = ['SymNMFPooling']


class SymNMFPooling(torch.nn.Module):
    r"""Sparse graph pooling with SymNMF-Net memberships (`"SymNMF-Net for
    The Symmetric NMF Problem" <https://arxiv.org/abs/2205.13214>`_, Li,
    Kong, Lin, 2022) as the cluster assignment, in the spirit of
    :class:`~torch_geometric.nn.DMoNPooling` but without densifying any
    :math:`N \times N` adjacency.

    For each graph :math:`b` of a batch, a linear layer maps the node
    features to a nonnegative start :math:`\mathbf{H}_0 =
    \mathrm{softplus}(\mathbf{X}\mathbf{\Theta})`, SymNMF-Net blocks refine
    it on the graph to :math:`\mathbf{H}`, and

    .. math::
        \mathbf{X}^{\prime}_b = \mathbf{H}_b^\top\mathbf{X}_b, \qquad
        \mathbf{A}^{\prime}_b = \mathbf{H}_b^\top\mathbf{A}_b\mathbf{H}_b,
        \qquad \mathcal{L}_{aux} = \frac{1}{B}\sum_b
        \frac{\|\mathbf{A}_b - \mathbf{H}_b\mathbf{H}_b^\top\|_F^2}
        {\|\mathbf{A}_b\|_F^2 + \|\mathbf{H}_b^\top\mathbf{H}_b\|_F^2}.

    The auxiliary loss lies in :math:`[0, 1]` (both matrices are
    nonnegative) and is 0 for a graph whose :math:`\mathbf{A}_b` and
    :math:`\mathbf{H}_b` both vanish, so batches with single-node or
    edgeless graphs stay finite. Add it to the task loss so that the
    clusters follow the graphs' communities.

    Args:
        in_channels (int): Node feature size :math:`F`.
        k (int): Number of clusters per graph.
        num_layers (int): SymNMF-Net blocks. (default: :obj:`5`)
        **kwargs: Further :class:`~pyg_symnmf.SymNMFNet` arguments.

    Shapes:
        - **input:** node features :math:`(N, F)`, a graph in any accepted
          form, edge weights :math:`(|\mathcal{E}|)` *(optional)*, sorted
          batch vector :math:`(N)` *(optional)*
        - **output:** pooled features :math:`(B, k, F)`, pooled adjacency
          :math:`(B, k, k)`, auxiliary loss :math:`()`, memberships
          :math:`(N, k)`
    """

    def __init__(self, in_channels: int, k: int, num_layers: int = 5,
                 **kwargs) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(in_channels, k)
        self.net = SymNMFNet(k, num_layers, **kwargs)

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self.net.reset_parameters()

    def forward(self, x: Tensor, edge_index: GraphLike,
                edge_weight: OptTensor = None,
                batch: Optional[Tensor] = None
                ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if batch is None:
            batch = x.new_zeros(x.size(0), dtype=torch.long)
        adj = self.net.adjacency(edge_index, edge_weight, x.size(0), x.dtype)
        batch = check_batch(batch, adj.num_nodes)
        assert batch is not None  # given or made above
        h = self.net(F.softplus(self.lin(x)), adj, batch=batch)
        ah = propagate(adj, h)
        dense_h, _ = to_dense_batch(h, batch)
        dense_x, _ = to_dense_batch(x, batch)
        dense_ah, _ = to_dense_batch(ah, batch)
        pooled_x = dense_h.transpose(1, 2) @ dense_x
        pooled_adj = dense_h.transpose(1, 2) @ dense_ah
        loss = symnmf_loss_of(adj, h, ah, batch)
        scale = sq_norm_per_graph(adj, batch) + \
            gram(h, batch).square().sum(dim=(1, 2))
        relative = torch.where(scale > 0, loss / scale.clamp_min(
            torch.finfo(x.dtype).tiny), torch.zeros_like(loss))
        return pooled_x, pooled_adj, relative.mean(), h

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.lin.in_features}, '
                f'k={self.net.k}, num_layers={self.net.num_layers})')
