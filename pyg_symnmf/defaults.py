"""The defaults shared by the functional API, the solvers, the layers, the
estimator and the command line, written once."""
from __future__ import annotations

__all__ = ['DEFAULT_ALPHA', 'DEFAULT_MAX_ITER', 'DEFAULT_TOL',
           'DEFAULT_NUM_LAYERS', 'DEFAULT_EPOCHS', 'DEFAULT_LR']

#: Initial damping/penalty :math:`\alpha`, relative to the operator's scale.
DEFAULT_ALPHA = 0.1
#: Iterations of a classical solver (one SpMM each).
DEFAULT_MAX_ITER = 300
#: Relative loss decrease below which a classical solver stops.
DEFAULT_TOL = 1e-6
#: Blocks of a fresh SymNMF-Net.
DEFAULT_NUM_LAYERS = 20
#: Training epochs of a fresh SymNMF-Net.
DEFAULT_EPOCHS = 200
#: Adam's learning rate when a net is trained.
DEFAULT_LR = 0.01
