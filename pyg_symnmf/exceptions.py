"""Warnings raised by :mod:`pyg_symnmf`, and the one way it raises them."""
from __future__ import annotations

import os
import sys
import warnings
from types import FrameType
from typing import Optional

__all__ = ['ConvergenceWarning', 'warn_at_caller']

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class ConvergenceWarning(UserWarning):
    """An iterative method stopped at its iteration limit before meeting its
    tolerance: the result is usable but may improve with more iterations
    (as scikit-learn's warning of the same name)."""


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """Warns at the caller's line: the first frame outside the package,
    however deep the call chain inside it (a fixed ``stacklevel`` would
    point into the package for some entry points)."""
    frame: Optional[FrameType] = sys._getframe(0)
    level = 1
    while frame is not None and os.path.abspath(
            frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
