r"""Argument checks shared by every entry point: one validator for numbers
(in the spirit of scikit-learn's ``Interval``), the rank :math:`k`, node
tensors, batch vectors and PyG ``Data`` objects. Each raises a
:class:`TypeError` or :class:`ValueError` that names the argument."""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

__all__ = ['check_number', 'check_bool', 'check_rank', 'check_nodes_tensor',
           'check_batch', 'check_finite', 'graph_inputs']


def check_number(name: str, value: Any, *, integer: bool = False,
                 low: Optional[float] = None, high: Optional[float] = None,
                 low_open: bool = False, high_open: bool = False) -> Any:
    """Checks that ``value`` is a finite real (an int if ``integer``) in the
    interval bounded by ``low``/``high`` (closed unless ``*_open``);
    returns it unchanged."""
    kind = Integral if integer else Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"'{name}' must be {'an int' if integer else 'a real number'}, "
                        f"got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"'{name}' must be finite, got {value}")
    too_low = low is not None and (number <= low if low_open
                                   else number < low)
    too_high = high is not None and (number >= high if high_open
                                     else number > high)
    if too_low or too_high:
        left = '(' if low_open else '['
        right = ')' if high_open else ']'
        lo = '-inf' if low is None else f'{low:g}'
        hi = 'inf' if high is None else f'{high:g}'
        raise ValueError(f"'{name}' must be in {left}{lo}, {hi}{right}, "
                         f"got {value}")
    return value


def check_bool(name: str, value: Any, allow_none: bool = False) -> Any:
    """Checks that ``value`` is a bool (or ``None`` if ``allow_none``):
    a string such as ``'no'`` is truthy, and would silently mean yes."""
    if value is None and allow_none:
        return value
    if not isinstance(value, (bool, np.bool_)):
        allowed = 'True, False or None' if allow_none else 'True or False'
        raise TypeError(f"'{name}' must be {allowed}, got "
                        f"{type(value).__name__} {value!r}")
    return bool(value)


def check_rank(k: Any, num_nodes: Optional[int] = None) -> int:
    """Validates a number of communities ``k``: an int in ``[1, num_nodes]``."""
    if isinstance(k, bool) or not isinstance(k, Integral):
        raise TypeError(f"'k' (number of communities) must be an int, got "
                        f"{type(k).__name__} {k!r}")
    k = int(k)
    if k < 1:
        raise ValueError(f"'k' (number of communities) must be >= 1, got {k}")
    if num_nodes is not None and k > num_nodes:
        raise ValueError(f"'k'={k} exceeds the number of nodes {num_nodes}; "
                         f"choose k <= num_nodes")
    return int(k)


def check_nodes_tensor(name: str, h: Any, num_nodes: int,
                       device: torch.device, dtype: Optional[torch.dtype] = None,
                       k: Optional[int] = None, finite: bool = True) -> Tensor:
    """Raises a clear error unless ``h`` is a float tensor of shape
    ``(num_nodes, k)`` on ``device`` (and of ``dtype`` when given), finite
    unless ``finite=False`` (that check reads every entry)."""
    if not isinstance(h, Tensor):
        raise TypeError(f"'{name}' must be a tensor, got {type(h).__name__}")
    if not h.is_floating_point():
        raise TypeError(f"'{name}' must be a floating-point tensor, got "
                        f"{h.dtype}")
    if h.dim() != 2 or h.size(0) != num_nodes:
        raise ValueError(f"'{name}' must have shape [num_nodes={num_nodes}, "
                         f"k], got {list(h.shape)}")
    if k is not None and h.size(1) != k:
        raise ValueError(f"'{name}' has {h.size(1)} columns but the model "
                         f"was built for k={k} communities")
    if h.device != device:
        raise ValueError(f"'{name}' is on {h.device} but the graph is on "
                         f"{device}; move both to the same device")
    if dtype is not None and h.dtype != dtype:
        raise TypeError(f"'{name}' is {h.dtype} but the graph operator is "
                        f"{dtype}; cast '{name}' or build the operator with "
                        f"dtype={h.dtype}")
    if finite:
        check_finite(name, h)
    return h


def check_finite(name: str, h: Tensor) -> Tensor:
    """Raises :class:`ValueError` if ``h`` holds NaN or Inf: a non-finite
    membership matrix must never be read as a partition."""
    if not bool(torch.isfinite(h).all()):
        raise ValueError(f"'{name}' contains NaN or Inf values; the "
                         f"factorization diverged or was given non-finite "
                         f"input, so no partition can be read from it")
    return h


def check_batch(batch: Optional[Tensor], num_nodes: int) -> Optional[Tensor]:
    """Validates a PyG batch vector: one graph index per node, sorted
    (as :func:`torch_geometric.utils.to_dense_batch` requires)."""
    if batch is None:
        return None
    if not isinstance(batch, Tensor) or batch.dtype not in (torch.int64,
                                                            torch.int32):
        raise TypeError("'batch' must be an integer tensor of graph indices")
    if batch.dim() != 1 or batch.numel() != num_nodes:
        raise ValueError(f"'batch' must have one graph index per node, shape "
                         f"[{num_nodes}], got {list(batch.shape)}")
    if num_nodes > 0:
        if int(batch.min()) < 0:
            raise ValueError("'batch' contains negative graph indices")
        if bool((batch[1:] < batch[:-1]).any()):
            raise ValueError("'batch' must be sorted (nodes of each graph "
                             "contiguous), as PyG's Batch produces; sort the "
                             "nodes by graph first")
    return batch.long()


def graph_inputs(data: Data) -> tuple[Any, Optional[Tensor], Optional[Tensor],
                                      Optional[Tensor]]:
    """``(graph, edge_weight, x, batch)`` of a PyG ``Data``, with a clear
    error when it carries no graph. ``adj_t`` is used when present."""
    if not isinstance(data, Data):
        raise TypeError(f"Expected a torch_geometric.data.Data, got "
                        f"{type(data).__name__}")
    if 'adj_t' in data:
        graph, edge_weight = data.adj_t, None
    elif 'edge_index' in data and data.edge_index is not None:
        graph = data.edge_index
        edge_weight = data.edge_weight if 'edge_weight' in data else None
    else:
        raise ValueError("'data' has no 'edge_index' or 'adj_t'; for a graph "
                         "without edges pass an empty edge_index of shape "
                         "[2, 0] and set data.num_nodes")
    if data.num_nodes is None:
        raise ValueError("'data' has no nodes: set data.num_nodes")
    x = data.x if 'x' in data else None
    batch = data.batch if 'batch' in data else None
    return graph, edge_weight, x, batch
