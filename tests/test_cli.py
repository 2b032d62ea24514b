import csv
import sys

import networkx as nx
import numpy as np
import pytest
import scipy.sparse
import torch
from torch_geometric.data import Data

import pyg_symnmf as ps
from pyg_symnmf.cli import main

FAST = ['--epochs', '5', '--iters', '20', '--layers', '5']


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def two_cliques():
    """Two 5-cliques with string ids, joined by the edge a4-b0."""
    groups = [[f'a{i}' for i in range(5)], [f'b{i}' for i in range(5)]]
    edges = [(g[i], g[j]) for g in groups for i in range(5)
             for j in range(i + 1, 5)]
    return groups, edges + [('a4', 'b0')]


@pytest.fixture
def cliques_csv(tmp_path):
    _, edges = two_cliques()
    path = tmp_path / 'cliques.csv'
    path.write_text('source,target\n' +
                    ''.join(f'{u},{v}\n' for u, v in edges))
    return path


@pytest.fixture
def fit_forbidden(monkeypatch):
    """Any factorisation fails the test: errors must come before work."""
    def fail(*args, **kwargs):
        raise AssertionError('SymNMFClustering.fit was called')

    monkeypatch.setattr(ps.SymNMFClustering, 'fit', fail)


def one_error_line(capsys):
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith('pyg-symnmf: error: ')
    assert 'Traceback' not in captured.err
    return lines[0]


def test_default_run_prints_the_table(capsys):
    assert main([*FAST, '--quiet']) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == 'graph: karate  N=34  edges=78  k=4'
    for name in ['SymNMF-Net (pretrained, trained 5 epochs)', 'ANLS (20 iters)',
                 'HALS', 'MU', 'PGD', 'ACC', 'NMI', 'ARI', 'modularity',
                 'conductance', 'loss', 'time_s', 'spectral', 'Leiden']:
        assert name in out


def test_a_default_run_builds_the_operator_at_most_twice(count_calls,
                                                          capsys):
    # Every conversion of a graph into an operator goes through _to_coo;
    # the rows, the k selection, the cover and the figures share one build.
    import pyg_symnmf.adjacency as adjacency
    builds = count_calls(adjacency, '_to_coo')
    assert main(['--quiet']) == 0
    assert 'Leiden' in capsys.readouterr().out
    assert 1 <= len(builds) <= 2, len(builds)


def test_user_graph_with_string_ids_separates_the_cliques(cliques_csv,
                                                         tmp_path, capsys):
    out = tmp_path / 'labels.csv'
    assert main([str(cliques_csv), '-k', '2', '--output', str(out),
                 '--epochs', '5', '--iters', '20']) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == \
        'graph: cliques.csv  N=10  edges=21  k=2'
    header = printed.splitlines()[1]
    assert 'NMI' not in header and 'ACC' not in header
    for column in ('modularity', 'conductance', 'loss', 'time_s'):
        assert column in header
    rows = read_csv(out)
    community = {row['node']: row['community'] for row in rows}
    groups, _ = two_cliques()
    assert set(community) == set(groups[0] + groups[1])
    assert len({community[v] for v in groups[0]}) == 1
    assert len({community[v] for v in groups[1]}) == 1
    assert community['a0'] != community['b0']


def test_input_option_and_notes(tmp_path, capsys):
    path = tmp_path / 'loops.tsv'
    path.write_text('1\t2\n2\t3\n3\t1\n3\t3\n4\t5\n5\t6\n6\t4\n3\t4\n')
    assert main(['--input', str(path), '-k', '2', *FAST, '--no-peers',
                 '--methods']) == 0
    lines = capsys.readouterr().out.splitlines()
    notes = [line for line in lines if line.startswith('note: ')]
    assert notes == ['note: removed 1 self-loop (SymNMF of a graph does not '
                     'model them)']
    assert main(['--input', str(path), '-k', '2', *FAST, '--no-peers',
                 '--methods', '--quiet']) == 0
    assert 'note:' not in capsys.readouterr().out


def write_format(tmp_path, suffix):
    graph = nx.Graph()
    graph.add_edges_from([(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3),
                          (2, 3)])
    path = tmp_path / f'graph.{suffix}'
    if suffix in ('csv', 'tsv'):
        sep = ',' if suffix == 'csv' else '\t'
        path.write_text(''.join(f'{u}{sep}{v}\n' for u, v in graph.edges))
    elif suffix == 'npz':
        scipy.sparse.save_npz(path, nx.to_scipy_sparse_array(graph).tocsr())
    elif suffix == 'pt':
        edges = torch.tensor(list(graph.edges)).t()
        torch.save(Data(edge_index=torch.cat([edges, edges.flip(0)], 1),
                        x=torch.ones(6, 1), y=torch.zeros(6).long(),
                        num_nodes=6), path)
    elif suffix == 'graphml':
        nx.write_graphml(graph, path)
    else:
        nx.write_gml(graph, path)
    return path


@pytest.mark.parametrize('suffix', ['csv', 'tsv', 'npz', 'pt', 'graphml',
                                    'gml'])
def test_every_input_format_runs(tmp_path, suffix, capsys):
    path = write_format(tmp_path, suffix)
    out = tmp_path / 'labels.csv'
    assert main([str(path), '-k', '2', *FAST, '--methods', 'anls',
                 '--output', str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = next(line for line in lines if not line.startswith('note:'))
    assert first == f'graph: graph.{suffix}  N=6  edges=7  k=2'
    rows = read_csv(out)
    assert len(rows) == 6
    assert rows[0]['community'] != rows[5]['community']


def test_pt_without_features(tmp_path, capsys):
    path = tmp_path / 'bare.pt'
    torch.save(Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]),
                    num_nodes=3), path)
    assert main([str(path), '-k', '2', *FAST, '--methods', '--no-peers',
                 '--quiet']) == 0


def test_labels_add_the_ground_truth_columns(cliques_csv, tmp_path, capsys):
    groups, _ = two_cliques()
    truth = tmp_path / 'truth.csv'
    truth.write_text('node,label\n' + ''.join(
        f'{v},{name}\n' for name, g in zip(['left', 'right'], groups)
        for v in g))
    assert main([str(cliques_csv), '--labels', str(truth), *FAST,
                 '--methods', 'anls', '--quiet']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith('k=2')  # k from the labels
    header = lines[1].split()
    assert {'ACC', 'NMI', 'ARI'} <= set(header)
    net = lines[3].split('  ')
    nmi = float(lines[3][lines[1].index('NMI'):].split()[0])
    assert net[0].startswith('SymNMF-Net') and nmi == pytest.approx(1.0)


def test_offline_pyg_dataset_is_one_error_line(tmp_path, offline,
                                               fit_forbidden, capsys):
    assert main(['--pyg', 'Planetoid:Cora', '--root', str(tmp_path),
                 *FAST]) == 2
    line = one_error_line(capsys)
    assert 'could not download dataset Planetoid:Cora' in line
    assert str(tmp_path / 'Cora' / 'raw') in line


def test_pyg_dataset_uses_its_classes(tmp_path, capsys):
    assert main(['--pyg', 'KarateClub', '--root', str(tmp_path), *FAST,
                 '--methods', '--no-peers', '--quiet']) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == 'graph: KarateClub  N=34  edges=78  k=4'
    assert 'NMI' in out


def path_errors(tmp_path):
    missing = str(tmp_path / 'no' / 'such' / 'dir' / 'out.csv')
    return [
        (['--output', missing], 'does not exist'),
        (['--output', str(tmp_path)], 'is a directory'),
        (['--memberships', missing], 'does not exist'),
        (['--memberships', str(tmp_path)], 'is a directory'),
        (['--plot', missing.replace('.csv', '.png')], 'does not exist'),
        (['--plot', str(tmp_path)], 'is a directory'),
    ]


@pytest.mark.parametrize('case', range(6))
def test_output_path_errors_come_before_any_work(tmp_path, case,
                                                 fit_forbidden, capsys):
    flags, message = path_errors(tmp_path)[case]
    assert main([*FAST, *flags]) == 2
    line = one_error_line(capsys)
    assert message in line and line.split(': ')[2].startswith(flags[0])
    assert capsys.readouterr().out == ''


@pytest.mark.parametrize('flags, message', [
    (['--epochs', '-1'], '--epochs must be >= 0'),
    (['--iters', '-3'], '--iters must be >= 0'),
    (['--layers', '-2'], '--layers must be >= 0'),
    (['-k', '0'], '-k must be >= 1'),
    (['-k', 'many'], "invalid k 'many'"),
    (['--dataset', 'nope'], "invalid choice: 'nope'"),
    (['--dataset', 'sbm', '--pyg', 'KarateClub'], 'give one graph'),
])
def test_bad_arguments_are_one_error_line(flags, message, fit_forbidden,
                                          capsys):
    assert main([*FAST, *flags]) == 2
    assert message in one_error_line(capsys)


def test_cuda_without_a_gpu(monkeypatch, fit_forbidden, capsys):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert main([*FAST, '--device', 'cuda']) == 2
    assert 'CUDA is not available' in one_error_line(capsys)


def test_unreadable_or_invalid_input(tmp_path, fit_forbidden, capsys):
    assert main([str(tmp_path / 'missing.csv'), '-k', '2']) == 2
    assert 'does not exist' in one_error_line(capsys)
    bad = tmp_path / 'bad.csv'
    bad.write_text('a,b,c,d\n')
    assert main([str(bad), '-k', '2']) == 2
    assert "line 1: expected" in one_error_line(capsys)
    empty = tmp_path / 'empty.csv'
    empty.write_text('')
    assert main([str(empty), '-k', '2']) == 2
    assert 'is empty' in one_error_line(capsys)
    assert main([str(tmp_path), '-k', '2']) == 2
    assert 'is a directory' in one_error_line(capsys)


def test_an_unlabelled_graph_without_k_chooses_it(cliques_csv, capsys):
    assert main([str(cliques_csv), *FAST, '--methods', '--no-peers',
                 '--quiet']) == 0
    assert 'k=auto (2 chosen)' in capsys.readouterr().out


def test_k_larger_than_the_graph(cliques_csv, fit_forbidden, capsys):
    assert main([str(cliques_csv), '-k', '11', *FAST]) == 2
    assert 'exceeds the number of nodes 10' in one_error_line(capsys)


def test_k_auto_is_passed_through_or_reported(cliques_csv, capsys):
    try:
        supported = hasattr(ps.SymNMFClustering(k='auto', method='anls',
                                                max_iter=1, tol=0.0).fit(
            Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=2)),
            'labels_')
    except (TypeError, ValueError):
        supported = False
    code = main([str(cliques_csv), '-k', 'auto', *FAST, '--methods',
                 '--no-peers', '--quiet'])
    if supported:
        assert code == 0
        assert 'k=auto (' in capsys.readouterr().out
    else:
        assert code == 2
        assert "k='auto' is not available" in one_error_line(capsys)


def test_runtime_errors_are_one_line(monkeypatch, capsys):
    def boom(self, data):
        raise RuntimeError('the solver\nbroke')

    monkeypatch.setattr(ps.SymNMFClustering, 'fit', boom)
    assert main([*FAST, '--quiet']) == 2
    assert one_error_line(capsys) == 'pyg-symnmf: error: the solver broke'


def test_peers_present(capsys):
    pytest.importorskip('leidenalg')
    pytest.importorskip('igraph')
    assert main([*FAST, '--methods']) == 0
    out = capsys.readouterr().out
    methods = [line.split('  ')[0] for line in out.splitlines()[3:]]
    assert methods == ['SymNMF-Net (pretrained, trained 5 epochs)',
                       'spectral (scikit-learn)', 'Leiden (modularity)']
    assert 'note:' not in out


def test_peers_absent(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'leidenalg', None)
    monkeypatch.setitem(sys.modules, 'igraph', None)
    assert main([*FAST, '--methods']) == 0
    out = capsys.readouterr().out
    assert "note: Leiden skipped (pip install 'pyg_symnmf[peers]')" in out
    assert 'Leiden (' not in out and 'spectral' in out


def test_no_peers(capsys):
    assert main([*FAST, '--methods', '--no-peers']) == 0
    out = capsys.readouterr().out
    assert 'spectral' not in out and 'Leiden' not in out
    assert len(out.splitlines()) == 4


def test_spectral_matches_scikit_learn(cliques_csv, capsys):
    from sklearn.cluster import SpectralClustering

    assert main([str(cliques_csv), '-k', '2', *FAST, '--methods',
                 '--quiet']) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines()
               if line.startswith('spectral'))
    header = out.splitlines()[1]
    modularity = float(row[header.index('modularity'):].split()[0])
    graph = ps.io.read_graph(cliques_csv).data
    a = scipy.sparse.csr_matrix(
        (np.ones(graph.edge_index.size(1)), graph.edge_index.numpy()),
        shape=(10, 10))
    labels = SpectralClustering(2, affinity='precomputed',
                                assign_labels='cluster_qr',
                                random_state=0).fit_predict(a)
    expected = ps.metrics.modularity(graph.edge_index, labels)
    assert modularity == pytest.approx(expected, abs=1e-4)


def test_memberships_rows_sum_to_one(cliques_csv, tmp_path, capsys):
    path = tmp_path / 'memberships.csv'
    assert main([str(cliques_csv), '-k', '2', *FAST, '--methods',
                 '--no-peers', '--quiet', '--memberships', str(path)]) == 0
    rows = read_csv(path)
    assert len(rows) == 10 and set(rows[0]) == {'node', 'c0', 'c1'}
    assert rows[0]['node'] == 'a0'
    for row in rows:
        assert float(row['c0']) + float(row['c1']) == pytest.approx(1.0,
                                                                    abs=1e-4)


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip('matplotlib')
    plot = tmp_path / 'plot.png'
    assert main([*FAST, '--methods', '--no-peers', '--quiet', '--plot',
                 str(plot)]) == 0
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert plot.stat().st_size > 1000


def test_plot_title(monkeypatch, tmp_path, capsys):
    import pyg_symnmf.plot

    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)

    monkeypatch.setattr(pyg_symnmf.plot, 'plot_communities', spy)
    assert main([*FAST, '--methods', '--no-peers', '--quiet', '--plot',
                 str(tmp_path / 'p.png')]) == 0
    assert seen['title'].startswith('SymNMF-Net (pretrained, trained 5 '
                                    'epochs) (k=4) on karate: modularity ')
    assert ', NMI ' in seen['title']


def test_help_exits_zero(capsys):
    assert main(['--help']) == 0
    out = capsys.readouterr().out
    for flag in ('--pyg', '--labels', '--memberships', '--no-peers', '-k'):
        assert flag in out


def test_module_entry_point_exit_code(tmp_path):
    import subprocess

    result = subprocess.run(
        [sys.executable, '-m', 'pyg_symnmf.cli', '--epochs', '-1'],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == \
        ['pyg-symnmf: error: --epochs must be >= 0, got -1']


def test_pyg_graph_gets_the_rules_of_read_graph(monkeypatch, tmp_path,
                                                capsys):
    # A directed, weighted graph with a self-loop, as some datasets are.
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 5, 2, 1, 2, 0, 4, 5, 3, 3],
                               [1, 2, 0, 4, 5, 3, 3, 0, 1, 2, 3, 4, 5, 3]])
    data = Data(edge_index=edge_index, edge_weight=torch.full((14,), 2.0),
                y=torch.tensor([0, 0, 0, 1, 1, 1]), num_nodes=6)
    monkeypatch.setattr(ps.io, 'load_pyg_dataset', lambda name, root: data)
    assert main(['--pyg', 'Fake:Graph', *FAST, '--methods', 'anls']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('note: removed 1 self-loop')
    assert lines[1].startswith('note: the graph was directed (1 edges')
    assert lines[2] == 'graph: Fake:Graph  N=6  edges=7  k=2'
    header = lines[3]
    rows = {line.split('  ')[0]: line for line in lines[5:]}
    assert set(rows) == {'SymNMF-Net (pretrained, trained 5 epochs)',
                         'ANLS (20 iters)', 'spectral (scikit-learn)',
                         'Leiden (modularity)'}
    for line in rows.values():
        assert float(line[header.index('NMI'):].split()[0]) == \
            pytest.approx(1.0)


@pytest.mark.slow
def test_sbm_with_output_and_plot(tmp_path, capsys):
    pytest.importorskip('matplotlib')
    labels, plot = tmp_path / 'labels.csv', tmp_path / 'plot.png'
    assert main(['--dataset', 'sbm', '-k', '4', '--layers', '5', '--epochs',
                 '3', '--iters', '5', '--methods', 'anls', '--no-peers',
                 '--quiet', '--output', str(labels), '--plot',
                 str(plot)]) == 0
    rows = list(csv.DictReader(open(labels)))
    assert len(rows) == 1000 and set(rows[0]) == {'node', 'community'}
    assert plot.stat().st_size > 1000


def test_bad_arguments_give_clear_errors(capsys):
    assert main(['-k', '0', '--epochs', '1', '--quiet']) == 2
    err = capsys.readouterr().err
    assert '-k must be >= 1' in err and 'Traceback' not in err
    assert main(['--dataset', 'nope']) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nope'" in err and 'Traceback' not in err


def test_cli_on_a_bad_argument_prints_an_error_not_a_traceback(capsys):
    # --blocks is the pre-0.2 spelling of --layers.
    for flag in ('--layers', '--blocks'):
        assert main([flag, '-1', '--quiet']) == 2
        err = capsys.readouterr().err
        assert '--layers must be >= 0' in err and 'Traceback' not in err


# Round 2 of the adversarial battery: outputs, labels, peers.

def test_output_never_overwrites_an_input(cliques_csv, fit_forbidden, capsys):
    before = cliques_csv.read_bytes()
    assert main([str(cliques_csv), '-k', '2', '--output',
                 str(cliques_csv)]) == 2
    assert 'is the input file' in one_error_line(capsys)
    assert main([str(cliques_csv), '-k', '2', '--force', '--plot',
                 str(cliques_csv)]) == 2
    one_error_line(capsys)
    assert cliques_csv.read_bytes() == before


def test_memberships_never_overwrite_the_labels(cliques_csv, tmp_path,
                                                fit_forbidden, capsys):
    labels = tmp_path / 'truth.csv'
    labels.write_text('node,label\na0,x\nb0,y\n')
    assert main([str(cliques_csv), '--labels', str(labels), '--memberships',
                 str(labels)]) == 2
    assert 'is the --labels file' in one_error_line(capsys)
    assert labels.read_text() == 'node,label\na0,x\nb0,y\n'


def test_existing_outputs_need_force(cliques_csv, tmp_path, capsys):
    out = tmp_path / 'labels.csv'
    out.write_text('keep me')
    args = [str(cliques_csv), '-k', '2', *FAST, '--methods', '--no-peers',
            '--output', str(out)]
    assert main(args) == 2
    assert '--force' in one_error_line(capsys)
    assert out.read_text() == 'keep me'
    assert main([*args, '--force']) == 0
    assert f'wrote {out}' in capsys.readouterr().out
    assert len(read_csv(out)) == 10
    assert main([*args, '--force', '--memberships', str(out)]) == 2
    assert 'both name' in one_error_line(capsys)


def test_labels_listing_a_node_twice_are_refused(cliques_csv, tmp_path,
                                                 fit_forbidden, capsys):
    labels = tmp_path / 'truth.csv'
    labels.write_text('node,label\na0,x\na0,y\n')
    assert main([str(cliques_csv), '--labels', str(labels)]) == 2
    assert "lists node 'a0' twice (rows 1 and 2)" in one_error_line(capsys)


def test_labels_match_zero_padded_graph_ids(tmp_path, capsys):
    graph = tmp_path / 'g.csv'
    graph.write_text('001,002\n002,003\n003,001\n004,005\n005,006\n006,004\n'
                     '003,004\n')
    labels = tmp_path / 'truth.csv'
    labels.write_text('node,label\n' + ''.join(
        f'00{i},{int(i > 3)}\n' for i in range(1, 7)))
    assert main([str(graph), '--labels', str(labels), *FAST, '--methods',
                 '--no-peers', '--quiet']) == 0
    out = capsys.readouterr().out
    assert 'k=2' in out and 'NMI' in out


def test_plot_format_follows_the_suffix(tmp_path, capsys):
    pytest.importorskip('matplotlib')
    svg = tmp_path / 'communities.svg'
    assert main([*FAST, '--methods', '--no-peers', '--quiet', '--plot',
                 str(svg)]) == 0
    assert svg.read_text().lstrip().startswith('<?xml')
    assert main([*FAST, '--plot', str(tmp_path / 'c.xyz')]) == 2
    assert "cannot write a plot as '.xyz'" in one_error_line(capsys)


def test_pt_labels_give_the_ground_truth_columns(tmp_path, capsys):
    path = tmp_path / 'g.pt'
    data = Data(edge_index=torch.tensor([[0, 1, 1, 2, 3, 4, 4, 5, 2, 3],
                                         [1, 0, 2, 1, 4, 3, 5, 4, 3, 2]]),
                y=torch.tensor([0, 0, 0, 1, 1, 1]), num_nodes=6)
    torch.save(data, path)
    assert main([str(path), *FAST, '--methods', '--no-peers',
                 '--quiet']) == 0
    out = capsys.readouterr().out
    assert 'k=2' in out and 'NMI' in out


@pytest.mark.parametrize('k', ['10', 'auto'])
def test_a_failing_peer_is_a_note_and_the_rows_stay(tmp_path, k, capsys):
    graph = tmp_path / 'g.csv'
    graph.write_text('0,1\n' if k == 'auto' else ''.join(
        f'{i},{(i + 1) % 10}\n' for i in range(10)))
    assert main([str(graph), '-k', k, *FAST, '--methods', 'anls']) == 0
    out = capsys.readouterr().out
    assert 'SymNMF-Net' in out and 'ANLS' in out


def test_a_peer_that_raises_anything_becomes_a_note(monkeypatch, capsys):
    from pyg_symnmf import cli

    def broken(*args, **kwargs):
        raise TypeError('scipy says no')

    monkeypatch.setattr(cli, '_spectral_row', broken)
    assert main([*FAST, '--methods']) == 0
    out = capsys.readouterr().out
    assert 'note: spectral clustering failed: TypeError: scipy says no' in out
    assert 'SymNMF-Net' in out and 'Leiden' in out
