"""SymNMF-Net for PyTorch Geometric: unrolled symmetric NMF layers for
community detection and nonnegative node embeddings."""
from . import datasets, functional, metrics, transforms
from .adjacency import Adjacency, to_adjacency
from .functional import symnmf_loss as _symnmf_loss
from .nn import SymNMFNet, SymNMFNetConv, SymNMFPooling
from .solvers import METHODS, symnmf

__version__ = '0.1.0'


def symnmf_loss(edge_index, h, edge_weight=None, num_nodes=None, *,
                normalize: bool = True, batch=None):
    r"""SymNMF loss :math:`\|\mathbf{A} - \mathbf{H}\mathbf{H}^\top\|_F^2`
    of memberships ``h`` :math:`(N, k)` on a graph given in any accepted
    form, computed from the nonzeros of :math:`\mathbf{A}` without forming
    :math:`\mathbf{H}\mathbf{H}^\top`. Differentiable in ``h``; with
    ``batch``, one loss per graph."""
    if num_nodes is None and hasattr(h, 'size'):
        num_nodes = h.size(0)
    adj = to_adjacency(edge_index, edge_weight, num_nodes,
                       normalize=normalize, dtype=getattr(h, 'dtype', None))
    return _symnmf_loss(adj, h, batch)


__all__ = [
    'Adjacency', 'to_adjacency', 'SymNMFNetConv', 'SymNMFNet',
    'SymNMFPooling', 'symnmf',
    'symnmf_loss', 'METHODS', 'metrics', 'transforms', 'datasets',
    'functional',
]
