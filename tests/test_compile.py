"""torch.compile of the layers matches eager execution."""
import pytest
import torch

from pyg_symnmf import SymNMFNet, to_adjacency
from pyg_symnmf.testing import random_graph


@pytest.mark.slow
def test_torch_compile_matches_eager():
    edge_index, weight = random_graph()
    net = SymNMFNet(4, num_layers=3)
    with torch.no_grad():
        for block in net.blocks:
            block.weight.add_(0.05)
    h = torch.rand(30, 4)
    eager = net(h, edge_index, weight)
    compiled = torch.compile(net)(h, edge_index, weight)
    torch.testing.assert_close(compiled, eager)
    adj = to_adjacency(edge_index, weight)
    torch.testing.assert_close(torch.compile(net)(h, adj), eager)
