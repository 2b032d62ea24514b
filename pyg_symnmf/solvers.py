r"""Classical SymNMF solvers on the same sparse operator as SymNMF-Net.

Each method is one small update rule; :func:`symnmf` validates the input
once and runs them all through one convergence loop that evaluates the loss
from :math:`\mathbf{A}\mathbf{H}` (shared with the next update), so an
iteration costs one sparse-dense product plus :math:`O(Nk^2)` work.

- ``"anls"``: the ANLS-ReLU scheme that SymNMF-Net unrolls (Kuang et al.
  2015; Zhu et al. 2018): :math:`\mathbf{H} \leftarrow \mathrm{ReLU}((\mathbf{A
  H} + \alpha\mathbf{H})(\mathbf{H}^\top\mathbf{H}+\alpha\mathbf{I})^{-1})`.
- ``"hals"``: SymHALS (Zhu et al. 2018), exact column-wise minimisation of
  the same penalised split problem, one column at a time.
- ``"mu"``: damped multiplicative updates (Ding, He, Simon 2005),
  :math:`\mathbf{H} \leftarrow \mathbf{H}\circ(\tfrac12 + \tfrac12
  \mathbf{A}\mathbf{H} \oslash \mathbf{H}\mathbf{H}^\top\mathbf{H})`.
- ``"pgd"``: projected gradient with an Armijo backtracking step (a safe
  step: every iteration decreases the loss).
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Union

import torch
from torch import Tensor

from .adjacency import Adjacency, to_adjacency
from .functional import (block_update, check_membership, check_rank, gram,
                         propagate, symnmf_loss_parts)
from .init import random_membership

METHODS = ('anls', 'hals', 'mu', 'pgd')
DEFAULT_ALPHA = 0.1

# A step maps (h, A h, loss) to (new h, A @ new h or None if not computed).
Step = Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Optional[Tensor]]]


def symnmf(
    edge_index,
    k: int,
    edge_weight: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    method: str = 'anls',
    *,
    max_iter: int = 300,
    tol: float = 1e-6,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
    h0: Optional[Tensor] = None,
    normalize: bool = True,
    return_history: bool = False,
    verbose: bool = False,
) -> Union[Tensor, tuple[Tensor, list[float]]]:
    r"""Classical symmetric NMF :math:`\min_{\mathbf{H}\ge 0}\|\mathbf{A} -
    \mathbf{H}\mathbf{H}^\top\|_F^2` with one of :data:`METHODS`.

    Args:
        edge_index: The graph, in any form :func:`~pyg_symnmf.to_adjacency`
            accepts (an :class:`~pyg_symnmf.Adjacency` is used as is).
        k (int): Number of communities, :math:`1 \le k \le N`.
        edge_weight (torch.Tensor, optional): Edge weights.
        num_nodes (int, optional): Number of nodes.
        method (str): ``"anls"``, ``"hals"``, ``"mu"`` or ``"pgd"``.
        max_iter (int): Maximum number of iterations. (default: 300)
        tol (float): Stop when the relative loss change of one iteration
            falls below ``tol``; ``0`` runs all ``max_iter``. (default: 1e-6)
        alpha (float): Penalty :math:`\alpha > 0` of ``"anls"`` and
            ``"hals"``. (default: 0.1)
        seed (int): Seed of the random start. (default: 0)
        h0 (torch.Tensor, optional): Start :math:`(N, k)` instead of the
            random one (see :func:`~pyg_symnmf.init.random_membership`).
        normalize (bool): Normalise the adjacency symmetrically.
        return_history (bool): Also return the loss after each iteration
            (index 0: the start).
        verbose (bool): Print the loss every 10 iterations.

    Returns:
        :math:`\mathbf{H}` of shape :math:`(N, k)` (and the loss history).
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of "
                         f"{', '.join(METHODS)}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) \
            or max_iter < 0:
        raise ValueError(f"'max_iter' must be an int >= 0, got {max_iter!r}")
    if not (tol >= 0):
        raise ValueError(f"'tol' must be >= 0, got {tol}")
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"'alpha' must be a positive finite number, got "
                         f"{alpha}")
    dtype = h0.dtype if isinstance(h0, Tensor) and h0.is_floating_point() \
        else None
    adj = to_adjacency(edge_index, edge_weight, num_nodes, normalize=normalize,
                       dtype=dtype)
    check_rank(k, adj.num_nodes)
    if h0 is None:
        h = random_membership(adj, k, seed)
    else:
        check_membership(h0, adj, k)
        if bool((h0 < 0).any()) or not bool(torch.isfinite(h0).all()):
            raise ValueError("'h0' must be finite and nonnegative")
        h = h0.detach().clone()
    step = _STEPS[method](adj, torch.tensor(alpha, dtype=adj.dtype,
                                            device=adj.device))
    with torch.no_grad():
        h, history = _iterate(adj, h, step, max_iter, tol, verbose)
    return (h, history) if return_history else h


def _iterate(adj: Adjacency, h: Tensor, step: Step, max_iter: int,
             tol: float, verbose: bool) -> tuple[Tensor, list[float]]:
    """The convergence loop shared by every method."""
    ah = propagate(adj, h)
    loss = symnmf_loss_parts(adj, h, ah)
    history = [float(loss)]
    for it in range(1, max_iter + 1):
        h, new_ah = step(h, ah, loss)
        ah = propagate(adj, h) if new_ah is None else new_ah
        loss = symnmf_loss_parts(adj, h, ah)
        history.append(float(loss))
        if verbose and it % 10 == 0:
            print(f'iter {it:5d}  loss {history[-1]:.6g}')
        if abs(history[-2] - history[-1]) <= tol * max(history[-2], 1e-30):
            break
    return h, history


def _anls(adj: Adjacency, alpha: Tensor) -> Step:
    return lambda h, ah, loss: (block_update(adj, h, alpha, ah=ah), None)


def _hals(adj: Adjacency, alpha: Tensor) -> Step:
    def step(h: Tensor, ah: Tensor, loss: Tensor):
        h = h.clone()
        # A h_j is unchanged until column j's turn, so A H from the start of
        # the sweep serves every column.
        for j in range(h.size(1)):
            hj = h[:, j]
            sq = hj.dot(hj)
            residual = ah[:, j] - h @ (h.t() @ hj) + (sq + alpha) * hj
            h[:, j] = torch.relu(residual / (sq + alpha))
        return h, None
    return step


def _mu(adj: Adjacency, alpha: Tensor) -> Step:
    def step(h: Tensor, ah: Tensor, loss: Tensor):
        denom = (h @ gram(h)).clamp_min(torch.finfo(h.dtype).tiny)
        return h * (0.5 + 0.5 * ah / denom), None
    return step


def _pgd(adj: Adjacency, alpha: Tensor,
         shrink: float = 0.5, sigma: float = 0.01) -> Step:
    state = {'lr': None}

    def step(h: Tensor, ah: Tensor, loss: Tensor):
        grad = 4 * (h @ gram(h) - ah)
        if state['lr'] is None:  # 1 / (a bound on the local curvature)
            bound = float(adj.sq_norm.sqrt() + 3 * gram(h).norm())
            state['lr'] = 1.0 / (4 * max(bound, 1e-30))
        lr = state['lr'] * 2  # try a longer step first
        for _ in range(50):
            new_h = torch.relu(h - lr * grad)
            new_ah = propagate(adj, new_h)
            decrease = (grad * (h - new_h)).sum()
            if symnmf_loss_parts(adj, new_h, new_ah) <= loss - sigma * decrease:
                break
            lr *= shrink
        else:  # no decrease found: stay put
            return h, ah
        state['lr'] = lr
        return new_h, new_ah
    return step


_STEPS = {'anls': _anls, 'hals': _hals, 'mu': _mu, 'pgd': _pgd}
