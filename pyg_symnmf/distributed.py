r"""SymNMF-Net over :mod:`torch.distributed`, rows of the graph partitioned
across processes (gloo on CPU, NCCL on GPU).

Rank :math:`r` owns a contiguous block of nodes: its rows of
:math:`\mathbf{A}` (CSR, columns renumbered to the nodes those rows
reference) and the same rows of :math:`\mathbf{H}`. Per block:

1. **halo exchange**: one ``all_to_all_single`` brings the rows of
   :math:`\mathbf{H}` that the local rows of :math:`\mathbf{A}` reference
   (with ``exchange="allgather"``, every row: simpler, for small
   :math:`Nk`);
2. local :math:`\mathbf{A}_r\mathbf{H}_{ext}` and
   :math:`\mathbf{H}_r^\top\mathbf{H}_r`; one ``all_reduce`` of the
   :math:`k \times k` Gram matrix;
3. the inversion layer, linear layer and ReLU, locally.

The collectives are the differentiable ones of
:mod:`torch.distributed.nn`, so training backpropagates through the
exchange; each rank back-propagates its share of the loss and the block
parameters' gradients are all-reduced. Launch with
``torchrun --nproc-per-node P -m pyg_symnmf.distributed ...`` or call
:func:`spawn` from Python.
"""
from __future__ import annotations

import argparse
import os
import socket
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import Tensor
from torch_geometric.utils import coalesce

from .adjacency import _check_values, csr_matrix, inv_sqrt_degree
from .functional import block_update, check_rank
from .nn import SymNMFNet


def node_range(num_nodes: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous ``[start, end)`` block of nodes owned by ``rank``."""
    size = -(-num_nodes // world_size)
    return min(rank * size, num_nodes), min((rank + 1) * size, num_nodes)


@dataclass
class Shard:
    """One rank's rows of the (normalised) adjacency and its exchange plan.

    ``csr`` is ``(n_local, n_ext)`` over the referenced nodes in global
    order; ``csr_t`` its transpose (for the backward pass); rank ``r``
    sends ``h[send_index[send_splits[:r].sum():...]]`` to each peer and
    receives ``recv_splits[r]`` rows from each."""
    num_nodes: int
    start: int
    end: int
    csr: Tensor
    csr_t: Tensor
    send_index: Tensor
    send_splits: list[int]
    recv_splits: list[int]
    sq_norm: Tensor  # this rank's share of ||A||_F^2


def shard_graph(edge_index: Tensor, edge_weight: Optional[Tensor],
                num_nodes: int, *, normalize: bool = True,
                exchange: str = 'auto', k: int = 16,
                allgather_bytes: int = 64 * 2**20) -> Shard:
    r"""Builds this rank's :class:`Shard` from a global, symmetric
    ``edge_index`` (every rank passes the same one, or at least every edge
    whose source it owns). ``exchange="auto"`` gathers all of
    :math:`\mathbf{H}` when :math:`N k` floats fit in ``allgather_bytes``,
    else exchanges the halo only. Collective: every rank must call it."""
    if exchange not in ('auto', 'allgather', 'halo'):
        raise ValueError(f"'exchange' must be 'auto', 'allgather' or 'halo', "
                         f"got {exchange!r}")
    rank, world = dist.get_rank(), dist.get_world_size()
    start, end = node_range(num_nodes, rank, world)
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), device=edge_index.device)
    mine = (edge_index[0] >= start) & (edge_index[0] < end)
    local_index, weight = coalesce(edge_index[:, mine],
                                   _check_values(edge_weight[mine], None),
                                   num_nodes)
    row, col = local_index[0] - start, local_index[1]
    if exchange == 'auto':
        exchange = 'allgather' if num_nodes * k * 4 <= allgather_bytes \
            else 'halo'
    needed = torch.arange(num_nodes, device=col.device) \
        if exchange == 'allgather' else torch.unique(col)
    owner = torch.bucketize(needed, torch.tensor(
        [node_range(num_nodes, r, world)[1] for r in range(world)],
        device=needed.device), right=True)
    recv_splits = torch.bincount(owner, minlength=world)
    send_splits = torch.empty_like(recv_splits)
    dist.all_to_all_single(send_splits, recv_splits)
    send_index = torch.empty(int(send_splits.sum()), dtype=torch.long,
                             device=needed.device)
    dist.all_to_all_single(send_index, needed, send_splits.tolist(),
                           recv_splits.tolist())
    send_index -= start
    ext_col = torch.searchsorted(needed, col)
    n_local, n_ext = end - start, needed.numel()
    # The exchange plan first: normalising needs it for remote degrees.
    shard = Shard(num_nodes, start, end, None, None, send_index,
                  send_splits.tolist(), recv_splits.tolist(), None)
    if normalize:
        inv = inv_sqrt_degree(row, weight, n_local)
        inv_ext = exchange_rows(shard, inv.unsqueeze(1)).squeeze(1)
        weight = inv[row] * weight * inv_ext[ext_col]
    shard.csr = csr_matrix(row, ext_col, weight, (n_local, n_ext))
    order = torch.argsort(ext_col * n_local + row)
    shard.csr_t = csr_matrix(ext_col[order], row[order], weight[order],
                             (n_ext, n_local))
    shard.sq_norm = weight.square().sum()
    return shard


def exchange_rows(shard: Shard, h: Tensor) -> Tensor:
    """The rows of ``H`` that this rank's rows of ``A`` reference, in the
    shard's column order (differentiable)."""
    send = h[shard.send_index]
    out = h.new_empty(sum(shard.recv_splits), h.size(1))
    return dist_fn.all_to_all_single(out, send, shard.recv_splits,
                                     shard.send_splits)


class _LocalSpMM(torch.autograd.Function):
    """``A_r @ H_ext`` with backward ``A_r^T @ grad`` (A_r is rectangular)."""

    @staticmethod
    def forward(ctx, csr: Tensor, csr_t: Tensor, h_ext: Tensor) -> Tensor:
        ctx.csr_t = csr_t
        return csr @ h_ext

    @staticmethod
    def backward(ctx, grad: Tensor):
        return None, None, ctx.csr_t @ grad.contiguous()


def local_product(shard: Shard, h: Tensor) -> Tensor:
    r"""This rank's rows of :math:`\mathbf{A}\mathbf{H}`."""
    return _LocalSpMM.apply(shard.csr, shard.csr_t, exchange_rows(shard, h))


def global_gram(h: Tensor) -> Tensor:
    r""":math:`\mathbf{H}^\top\mathbf{H}` summed over ranks (differentiable)."""
    return dist_fn.all_reduce(h.t() @ h)


class DistributedSymNMFNet(torch.nn.Module):
    r"""Runs a :class:`~pyg_symnmf.SymNMFNet`'s blocks on row-partitioned
    shards; the result on each rank is its rows of the single-process
    :math:`\mathbf{H}_T`.

    Args:
        net (SymNMFNet): The model (its parameters are used as they are,
            and kept identical on every rank by :meth:`fit`).
    """

    def __init__(self, net: SymNMFNet) -> None:
        super().__init__()
        if net.encoder is not None or net.init != 'random':
            raise ValueError("The distributed model supports init='random' "
                             "without an encoder")
        self.net = net
        self.timings = {'communication_s': 0.0}

    def initial(self, shard: Shard, dtype: torch.dtype) -> Tensor:
        """This rank's rows of the single-process random start."""
        deg_sum = dist_fn.all_reduce(shard.csr.values().sum().reshape(1))
        mean = deg_sum[0] / shard.num_nodes**2
        gen = torch.Generator(device=shard.csr.device).manual_seed(
            self.net.seed)
        h = torch.rand(shard.num_nodes, self.net.k, generator=gen,
                       dtype=dtype, device=shard.csr.device)
        return h[shard.start:shard.end] * (2 * (mean / self.net.k).sqrt())

    def forward(self, shard: Shard) -> Tensor:
        h = self.initial(shard, shard.csr.dtype)
        for t in range(self.net.num_blocks):
            block = self.net.blocks[t % len(self.net.blocks)]
            start = time.perf_counter()
            h_ext, g = exchange_rows(shard, h), global_gram(h)
            self.timings['communication_s'] += time.perf_counter() - start
            ah = _LocalSpMM.apply(shard.csr, shard.csr_t, h_ext)
            h = block_update(None, h, block.alpha, block.weight, block.bias,
                             ah=ah, g=g)
        return h

    def local_loss(self, shard: Shard, h: Tensor) -> Tensor:
        r"""This rank's share of :math:`\|\mathbf{A}-\mathbf{H}\mathbf{H}^\top
        \|_F^2`; the shares sum to the loss (see :func:`loss`)."""
        cross = (h * local_product(shard, h)).sum()
        gram_sq = global_gram(h).square().sum() / dist.get_world_size()
        return shard.sq_norm - 2 * cross + gram_sq

    def fit(self, shard: Shard, epochs: int = 300, lr: float = 0.01
            ) -> 'DistributedSymNMFNet':
        """The same training as :meth:`SymNMFNet.fit` (Adam, cosine decay),
        with gradients all-reduced over ranks."""
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, max(epochs, 1))
        scale = 1.0 / float(dist_fn.all_reduce(
            shard.sq_norm.reshape(1)).clamp_min(1e-12))
        for _ in range(epochs):
            optimizer.zero_grad()
            (self.local_loss(shard, self(shard)) * scale).backward()
            for p in params:
                dist.all_reduce(p.grad)
            optimizer.step()
            schedule.step()
        return self


def global_loss(model: DistributedSymNMFNet, shard: Shard, h: Tensor) -> float:
    """The global SymNMF loss (same value on every rank)."""
    with torch.no_grad():
        return float(dist_fn.all_reduce(
            model.local_loss(shard, h).reshape(1)))


def gather_rows(shard: Shard, h: Tensor) -> Tensor:
    """All ranks' rows of ``h`` concatenated in node order."""
    world = dist.get_world_size()
    sizes = [end - start for start, end in (
        node_range(shard.num_nodes, r, world) for r in range(world))]
    padded = h.new_zeros(max(sizes), h.size(1))  # gloo gathers equal sizes
    padded[:h.size(0)] = h
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([part[:size] for part, size in zip(parts, sizes)])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, fn: Callable, args):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world_size)
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


def main(argv=None) -> None:
    """``torchrun --nproc-per-node P -m pyg_symnmf.distributed``: factors a
    graph (a saved ``(edge_index, num_nodes)`` file, or a generated one)
    and reports the time per block and the share spent in the exchange."""
    parser = argparse.ArgumentParser(prog='python -m pyg_symnmf.distributed',
                                     description=main.__doc__)
    parser.add_argument('--graph', help='torch.save((edge_index, num_nodes))')
    parser.add_argument('--nodes', type=int, default=100_000)
    parser.add_argument('--degree', type=float, default=20)
    parser.add_argument('-k', type=int, default=16)
    parser.add_argument('--blocks', type=int, default=20)
    parser.add_argument('--epochs', type=int, default=0)
    parser.add_argument('--exchange', default='auto')
    args = parser.parse_args(argv)
    if not dist.is_initialized():
        backend = 'nccl' if torch.cuda.is_available() else 'gloo'
        dist.init_process_group(backend)
    device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0))) \
        if dist.get_backend() == 'nccl' else torch.device('cpu')
    if args.graph:
        edge_index, num_nodes = torch.load(args.graph)
    else:
        from torch_geometric.utils import to_undirected
        num_nodes = args.nodes
        gen = torch.Generator().manual_seed(0)
        edge_index = to_undirected(torch.randint(
            num_nodes, (2, int(num_nodes * args.degree / 2)), generator=gen),
            num_nodes=num_nodes)
    check_rank(args.k, num_nodes)
    shard = shard_graph(edge_index.to(device), None, num_nodes, k=args.k,
                        exchange=args.exchange)
    del edge_index
    model = DistributedSymNMFNet(SymNMFNet(args.k, args.blocks)).to(device)
    if args.epochs:
        model.fit(shard, epochs=args.epochs)
    model.timings = {'communication_s': 0.0}
    dist.barrier()
    start = time.perf_counter()
    with torch.no_grad():
        h = model(shard)
    total = time.perf_counter() - start
    value = global_loss(model, shard, h)
    if dist.get_rank() == 0:
        print(f'ranks {dist.get_world_size()}  nodes {num_nodes}  '
              f'k {args.k}  blocks {args.blocks}  loss {value:.6g}')
        print(f'time per block {total / max(args.blocks, 1) * 1e3:.1f} ms  '
              f'communication share '
              f'{model.timings["communication_s"] / max(total, 1e-12):.1%}')
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
