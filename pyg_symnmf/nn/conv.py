from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.typing import OptTensor

from ..adjacency import Adjacency, to_adjacency
from ..functional import block_update, check_membership, check_rank


class SymNMFNetConv(torch.nn.Module):
    r"""One SymNMF-Net block: an inversion layer on the :math:`k \times k`
    Gram matrix, a linear layer and a ReLU.

    .. math::
        \mathbf{G} &= \mathbf{H}^\top\mathbf{H} + \alpha\mathbf{I}

        \mathbf{P} &= \mathbf{A}\mathbf{H} + \alpha\mathbf{H}

        \mathbf{H}^{\prime} &= \mathrm{ReLU}\big(\mathbf{P}\,\mathbf{G}^{-1}
        \mathbf{W} + \mathbf{b}\big)

    where :math:`\mathbf{A}` is the (by default normalised,
    :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`) adjacency matrix.
    At its initial parameters (:math:`\mathbf{W} = \mathbf{I}`,
    :math:`\mathbf{b} = 0`) the block is exactly one ANLS-ReLU iteration of
    the classical scheme (:func:`pyg_symnmf.symnmf` with
    ``method="anls"``). :math:`\alpha = \alpha_{\min} +
    \mathrm{softplus}(\rho)` is kept above :math:`\alpha_{\min} > 0`, so
    :math:`\|\mathbf{G}^{-1}\|_2 \le 1/\alpha_{\min}` and the block's output
    stays bounded and Lipschitz in its input whatever is learned: since the
    singular values of :math:`\mathbf{H}\mathbf{G}^{-1}` are
    :math:`\sigma/(\sigma^2+\alpha) \le 1/(2\sqrt{\alpha})`, for *any*
    input :math:`\mathbf{H}`

    .. math::
        \|\mathbf{H}^{\prime}\|_F \le \frac{\sqrt{k}\,(\|\mathbf{A}\|_2 +
        \alpha)\,\|\mathbf{W}\|_2}{2\sqrt{\alpha}} + \sqrt{N}\,
        \|\mathbf{b}\|_2.

    A column of :math:`\mathbf{H}` that dies (all zeros) stays finite: with
    :math:`\mathbf{W} = \mathbf{I}` it stays at zero, as in the classical
    scheme; a learned :math:`\mathbf{W}` may revive it from the others.

    Args:
        k (int): Number of communities (columns of :math:`\mathbf{H}`).
        alpha (float): Initial :math:`\alpha`. (default: :obj:`0.1`)
        alpha_min (float): Floor of :math:`\alpha`. (default: :obj:`1e-3`)
        learn_alpha (bool): Learn :math:`\alpha`; else it stays fixed.
            (default: :obj:`True`)
        bias (bool): Learn a bias :math:`\mathbf{b}` (initialised to zero).
            (default: :obj:`False`)
        normalize (bool): Symmetrically normalise the adjacency matrix.
            (default: :obj:`True`)
        cached (bool): Cache the adjacency operator built on the first call
            (transductive use only). (default: :obj:`False`)

    Shapes:
        - **input:** memberships :math:`(N, k)`, a graph as
          ``edge_index`` :math:`(2, |\mathcal{E}|)` with optional edge
          weights :math:`(|\mathcal{E}|)`, a sparse or dense
          :math:`(N, N)` matrix, a ``SparseTensor`` or an
          :class:`~pyg_symnmf.Adjacency`; optional ``batch`` :math:`(N)`
        - **output:** memberships :math:`(N, k)`, nonnegative
    """

    def __init__(self, k: int, alpha: float = 0.1, alpha_min: float = 1e-3,
                 learn_alpha: bool = True, bias: bool = False,
                 normalize: bool = True, cached: bool = False) -> None:
        super().__init__()
        self.k = check_rank(k)
        if not (alpha_min > 0 and math.isfinite(alpha_min)):
            raise ValueError(f"'alpha_min' must be a positive finite number, "
                             f"got {alpha_min}")
        if not (alpha > alpha_min and math.isfinite(alpha)):
            raise ValueError(f"'alpha' must be finite and larger than "
                             f"alpha_min={alpha_min}, got {alpha}")
        self.alpha_init = float(alpha)
        self.alpha_min = float(alpha_min)
        self.learn_alpha = learn_alpha
        self.normalize = normalize
        self.cached = cached
        self._cached_adj: Optional[Adjacency] = None

        self.weight = Parameter(torch.empty(k, k))
        rho = torch.empty(())
        if learn_alpha:
            self.rho = Parameter(rho)
        else:
            self.register_buffer('rho', rho)
        self.bias = Parameter(torch.empty(k)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Back to one classical iteration: :math:`\mathbf{W} = \mathbf{I}`,
        :math:`\mathbf{b} = 0`, :math:`\alpha` at its initial value."""
        with torch.no_grad():
            self.weight.copy_(torch.eye(self.k))
            # Inverse softplus, so that alpha starts exactly at alpha_init.
            self.rho.fill_(math.log(math.expm1(self.alpha_init -
                                               self.alpha_min)))
            if self.bias is not None:
                self.bias.zero_()
        self._cached_adj = None

    @property
    def alpha(self) -> Tensor:
        r"""The current :math:`\alpha \ge \alpha_{\min}`."""
        return self.alpha_min + F.softplus(self.rho)

    def forward(self, h: Tensor, edge_index, edge_weight: OptTensor = None,
                batch: OptTensor = None) -> Tensor:
        adj = self._cached_adj
        if adj is None:
            adj = to_adjacency(edge_index, edge_weight, h.size(0),
                               normalize=self.normalize, dtype=h.dtype)
            if self.cached:
                self._cached_adj = adj
        check_membership(h, adj, self.k)
        return block_update(adj, h, self.alpha, self.weight, self.bias, batch)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        weight = state_dict.get(prefix + 'weight')
        if weight is not None and weight.shape != self.weight.shape:
            raise ValueError(
                f"The state_dict was trained for k={weight.size(0)} "
                f"communities but this block has k={self.k}; build the "
                f"model with k={weight.size(0)}")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'alpha={float(self.alpha):.4g}, '
                f'bias={self.bias is not None})')

