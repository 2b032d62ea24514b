import csv

import pytest

from pyg_symnmf.cli import main


def test_default_run_prints_the_table(capsys):
    assert main(['--epochs', '5', '--iters', '20', '--quiet']) == 0
    out = capsys.readouterr().out
    assert 'dataset: karate' in out
    for name in ['SymNMF-Net', 'ANLS', 'HALS', 'MU', 'PGD', 'ACC', 'NMI',
                 'modularity', 'loss', 'time_s']:
        assert name in out


def test_sbm_with_output_and_plot(tmp_path, capsys):
    labels, plot = tmp_path / 'labels.csv', tmp_path / 'plot.png'
    assert main(['--dataset', 'sbm', '-k', '4', '--blocks', '5', '--epochs',
                 '3', '--iters', '5', '--methods', 'anls', '--quiet',
                 '--output', str(labels), '--plot', str(plot)]) == 0
    rows = list(csv.DictReader(open(labels)))
    assert len(rows) == 1000 and set(rows[0]) == {'node', 'community'}
    assert plot.stat().st_size > 1000


def test_bad_arguments_give_clear_errors(capsys):
    assert main(['-k', '0', '--epochs', '1', '--quiet']) == 2
    assert "'k'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['--dataset', 'nope'])
