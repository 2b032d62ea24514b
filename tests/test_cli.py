import csv

import pytest

from pyg_symnmf.cli import main


@pytest.mark.slow
def test_default_run_prints_the_table(capsys):
    assert main(['--epochs', '5', '--iters', '20', '--quiet']) == 0
    out = capsys.readouterr().out
    assert 'graph: karate' in out
    for name in ['SymNMF-Net', 'ANLS', 'HALS', 'MU', 'PGD', 'ACC', 'NMI',
                 'modularity', 'loss', 'time_s']:
        assert name in out


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
