"""SymNMF-Net for PyTorch Geometric: unrolled symmetric NMF layers for
community detection and nonnegative node embeddings."""
from . import (datasets, features, functional, init, metrics, readout,
               solvers, transforms)
from .adjacency import Adjacency, GraphLike, OperatorCache, to_adjacency
from .estimator import SymNMFClustering
from .exceptions import ConvergenceWarning
from .factorize import METHODS, symnmf
from .functional import symnmf_loss
from .nn import SymNMFNet, SymNMFNetConv, SymNMFPooling

__version__ = '0.2.0'

__all__ = [
    'Adjacency', 'GraphLike', 'OperatorCache', 'to_adjacency',
    'SymNMFNetConv', 'SymNMFNet', 'SymNMFPooling', 'SymNMFClustering',
    'symnmf', 'symnmf_loss', 'METHODS', 'ConvergenceWarning',
    'datasets', 'features', 'functional', 'init', 'metrics', 'readout', 'solvers', 'transforms',
]
