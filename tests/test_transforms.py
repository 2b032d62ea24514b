import pytest
import torch
import torch_geometric.transforms as T
from torch_geometric.data import Data

from pyg_symnmf import SymNMFNet, datasets, metrics
from pyg_symnmf.transforms import DetectCommunities, SelfTuningKNNGraph


def dense_self_tuning(x, k, scale):
    d = torch.cdist(x.double(), x.double())
    order = d.argsort(dim=1)
    sigma = d.gather(1, order[:, scale:scale + 1]).view(-1)
    w = torch.exp(-d.square() / (sigma[:, None] * sigma[None, :]))
    knn = torch.zeros_like(d, dtype=torch.bool)
    knn.scatter_(1, order[:, 1:k + 1], True)
    return torch.where(knn | knn.t(), w, torch.zeros_like(w))


def test_knn_graph_matches_a_dense_reference():
    x = torch.randn(60, 5, generator=torch.Generator().manual_seed(0))
    data = SelfTuningKNNGraph(num_neighbors=5, scale_neighbor=7)(Data(x=x))
    a = torch.zeros(60, 60, dtype=torch.float64)
    a[data.edge_index[0], data.edge_index[1]] = data.edge_weight.double()
    torch.testing.assert_close(a, dense_self_tuning(x, 5, 7), rtol=1e-5,
                               atol=1e-6)
    assert torch.equal(a, a.t())


def test_communities_transform_with_a_solver_and_a_model():
    data = datasets.sbm((30, 30, 30), p_in=0.4, p_out=0.02, seed=0)
    out = DetectCommunities('anls', k=3)(data.clone())
    assert out.membership.shape == (90, 3) and out.community.shape == (90,)
    torch.testing.assert_close(out.membership.sum(1), torch.ones(90))
    assert metrics.nmi(data.y, out.community) >= 0.95
    net = SymNMFNet(3, num_blocks=30)
    out = DetectCommunities(net)(data.clone())
    assert torch.equal(out.community, net.predict(data))


def test_compose_with_pyg_transforms_and_repr():
    transform = T.Compose([SelfTuningKNNGraph(), DetectCommunities('mu',
                                                                   k=2)])
    x = torch.cat([torch.randn(20, 2), torch.randn(20, 2) + 10])
    out = transform(Data(x=x))
    assert metrics.clustering_accuracy([0] * 20 + [1] * 20,
                                       out.community) == 1.0
    assert repr(transform.transforms[0]) == \
        'SelfTuningKNNGraph(num_neighbors=7, scale_neighbor=7)'
    assert repr(transform.transforms[1]) == "DetectCommunities('mu', k=2)"


@pytest.mark.parametrize('transform,data,error,match', [
    (SelfTuningKNNGraph(), Data(num_nodes=5), ValueError, 'data.x'),
    (SelfTuningKNNGraph(), Data(x=torch.rand(5, 2)), ValueError,
     'more than 7 nodes'),
    (SelfTuningKNNGraph(), Data(x=torch.full((20, 2), float('nan'))),
     ValueError, 'NaN'),
    (DetectCommunities('anls', k=2), Data(x=torch.rand(5, 2)), ValueError,
     "no 'edge_index'"),
    (DetectCommunities('anls', k=2),
     Data(edge_index=torch.tensor([[0, 1], [1, 0]]),
          edge_weight=torch.ones(3)), ValueError, 'one weight per edge'),
])
def test_malformed_data_gives_clear_errors(transform, data, error, match):
    with pytest.raises(error, match=match):
        transform(data)


def test_invalid_transform_arguments():
    with pytest.raises(ValueError, match='Unknown solver'):
        DetectCommunities('kmeans', k=2)
    with pytest.raises(TypeError, match='k'):
        DetectCommunities('anls')
    with pytest.raises(TypeError, match='SymNMFNet'):
        DetectCommunities(torch.nn.Linear(2, 2))


def test_transform_applied_per_graph_by_a_pyg_dataset():
    from torch_geometric.datasets import KarateClub
    dataset = KarateClub(transform=DetectCommunities('anls', k=4))
    data = dataset[0]
    assert data.community.shape == (34,) and data.membership.shape == (34, 4)
    assert metrics.nmi(data.y, data.community) >= 0.6
