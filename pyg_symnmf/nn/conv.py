from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.typing import OptTensor
from torch_geometric.utils import scatter

from ..adjacency import Adjacency, GraphLike, OperatorCache
from ..defaults import DEFAULT_ALPHA
from ..functional import block_update, gram, propagate
from ..validation import (check_batch, check_nodes_tensor, check_number,
                          check_rank)

__all__ = ['SymNMFNetConv', 'WEIGHT_FORMS']

WEIGHT_FORMS = ('full', 'equivariant')


class SymNMFNetConv(torch.nn.Module):
    r"""One SymNMF-Net block from the `"SymNMF-Net for The Symmetric NMF
    Problem" <https://arxiv.org/abs/2205.13214>`_ paper (Li, Kong, Lin,
    2022): an inversion layer on the :math:`k \times k` Gram matrix, a linear
    layer and a ReLU,

    .. math::
        \mathbf{G} &= \mathbf{H}^\top\mathbf{H} + \alpha s\mathbf{I}

        \mathbf{P} &= \mathbf{A}\mathbf{H} + \alpha s\mathbf{H}

        \mathbf{H}^{\prime} &= \mathrm{ReLU}\big(\mathbf{P}\,\mathbf{G}^{-1}
        \mathbf{W} + \mathbf{b} + c\,(\mathbf{H} -
        \mathbf{H}_{\mathrm{prev}})\big)

    where :math:`\mathbf{A}` is the (by default normalised,
    :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`) adjacency matrix
    and :math:`s` its :attr:`~pyg_symnmf.Adjacency.scale` (1 when
    normalised), so :math:`\alpha` is scale-free. The linear layer is
    either a full :math:`\mathbf{W} \in \mathbb{R}^{k \times k}`
    (``weight="full"``) or the permutation-equivariant
    :math:`\mathbf{W} = a\mathbf{I} + b\,\mathbf{1}\mathbf{1}^\top/k`
    (``weight="equivariant"``: two scalars, so the block serves any
    :math:`k` and any :math:`N`, and permuting the columns of
    :math:`\mathbf{H}` permutes those of the output). With ``momentum``, a
    learned extrapolation :math:`c\,(\mathbf{H} - \mathbf{H}_{\mathrm{prev}})`
    enters the ReLU (``h_prev`` is the previous block's input).

    At its initial parameters (:math:`\mathbf{W} = \mathbf{I}`,
    :math:`\mathbf{b} = 0`, :math:`c = 0`) the block is exactly one ANLS-ReLU
    iteration (:func:`pyg_symnmf.solvers.anls_step`).
    :math:`\alpha = \alpha_{\min} + \mathrm{softplus}(\rho)` stays above
    :math:`\alpha_{\min} > 0`, so :math:`\|\mathbf{G}^{-1}\|_2 \le
    1/(\alpha_{\min}s)` and, since the singular values of
    :math:`\mathbf{H}\mathbf{G}^{-1}` are at most :math:`1/(2\sqrt{\alpha
    s})`, for *any* input

    .. math::
        \|\mathbf{H}^{\prime}\|_F \le \frac{\sqrt{k}\,(\|\mathbf{A}\|_2 +
        \alpha s)\,\|\mathbf{W}\|_2}{2\sqrt{\alpha s}} + \sqrt{N}\,
        \|\mathbf{b}\|_2 + |c|\,\|\mathbf{H} - \mathbf{H}_{\mathrm{prev}}\|_F.

    Args:
        k (int, optional): Number of communities; required for
            ``weight="full"``, ignored by the equivariant form.
        weight (str): ``"full"`` or ``"equivariant"``.
            (default: :obj:`"full"`)
        momentum (bool): Learn the extrapolation :math:`c` (initialised to
            0). (default: :obj:`False`)
        alpha (float): Initial :math:`\alpha`. (default: :obj:`0.1`)
        alpha_min (float): Floor of :math:`\alpha`. (default: :obj:`1e-3`)
        learn_alpha (bool): Learn :math:`\alpha`. (default: :obj:`True`)
        bias (bool): Learn a bias (a :math:`k`-vector, or one scalar in the
            equivariant form), initialised to zero. (default: :obj:`False`)
        normalize (bool): Normalise the adjacency symmetrically.
            (default: :obj:`True`)

    Shapes:
        - **input:** memberships :math:`(N, k)`, a graph (``edge_index``
          :math:`(2, |\mathcal{E}|)` with optional edge weights
          :math:`(|\mathcal{E}|)`, a sparse or dense :math:`(N, N)`
          matrix, a ``SparseTensor``, an ``EdgeIndex`` or an
          :class:`~pyg_symnmf.Adjacency`); optional sorted ``batch``
          :math:`(N)`; optional ``h_prev`` :math:`(N, k)`
        - **output:** memberships :math:`(N, k)`, nonnegative
    """

    def __init__(self, k: Optional[int] = None, weight: str = 'full',
                 momentum: bool = False, alpha: float = DEFAULT_ALPHA,
                 alpha_min: float = 1e-3, learn_alpha: bool = True,
                 bias: bool = False, normalize: bool = True) -> None:
        super().__init__()
        if weight not in WEIGHT_FORMS:
            raise ValueError(f"'weight' must be one of {WEIGHT_FORMS}, got "
                             f"{weight!r}")
        if weight == 'full' or k is not None:
            k = check_rank(k)
        check_number('alpha_min', alpha_min, low=0, low_open=True)
        check_number('alpha', alpha, low=alpha_min, low_open=True)
        self.k, self.weight_form, self.momentum = k, weight, momentum
        self.alpha_init, self.alpha_min = float(alpha), float(alpha_min)
        self.learn_alpha, self.normalize = learn_alpha, normalize
        self._cache = OperatorCache()

        if weight == 'full':
            assert k is not None  # checked above
            self.weight = Parameter(torch.empty(k, k))
        else:  # W = a I + b 11^T / k
            self.weight = Parameter(torch.empty(2))
        rho = torch.empty(())
        if learn_alpha:
            self.rho = Parameter(rho)
        else:
            self.register_buffer('rho', rho)
        self.bias = Parameter(torch.empty(1 if k is None or weight != 'full'
                                          else k)) if bias else None
        self.shift = Parameter(torch.empty(())) if momentum else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Back to one classical iteration: :math:`\mathbf{W} = \mathbf{I}`,
        :math:`\mathbf{b} = 0`, :math:`c = 0`, :math:`\alpha` at its initial
        value."""
        with torch.no_grad():
            if self.weight_form == 'full':
                self.weight.copy_(torch.eye(self.weight.size(0)))
            else:
                self.weight.copy_(torch.tensor([1.0, 0.0]))
            # Inverse softplus, so that alpha starts exactly at alpha_init.
            self.rho.fill_(math.log(math.expm1(self.alpha_init -
                                               self.alpha_min)))
            if self.bias is not None:
                self.bias.zero_()
            if self.shift is not None:
                self.shift.zero_()
        self._cache.clear()

    @property
    def alpha(self) -> Tensor:
        r"""The current :math:`\alpha \ge \alpha_{\min}` (relative to the
        operator's scale)."""
        return self.alpha_min + F.softplus(self.rho)

    def linear(self, k: int) -> Tensor:
        r"""The :math:`k \times k` matrix :math:`\mathbf{W}`."""
        if self.weight_form == 'full':
            return self.weight
        a, b = self.weight
        eye = torch.eye(k, dtype=self.weight.dtype, device=self.weight.device)
        return a * eye + (b / k) * torch.ones_like(eye)

    def adjacency(self, edge_index: GraphLike, edge_weight: OptTensor = None,
                  num_nodes: Optional[int] = None,
                  dtype: Optional[torch.dtype] = None) -> Adjacency:
        """The operator of a graph, cached on the graph tensor's identity
        and version (see :class:`~pyg_symnmf.OperatorCache`)."""
        return self._cache.get(edge_index, edge_weight, num_nodes,
                               normalize=self.normalize, dtype=dtype)

    def step(self, h: Tensor, adj: Adjacency, batch: OptTensor = None,
             h_prev: OptTensor = None) -> tuple[Tensor, Tensor, Tensor]:
        r"""The block on a built operator, also returning what the loss of
        the input needs for free: :math:`(\mathbf{H}^\prime,
        \mathbf{H}^\top\mathbf{H}, \langle\mathbf{H},
        \mathbf{A}\mathbf{H}\rangle)` (the last two per graph with
        ``batch``)."""
        alpha = self.scaled_alpha(adj.scale, h.dtype)
        p = propagate(adj, h, alpha)
        g = gram(h, batch)
        trace = g.diagonal(dim1=-2, dim2=-1).sum(-1)
        if batch is None:
            cross = torch.vdot(h.reshape(-1), p.reshape(-1))
        else:
            cross = scatter((h * p).sum(1), batch, 0, g.size(0), 'sum')
        return self.update(h, p, g, alpha, batch, h_prev), g, \
            cross - alpha * trace

    def scaled_alpha(self, scale: Union[float, Tensor], dtype: torch.dtype
                     ) -> Tensor:
        r""":math:`\alpha s` for an operator of scale :math:`s`."""
        return self.alpha.to(dtype) * scale

    def update(self, h: Tensor, p: Tensor, g: Tensor, alpha: Tensor,
               batch: OptTensor = None, h_prev: OptTensor = None) -> Tensor:
        r"""The block from :math:`\mathbf{P} = \mathbf{A}\mathbf{H} +
        \alpha s\mathbf{H}` and :math:`\mathbf{G} = \mathbf{H}^\top
        \mathbf{H}` computed by the caller (locally, or across processes)."""
        bias = None if self.bias is None else self.bias.expand(h.size(1))
        shift = None
        if self.shift is not None and h_prev is not None:
            shift = self.shift.to(h.dtype) * (h - h_prev)
        return block_update(p, g, alpha, self.linear(h.size(1)), bias, batch,
                            shift)

    def forward(self, h: Tensor, edge_index: GraphLike,
                edge_weight: OptTensor = None, batch: OptTensor = None,
                h_prev: OptTensor = None) -> Tensor:
        adj = self.adjacency(edge_index, edge_weight, h.size(0)
                             if isinstance(h, Tensor) else None,
                             h.dtype if isinstance(h, Tensor) else None)
        check_nodes_tensor('h', h, adj.num_nodes, adj.device, adj.dtype,
                           self.k)
        if h_prev is not None:
            check_nodes_tensor('h_prev', h_prev, adj.num_nodes, adj.device,
                               adj.dtype, h.size(1))
        return self.step(h, adj, check_batch(batch, adj.num_nodes),
                         h_prev)[0]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        weight = state_dict.get(prefix + 'weight')
        if weight is not None and weight.shape != self.weight.shape:
            form = "an 'equivariant'" if weight.dim() == 1 else \
                f"a 'full' (k={weight.size(0)})"
            raise ValueError(
                f"The state_dict holds {form} block weight of shape "
                f"{list(weight.shape)} but this block is "
                f"{self.weight_form!r} with shape {list(self.weight.shape)} "
                f"(k={self.k}); build the block with the k and weight form "
                f"it was trained with")
        for name, value in state_dict.items():
            if name.startswith(prefix) and isinstance(value, Tensor) and \
                    value.is_floating_point() and \
                    not bool(torch.isfinite(value).all()):
                raise ValueError(f"The state_dict entry {name!r} holds NaN "
                                 f"or Inf; refusing to load it")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def __repr__(self) -> str:
        extra = ', momentum=True' if self.momentum else ''
        extra += ', bias=True' if self.bias is not None else ''
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'weight={self.weight_form!r}, alpha={self.alpha_init:g}, '
                f'alpha_min={self.alpha_min:g}{extra})')
