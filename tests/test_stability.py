"""Deep stacks stay finite and bounded for any input, depth and alpha."""
import os

import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected

from pyg_symnmf import SymNMFNetConv, to_adjacency

NUM_GRAPHS = int(os.environ.get('PYG_SYMNMF_STRESS_GRAPHS', 10_000))
GRAPHS_PER_BATCH = 100


def random_batch(gen):
    graphs = []
    for _ in range(GRAPHS_PER_BATCH):
        n = int(torch.randint(2, 25, (1,), generator=gen))
        m = int(torch.randint(0, 4 * n, (1,), generator=gen))
        edge_index = torch.randint(n, (2, m), generator=gen)
        weight = torch.rand(m, generator=gen) * 10 ** float(
            torch.empty(()).uniform_(-3, 3, generator=gen))
        edge_index, weight = to_undirected(edge_index, weight, n)
        graphs.append(Data(edge_index=edge_index, edge_weight=weight,
                           num_nodes=n))
    return Batch.from_data_list(graphs)


@pytest.mark.parametrize('num_graphs', [
    GRAPHS_PER_BATCH,  # a quick sample in the default run
    pytest.param(NUM_GRAPHS, marks=pytest.mark.slow),
])
def test_random_deep_stacks_never_produce_nan_or_blow_up(num_graphs):
    gen = torch.Generator().manual_seed(0)
    k = 3
    for _ in range(max(num_graphs // GRAPHS_PER_BATCH, 1)):
        batch = random_batch(gen)
        adj = to_adjacency(batch.edge_index, batch.edge_weight,
                           batch.num_nodes)
        depth = int(torch.randint(1, 101, (1,), generator=gen))
        blocks = []
        for _ in range(depth):
            alpha = 10 ** float(torch.empty(()).uniform_(-2.5, 1,
                                                         generator=gen))
            block = SymNMFNetConv(k, alpha=alpha, alpha_min=1e-3, bias=True)
            with torch.no_grad():  # a trained, far-from-identity block
                block.weight.add_(torch.randn(k, k, generator=gen))
                block.bias.copy_(0.1 * torch.randn(k, generator=gen))
            blocks.append(block)
        # Any start, dead columns and huge entries included.
        h = torch.rand(batch.num_nodes, k, generator=gen) * 10 ** float(
            torch.empty(()).uniform_(-4, 4, generator=gen))
        h[:, 0] = 0
        h.requires_grad_()
        out = h
        for block in blocks:
            out = block(out, adj, batch=batch.batch)
        assert torch.isfinite(out).all()
        # The bound of SymNMFNetConv's docstring (||A||_2 <= 1 once
        # normalised), per graph.
        last = blocks[-1]
        alpha = float(last.alpha.detach())
        bound = (k**0.5 * (1 + alpha) * float(
            torch.linalg.matrix_norm(last.weight.detach(), 2)) /
            (2 * alpha**0.5))
        for i in range(batch.num_graphs):
            n_i = int((batch.batch == i).sum())
            norm = out[batch.batch == i].norm()
            assert norm <= bound + n_i**0.5 * last.bias.norm() + 1e-3
        out.square().sum().backward()
        assert torch.isfinite(h.grad).all()
        for block in blocks:
            assert torch.isfinite(block.weight.grad).all()
            assert torch.isfinite(block.rho.grad).all()
