"""Seeds and deterministic algorithms: the same seed gives bit-identical
results whatever the global random state."""
import pytest
import torch
from torch_geometric.nn.models import GCN

from pyg_symnmf import SymNMFClustering, datasets, symnmf, to_adjacency
from pyg_symnmf.init import random_membership
from pyg_symnmf.testing import random_graph


@pytest.fixture(scope='module')
def planted():
    return datasets.sbm((50, 50, 50, 50), p_in=0.3, p_out=0.02,
                        num_features=8, seed=0)


def test_same_seed_gives_bit_identical_results(planted):
    def train(seed):
        torch.manual_seed(123)  # the global state must not matter
        est = SymNMFClustering(4, 'net', num_layers=5, epochs=5, seed=seed)
        return est.fit(planted).embedding_
    assert torch.equal(train(0), train(0))
    assert not torch.equal(train(0), train(1))


def test_encoder_and_seed_give_bit_identical_memberships(planted):
    def memberships(seed, global_seed):
        torch.manual_seed(global_seed)  # moves the global RNG
        torch.rand(7)
        encoder = GCN(8, 16, num_layers=2, out_channels=4)
        est = SymNMFClustering(4, 'net', num_layers=4, epochs=5,
                               encoder=encoder, seed=seed).fit(planted)
        return est.embedding_, est.transform(planted)

    h1, soft1 = memberships(0, 1)
    h2, soft2 = memberships(0, 999)
    assert torch.equal(h1, h2) and torch.equal(soft1, soft2)
    h3, _ = memberships(1, 1)
    assert not torch.equal(h1, h3)


def test_fit_leaves_the_global_random_state_alone(planted):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    SymNMFClustering(4, 'net', num_layers=3, epochs=2).fit(planted)
    assert torch.equal(torch.rand(3), expected)


def test_random_membership_is_seeded_by_its_own_generator():
    adj = to_adjacency(*random_graph())
    torch.manual_seed(0)
    a = random_membership(adj, 3, seed=4)
    after = torch.rand(1)
    torch.manual_seed(0)
    torch.rand(10)
    b = random_membership(adj, 3, seed=4)
    assert torch.equal(a, b)
    assert not torch.equal(a, random_membership(adj, 3, seed=5))
    torch.manual_seed(0)
    random_membership(adj, 3, seed=4)
    assert torch.equal(torch.rand(1), after)


def test_solver_seed_gives_bit_identical_results():
    edge_index, weight = random_graph()
    torch.manual_seed(1)
    a = symnmf(edge_index, 3, weight, seed=2, max_iter=20, tol=0.0)
    torch.manual_seed(2)
    b = symnmf(edge_index, 3, weight, seed=2, max_iter=20, tol=0.0)
    assert torch.equal(a, b)
    assert not torch.equal(a, symnmf(edge_index, 3, weight, seed=3,
                                     max_iter=20, tol=0.0))


def test_runs_under_deterministic_algorithms():
    data = datasets.sbm((30, 30), p_in=0.3, p_out=0.05, seed=0)
    torch.use_deterministic_algorithms(True)
    try:
        runs = [SymNMFClustering(2, 'net', num_layers=5, epochs=3)
                .fit(data).embedding_ for _ in range(2)]
        runs += [SymNMFClustering(2, method, max_iter=10, tol=0.0)
                 .fit(data).embedding_ for method in ('anls', 'anls')]
    finally:
        torch.use_deterministic_algorithms(False)
    assert torch.equal(runs[0], runs[1])
    assert torch.equal(runs[2], runs[3])
