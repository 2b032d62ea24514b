"""Smoke test: every benchmark runs end to end at its --quick size (no
timing assertions)."""
import os
import pathlib
import subprocess
import sys

import pytest

# Each runs a script in a fresh interpreter: seconds to minutes.
pytestmark = pytest.mark.slow

BENCHMARKS = pathlib.Path(__file__).parents[1] / 'benchmarks'


@pytest.mark.parametrize('script,outputs', [
    ('block_cost.py', ['block_cost.csv', 'block_cost.png']),
    ('block_cost.py --build', ['build_cost.csv']),
    ('quality.py', ['quality.csv', 'quality_runs.csv']),
    ('convergence.py', ['convergence.csv', 'convergence.png']),
    ('scale.py', ['scale.csv']),
    ('read_graph.py', ['read_graph.csv']),
    ('ablation.py', ['ablation.csv', 'ablation_runs.csv']),
    ('overlapping.py', ['overlapping.csv', 'overlapping_runs.csv']),
    ('pretrained.py', ['pretrained_heldout.csv', 'pretrained_heldout_runs.csv',
                       'pretrained_convergence.csv',
                       'pretrained_convergence.png', 'pretrained_finetune.csv',
                       'auto_k.csv', 'auto_k_real.csv']),
    ('networks.py', ['networks.csv', 'networks_runs.csv']),
])
def test_benchmark_quick(script, outputs, tmp_path):
    env = {**os.environ, 'PYG_SYMNMF_RESULTS': str(tmp_path)}
    script, *options = script.split()
    result = subprocess.run([sys.executable, str(BENCHMARKS / script),
                             *options, '--quick'], capture_output=True,
                            text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in outputs:
        assert (tmp_path / name).stat().st_size > 0, name
