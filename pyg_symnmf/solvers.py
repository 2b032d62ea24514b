r"""Classical SymNMF solvers on the same sparse operator as SymNMF-Net.

Each method is one small update rule with a damping :math:`\alpha > 0`
(large :math:`\alpha` = short, safe step). :func:`solve` runs every method
through one safeguarded loop, so every method is a descent method:

1. propose :math:`\mathbf{H}^{+}` = the method's update of
   :math:`\mathbf{H}` at the current :math:`\alpha`, and evaluate its loss
   from :math:`\mathbf{A}\mathbf{H}^{+}` (one SpMM, reused by the next
   update) and :math:`\mathbf{H}^{+\top}\mathbf{H}^{+}`;
2. accept it if the loss did not rise, and relax :math:`\alpha` (times
   0.7, down to a tenth of its initial value); otherwise keep
   :math:`\mathbf{H}`, raise :math:`\alpha` fourfold and try again.

Every update tends to a projected-gradient step of length
:math:`O(1/\alpha)` as :math:`\alpha \to \infty`, so a large enough
:math:`\alpha` always descends (Zhu et al. 2018 give a safe floor for
ANLS): the loss history is monotone and the result is the best iterate.
:math:`\alpha` is relative to :attr:`Adjacency.scale
<pyg_symnmf.Adjacency.scale>` (1 for a normalised graph), so one setting
serves any weight scale.

- ``"anls"``: ANLS-ReLU, the scheme SymNMF-Net unrolls (Kuang et al. 2015;
  Zhu et al. 2018): :math:`\mathbf{H} \leftarrow \mathrm{ReLU}((\mathbf{A
  H} + \alpha\mathbf{H})(\mathbf{H}^\top\mathbf{H}+\alpha\mathbf{I})^{-1})`.
- ``"hals"``: SymHALS (Zhu et al. 2018), exact column-wise minimisation of
  the same penalised split problem, one column at a time.
- ``"mu"``: damped multiplicative updates :math:`\mathbf{H} \leftarrow
  \mathbf{H}\circ(\mathbf{A}\mathbf{H} + \alpha\mathbf{H}) \oslash
  (\mathbf{H}\mathbf{H}^\top\mathbf{H} + \alpha\mathbf{H})`.
- ``"pgd"``: projected gradient, step :math:`1/(4(\alpha +
  3\|\mathbf{H}^\top\mathbf{H}\|_F))`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from torch import Tensor

from .adjacency import Adjacency
from .exceptions import ConvergenceWarning, warn_at_caller
from .progress import progress, show_loss
from .functional import (block_update, gram, inversion_layer,
                         loss_value, propagate, spmm)

__all__ = ['CLASSICAL_METHODS', 'SolverResult', 'solve', 'anls_step']

CLASSICAL_METHODS = ('anls', 'hals', 'mu', 'pgd')
DEFAULT_ALPHA = 0.1
_RELAX, _RAISE = 0.7, 4.0
# Multiples of the initial alpha. Relaxing far below the start was
# measured to end in worse minima (digits 7-NN, raw, 5 seeds: loss 2727.4 at
# 1e-3, 2724.3 at 0.1).
_ALPHA_RANGE = (0.1, 1e12)

# An update maps (H, A H, H^T H, alpha, out, scratch) to a proposed H,
# written into out.
Update = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], Tensor]


@dataclass
class SolverResult:
    """What :func:`solve` returns: the best iterate and its diagnostics.

    Attributes:
        h: Memberships :math:`(N, k)`, the best iterate (the last accepted).
        loss_curve: Loss after each iteration (index 0: the start);
            non-increasing.
        n_iter: Iterations run (each costs one SpMM).
        n_spmm: Sparse products with :math:`\\mathbf{A}` in all.
        converged: Whether ``tol`` stopped the loop before ``max_iter``.
        alpha: The final damping, relative to the operator's scale.
    """
    h: Tensor
    loss_curve: list[float] = field(default_factory=list)
    n_iter: int = 0
    n_spmm: int = 0
    converged: bool = False
    alpha: float = DEFAULT_ALPHA


def anls_step(adj: Adjacency, h: Tensor, alpha: float,
              ah: Optional[Tensor] = None) -> Tensor:
    r"""One ANLS-ReLU iteration at a fixed penalty (relative to
    :attr:`Adjacency.scale <pyg_symnmf.Adjacency.scale>`): what an untrained
    SymNMF-Net block computes."""
    a = h.new_tensor(alpha * float(adj.scale))
    ah = propagate(adj, h) if ah is None else ah
    # Out-of-place (block_update), so that it stays differentiable.
    return block_update(torch.add(ah, h, alpha=float(a)), gram(h), a)


def solve(adj: Adjacency, h0: Tensor, method: str = 'anls', *,
          max_iter: int = 300, tol: float = 1e-6,
          alpha: float = DEFAULT_ALPHA, verbose: bool = False,
          warn: bool = True) -> SolverResult:
    r"""Runs a classical method from ``h0`` through the safeguarded loop
    (module docstring); arguments as :func:`pyg_symnmf.symnmf`, already
    validated. Warns with :class:`~pyg_symnmf.ConvergenceWarning` when
    ``max_iter`` is reached with ``tol > 0``.

    Memory: besides ``h0`` (never written), the loop holds four
    :math:`N \times k` buffers, allocated once: the current
    :math:`\mathbf{H}` and :math:`\mathbf{A}\mathbf{H}`, and the candidate
    and its product, written in place (``out=``) and swapped on
    acceptance. The candidate's product buffer is the update's scratch
    space until the SpMM overwrites it. Per iteration: one SpMM, one
    :math:`N \times k \times k` GEMM for the update and one for the Gram
    matrix, a dot product for the loss, no fresh :math:`N \times k`
    tensor (``"hals"`` allocates :math:`N`-vectors per column)."""
    update = _UPDATES[method]
    scale = float(adj.scale)
    a = alpha * scale
    a_min, a_max = (bound * a for bound in _ALPHA_RANGE)
    with torch.no_grad():
        h = h0
        ah = propagate(adj, h)  # validates shape and dtype once
        g = gram(h)
        loss = loss_value(adj, h, ah, g)
        result = SolverResult(h, [loss], 0, 1)
        spare_h: Optional[Tensor] = None  # the buffer h does not occupy
        spare_ah = ah.new_empty(ah.shape)
        steps = progress(range(1, max_iter + 1), method.upper(), verbose)
        for it in steps:
            if spare_h is None:
                spare_h = h.new_empty(h.shape)
            # The update writes the candidate into spare_h, using spare_ah
            # as scratch; the SpMM then overwrites spare_ah.
            cand = update(h, ah, g, h.new_tensor(a), spare_h, spare_ah)
            cand_ah = spmm(adj.csr, cand, out=spare_ah)
            cand_g = gram(cand)
            cand_loss = loss_value(adj, cand, cand_ah, cand_g)
            result.n_iter, result.n_spmm = it, it + 1
            if cand_loss <= loss:
                decrease = loss - cand_loss
                # Swap: the old H and A H become the next candidate's
                # buffers (h0 is the caller's: never reused).
                spare_h = None if h is h0 else h
                spare_ah = ah
                h, ah, g, loss = cand, cand_ah, cand_g, cand_loss
                a = max(a * _RELAX, a_min)
                # Relative to the part of ||A||^2 explained so far, not to
                # the loss: from a random start on a large normalised graph
                # the loss is ~||A||^2 and early steps move it by ~1e-5.
                explained = float(adj.sq_norm) - loss
                done = decrease <= tol * max(explained if explained > 0
                                             else loss, 1e-30)
            else:  # rejected: a shorter step from the same point
                a *= _RAISE
                done = a > a_max  # no step descends: stationary
            result.loss_curve.append(loss)
            show_loss(steps, loss)
            if done:
                result.converged = True
                break
        del spare_h, spare_ah
    if warn and tol > 0 and not result.converged and max_iter > 0:
        warn_at_caller(f"{method!r} reached max_iter={max_iter} before "
                       f"the relative loss decrease fell below tol={tol:g}; "
                       f"increase max_iter or tol", ConvergenceWarning)
    result.h, result.alpha = h, a / scale
    return result


# An update writes the proposed H into ``out`` and returns it; ``scratch``
# (N x k) is free for its intermediates. Neither aliases h or ah.


def _anls(h: Tensor, ah: Tensor, g: Tensor, alpha: Tensor, out: Tensor,
          scratch: Tensor) -> Tensor:
    # ReLU((A H + alpha H) (G + alpha I)^{-1}): one N x k pass for P, one
    # GEMM, ReLU in place (as block_update with W = I, no bias).
    p = torch.add(ah, h, alpha=float(alpha), out=scratch)
    return torch.mm(p, inversion_layer(g, alpha), out=out).relu_()


def _hals(h: Tensor, ah: Tensor, g: Tensor, alpha: Tensor, out: Tensor,
          scratch: Tensor) -> Tensor:
    h = out.copy_(h)
    # A h_j only changes at column j's turn, so A H from the start of the
    # sweep serves every column.
    for j in range(h.size(1)):
        hj = h[:, j]
        sq = hj.dot(hj)
        residual = ah[:, j] - h @ (h.t() @ hj) + (sq + alpha) * hj
        h[:, j] = torch.relu(residual / (sq + alpha))
    return h


def _mu(h: Tensor, ah: Tensor, g: Tensor, alpha: Tensor, out: Tensor,
        scratch: Tensor) -> Tensor:
    numer = torch.add(ah, h, alpha=float(alpha), out=scratch)
    denom = torch.addmm(h, h, g, beta=float(alpha), out=out)
    denom.clamp_min_(torch.finfo(h.dtype).tiny)
    return torch.div(numer.mul_(h), denom, out=out)


def _pgd(h: Tensor, ah: Tensor, g: Tensor, alpha: Tensor, out: Tensor,
         scratch: Tensor) -> Tensor:
    grad = torch.mm(h, g, out=scratch).sub_(ah).mul_(4)
    step = 1.0 / (4 * (float(alpha) + 3 * float(g.norm())))
    return torch.mul(grad, step, out=out).neg_().add_(h).relu_()


_UPDATES: dict[str, Update] = {'anls': _anls, 'hals': _hals, 'mu': _mu,
                               'pgd': _pgd}
