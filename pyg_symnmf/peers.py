r"""Learned unsupervised peers for attributed graphs, as in PyG's examples:
a 2-layer GCN (64 hidden, ReLU) then ``DMoNPooling`` (spectral + cluster +
orthogonality loss) or a linear assignment and ``dense_mincut_pool``
(mincut + orthogonality loss), trained full-graph with Adam on the dense
adjacency: :math:`O(N^2)` memory, so only for graphs up to a few thousand
nodes. Used by the CLI and ``benchmarks/attributed.py`` for comparison."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data

__all__ = ['GCNPool', 'gcn_pool_clustering', 'POOL_KINDS']

POOL_KINDS = ('DMoN', 'MinCut')


class GCNPool(torch.nn.Module):
    """A 2-layer GCN, then DMoN's or MinCutPool's soft assignment.

    Args:
        in_channels (int): Feature width.
        k (int): Number of clusters.
        kind (str): ``"DMoN"`` or ``"MinCut"``.
        hidden (int): GCN width. (default: 64)
    """

    def __init__(self, in_channels: int, k: int, kind: str,
                 hidden: int = 64) -> None:
        super().__init__()
        from torch_geometric.nn import DMoNPooling
        from torch_geometric.nn.models import GCN

        if kind not in POOL_KINDS:
            raise ValueError(f"Unknown kind {kind!r}; use one of "
                             f"{POOL_KINDS}")
        self.kind = kind
        self.gcn = GCN(in_channels, hidden, num_layers=2)
        self.assign = DMoNPooling(hidden, k) if kind == 'DMoN' \
            else torch.nn.Linear(hidden, k)

    def forward(self, x: Tensor, edge_index: Tensor, adj: Tensor
                ) -> tuple[Tensor, Tensor]:
        """Soft assignment :math:`(N, k)` and the unsupervised loss."""
        from torch_geometric.nn import dense_mincut_pool

        h = self.gcn(x, edge_index).relu()
        if self.kind == 'DMoN':
            s, _, _, spectral, ortho, cluster = self.assign(h, adj)
            return s[0], spectral + cluster + ortho
        s = self.assign(h)
        _, _, mincut, ortho = dense_mincut_pool(h, adj, s)
        return s, mincut + ortho


def gcn_pool_clustering(data: Data, k: int, kind: str = 'DMoN', *,
                        epochs: int = 500, lr: float = 1e-3,
                        seed: int = 0) -> Tensor:
    """Trains :class:`GCNPool` on ``data`` (``x``, ``edge_index``) without
    labels; returns the hard clusters, shape :math:`(N,)`."""
    from torch_geometric.utils import to_dense_adj

    x = data.x.to_dense() if data.x.is_sparse else data.x
    x = x.float()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GCNPool(x.size(1), k, kind)
        adj = to_dense_adj(data.edge_index, max_num_nodes=data.num_nodes)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(epochs):
            optimizer.zero_grad()
            _, loss = model(x, data.edge_index, adj)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            s, _ = model(x, data.edge_index, adj)
    return s.argmax(1)
