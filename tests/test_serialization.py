"""state_dict round trips, a state_dict of another k, deep copies."""
import copy
import io
import pickle

import pytest
import torch

from pyg_symnmf import (SymNMFClustering, SymNMFNet, SymNMFNetConv, datasets,
                        to_adjacency)
from pyg_symnmf.init import random_membership
from pyg_symnmf.testing import random_graph


@pytest.fixture(scope='module')
def planted():
    return datasets.sbm((30, 30, 30), p_in=0.4, p_out=0.02, seed=0)


def test_state_dict_round_trip_reproduces_predictions(planted):
    est = SymNMFClustering(3, 'net', pretrained=False, num_layers=5,
                           epochs=10).fit(planted)
    buffer = io.BytesIO()
    torch.save(est.model_.state_dict(), buffer)
    buffer.seek(0)
    other = SymNMFNet(3, num_layers=5)
    other.load_state_dict(torch.load(buffer))
    adj = to_adjacency(planted.edge_index, num_nodes=planted.num_nodes)
    h0 = random_membership(adj, 3, seed=0)
    with torch.no_grad():
        assert torch.equal(other(h0, adj), est.embedding_)
        # Training moved the blocks: an untrained net differs.
        assert not torch.equal(SymNMFNet(3, num_layers=5)(h0, adj),
                               est.embedding_)


def test_state_dict_round_trip_with_bias_momentum_and_equivariant_weight():
    edge_index, weight = random_graph()
    h0 = torch.rand(30, 3)
    for kwargs in ({'k': 3, 'bias': True, 'momentum': True},
                   {'weight': 'equivariant', 'bias': True}):
        net = SymNMFNet(num_layers=4, **kwargs)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * torch.rand(p.shape))
        buffer = io.BytesIO()
        torch.save(net.state_dict(), buffer)
        buffer.seek(0)
        other = SymNMFNet(num_layers=4, **kwargs)
        other.load_state_dict(torch.load(buffer))
        assert torch.equal(other(h0, edge_index, weight),
                           net(h0, edge_index, weight)), kwargs


def test_a_state_dict_of_another_k_is_refused_clearly():
    trained = SymNMFNet(5, num_layers=3)
    with pytest.raises(ValueError, match=r'shape \[5, 5\].*\[4, 4\].*k=4'):
        SymNMFNet(4, num_layers=3).load_state_dict(trained.state_dict())
    # An equivariant state (two scalars per block) into a full block.
    equivariant = SymNMFNet(weight='equivariant', num_layers=3)
    with pytest.raises(ValueError, match=r'shape \[2\].*\[4, 4\].*k=4'):
        SymNMFNet(4, num_layers=3).load_state_dict(equivariant.state_dict())
    # ... while it loads into an equivariant net (any k).
    SymNMFNet(weight='equivariant', num_layers=3).load_state_dict(
        equivariant.state_dict())


def test_the_refusal_names_the_weight_form_of_the_state_dict():
    equivariant = SymNMFNet(weight='equivariant', num_layers=1)
    with pytest.raises(ValueError, match="holds an? 'equivariant'"):
        SymNMFNet(4, num_layers=1).load_state_dict(equivariant.state_dict())


def test_a_state_dict_with_nan_is_refused():
    state = SymNMFNetConv(3).state_dict()
    state['weight'][0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN or Inf'):
        SymNMFNetConv(3).load_state_dict(state)


def test_deepcopy_and_pickle_give_an_independent_equal_model():
    edge_index, weight = random_graph()
    net = SymNMFNet(3, num_layers=3, bias=True)
    h0 = torch.rand(30, 3)
    expected = net(h0, edge_index, weight)  # fills the operator caches
    assert net._cache._adj is not None
    for twin in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        # Copies start with an empty cache and own their parameters.
        assert twin._cache._adj is None
        assert all(b._cache._adj is None for b in twin.blocks)
        torch.testing.assert_close(twin(h0, edge_index, weight), expected,
                                   rtol=0, atol=0)
        with torch.no_grad():
            twin.blocks[0].weight.add_(1.0)
        assert not torch.equal(twin(h0, edge_index, weight), expected)
        assert torch.equal(net(h0, edge_index, weight), expected)


def test_deepcopy_of_an_adjacency_and_of_a_fitted_estimator(planted):
    adj = to_adjacency(*random_graph())
    twin = copy.deepcopy(adj)
    assert twin is not adj and twin.num_nodes == adj.num_nodes
    assert torch.equal(twin.csr.to_dense(), adj.csr.to_dense())
    assert torch.equal(twin.values, adj.values)
    twin.values.mul_(2)
    assert not torch.equal(twin.values, adj.values)
    est = SymNMFClustering(3, 'net', num_layers=3, epochs=2).fit(planted)
    other = copy.deepcopy(est)
    assert torch.equal(other.predict(planted), est.predict(planted))
    assert other.model_ is not est.model_
