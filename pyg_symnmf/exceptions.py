"""Warnings raised by :mod:`pyg_symnmf`."""
from __future__ import annotations

__all__ = ['ConvergenceWarning']


class ConvergenceWarning(UserWarning):
    """An iterative method stopped at its iteration limit before meeting its
    tolerance: the result is usable but may improve with more iterations
    (as scikit-learn's warning of the same name)."""
