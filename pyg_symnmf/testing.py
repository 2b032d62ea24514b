r"""Helpers for tests, benchmarks and the distributed entry point: one
random-graph generator, dense references, and a local multi-process
launcher."""
from __future__ import annotations

import socket
from typing import Callable, Optional

import torch
from torch import Tensor
from torch_geometric.utils import to_undirected

__all__ = ['random_graph', 'dense', 'normalized', 'spawn']


def random_graph(num_nodes: int = 30, num_edges: int = 80, seed: int = 0,
                 weighted: bool = True) -> tuple[Tensor, Optional[Tensor]]:
    """A random undirected graph without self-loops: ``(edge_index,
    edge_weight or None)``, ``num_edges`` drawn pairs before symmetrising."""
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(num_nodes, (2, num_edges), generator=gen)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    if not weighted:
        return to_undirected(edge_index, num_nodes=num_nodes), None
    weight = torch.rand(edge_index.size(1), generator=gen) + 0.1
    edge_index, weight = to_undirected(edge_index, weight, num_nodes,
                                       reduce='max')
    return edge_index, weight


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
