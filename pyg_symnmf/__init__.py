"""SymNMF-Net for PyTorch Geometric: unrolled symmetric NMF layers for
community detection and nonnegative node embeddings.

Names load on first use (PEP 562), so that importing one module (say
:mod:`pyg_symnmf.datasets`) does not import the whole stack."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = '0.2.0'

# Public name -> the module that defines it.
_NAMES = {
    'Adjacency': 'adjacency', 'GraphLike': 'adjacency',
    'OperatorCache': 'adjacency', 'to_adjacency': 'adjacency',
    'SymNMFNetConv': 'nn', 'SymNMFNet': 'nn', 'SymNMFPooling': 'nn',
    'SymNMFClustering': 'estimator', 'symnmf': 'factorize',
    'METHODS': 'factorize', 'symnmf_loss': 'functional',
    'ConvergenceWarning': 'exceptions',
}
_SUBMODULES = ('datasets', 'features', 'functional', 'init', 'metrics',
               'readout', 'solvers', 'transforms')

__all__ = [*_NAMES, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(f'.{_NAMES[name]}', __name__),
                        name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f'.{name}', __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and IDEs see
    from . import (datasets, features, functional, init, metrics, readout,
                   solvers, transforms)
    from .adjacency import Adjacency, GraphLike, OperatorCache, to_adjacency
    from .estimator import SymNMFClustering
    from .exceptions import ConvergenceWarning
    from .factorize import METHODS, symnmf
    from .functional import symnmf_loss
    from .nn import SymNMFNet, SymNMFNetConv, SymNMFPooling
