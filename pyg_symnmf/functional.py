r"""Stateless SymNMF math on an :class:`~pyg_symnmf.Adjacency`.

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

from .adjacency import Adjacency, GraphLike, to_adjacency
from .validation import check_batch, check_nodes_tensor

__all__ = ['propagate', 'gram', 'inversion_layer', 'block_update',
           'loss_from_parts', 'loss_value', 'symnmf_loss',
           'symnmf_loss_of',
           'sq_norm_per_graph']


def spmm(csr: Tensor, h: Tensor, alpha: Optional[Tensor] = None,
         out: Optional[Tensor] = None) -> Tensor:
    r"""The package's one sparse-dense product, :math:`\mathbf{A}\mathbf{H}`
    (plus :math:`\alpha\mathbf{H}` for a square :math:`\mathbf{A}`, in the
    same pass), optionally written into ``out``: the layers, the solvers
    and the distributed shards all multiply here, so device-specific
    choices live in one place. On CPU ``addmm`` fuses the shift and writes
    straight into ``out`` (``beta=0`` reads ``out`` as nothing, NaN
    included), where ``mm(out=)`` goes through an :math:`N \times k`
    temporary; on accelerators the shift is added on the device (reading
    ``alpha`` on the host would synchronise)."""
    if out is not None:
        if out.device.type == 'cpu':
            return torch.addmm(out, csr, h, beta=0.0, out=out)
        return torch.mm(csr, h, out=out)
    if alpha is None:
        return csr @ h
    if alpha.device.type == 'cpu':
        return torch.addmm(h, csr, h, beta=float(alpha))
    return (csr @ h).addcmul_(h, alpha)


class _Propagate(torch.autograd.Function):
    r"""``(A + alpha I) @ H`` in one sparse pass (``alpha`` may be ``None``).

    The backward reuses ``A`` (``A^T = A``) for ``H`` and, when the values
    of ``A`` need a gradient, samples ``grad @ H^T`` at A's nonzeros (an
    SDDMM): :math:`\partial/\partial a_{ij} = \langle g_i, h_j\rangle`."""

    @staticmethod
    def forward(ctx, csr: Tensor, values: Tensor, h: Tensor,
                alpha: Optional[Tensor]):
        ctx.csr = csr
        ctx.save_for_backward(h, alpha)
        return spmm(csr, h, alpha)

    @staticmethod
    def backward(ctx, grad: Tensor):
        h, alpha = ctx.saved_tensors
        grad = grad.contiguous()
        grad_h = grad_values = grad_alpha = None
        if ctx.needs_input_grad[2]:
            grad_h = _Propagate.apply(ctx.csr, ctx.csr.values(), grad, alpha)
        if ctx.needs_input_grad[1]:
            grad_values = torch.sparse.sampled_addmm(
                ctx.csr, grad, h.t(), beta=0.0).values()
        if alpha is not None and ctx.needs_input_grad[3]:
            grad_alpha = torch.vdot(h.reshape(-1), grad.reshape(-1))
        return None, grad_values, grad_h, grad_alpha


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
    :math:`(N, k)`. Differentiable in :math:`\mathbf{H}`, :math:`\alpha`
    and the values of :math:`\mathbf{A}` (hence the edge weights)."""
    check_nodes_tensor('h', h, adj.num_nodes, adj.device, adj.dtype,
                       finite=False)  # no full read on the hot path
    return _Propagate.apply(adj.csr, adj.values, h, alpha)


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


def block_update(p: Tensor, g: Tensor, alpha: Tensor,
                 weight: Optional[Tensor] = None,
                 bias: Optional[Tensor] = None,
                 batch: Optional[Tensor] = None,
                 shift: Optional[Tensor] = None) -> Tensor:
    r"""The row-wise and :math:`k \times k` part of one SymNMF-Net block:

    .. math::
        \mathbf{H}^{+} = \mathrm{ReLU}\big(\mathbf{P}(\mathbf{G} +
        \alpha\mathbf{I})^{-1}\mathbf{W} + \mathbf{b} + \mathbf{S}\big)

    from :math:`\mathbf{P} = \mathbf{A}\mathbf{H} + \alpha\mathbf{H}` and
    :math:`\mathbf{G} = \mathbf{H}^\top\mathbf{H}` (:math:`(B, k, k)`
    with ``batch``), which callers compute (locally, or across processes).
    With :math:`\mathbf{W} = \mathbf{I}`, no bias and no shift this is one
    ANLS-ReLU iteration of the penalised split problem
    :math:`\min_{U,V\ge 0}\|\mathbf{A}-\mathbf{U}\mathbf{V}^\top\|_F^2 +
    \alpha\|\mathbf{U}-\mathbf{V}\|_F^2` at :math:`U = V = H`.
    :math:`(\mathbf{G}+\alpha\mathbf{I})^{-1}\mathbf{W}` is formed first
    (:math:`k \times k`), so the dense work is one :math:`N \times k
    \times k` GEMM. ``shift`` :math:`(N, k)` is added inside the ReLU (an
    extrapolation term).
    """
    m = inversion_layer(g, alpha, weight)
    if batch is None:
        out = p @ m if bias is None else torch.addmm(bias.to(p.dtype), p, m)
    else:
        dense, mask = to_dense_batch(p, batch)
        out = torch.bmm(dense, m)[mask]
        if bias is not None:
            out = out + bias.to(p.dtype)
    if shift is not None:
        out = out + shift
    return torch.relu_(out)  # out is a fresh tensor: no copy needed


def loss_from_parts(sq_norm: Tensor, cross: Tensor, g: Tensor) -> Tensor:
    r""":math:`\|\mathbf{A}-\mathbf{H}\mathbf{H}^\top\|_F^2 =
    \|\mathbf{A}\|_F^2 - 2\langle\mathbf{H}, \mathbf{A}\mathbf{H}\rangle +
    \|\mathbf{H}^\top\mathbf{H}\|_F^2` from its three terms (``cross`` =
    :math:`\langle\mathbf{H}, \mathbf{A}\mathbf{H}\rangle`, ``g`` the Gram
    matrix or matrices); batched terms give one loss per graph. Clamped at
    zero against round-off."""
    return (sq_norm - 2 * cross + g.square().sum(dim=(-2, -1))).clamp_min(0)


def loss_value(adj: Adjacency, h: Tensor, ah: Tensor, g: Tensor) -> float:
    r"""The loss of ``h`` as a float from its :math:`\mathbf{A}\mathbf{H}`
    and Gram matrix, with no autograd graph kept: what the safeguarded
    loops compare each candidate by."""
    return float(loss_from_parts(adj.sq_norm, torch.vdot(
        h.reshape(-1), ah.reshape(-1)), g).detach())


def symnmf_loss_of(adj: Adjacency, h: Tensor, ah: Optional[Tensor] = None,
                   batch: Optional[Tensor] = None) -> Tensor:
    r"""The SymNMF loss of ``h`` on an :class:`~pyg_symnmf.Adjacency`,
    reusing :math:`\mathbf{A}\mathbf{H}` when given: a scalar, or shape
    :math:`(B,)` with ``batch``."""
    ah = propagate(adj, h) if ah is None else ah
    if batch is None:
        return loss_from_parts(adj.sq_norm, torch.vdot(h.reshape(-1),
                                                       ah.reshape(-1)),
                               gram(h))
    sq_norm = sq_norm_per_graph(adj, batch)
    cross = scatter((h * ah).sum(dim=1), batch, 0, sq_norm.numel(), 'sum')
    return loss_from_parts(sq_norm, cross, gram(h, batch))


def sq_norm_per_graph(adj: Adjacency, batch: Tensor) -> Tensor:
    r""":math:`\|\mathbf{A}_b\|_F^2` of each graph of a block-diagonal batch,
    shape :math:`(B,)`."""
    num_graphs = int(batch.max()) + 1 if batch.numel() > 0 else 0
    return scatter(adj.values.square(), batch[adj.row()], 0, num_graphs,
                   'sum')


def symnmf_loss(edge_index: GraphLike, h: Tensor,
                edge_weight: Optional[Tensor] = None,
                num_nodes: Optional[int] = None, *,
                normalize: Optional[bool] = None,
                batch: Optional[Tensor] = None) -> Tensor:
    r"""The SymNMF loss :math:`\|\mathbf{A}-\mathbf{H}\mathbf{H}^\top\|_F^2`
    of memberships ``h`` :math:`(N, k)` on a graph in any form
    :func:`~pyg_symnmf.to_adjacency` accepts, computed from the nonzeros of
    :math:`\mathbf{A}` in :math:`O(|\mathcal{E}|k + Nk^2)`.
    Differentiable in ``h`` and ``edge_weight``; one loss per graph with
    ``batch`` (shape :math:`(B,)`)."""
    if num_nodes is None and isinstance(h, Tensor) and \
            not isinstance(edge_index, Adjacency):
        num_nodes = h.size(0)
    adj = to_adjacency(edge_index, edge_weight, num_nodes,
                       normalize=normalize,
                       dtype=h.dtype if isinstance(h, Tensor)
                       and h.is_floating_point() else None)
    check_nodes_tensor('h', h, adj.num_nodes, adj.device, adj.dtype)
    return symnmf_loss_of(adj, h, batch=check_batch(batch, adj.num_nodes))
