r"""Stateless SymNMF math on an :class:`~pyg_symnmf.adjacency.Adjacency`.

Nothing here forms :math:`\mathbf{H}\mathbf{H}^\top`: the only
:math:`O(|\mathcal{E}|)` work is the sparse-dense product
:math:`\mathbf{A}\mathbf{H}`; everything else is :math:`O(Nk^2)` or
:math:`O(k^3)`. Functions taking ``batch`` treat a block-diagonal adjacency
as independent graphs (one :math:`k \times k` Gram matrix per graph).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch_geometric.utils import scatter, to_dense_batch

from .adjacency import Adjacency, to_adjacency


class _Propagate(torch.autograd.Function):
    r"""``(A + alpha I) @ H`` in one sparse pass (``alpha`` may be ``None``).
    The backward reuses ``A`` (``A^T = A``) and is itself differentiable."""

    @staticmethod
    def forward(ctx, csr: Tensor, h: Tensor, alpha: Optional[Tensor]):
        ctx.csr = csr
        ctx.save_for_backward(h, alpha)
        if alpha is None:
            return csr @ h
        if alpha.device.type == 'cpu':  # reading alpha costs no device sync
            return torch.addmm(h, csr, h, beta=float(alpha))  # one pass
        return (csr @ h).addcmul_(h, alpha)  # no host sync on accelerators

    @staticmethod
    def backward(ctx, grad: Tensor):
        h, alpha = ctx.saved_tensors
        grad = grad.contiguous()
        grad_h = _Propagate.apply(ctx.csr, grad, alpha)
        grad_alpha = None
        if alpha is not None and ctx.needs_input_grad[2]:
            grad_alpha = torch.vdot(h.reshape(-1), grad.reshape(-1))
        return None, grad_h, grad_alpha


class _Gram(torch.autograd.Function):
    """``H^T H`` whose backward is one GEMM, ``H (dG + dG^T)``."""

    @staticmethod
    def forward(ctx, h: Tensor) -> Tensor:
        ctx.save_for_backward(h)
        return h.t() @ h

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        h, = ctx.saved_tensors
        return h @ (grad + grad.t())


def propagate(adj: Adjacency, h: Tensor,
              alpha: Optional[Tensor] = None) -> Tensor:
    r"""Sparse-dense product :math:`\mathbf{A}\mathbf{H}` (or
    :math:`\mathbf{A}\mathbf{H} + \alpha\mathbf{H}`, fused), shape
    :math:`(N, k)`. Differentiable in :math:`\mathbf{H}` and :math:`\alpha`;
    :math:`\mathbf{A}` is a constant."""
    check_membership(h, adj)
    return _Propagate.apply(adj.csr, h, alpha)


def gram(h: Tensor, batch: Optional[Tensor] = None) -> Tensor:
    r"""Gram matrix :math:`\mathbf{H}^\top\mathbf{H}`: :math:`(k, k)`, or
    :math:`(B, k, k)` (one per graph) when ``batch`` is given."""
    if batch is None:
        return _Gram.apply(h)
    dense, _ = to_dense_batch(h, batch)
    return dense.transpose(1, 2) @ dense


def inversion_layer(g: Tensor, alpha: Tensor, weight: Optional[Tensor] = None
                    ) -> Tensor:
    r"""Solves :math:`(\mathbf{G} + \alpha\mathbf{I})\mathbf{M} = \mathbf{W}`
    by Cholesky.

    With :math:`\alpha > 0` and :math:`\mathbf{G} \succeq 0` the system is
    positive definite and :math:`\|\mathbf{M}\|_2 \le \|\mathbf{W}\|_2 /
    \alpha`, which bounds every block's output (the stability constraint).
    The :math:`k \times k` solve runs in float64 whatever the input dtype:
    it costs :math:`O(k^3)` and removes round-off failures of the
    factorisation when :math:`\mathbf{G}` is large and :math:`\alpha` small.

    Args:
        g (torch.Tensor): Gram matrices, :math:`(k, k)` or :math:`(B, k, k)`.
        alpha (torch.Tensor): Scalar :math:`\alpha > 0` (0-dim tensor).
        weight (torch.Tensor, optional): Right-hand side :math:`\mathbf{W}`,
            :math:`(k, k)`. (default: identity, i.e. the inverse)

    Returns:
        :math:`\mathbf{M} = (\mathbf{G} + \alpha\mathbf{I})^{-1}\mathbf{W}`
        with the shape and dtype of ``g``.
    """
    k = g.size(-1)
    eye = torch.eye(k, dtype=torch.float64, device=g.device)
    system = g.double() + alpha.double() * eye
    # SPD by construction (alpha > 0): skip the error check's host sync.
    chol, _ = torch.linalg.cholesky_ex(system)
    rhs = eye if weight is None else weight.double()
    return torch.cholesky_solve(rhs.expand_as(system), chol).to(g.dtype)


def block_update(adj: Optional[Adjacency], h: Tensor, alpha: Tensor,
                 weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
                 batch: Optional[Tensor] = None,
                 ah: Optional[Tensor] = None,
                 g: Optional[Tensor] = None) -> Tensor:
    r"""One SymNMF-Net block:

    .. math::
        \mathbf{H}^{+} = \mathrm{ReLU}\big((\mathbf{A}\mathbf{H} + \alpha
        \mathbf{H})(\mathbf{H}^\top\mathbf{H} + \alpha\mathbf{I})^{-1}
        \mathbf{W} + \mathbf{b}\big)

    With :math:`\mathbf{W} = \mathbf{I}`, :math:`\mathbf{b} = 0` this is one
    ANLS-ReLU iteration of the penalised split problem
    :math:`\min_{U,V\ge 0}\|\mathbf{A}-\mathbf{U}\mathbf{V}^\top\|_F^2 +
    \alpha\|\mathbf{U}-\mathbf{V}\|_F^2` at :math:`U = V = H`.
    :math:`\mathbf{G}^{-1}\mathbf{W}` is formed first (:math:`k \times k`),
    so the block costs one SpMM and one :math:`N \times k \times k` GEMM.
    ``ah`` and ``g`` may pass a precomputed :math:`\mathbf{A}\mathbf{H}`
    and Gram matrix (the distributed model computes them across ranks).
    """
    p = propagate(adj, h, alpha) if ah is None else torch.addcmul(ah, alpha, h)
    m = inversion_layer(gram(h, batch) if g is None else g, alpha, weight)
    if bias is not None:
        bias = bias.to(p.dtype)
    if batch is None:
        out = p @ m if bias is None else torch.addmm(bias, p, m)
    else:
        dense, mask = to_dense_batch(p, batch)
        out = torch.bmm(dense, m)[mask]
        if bias is not None:
            out = out + bias
    return torch.relu_(out)  # out is a fresh tensor: no copy needed


def symnmf_loss_parts(adj: Adjacency, h: Tensor, ah: Tensor,
                      batch: Optional[Tensor] = None) -> Tensor:
    r""":math:`\|\mathbf{A}-\mathbf{H}\mathbf{H}^\top\|_F^2 =
    \|\mathbf{A}\|_F^2 - 2\langle\mathbf{H}, \mathbf{A}\mathbf{H}\rangle +
    \|\mathbf{H}^\top\mathbf{H}\|_F^2` from a known
    :math:`\mathbf{A}\mathbf{H}`: a scalar, or one value per graph
    (shape :math:`(B,)`) with ``batch``. Clamped at zero against round-off.
    """
    if batch is None:
        loss = adj.sq_norm - 2 * (h * ah).sum() + gram(h).square().sum()
        return loss.clamp_min(0)
    a_sq = sq_norm_per_graph(adj, batch)
    cross = scatter((h * ah).sum(dim=1), batch, 0, a_sq.numel())
    g_sq = gram(h, batch).square().sum(dim=(1, 2))
    return (a_sq - 2 * cross + g_sq).clamp_min(0)


def sq_norm_per_graph(adj: Adjacency, batch: Tensor) -> Tensor:
    r""":math:`\|\mathbf{A}_b\|_F^2` of each graph of a block-diagonal batch,
    shape :math:`(B,)`."""
    num_graphs = int(batch.max()) + 1 if batch.numel() > 0 else 0
    return scatter(adj.values().square(), batch[adj.row()], 0, num_graphs)


def symnmf_loss(edge_index, h: Tensor, edge_weight: Optional[Tensor] = None,
                num_nodes: Optional[int] = None, *, normalize: bool = True,
                batch: Optional[Tensor] = None) -> Tensor:
    r"""The SymNMF loss :math:`\|\mathbf{A}-\mathbf{H}\mathbf{H}^\top\|_F^2`
    of memberships ``h`` :math:`(N, k)` on a graph in any form
    :func:`~pyg_symnmf.to_adjacency` accepts (an
    :class:`~pyg_symnmf.Adjacency` is used as is), computed from the
    nonzeros of :math:`\mathbf{A}` in :math:`O(|\mathcal{E}|k + Nk^2)`
    (see :func:`symnmf_loss_parts`). Differentiable in ``h``; one loss per
    graph with ``batch``."""
    if num_nodes is None and isinstance(h, Tensor):
        num_nodes = h.size(0)
    adj = to_adjacency(edge_index, edge_weight, num_nodes,
                       normalize=normalize,
                       dtype=h.dtype if isinstance(h, Tensor) else None)
    return symnmf_loss_parts(adj, h, propagate(adj, h), batch)


def check_membership(h: Tensor, adj: Adjacency,
                     k: Optional[int] = None) -> None:
    """Raises a clear error unless ``h`` is an :math:`(N, k)` float tensor on
    the adjacency's device."""
    if not isinstance(h, Tensor):
        raise TypeError(f"'h' must be a tensor, got {type(h).__name__}")
    if not h.is_floating_point():
        raise TypeError(f"'h' must be a floating-point tensor, got {h.dtype}")
    if h.dim() != 2 or h.size(0) != adj.num_nodes:
        raise ValueError(f"'h' must have shape [num_nodes={adj.num_nodes}, "
                         f"k], got {list(h.shape)}")
    if k is not None and h.size(1) != k:
        raise ValueError(f"'h' has {h.size(1)} columns but the model was "
                         f"built for k={k} communities")
    if h.device != adj.device:
        raise ValueError(f"'h' is on {h.device} but the graph is on "
                         f"{adj.device}; move both to the same device")
    if h.dtype != adj.dtype:
        raise TypeError(f"'h' is {h.dtype} but the graph's weights are "
                        f"{adj.dtype}; build the adjacency with dtype="
                        f"{h.dtype} or cast 'h'")


def check_rank(k, num_nodes: Optional[int] = None) -> int:
    """Validates a number of communities ``k``: an int in ``[1, num_nodes]``."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"'k' (number of communities) must be an int, got "
                        f"{type(k).__name__} {k!r}")
    if k < 1:
        raise ValueError(f"'k' (number of communities) must be >= 1, got {k}")
    if num_nodes is not None and k > num_nodes:
        raise ValueError(f"'k'={k} exceeds the number of nodes {num_nodes}; "
                         f"choose k <= num_nodes")
    return k
