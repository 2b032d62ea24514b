r"""SymNMF-Net over :mod:`torch.distributed`, rows of the graph partitioned
across processes (gloo on CPU, NCCL on GPU).

Rank :math:`r` owns a block of nodes: its rows of :math:`\mathbf{A}`
(CSR, columns renumbered to the nodes those rows reference) and the same
rows of :math:`\mathbf{H}`. Which nodes a rank owns is the ``partition``
of :func:`shard_graph`: ``"contiguous"`` blocks of the given numbering,
``"random"`` balanced blocks, or ``"metis"`` (fewest edges cut, hence the
smallest halo; needs ``pymetis``). The nodes are relabelled internally so
that each rank's are contiguous; :func:`initial` and :func:`gather_rows`
speak the original numbering. Per block:

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
:func:`pyg_symnmf.testing.spawn` from Python. The graph is validated by
:func:`~pyg_symnmf.to_adjacency`, the same check as the single-process
path, on every rank before any collective, so bad input raises the same
clear error everywhere.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import Tensor

from .adjacency import (Adjacency, GraphLike, csr_matrix, graph_fingerprint,
                        row_entries, row_pointers, to_adjacency)
from .defaults import DEFAULT_EPOCHS, DEFAULT_LR
from .functional import spmm
from .init import random_membership
from .nn import SymNMFNet
from .training import train
from .validation import check_rank

__all__ = ['Shard', 'shard_graph', 'node_range', 'partition_nodes',
           'PARTITIONS', 'exchange_rows', 'local_product', 'global_gram',
           'DistributedSymNMFNet', 'initial', 'global_loss', 'gather_rows',
           'halo_rows']

#: The ways :func:`shard_graph` assigns nodes to ranks.
PARTITIONS = ('contiguous', 'random', 'metis')


def node_range(num_nodes: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous ``[start, end)`` block of nodes owned by ``rank``."""
    size = -(-num_nodes // world_size)
    return min(rank * size, num_nodes), min((rank + 1) * size, num_nodes)


@dataclass
class Shard:
    """One rank's rows of the (normalised) adjacency and its exchange plan.

    Nodes are relabelled so that each rank owns a contiguous range:
    ``perm[i]`` is the original id of relabelled node ``i`` (``None`` for
    ``partition="contiguous"``: the identity), and rank ``r`` owns the
    relabelled nodes ``offsets[r]:offsets[r + 1]`` (``start:end`` for this
    rank). ``csr`` is ``(n_local, n_ext)`` over the referenced nodes in
    relabelled order; ``csr_t`` its transpose (for the backward pass); rank
    ``r`` sends ``h[send_index[send_splits[:r].sum():...]]`` to each peer
    and receives ``recv_splits[r]`` rows from each."""
    num_nodes: int
    start: int
    end: int
    csr: Tensor
    csr_t: Tensor
    send_index: Tensor
    send_splits: list[int]
    recv_splits: list[int]
    sq_norm: Tensor  # this rank's share of ||A||_F^2
    scale: Tensor
    offsets: Optional[list[int]] = None  # None: node_range blocks
    perm: Optional[Tensor] = None  # relabelled -> original id; None: same
    partition: str = 'contiguous'

    @property
    def nodes(self) -> Tensor:
        """Original ids of this rank's rows, in the shard's row order."""
        if self.perm is None:
            return torch.arange(self.start, self.end,
                                device=self.send_index.device)
        return self.perm[self.start:self.end]

    def bounds(self) -> list[int]:
        """``offsets``: where each rank's relabelled range starts (and
        the end), ``world_size + 1`` entries."""
        if self.offsets is not None:
            return self.offsets
        world = dist.get_world_size()
        return [node_range(self.num_nodes, r, world)[0]
                for r in range(world)] + [self.num_nodes]


def partition_nodes(adj, world_size: int, partition: str = 'contiguous',
                    seed: int = 0) -> Optional[Tensor]:
    """Rank of every node under ``partition`` (``None`` for
    ``"contiguous"``: :func:`node_range` blocks). ``"random"``: balanced
    blocks of a seeded random permutation; ``"metis"``: a
    ``world_size``-way METIS partition of the graph (fewest edges cut,
    balanced to METIS' default 3%), which needs ``pymetis``. Deterministic:
    every rank computing it gets the same answer (:func:`shard_graph`
    still broadcasts rank 0's METIS result)."""
    n = adj.num_nodes
    if partition == 'contiguous':
        return None
    if partition == 'random':
        gen = torch.Generator().manual_seed(seed)
        perm = torch.randperm(n, generator=gen)
        ranks = torch.empty(n, dtype=torch.long)
        size = -(-n // world_size)
        ranks[perm] = torch.arange(n) // size
        return ranks.to(adj.device)
    if partition == 'metis':
        try:
            import pymetis
        except ImportError as error:
            raise ImportError(
                "partition='metis' needs pymetis: pip install "
                "'pyg_symnmf[distributed]'") from error
        if world_size == 1:
            return torch.zeros(n, dtype=torch.long, device=adj.device)
        row, col = adj.row().cpu(), adj.col().cpu()
        off_diagonal = row != col  # METIS takes no self-loops
        row, col = row[off_diagonal], col[off_diagonal]
        xadj = row_pointers(row, n)
        _, membership = pymetis.part_graph(world_size, xadj=xadj.numpy(),
                                           adjncy=col.numpy())
        return torch.as_tensor(membership, dtype=torch.long,
                               device=adj.device)
    raise ValueError(f"'partition' must be one of {PARTITIONS}, got "
                     f"{partition!r}")


def shard_graph(edge_index: GraphLike, edge_weight: Optional[Tensor],
                num_nodes: int, *, normalize: bool = True,
                exchange: str = 'auto', k: int = 16,
                allgather_bytes: int = 64 * 2**20,
                dtype: Optional[torch.dtype] = None,
                partition: str = 'contiguous', seed: int = 0) -> Shard:
    r"""Builds this rank's :class:`Shard` from the global graph (every rank
    passes the same one). The graph is validated and normalised by
    :func:`~pyg_symnmf.to_adjacency` first, exactly as in one process.
    ``exchange="auto"`` gathers all of :math:`\mathbf{H}` when :math:`N k`
    floats fit in ``allgather_bytes``, else exchanges the halo only.
    ``partition`` assigns nodes to ranks (:func:`partition_nodes`:
    ``"contiguous"``, ``"random"`` with ``seed``, or ``"metis"``); results
    are the same for every partition, only the halo (communication) and
    the balance differ. Collective: every rank must call it."""
    if exchange not in ('auto', 'allgather', 'halo'):
        raise ValueError(f"'exchange' must be 'auto', 'allgather' or 'halo', "
                         f"got {exchange!r}")
    if partition not in PARTITIONS:
        raise ValueError(f"'partition' must be one of {PARTITIONS}, got "
                         f"{partition!r}")
    adj = to_adjacency(edge_index, edge_weight, num_nodes,
                       normalize=normalize, dtype=dtype).detach()
    check_same_inputs(adj, num_nodes=num_nodes, k=k, normalize=normalize,
                      exchange=exchange, partition=partition, seed=seed,
                      allgather_bytes=allgather_bytes)
    rank, world = dist.get_rank(), dist.get_world_size()
    device = adj.device
    ranks = None
    if partition == 'metis' and rank == 0 or partition == 'random':
        ranks = partition_nodes(adj, world, partition, seed)
    if partition == 'metis':  # one METIS run, broadcast (a collective)
        if ranks is None:
            ranks = torch.empty(num_nodes, dtype=torch.long, device=device)
        dist.broadcast(ranks, 0)
    crow, cols, values = adj.csr.crow_indices(), adj.col(), adj.values
    if ranks is None:
        perm, offsets = None, None
        start, end = node_range(num_nodes, rank, world)
        bounds = [node_range(num_nodes, r, world)[0]
                  for r in range(world)] + [num_nodes]
        lo, hi = int(crow[start]), int(crow[end])
        row = adj.row()[lo:hi] - start
        col, weight = cols[lo:hi], values[lo:hi]
    else:
        perm = torch.argsort(ranks, stable=True)  # relabelled -> original
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(num_nodes, device=device)
        counts = torch.bincount(ranks, minlength=world)
        bounds = [0] + counts.cumsum(0).tolist()
        offsets = bounds
        start, end = bounds[rank], bounds[rank + 1]
        # This rank's rows of P A P^T, gathered from the original CSR.
        nodes = perm[start:end]
        entries, row = row_entries(crow, nodes)
        col = inv[cols[entries]]
        order = torch.argsort(row * num_nodes + col)
        row, col, weight = row[order], col[order], values[entries][order]
    if exchange == 'auto':
        exchange = 'allgather' if num_nodes * k * 4 <= allgather_bytes \
            else 'halo'
    needed = torch.arange(num_nodes, device=col.device) \
        if exchange == 'allgather' else torch.unique(col)
    owner = torch.bucketize(needed, torch.tensor(bounds[1:], device=device),
                            right=True)
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
    order = torch.argsort(ext_col * n_local + row)
    return Shard(num_nodes, start, end,
                 csr_matrix(row, ext_col, weight, (n_local, n_ext)),
                 csr_matrix(ext_col[order], row[order], weight[order],
                            (n_ext, n_local)),
                 send_index, send_splits.tolist(), recv_splits.tolist(),
                 weight.square().sum(), adj.scale.detach(), offsets, perm,
                 partition)


def check_same_inputs(adj: Adjacency, **arguments: Any) -> None:
    r"""Raises on every rank, before any other collective, unless every
    rank holds the same graph (a content fingerprint of the operator,
    :func:`~pyg_symnmf.adjacency.graph_fingerprint`) and the same
    shape-defining arguments: ranks that disagree would otherwise finish
    with a wrong :math:`\mathbf{H}` or abort inside a collective. One
    all-gather of a few integers."""
    graph = graph_fingerprint(adj.csr)
    key = repr((adj.num_nodes, adj.dtype, graph,
                sorted(arguments.items()))).encode()
    digest = hashlib.sha256(key).digest()[:24]
    mine = torch.tensor([int.from_bytes(digest[i:i + 8], 'little',
                                        signed=True) for i in (0, 8, 16)],
                        dtype=torch.long, device=adj.device)
    every = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(every, mine)
    differ = [rank for rank, other in enumerate(every)
              if not torch.equal(other, every[0])]
    if differ:
        raise ValueError(
            f"Ranks {differ} were given another graph or other arguments "
            f"(num_nodes, k, normalize, exchange, partition, seed) than rank "
            f"0; every rank must pass the same graph and arguments to "
            f"shard_graph")


def halo_rows(shard: Shard) -> int:
    r"""Rows of :math:`\mathbf{H}` this rank receives from other ranks per
    block (its communication volume, in rows of width :math:`k`)."""
    return sum(shard.recv_splits) - shard.recv_splits[dist.get_rank()]


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
        return spmm(csr, h_ext)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return None, None, spmm(ctx.csr_t, grad.contiguous())


def local_product(shard: Shard, h: Tensor) -> Tensor:
    r"""This rank's rows of :math:`\mathbf{A}\mathbf{H}`."""
    return _LocalSpMM.apply(shard.csr, shard.csr_t, exchange_rows(shard, h))


def global_gram(h: Tensor) -> Tensor:
    r""":math:`\mathbf{H}^\top\mathbf{H}` summed over ranks (differentiable)."""
    return dist_fn.all_reduce(h.t() @ h)


class DistributedSymNMFNet(torch.nn.Module):
    r"""Runs a :class:`~pyg_symnmf.SymNMFNet`'s blocks on row-partitioned
    shards; the result on each rank is its rows of the single-process
    :math:`\mathbf{H}_T` from the same start.

    Args:
        net (SymNMFNet): The model (its parameters are used as they are,
            and kept identical on every rank by :meth:`fit`).
    """

    def __init__(self, net: SymNMFNet) -> None:
        super().__init__()
        self.net = net
        self.timings = {'communication_s': 0.0}

    def forward(self, shard: Shard, h: Tensor) -> Tensor:
        """``h``: this rank's rows of the start (see :meth:`initial`)."""
        h_prev = h
        for t in range(self.net.num_layers):
            block = self.net.blocks[t % len(self.net.blocks)]
            alpha = block.scaled_alpha(shard.scale, h.dtype)
            if h.is_cuda:  # kernels and collectives are asynchronous on
                torch.cuda.synchronize(h.device)  # accelerators: time only
            start = time.perf_counter()  # the exchange, after the compute
            h_ext, g = exchange_rows(shard, h), global_gram(h)
            if h.is_cuda:
                torch.cuda.synchronize(h.device)
            self.timings['communication_s'] += time.perf_counter() - start
            p = _LocalSpMM.apply(shard.csr, shard.csr_t, h_ext) + alpha * h
            h_prev, h = h, block.update(h, p, g, alpha, h_prev=h_prev)
        return h

    def local_loss(self, shard: Shard, h: Tensor) -> Tensor:
        r"""This rank's share of :math:`\|\mathbf{A}-\mathbf{H}\mathbf{H}^\top
        \|_F^2`; the shares sum to the loss (see :func:`global_loss`)."""
        cross = (h * local_product(shard, h)).sum()
        gram_sq = global_gram(h).square().sum() / dist.get_world_size()
        return shard.sq_norm - 2 * cross + gram_sq

    def fit(self, shard: Shard, h0: Tensor, epochs: int = DEFAULT_EPOCHS,
            lr: float = DEFAULT_LR) -> list[float]:
        """Trains with :func:`pyg_symnmf.training.train`, the estimator's
        loop (Adam, cosine decay, best parameters kept), with gradients
        all-reduced over ranks; returns the global loss curve."""
        total = float(dist_fn.all_reduce(shard.sq_norm.reshape(1).clone()))
        scale = 1.0 / max(total, 1e-12)

        def all_reduce_grads() -> None:
            for p in self.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)

        curve = train(self, lambda: self.local_loss(shard, self(shard, h0))
                      * scale, epochs=epochs, lr=lr,
                      after_backward=all_reduce_grads,
                      global_value=lambda loss: float(dist_fn.all_reduce(
                          loss.reshape(1).clone())))
        return [value / scale for value in curve]


def initial(shard: Shard, edge_index: GraphLike, edge_weight: Optional[Tensor],
            k: int, seed: int = 0, normalize: bool = True,
            dtype: Optional[torch.dtype] = None) -> Tensor:
    """This rank's rows of the single-process random start
    (:func:`~pyg_symnmf.init.random_membership` of the same graph)."""
    adj = to_adjacency(edge_index, edge_weight, shard.num_nodes,
                       normalize=normalize, dtype=dtype).detach()
    return random_membership(adj, k, seed)[shard.nodes]


def global_loss(model: DistributedSymNMFNet, shard: Shard, h: Tensor) -> float:
    """The global SymNMF loss (same value on every rank)."""
    with torch.no_grad():
        return float(dist_fn.all_reduce(
            model.local_loss(shard, h).reshape(1)))


def gather_rows(shard: Shard, h: Tensor) -> Tensor:
    """All ranks' rows of ``h``, in the original node order (whatever the
    partition)."""
    world = dist.get_world_size()
    bounds = shard.bounds()
    sizes = [bounds[r + 1] - bounds[r] for r in range(world)]
    padded = h.new_zeros(max(sizes), h.size(1))  # gloo gathers equal sizes
    padded[:h.size(0)] = h
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    out = torch.cat([part[:size] for part, size in zip(parts, sizes)])
    if shard.perm is None:
        return out
    return torch.empty_like(out).index_copy_(0, shard.perm, out)


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
    parser.add_argument('--partition', default='contiguous',
                        choices=PARTITIONS)
    args = parser.parse_args(argv)
    if not dist.is_initialized():
        backend = 'nccl' if torch.cuda.is_available() else 'gloo'
        dist.init_process_group(backend)
    device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0))) \
        if dist.get_backend() == 'nccl' else torch.device('cpu')
    if args.graph:
        edge_index, num_nodes = torch.load(args.graph, weights_only=True)
    else:
        from .datasets import random_graph
        num_nodes = args.nodes
        edge_index, _ = random_graph(num_nodes, int(num_nodes * args.degree
                                                    / 2), weighted=False)
    check_rank(args.k, num_nodes)
    edge_index = edge_index.to(device)
    shard = shard_graph(edge_index, None, num_nodes, k=args.k,
                        exchange=args.exchange, partition=args.partition)
    h0 = initial(shard, edge_index, None, args.k)
    del edge_index
    model = DistributedSymNMFNet(SymNMFNet(args.k, args.blocks)).to(device)
    if args.epochs:
        model.fit(shard, h0, epochs=args.epochs)
    model.timings = {'communication_s': 0.0}
    dist.barrier()
    start = time.perf_counter()
    with torch.no_grad():
        h = model(shard, h0)
    if h.is_cuda:
        torch.cuda.synchronize(h.device)
    total = time.perf_counter() - start
    value = global_loss(model, shard, h)
    halo = torch.tensor([halo_rows(shard)], device=device)
    dist.all_reduce(halo)
    if dist.get_rank() == 0:
        print(f'ranks {dist.get_world_size()}  nodes {num_nodes}  '
              f'k {args.k}  blocks {args.blocks}  loss {value:.6g}')
        print(f'partition {args.partition}  halo rows received per block '
              f'(all ranks) {int(halo)}')
        print(f'time per block {total / max(args.blocks, 1) * 1e3:.1f} ms  '
              f'communication share '
              f'{model.timings["communication_s"] / max(total, 1e-12):.1%}')
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
