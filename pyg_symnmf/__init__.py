"""SymNMF-Net for PyTorch Geometric: unrolled symmetric NMF layers for
community detection and nonnegative node embeddings."""
from . import datasets, functional, metrics, transforms
from .adjacency import Adjacency, to_adjacency
from .functional import symnmf_loss
from .nn import SymNMFNet, SymNMFNetConv, SymNMFPooling
from .solvers import METHODS, symnmf

__version__ = '0.1.0'

__all__ = [
    'Adjacency', 'to_adjacency', 'SymNMFNetConv', 'SymNMFNet',
    'SymNMFPooling', 'symnmf',
    'symnmf_loss', 'METHODS', 'metrics', 'transforms', 'datasets',
    'functional',
]
