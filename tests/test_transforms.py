import pytest
import torch
import torch_geometric.transforms as T
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

from pyg_symnmf import SymNMFClustering, datasets, metrics, symnmf
from pyg_symnmf.readout import normalize_rows
from pyg_symnmf.testing import random_graph
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
    out = DetectCommunities(k=3, method='anls')(data.clone())
    assert out.membership.shape == (90, 3) and out.community.shape == (90,)
    torch.testing.assert_close(out.membership.sum(1), torch.ones(90))
    assert metrics.nmi(data.y, out.community) >= 0.95
    est = SymNMFClustering(3, 'net', pretrained=False, num_layers=30,
                           epochs=0).fit(data)
    out = DetectCommunities(estimator=est)(data.clone())
    assert torch.equal(out.community, est.predict(data))
    torch.testing.assert_close(out.membership, est.transform(data))


def test_compose_with_pyg_transforms_and_repr():
    transform = T.Compose([SelfTuningKNNGraph(), DetectCommunities(k=2,
                                                                   method='mu')])
    x = torch.cat([torch.randn(20, 2), torch.randn(20, 2) + 10])
    out = transform(Data(x=x))
    assert metrics.clustering_accuracy([0] * 20 + [1] * 20,
                                       out.community) == 1.0
    assert repr(transform.transforms[0]) == \
        'SelfTuningKNNGraph(num_neighbors=7, scale_neighbor=7)'
    assert repr(transform.transforms[1]) == "DetectCommunities(k=2, method='mu')"


# Malformed data on purpose: PyG warns that it infers num_nodes.
INFERRED_NUM_NODES = pytest.mark.filterwarnings(
    "ignore:Unable to accurately infer 'num_nodes':UserWarning")


@INFERRED_NUM_NODES
@pytest.mark.parametrize('transform,data,error,match', [
    (SelfTuningKNNGraph(), Data(num_nodes=5), ValueError, 'data.x'),
    (SelfTuningKNNGraph(), Data(x=torch.rand(5, 2)), ValueError,
     'more than 7 nodes'),
    (SelfTuningKNNGraph(), Data(x=torch.full((20, 2), float('nan'))),
     ValueError, 'NaN'),
    (DetectCommunities(k=2, method='anls'), Data(x=torch.rand(5, 2)), ValueError,
     "no 'edge_index'"),
    (DetectCommunities(k=2, method='anls'),
     Data(edge_index=torch.tensor([[0, 1], [1, 0]]),
          edge_weight=torch.ones(3)), ValueError, 'one weight per edge'),
])
def test_malformed_data_gives_clear_errors(transform, data, error, match):
    with pytest.raises(error, match=match):
        transform(data)


def test_invalid_transform_arguments():
    with pytest.raises(ValueError, match='Unknown method'):
        DetectCommunities(k=2, method='kmeans')
    with pytest.raises(TypeError, match="'k'"):
        DetectCommunities(k='two')
    with pytest.raises(ValueError, match="'k'"):
        DetectCommunities(k=0)
    with pytest.raises(TypeError, match='SymNMFClustering'):
        DetectCommunities(estimator=torch.nn.Linear(2, 2))


def test_transform_applied_per_graph_by_a_pyg_dataset():
    from torch_geometric.datasets import KarateClub
    dataset = KarateClub(transform=DetectCommunities(k=4, method='anls'))
    data = dataset[0]
    assert data.community.shape == (34,) and data.membership.shape == (34, 4)
    assert metrics.nmi(data.y, data.community) >= 0.6


def test_a_batch_is_factored_graph_by_graph():
    graphs = [Data(edge_index=e, edge_weight=w, num_nodes=20)
              for e, w in (random_graph(20, 60, seed=s) for s in range(3))]
    batch = Batch.from_data_list(graphs)
    out = DetectCommunities(k=2, method='anls', max_iter=20, tol=0.0)(
        batch.clone())
    assert out.membership.shape == (60, 2)
    for i, data in enumerate(graphs):
        expected = normalize_rows(symnmf(data.edge_index, 2, data.edge_weight,
                                         20, max_iter=20, tol=0.0))
        torch.testing.assert_close(out.membership[20 * i:20 * (i + 1)],
                                   expected)


malformed_tensors = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 3), st.integers(0, 6)).map(
        lambda s: torch.randint(-2, 8, s)),
    st.tuples(st.integers(0, 3), st.integers(0, 6)).map(
        lambda s: torch.randn(s)),
    st.integers(0, 6).map(lambda n: torch.randint(0, 8, (n,))),
)


@pytest.fixture(scope='module')
def fitted_net():
    data = datasets.sbm((5, 5), p_in=0.6, p_out=0.1, seed=0)
    return SymNMFClustering(1, 'net', num_layers=2, epochs=0).fit(data)


@settings(max_examples=150, deadline=None, derandomize=True)
@INFERRED_NUM_NODES
@given(edge_index=malformed_tensors, edge_weight=malformed_tensors,
       num_nodes=st.one_of(st.none(), st.integers(0, 9)),
       x=st.one_of(st.none(), malformed_tensors))
def test_fuzzed_data_gives_a_clear_error_or_a_result(fitted_net, edge_index,
                                                     edge_weight, num_nodes,
                                                     x):
    data = Data()
    for key, value in [('edge_index', edge_index),
                       ('edge_weight', edge_weight), ('x', x)]:
        if value is not None:
            data[key] = value
    if num_nodes is not None:
        data.num_nodes = num_nodes
    for transform in (DetectCommunities(k=1, method='anls', max_iter=3,
                                        tol=0.0),
                      DetectCommunities(estimator=fitted_net)):
        try:
            out = transform(data.clone())
        except (ValueError, TypeError) as err:
            assert str(err)  # a message, not an empty error
        else:
            assert torch.isfinite(out.membership).all()
