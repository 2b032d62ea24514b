import pathlib
import subprocess
import sys

import pytest

# Each runs a script in a fresh interpreter: seconds to minutes.
pytestmark = pytest.mark.slow

EXAMPLES = pathlib.Path(__file__).parents[1] / 'examples'


def run(name, tmp_path, *args):
    return subprocess.run([sys.executable, str(EXAMPLES / name), '--quick',
                           *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize('name,expected', [
    ('karate.py', 'modularity'),
    ('digits_clustering.py', 'spectral clustering'),
    ('gnn_encoder.py', 'GCN encoder'),
    ('graph_pooling.py', 'test accuracy'),
    ('transforms_pipeline.py', 'NMI'),
    ('inductive.py', 'held-out graphs'),
])
def test_example_runs(name, expected, tmp_path):
    result = run(name, tmp_path)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_karate_example_draws_a_plot(tmp_path):
    assert run('karate.py', tmp_path, '--out', 'k.png').returncode == 0
    assert (tmp_path / 'k.png').stat().st_size > 1000


def test_planetoid_loader_says_clearly_when_offline(tmp_path):
    result = run('planetoid.py', tmp_path, '--root', str(tmp_path))
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:  # no internet: a message, not a traceback
        assert 'could not download dataset Planetoid:Cora' in result.stderr
        assert 'Traceback' not in result.stderr
