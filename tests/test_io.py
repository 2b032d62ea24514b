import csv
import gzip
import os
import re

import networkx as nx
import numpy as np
import pytest
import scipy.sparse
import torch
from torch_geometric.data import Data
from torch_geometric.utils import from_networkx

from pyg_symnmf import io as psio
from pyg_symnmf.io import read_graph


def write(path, text):
    path.write_text(text, encoding='utf-8')
    return path


def dense(data):
    """Dense adjacency of a read graph (missing weights count 1)."""
    n = data.num_nodes
    a = torch.zeros(n, n, dtype=torch.float64)
    w = data.edge_weight if data.edge_weight is not None else \
        torch.ones(data.edge_index.size(1))
    a[data.edge_index[0], data.edge_index[1]] = w.double()
    return a


def edge_set(data, node_ids):
    pairs = data.edge_index.t().tolist()
    return {(node_ids[u], node_ids[v]) for u, v in pairs}


def test_string_ids_with_header_and_weights(tmp_path):
    path = write(tmp_path / 'g.csv',
                 'source,target,weight\nbob,carol,0.5\nalice,bob,2\n')
    graph = psio.read_graph(path)
    assert graph.node_ids == ['alice', 'bob', 'carol']
    assert graph.data.edge_index.dtype == torch.int64
    assert graph.data.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert graph.data.edge_weight.dtype == torch.float32
    assert graph.data.edge_weight.tolist() == [2.0, 2.0, 0.5, 0.5]
    assert graph.data.num_nodes == 3
    assert graph.notices == []


def test_integer_ids_are_sorted_numerically(tmp_path):
    graph = psio.read_graph(write(tmp_path / 'g.txt', '10 2\n2 1\n1 100\n'))
    assert graph.node_ids == [1, 2, 10, 100]
    assert graph.data.edge_weight is None
    assert edge_set(graph.data, graph.node_ids) == {
        (10, 2), (2, 10), (2, 1), (1, 2), (1, 100), (100, 1)}


def test_one_line_per_edge_is_undirected_and_keeps_weights(tmp_path):
    graph = psio.read_graph(write(tmp_path / 'g.txt', '0 1 2\n1 2 3\n'))
    expected = torch.tensor([[0, 2, 0], [2, 0, 3], [0, 3, 0]],
                            dtype=torch.float64)
    assert torch.equal(dense(graph.data), expected)
    assert graph.notices == []


def test_directed_edge_list_is_symmetrised(tmp_path):
    rows = [(0, 1, 2.0), (1, 0, 4.0), (1, 2, 1.0), (2, 3, 3.0), (3, 0, 0.5)]
    path = write(tmp_path / 'g.csv',
                 ''.join(f'{u},{v},{w}\n' for u, v, w in rows))
    a = torch.zeros(4, 4, dtype=torch.float64)
    for u, v, w in rows:
        a[u, v] = w
    graph = psio.read_graph(path)
    assert torch.allclose(dense(graph.data), (a + a.t()) / 2)
    assert any('directed' in n and '(A + Aᵀ)/2' in n for n in graph.notices)
    with pytest.raises(ValueError, match='directed_ok=True'):
        psio.read_graph(path, directed_ok=False)


def test_unequal_reverse_weights_make_a_graph_directed(tmp_path):
    path = write(tmp_path / 'g.csv', '0,1,2\n1,0,4\n')
    graph = psio.read_graph(path)
    assert graph.data.edge_weight.tolist() == [3.0, 3.0]
    assert any('directed' in n for n in graph.notices)


def test_symmetric_edge_list_is_kept_as_is(tmp_path):
    path = write(tmp_path / 'g.csv', '0,1,2\n1,0,2\n1,2,1\n2,1,1\n')
    graph = psio.read_graph(path, directed_ok=False)
    assert graph.data.edge_weight.tolist() == [2.0, 2.0, 1.0, 1.0]
    assert graph.notices == []


def test_self_loops_are_removed_with_a_notice(tmp_path):
    graph = psio.read_graph(write(tmp_path / 'g.txt',
                                  'a a\na b\nb c\nc c\n'))
    assert (graph.data.edge_index[0] != graph.data.edge_index[1]).all()
    assert graph.data.edge_index.size(1) == 4
    assert any('removed 2 self-loops' in n for n in graph.notices)


def test_duplicates_are_summed_with_a_notice(tmp_path):
    graph = psio.read_graph(write(tmp_path / 'g.txt', 'a b\nb c\na b\n'))
    a = dense(graph.data)
    assert a[0, 1] == a[1, 0] == 2 and a[1, 2] == a[2, 1] == 1
    assert 'summed 1 duplicate edge' in graph.notices


def test_zero_weight_edges_are_dropped_with_a_notice(tmp_path):
    graph = psio.read_graph(write(tmp_path / 'g.csv', 'a,b,0\nb,c,2\n'))
    assert graph.node_ids == ['a', 'b', 'c']
    assert edge_set(graph.data, graph.node_ids) == {('b', 'c'), ('c', 'b')}
    assert 'dropped 1 zero-weight edge' in graph.notices


@pytest.mark.parametrize('name,sep', [
    ('g.tsv', '\t'), ('g.txt', ' '), ('g.edges', '  '), ('g.edgelist', ','),
    ('g.csv.gz', ','), ('g.tsv.gz', '\t')])
def test_delimiters_comments_and_gzip(tmp_path, name, sep):
    text = ('# a comment\n% another\n\n' +
            ''.join(f'{u}{sep}{v}{sep}{w}\n'
                    for u, v, w in [('x', 'y', 1.5), ('y', 'z', 2)]))
    path = tmp_path / name
    if name.endswith('.gz'):
        with gzip.open(path, 'wt', encoding='utf-8') as f:
            f.write(text)
    else:
        write(path, text)
    graph = psio.read_graph(path)
    assert graph.node_ids == ['x', 'y', 'z']
    assert graph.data.edge_weight.tolist() == [1.5, 1.5, 2.0, 2.0]


def test_fmt_overrides_the_suffix(tmp_path):
    path = write(tmp_path / 'graph.dat', 'a,b\n')
    assert psio.read_graph(path, fmt='csv').node_ids == ['a', 'b']
    assert psio.read_graph(path, fmt='edgelist').data.num_nodes == 2
    with pytest.raises(ValueError, match='unknown graph format'):
        psio.read_graph(path, fmt='xlsx')


def test_weighted_flag(tmp_path):
    path = write(tmp_path / 'g.csv', 'a,b,3\nb,c,1\n')
    assert psio.read_graph(path, weighted=False).data.edge_weight is None
    unweighted = write(tmp_path / 'u.csv', 'a,b\n')
    assert psio.read_graph(unweighted).data.edge_weight is None
    with pytest.raises(ValueError, match='no edge weights'):
        psio.read_graph(unweighted, weighted=True)
    labelled = write(tmp_path / 'l.csv', 'a,b,1\nb,c,friend\n')
    assert psio.read_graph(labelled, weighted=False).data.num_nodes == 3


def test_npz_keeps_isolated_nodes(tmp_path):
    a = np.zeros((5, 5))
    a[0, 1] = a[1, 0] = 2.0
    a[1, 2] = a[2, 1] = 1.0
    path = tmp_path / 'g.npz'
    scipy.sparse.save_npz(path, scipy.sparse.csr_matrix(a))
    graph = psio.read_graph(path)
    assert graph.node_ids == [0, 1, 2, 3, 4]
    assert graph.data.num_nodes == 5
    assert torch.equal(dense(graph.data), torch.from_numpy(a))
    assert graph.notices == []


def test_directed_npz_is_symmetrised(tmp_path):
    a = np.array([[0, 1, 0], [0, 0, 3], [0, 0, 0]], dtype=float)
    path = tmp_path / 'g.npz'
    scipy.sparse.save_npz(path, scipy.sparse.coo_matrix(a))
    graph = psio.read_graph(path)
    assert torch.allclose(dense(graph.data), torch.from_numpy(a + a.T) / 2)
    assert len(graph.notices) == 1 and 'directed' in graph.notices[0]


def test_pt_keeps_features_and_labels(tmp_path):
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    data = Data(x=torch.randn(4, 3), y=torch.tensor([0, 0, 1, 1]),
                edge_index=edge_index,
                edge_weight=torch.tensor([1.0, 1.0, 2.0, 2.0]), num_nodes=4)
    path = tmp_path / 'g.pt'
    torch.save(data, path)
    graph = psio.read_graph(path)
    assert torch.equal(graph.data.x, data.x)
    assert torch.equal(graph.data.y, data.y)
    assert torch.equal(graph.data.edge_index, edge_index)
    assert torch.equal(graph.data.edge_weight, data.edge_weight)
    assert graph.data.num_nodes == 4 and graph.node_ids == [0, 1, 2, 3]
    assert graph.notices == []


def test_pt_must_hold_a_data(tmp_path):
    path = tmp_path / 'g.pt'
    torch.save({'edge_index': torch.zeros(2, 1)}, path)
    with pytest.raises(ValueError, match='holds a dict'):
        psio.read_graph(path)


@pytest.mark.parametrize('suffix,writer', [('graphml', nx.write_graphml),
                                           ('gml', nx.write_gml)])
def test_networkx_formats_keep_isolated_nodes(tmp_path, suffix, writer):
    g = nx.Graph()
    g.add_nodes_from(['b', 'a', 'lonely', 'c'])
    g.add_edge('a', 'b', weight=2.0)
    g.add_edge('b', 'c', weight=0.5)
    path = tmp_path / f'g.{suffix}'
    writer(g, path)
    graph = psio.read_graph(path)
    assert graph.node_ids == ['b', 'a', 'lonely', 'c']
    assert graph.data.num_nodes == 4
    ids = graph.node_ids
    a = dense(graph.data)
    assert a[ids.index('a'), ids.index('b')] == 2.0
    assert a[ids.index('c'), ids.index('b')] == 0.5
    assert a[ids.index('lonely')].sum() == 0
    assert graph.notices == []


def test_parallel_graphml_edges_are_summed(tmp_path):
    g = nx.MultiGraph()
    g.add_edge('a', 'b', weight=1.0)
    g.add_edge('b', 'a', weight=2.5)
    g.add_edge('b', 'c', weight=1.0)
    path = tmp_path / 'g.graphml'
    nx.write_graphml(g, path)
    graph = psio.read_graph(path)
    assert dense(graph.data).tolist() == [[0, 3.5, 0], [3.5, 0, 1], [0, 1, 0]]
    assert 'summed 1 duplicate edge' in graph.notices


def test_directed_graphml_is_symmetrised(tmp_path):
    g = nx.DiGraph()
    g.add_edge('a', 'b')
    g.add_edge('b', 'c')
    g.add_edge('c', 'b')
    path = tmp_path / 'g.graphml'
    nx.write_graphml(g, path)
    graph = psio.read_graph(path)
    assert dense(graph.data).tolist() == [[0, 0.5, 0], [0.5, 0, 1], [0, 1, 0]]
    assert any('directed' in n for n in graph.notices)


@pytest.mark.parametrize('text,match', [
    ('a,b,1\nb,c,-2\n', 'line 2: weight .*-2.* nonnegative'),
    ('a,b,1\n# skip\nb,c,nan\n', 'line 3: weight .*nan'),
    ('a,b,1\nb,c,heavy\n', "line 2: weight 'heavy' is not a number"),
    ('a,b,1\nb,c\n', 'line 2: 2 columns, but the first edge has 3'),
    ('a\n', 'line 1: expected 2 or 3 columns'),
    ('a,b,c,d\n', 'line 1: expected 2 or 3 columns .*got 4'),
    ('a,b\nc,d,1\n', 'line 2: 3 columns, but the first edge has 2'),
    ('# only comments\n', 'contains no edges'),
    ('source,target\n', 'contains no edges'),
    ('a a\n', 'no edges between distinct nodes'),
])
def test_malformed_edge_lists(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        psio.read_graph(write(tmp_path / 'g.csv', text))


def test_empty_missing_and_unknown_files(tmp_path):
    with pytest.raises(ValueError, match='is empty'):
        psio.read_graph(write(tmp_path / 'g.csv', ''))
    missing = tmp_path / 'nope.csv'
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        psio.read_graph(missing)
    with pytest.raises(ValueError, match=r'\.csv.*\.graphml.*fmt='):
        psio.read_graph(write(tmp_path / 'g.xlsx', 'a,b\n'))


def test_invalid_npz_weights_are_counted(tmp_path):
    a = scipy.sparse.csr_matrix(np.array([[0, -1.0], [-1.0, 0]]))
    path = tmp_path / 'g.npz'
    scipy.sparse.save_npz(path, a)
    with pytest.raises(ValueError, match='2 edge weight'):
        psio.read_graph(path)


def test_non_square_npz(tmp_path):
    path = tmp_path / 'g.npz'
    scipy.sparse.save_npz(path, scipy.sparse.csr_matrix(np.ones((2, 3))))
    with pytest.raises(ValueError, match='must be square'):
        psio.read_graph(path)


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.reader(f))


def test_write_labels(tmp_path):
    path = tmp_path / 'labels.csv'
    psio.write_labels(path, ['alice', 'bob', 7], torch.tensor([1, 0, 1]))
    assert read_csv(path) == [['node', 'community'], ['alice', '1'],
                              ['bob', '0'], ['7', '1']]
    with pytest.raises(ValueError, match='2 node ids'):
        psio.write_labels(path, ['a', 'b'], [0, 1, 2])
    with pytest.raises(ValueError, match='integer'):
        psio.write_labels(path, ['a', 'b'], [0.5, 1.0])


def test_write_memberships(tmp_path):
    path = tmp_path / 'h.csv'
    psio.write_memberships(path, ['a', 'b'],
                           np.array([[1 / 3, 2.0], [1234567.0, 0.0]]))
    assert read_csv(path) == [['node', 'c0', 'c1'], ['a', '0.333333', '2'],
                              ['b', '1.23457e+06', '0']]
    with pytest.raises(ValueError, match=r'\[N, k\]'):
        psio.write_memberships(path, ['a'], np.ones(3))


@pytest.mark.parametrize('write_fn,values', [
    (psio.write_labels, [0]), (psio.write_memberships, [[0.5]])])
def test_writers_check_the_output_path(tmp_path, write_fn, values):
    with pytest.raises(FileNotFoundError, match="directory '.*nope' does not"):
        write_fn(tmp_path / 'nope' / 'out.csv', ['a'], values)
    with pytest.raises(IsADirectoryError, match='is a directory'):
        write_fn(tmp_path, ['a'], values)


def test_check_output_path(tmp_path):
    missing = tmp_path / 'nope' / 'out.csv'
    expected = re.escape(f"directory '{tmp_path / 'nope'}' does not exist")
    with pytest.raises(FileNotFoundError, match=expected):
        psio.check_output_path(missing)
    with pytest.raises(IsADirectoryError, match='is a directory'):
        psio.check_output_path(tmp_path)
    assert psio.check_output_path(tmp_path / 'out.csv') is None
    assert list(tmp_path.iterdir()) == []


def test_offline_dataset_names_the_raw_folder(tmp_path, offline):
    with pytest.raises(psio.DatasetUnavailableError) as info:
        psio.load_pyg_dataset('Planetoid:Cora', tmp_path)
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert '\n' not in message
    assert 'could not download' in message and 'Planetoid:Cora' in message
    assert f"'{tmp_path / 'Cora' / 'raw'}'" in message
    assert 'ind.cora.graph' in message


def test_dataset_names_are_checked(tmp_path):
    with pytest.raises(ValueError, match='Planetoid:Cora'):
        psio.load_pyg_dataset('NoSuchDataset', tmp_path)
    with pytest.raises(ValueError, match="'Planetoid:<name>'"):
        psio.load_pyg_dataset('Planetoid', tmp_path)
    with pytest.raises(ValueError, match='takes no name'):
        psio.load_pyg_dataset('KarateClub:x', tmp_path)


def test_bundled_dataset_loads(tmp_path):
    data = psio.load_pyg_dataset('KarateClub', tmp_path)
    assert data.num_nodes == 34 and data.y is not None


# Round 2 of the adversarial battery: files that fooled 0.2.0's readers.

def test_a_malicious_pt_file_does_not_run(tmp_path):
    marker = tmp_path / 'ran'

    class Payload:
        def __reduce__(self):
            return (os.system, (f'touch {marker}',))

    path = tmp_path / 'graph.pt'
    torch.save(Payload(), path)
    with pytest.raises(ValueError, match='not a PyG Data'):
        read_graph(path)
    assert not marker.exists()


def test_a_garbage_pt_or_truncated_gz_is_a_value_error(tmp_path):
    garbage = tmp_path / 'g.pt'
    garbage.write_bytes(b'not a pickle' * 10)
    with pytest.raises(ValueError, match='not a PyG Data'):
        read_graph(garbage)
    whole = gzip.compress(b'0,1\n' * 5000)
    truncated = tmp_path / 'g.csv.gz'
    truncated.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(ValueError, match='EOFError'):
        read_graph(truncated)


def test_a_malformed_first_weight_is_an_error_not_a_header(tmp_path):
    path = tmp_path / 'g.csv'
    path.write_text('0,1,abc\n1,2,1\n')
    with pytest.raises(ValueError, match="line 1: weight 'abc'"):
        read_graph(path)
    path.write_text('from_node,to_node,strength\nalice,bob,2\n')
    result = read_graph(path)
    assert result.node_ids == ['alice', 'bob'] and result.notices == [
        "line 1 read as a header: 'from_node,to_node,strength'"]


def test_zero_padded_ids_are_kept_apart(tmp_path):
    path = tmp_path / 'g.csv'
    path.write_text('007,1\n7,2\n')
    result = read_graph(path)
    assert result.node_ids == ['007', '1', '2', '7']
    assert result.data.edge_index.size(1) == 4


def test_npz_values_float32_cannot_hold_or_complex_are_refused(tmp_path):
    scipy_sparse = pytest.importorskip('scipy.sparse')
    big = tmp_path / 'big.npz'
    scipy_sparse.save_npz(big, scipy_sparse.csr_matrix(
        np.array([[0, 1e300], [1e300, 0]])))
    with pytest.raises(ValueError, match='float32'):
        read_graph(big)
    complex_ = tmp_path / 'complex.npz'
    scipy_sparse.save_npz(complex_, scipy_sparse.csr_matrix(
        np.array([[0, 1 + 1j], [1 + 1j, 0]])))
    with pytest.raises(ValueError, match='complex'):
        read_graph(complex_)


def test_pt_with_a_float_edge_index_is_refused(tmp_path):
    path = tmp_path / 'g.pt'
    torch.save(Data(edge_index=torch.tensor([[0.5, 1.0], [1.0, 0.5]]),
                    num_nodes=2), path)
    with pytest.raises(ValueError, match='integers'):
        read_graph(path)


def test_pt_from_networkx_keeps_its_weight_attribute(tmp_path):
    graph = nx.Graph()
    graph.add_edge(0, 1, weight=3.0)
    graph.add_edge(1, 2, weight=0.5)
    path = tmp_path / 'g.pt'
    torch.save(from_networkx(graph), path)
    data = read_graph(path).data
    assert sorted(data.edge_weight.tolist()) == [0.5, 0.5, 3.0, 3.0]


def test_graphml_default_edge_weight_is_used(tmp_path):
    path = tmp_path / 'g.graphml'
    path.write_text(
        '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing'
        '.org/xmlns"><key id="d0" for="edge" attr.name="weight" '
        'attr.type="double"><default>2.5</default></key><graph '
        'edgedefault="undirected"><node id="a"/><node id="b"/><node '
        'id="c"/><edge source="a" target="b"/><edge source="b" target="c">'
        '<data key="d0">1.0</data></edge></graph></graphml>')
    data = read_graph(path).data
    assert sorted(data.edge_weight.tolist()) == [1.0, 1.0, 2.5, 2.5]


@pytest.mark.parametrize('text', [
    'source,target,weight\n0,1,0.5\n1,2,2\n2,0,1.5\n5,3,1\n',
    '# comment\n\n10 11\n11 12\n12 10\n',
    'a\tb\nb\tc\nc\ta\n',
    '007,1\n7,2\n2,007\n',
    '+7,1\n1,2\n',
    'u,v\n3,4\n4,3\n4,5\n',
    '0,1\n1,2\n# a comment after the first edge\n2,0\n',
    ' 1 , 2 \n2,3\n',
])
def test_pandas_and_line_readers_agree(tmp_path, text, monkeypatch):
    pytest.importorskip('pandas')
    path = write(tmp_path / 'g.csv', text)
    fast = psio.read_graph(path)
    monkeypatch.setattr(psio, '_read_edge_list_pandas', lambda *args: None)
    slow = psio.read_graph(path)
    assert fast.node_ids == slow.node_ids
    assert torch.equal(fast.data.edge_index, slow.data.edge_index)
    assert (fast.data.edge_weight is None) == (slow.data.edge_weight is None)
    if fast.data.edge_weight is not None:
        assert torch.equal(fast.data.edge_weight, slow.data.edge_weight)
    assert fast.notices == slow.notices


def test_pandas_reader_leaves_errors_to_the_line_reader(tmp_path):
    pytest.importorskip('pandas')
    path = write(tmp_path / 'g.csv', '0,1,1\n1,2,-3\n')
    with pytest.raises(ValueError, match='line 2'):
        psio.read_graph(path)
    path = write(tmp_path / 'h.csv', '0,1\n1,2,3\n')
    with pytest.raises(ValueError, match='line 2'):
        psio.read_graph(path)


def test_large_integer_edge_list_takes_the_pandas_path(tmp_path, monkeypatch):
    pytest.importorskip('pandas')
    rng = np.random.default_rng(0)
    edges = rng.integers(0, 500, (3000, 2))
    path = tmp_path / 'g.csv.gz'
    with gzip.open(path, 'wt') as f:
        f.write(''.join(f'{u} {v}\n' for u, v in edges))
    monkeypatch.setattr(psio, '_read_edge_list_lines', None)  # not used
    graph = psio.read_graph(path)
    assert graph.node_ids == sorted(set(edges.ravel().tolist()))


def test_clean_graph_applies_the_file_rules_in_memory():
    from pyg_symnmf.io import clean_graph

    # A self-loop, a duplicate, a directed edge and a zero weight.
    edge_index = torch.tensor([[0, 1, 1, 1, 2, 3], [1, 0, 0, 1, 3, 0]])
    weight = torch.tensor([1.0, 1.0, 1.0, 5.0, 2.0, 0.0])
    result = clean_graph(edge_index, weight, 4, 'Planetoid:Toy')
    notices = ' '.join(result.notices)
    for expected in ('zero-weight', 'self-loop', 'duplicate', 'directed'):
        assert expected in notices, notices
    a = torch.sparse_coo_tensor(result.data.edge_index,
                                result.data.edge_weight, (4, 4)).to_dense()
    assert torch.equal(a, a.t()) and float(a.diagonal().abs().sum()) == 0
    assert float(a[0, 1]) == 1.5  # 0 -> 1 once, 1 -> 0 twice: (1 + 2) / 2
    assert float(a[2, 3]) == 1.0  # 2 -> 3 alone: (A + A^T) / 2
    assert result.node_ids == [0, 1, 2, 3]
    with pytest.raises(ValueError, match='negative'):
        clean_graph(edge_index, -weight, 4, 'Planetoid:Toy')
