import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Data

from pyg_symnmf import SymNMFNet, datasets
from pyg_symnmf.cli import main
from pyg_symnmf.transforms import DetectCommunities

from conftest import random_graph


def test_a_state_dict_of_another_k_is_refused_clearly():
    trained = SymNMFNet(5, num_blocks=3)
    with pytest.raises(ValueError, match='trained for k=5.*k=4'):
        SymNMFNet(4, num_blocks=3).load_state_dict(trained.state_dict())


def test_model_refuses_h_of_another_k():
    edge_index, weight = random_graph()
    with pytest.raises(ValueError, match='k=4'):
        SymNMFNet(4)(edge_index, weight, h=torch.rand(30, 3))


def test_torch_compile_matches_eager():
    edge_index, weight = random_graph()
    net = SymNMFNet(4, num_blocks=3)
    h = torch.rand(30, 4)
    eager = net(edge_index, weight, h=h)
    compiled = torch.compile(net)(edge_index, weight, h=h)
    torch.testing.assert_close(compiled, eager)


def test_runs_under_deterministic_algorithms():
    data = datasets.sbm((30, 30), p_in=0.3, p_out=0.05, seed=0)
    torch.use_deterministic_algorithms(True)
    try:
        runs = [SymNMFNet(2, num_blocks=5).fit(data, epochs=3,
                                               progress=False).embed(data)
                for _ in range(2)]
    finally:
        torch.use_deterministic_algorithms(False)
    assert torch.equal(*runs)


def test_float64_model_and_graph():
    edge_index, weight = random_graph()
    net = SymNMFNet(3, num_blocks=4).double()
    h = net(edge_index, weight.double(), h=torch.rand(30, 3).double())
    assert h.dtype == torch.float64
    # A float32 model (bias included) follows a float64 graph.
    h = SymNMFNet(3, num_blocks=4, bias=True)(edge_index, weight.double())
    assert h.dtype == torch.float64


malformed_tensors = st.one_of(
    st.none(),
    st.tuples(st.integers(0, 3), st.integers(0, 6)).map(
        lambda s: torch.randint(-2, 8, s)),
    st.tuples(st.integers(0, 3), st.integers(0, 6)).map(
        lambda s: torch.randn(s)),
    st.integers(0, 6).map(lambda n: torch.randint(0, 8, (n,))),
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(edge_index=malformed_tensors, edge_weight=malformed_tensors,
       num_nodes=st.one_of(st.none(), st.integers(0, 9)),
       x=st.one_of(st.none(), malformed_tensors))
def test_fuzzed_data_gives_a_clear_error_or_a_result(edge_index, edge_weight,
                                                     num_nodes, x):
    data = Data()
    for key, value in [('edge_index', edge_index),
                       ('edge_weight', edge_weight), ('x', x)]:
        if value is not None:
            data[key] = value
    if num_nodes is not None:
        data.num_nodes = num_nodes
    for transform in (DetectCommunities('anls', k=1, max_iter=3),
                      DetectCommunities(SymNMFNet(1, num_blocks=2))):
        try:
            out = transform(data.clone())
        except (ValueError, TypeError) as err:
            assert str(err)  # a message, not an empty error
        else:
            assert torch.isfinite(out.membership).all()


def test_cli_on_a_bad_argument_prints_an_error_not_a_traceback(capsys):
    assert main(['--blocks', '-1', '--quiet']) == 2
    err = capsys.readouterr().err
    assert 'num_blocks' in err and 'Traceback' not in err
