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

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Protocol

import torch
from torch import Tensor

from .adjacency import Adjacency
from .defaults import DEFAULT_ALPHA, DEFAULT_MAX_ITER, DEFAULT_TOL
from .exceptions import ConvergenceWarning, warn_at_caller
from .functional import (block_update, gram, inversion_layer,
                         loss_value, propagate, spmm)
from .init import optimal_scale
from .progress import progress, show_loss

if TYPE_CHECKING:  # the net's modules sit above the solvers
    from .nn import SymNMFNet

__all__ = ['CLASSICAL_METHODS', 'SolverResult', 'solve', 'run_net',
           'descend', 'DampedUpdate', 'NetSteps', 'anls_step']

CLASSICAL_METHODS = ('anls', 'hals', 'mu', 'pgd')
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
          max_iter: int = DEFAULT_MAX_ITER, tol: float = DEFAULT_TOL,
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
    scale = float(adj.scale)
    a = alpha * scale
    rule = DampedUpdate(_UPDATES[method], a,
                        *(bound * a for bound in _ALPHA_RANGE))
    with torch.no_grad():
        result = descend(adj, h0, rule, max_iter=max_iter, tol=tol,
                         name=method.upper(), verbose=verbose, in_place=True)
    if warn:
        warn_unconverged(result, method, max_iter, tol)
    result.alpha = rule.alpha / scale
    return result


def warn_unconverged(result: SolverResult, method: str, max_iter: int,
                     tol: float, what: str = '') -> None:
    """Warns with :class:`~pyg_symnmf.ConvergenceWarning` when a classical
    method's ``result`` stopped at ``max_iter`` with ``tol > 0``."""
    if tol > 0 and not result.converged and max_iter > 0:
        warn_at_caller(f"{method!r} reached max_iter={max_iter} before "
                       f"the relative loss decrease fell below tol={tol:g}"
                       f"{what}; increase max_iter or tol",
                       ConvergenceWarning)


def run_net(net: 'SymNMFNet', adj: Adjacency, h0: Tensor) -> SolverResult:
    r"""Runs the net's blocks from ``h0`` (rescaled by
    :func:`~pyg_symnmf.init.optimal_scale` first, at no SpMM) through the
    safeguarded loop with the :class:`NetSteps` rule: only improving steps
    move and the result is the best iterate. Each of the ``num_layers``
    steps costs one SpMM, plus one for the start's product (two when the
    start explains nothing of :math:`\mathbf{A}`, as one node per community
    does: it is grown by its neighbours first, :math:`\mathbf{H}_0 +
    \mathbf{A}\mathbf{H}_0`). Differentiable along the steps it takes (the
    decisions are constants), which is how
    :class:`~pyg_symnmf.SymNMFClustering` fine-tunes the pretrained
    blocks: training improves exactly what inference runs."""
    h = h0
    ah = propagate(adj, h)
    start_spmm = 1
    if not bool(torch.vdot(h.reshape(-1), ah.reshape(-1)) > 0):
        # The start explains nothing of A (e.g. one node per community at
        # k close to N: H H^T is diagonal), so its best scale is 0, a fixed
        # point of every block. Each community grown by its neighbours
        # (H + A H, still nonnegative) overlaps A wherever A has edges.
        h = h + ah
        ah = propagate(adj, h)
        start_spmm += 1
    scale = optimal_scale(h, ah)
    result = descend(adj, h * scale, NetSteps(net, adj),
                     max_iter=net.num_layers, tol=None, ah=ah * scale)
    result.n_spmm += start_spmm - 1
    result.converged = True  # a net runs all its blocks
    return result


class StepRule(Protocol):
    """What the safeguarded loop (:func:`descend`) asks of a method."""

    def propose(self, h: Tensor, ah: Tensor, g: Tensor,
                out: Optional[Tensor], scratch: Optional[Tensor]
                ) -> Tensor:
        """The candidate step from :math:`\\mathbf{H}` (written into
        ``out``, with ``scratch`` free, when the loop runs in place)."""
        ...

    def accepted(self, h: Tensor) -> None:
        """The candidate lowered the loss and replaces ``h``."""
        ...

    def rejected(self, h: Tensor) -> bool:
        """The candidate raised the loss; ``True`` when no step from
        ``h`` can descend (a stationary point: stop)."""
        ...


@dataclass
class DampedUpdate:
    """The classical methods' rule: an update at damping ``alpha``
    (absolute), relaxed after a step taken and raised after one refused,
    within ``[low, high]``."""
    update: Update
    alpha: float
    low: float
    high: float

    def propose(self, h: Tensor, ah: Tensor, g: Tensor,
                out: Optional[Tensor], scratch: Optional[Tensor]
                ) -> Tensor:
        assert out is not None and scratch is not None  # runs in place
        return self.update(h, ah, g, h.new_tensor(self.alpha), out, scratch)

    def accepted(self, h: Tensor) -> None:
        self.alpha = max(self.alpha * _RELAX, self.low)

    def rejected(self, h: Tensor) -> bool:
        self.alpha *= _RAISE  # a shorter step from the same point
        return self.alpha > self.high


class NetSteps:
    r"""The net's rule (learned-optimizer style): each step's parameters
    are conditioned on the loss, which every step gets for free from its
    own products.

    - a step that does not lower the loss is not taken: if its
      extrapolation was active, the momentum restarts; otherwise
      :math:`\alpha` is boosted fourfold (the boost halves again with each
      step taken);
    - the penalty of a step is that of block :math:`a` (the number of
      steps taken so far), its linear layer and extrapolation those of
      block :math:`m` (steps taken since the momentum last restarted):
      with every step taken this is the plain unrolled net.

    Its state is the momentum's previous iterate and the two counters."""

    def __init__(self, net: 'SymNMFNet', adj: Adjacency) -> None:
        self.net, self.adj = net, adj
        self.last = len(net.blocks) - 1
        self.h_prev: Optional[Tensor] = None
        self.boost, self.taken, self.since_restart = 1.0, 0, 0
        self.block = net.blocks[0]

    def propose(self, h: Tensor, ah: Tensor, g: Tensor,
                out: Optional[Tensor], scratch: Optional[Tensor]
                ) -> Tensor:
        blocks = self.net.blocks
        self.block = blocks[min(max(self.since_restart, 0), self.last)]
        alpha = blocks[min(self.taken, self.last)].scaled_alpha(
            self.adj.scale, self.adj.dtype) * self.boost
        return self.block.update(h, ah + alpha * h, g, alpha,
                                 h_prev=h if self.h_prev is None
                                 else self.h_prev)

    def accepted(self, h: Tensor) -> None:
        self.h_prev = h
        self.boost = max(self.boost / 2, 1.0)
        self.taken += 1
        self.since_restart += 1

    def rejected(self, h: Tensor) -> bool:
        if self.block.shift is not None and self.h_prev is not None \
                and self.h_prev is not h:
            self.h_prev, self.since_restart = h, -1  # restart the momentum
        else:
            self.boost *= 4
        return False


def descend(adj: Adjacency, h0: Tensor, rule: StepRule, *, max_iter: int,
            tol: Optional[float], name: str = '', verbose: bool = False,
            in_place: bool = False, ah: Optional[Tensor] = None
            ) -> SolverResult:
    r"""The safeguarded loop of every method: ``rule`` proposes a step, the
    loop evaluates its loss from its products (one SpMM, reused by the next
    step), takes it if the loss did not rise and tells ``rule`` either way.
    Stops after ``max_iter`` steps, when ``rule`` finds no descending step,
    or when a step taken lowers the loss by at most ``tol`` times the part
    of :math:`\|\mathbf{A}\|_F^2` explained so far (``None``: never).
    ``in_place`` reuses four :math:`N \times k` buffers (no gradient);
    otherwise every step is out of place and differentiable. ``ah``:
    :math:`\mathbf{A}\mathbf{H}_0` when already computed. Raises on a
    non-finite loss."""
    h = h0
    if ah is None:
        ah = propagate(adj, h)  # validates shape and dtype once
    g = gram(h)
    loss = loss_value(adj, h, ah, g)
    result = SolverResult(h, [loss], 0, 1)
    spare_h: Optional[Tensor] = None  # the buffer h does not occupy
    spare_ah = ah.new_empty(ah.shape) if in_place else None
    steps = progress(range(1, max_iter + 1), name, verbose)
    for it in steps:
        if in_place:
            if spare_h is None:
                spare_h = h.new_empty(h.shape)
            # The rule writes the candidate into spare_h, using spare_ah as
            # scratch; the SpMM then overwrites spare_ah.
            cand = rule.propose(h, ah, g, spare_h, spare_ah)
            cand_ah = spmm(adj.csr, cand, out=spare_ah)
        else:
            cand = rule.propose(h, ah, g, None, None)
            cand_ah = propagate(adj, cand)
        cand_g = gram(cand)
        cand_loss = loss_value(adj, cand, cand_ah, cand_g)
        result.n_iter, result.n_spmm = it, it + 1
        if not math.isfinite(cand_loss):
            raise ValueError(
                f"A step produced memberships with NaN or Inf (the "
                f"method's parameters or the input are non-finite); no "
                f"partition can be read from it ({name or 'net'}, step "
                f"{it})")
        if cand_loss <= loss:
            decrease = loss - cand_loss
            rule.accepted(h)
            if in_place:
                # Swap: the old H and A H become the next candidate's
                # buffers (h0 is the caller's: never reused).
                spare_h = None if h is h0 else h
                spare_ah = ah
            h, ah, g, loss = cand, cand_ah, cand_g, cand_loss
            # Relative to the part of ||A||^2 explained so far, not to the
            # loss: from a random start on a large normalised graph the
            # loss is ~||A||^2 and early steps move it by ~1e-5.
            explained = float(adj.sq_norm) - loss
            done = tol is not None and decrease <= tol * max(
                explained if explained > 0 else loss, 1e-30)
        else:
            done = rule.rejected(h)
        result.loss_curve.append(loss)
        show_loss(steps, loss)
        if done:
            result.converged = True
            break
    result.h = h
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
