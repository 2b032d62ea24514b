import pytest
import torch

from pyg_symnmf import datasets, metrics


def test_degree_corrected_sbm_has_the_asked_structure():
    sizes = [300, 200, 500]
    theta = torch.ones(1000)
    theta[:10] = 20  # ten hubs in the first community
    data = datasets.degree_corrected_sbm(sizes, theta, 12, 0.2, seed=1,
                                         shuffle=False)
    row, col = data.edge_index
    assert data.num_nodes == 1000
    assert torch.equal(torch.bincount(data.y), torch.tensor(sizes))
    assert not bool((row == col).any())  # no self-loops
    reverse = torch.sparse_coo_tensor(data.edge_index.flip(0),
                                      torch.ones(row.numel()), (1000, 1000))
    forward = torch.sparse_coo_tensor(data.edge_index,
                                      torch.ones(row.numel()), (1000, 1000))
    assert torch.equal((forward - reverse).coalesce().values().abs().sum(),
                       torch.tensor(0.))  # symmetric
    mixing = float((data.y[row] != data.y[col]).float().mean())
    assert mixing == pytest.approx(0.2, abs=0.03)
    assert 10 < row.numel() / 1000 <= 12  # duplicates merged
    degree = torch.bincount(row, minlength=1000).float()
    assert float(degree[:10].mean()) > 8 * float(degree[10:300].mean())


def test_degree_corrected_sbm_is_seeded_and_shuffles_consistently():
    a = datasets.degree_corrected_sbm([50, 50], torch.ones(100), 8, 0.1,
                                      seed=3)
    b = datasets.degree_corrected_sbm([50, 50], torch.ones(100), 8, 0.1,
                                      seed=3)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.y, b.y)
    # Shuffled numbering keeps the communities: they stay dense.
    assert metrics.modularity(a.edge_index, a.y, num_nodes=100) > 0.35


def test_lfr_like_has_power_law_degrees_and_sizes():
    data = datasets.lfr_like(5000, 20, 15, 0.3, seed=0)
    sizes = torch.bincount(data.y)
    assert sizes.numel() == 20 and int(sizes.sum()) == 5000
    assert int(sizes.max()) > 4 * int(sizes.min())
    degree = torch.bincount(data.edge_index[0], minlength=5000).float()
    assert float(degree.max()) > 8 * float(degree.median())
    row, col = data.edge_index
    mixing = float((data.y[row] != data.y[col]).float().mean())
    assert mixing == pytest.approx(0.3, abs=0.04)
