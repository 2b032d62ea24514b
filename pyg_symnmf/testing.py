r"""Helpers for tests and benchmarks: the random-graph generator (from
:mod:`pyg_symnmf.datasets`), dense references, and a local multi-process
launcher."""
from __future__ import annotations

import socket
from typing import Callable, Optional

import torch
from torch import Tensor

from .datasets import random_graph

__all__ = ['random_graph', 'dense', 'normalized', 'spawn']


def dense(edge_index: Tensor, edge_weight: Optional[Tensor], num_nodes: int,
          dtype: torch.dtype = torch.float64) -> Tensor:
    """Dense reference adjacency (duplicates summed; differentiable in the
    weights)."""
    a = torch.zeros(num_nodes, num_nodes, dtype=dtype)
    w = torch.ones(edge_index.size(1), dtype=dtype) if edge_weight is None \
        else edge_weight.to(dtype)
    return a.index_put((edge_index[0], edge_index[1]), w, accumulate=True)


def normalized(a: Tensor) -> Tensor:
    r"""Dense :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`."""
    deg = a.sum(1)
    inv = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(),
                      torch.zeros_like(deg))
    return inv[:, None] * a * inv[None, :]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, fn: Callable, args):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world_size)
    # Every rank connected before any runs: a rank failing at once then
    # surfaces its own error, not a peer's "connection closed".
    dist.barrier()
    try:
        fn(*args)
    finally:
        dist.destroy_process_group()


def spawn(fn: Callable, world_size: int, *args) -> None:
    """Runs ``fn(*args)`` on ``world_size`` local gloo processes (one
    process group on a free localhost port). Raises if any rank fails; the
    others are terminated."""
    torch.multiprocessing.spawn(_worker, (world_size, _free_port(), fn, args),
                                nprocs=world_size, join=True)
