"""Reading an edge list: ``read_graph``'s pandas path against its line
reader (the fallback, and what every file went through before the pandas
path), side by side in one run, medians of interleaved repeats.

    python benchmarks/read_graph.py            # 10^5, 10^6 edges
    python benchmarks/read_graph.py --max 7    # and 10^7
    python benchmarks/read_graph.py --quick    # 10^4 edges, one repeat
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from common import interleaved_medians, machine, write_csv  # noqa: E402

from pyg_symnmf import io  # noqa: E402


def write_edge_list(path: str, num_edges: int, seed: int = 0) -> None:
    """``source,target,weight`` rows on N = E/5 integer ids, with a
    header (what SNAP-style files and exported tables look like)."""
    rng = np.random.default_rng(seed)
    ends = rng.integers(0, max(num_edges // 5, 2), (num_edges, 2))
    weights = rng.random(num_edges) + 0.1
    with open(path, 'w') as f:
        f.write('source,target,weight\n')
        np.savetxt(f, np.column_stack([ends, weights]),
                   fmt=['%d', '%d', '%.4f'], delimiter=',')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--max', type=int, default=6,
                        help='largest size as a power of ten (default 6)')
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    exponents = [4] if args.quick else range(5, args.max + 1)
    repeats = 1 if args.quick else args.repeats
    print(machine())
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for exponent in exponents:
            path = os.path.join(folder, f'edges_{exponent}.csv')
            write_edge_list(path, 10**exponent)

            def lines() -> object:
                saved = io._read_edge_list_pandas
                io._read_edge_list_pandas = lambda *args: None
                try:
                    return io.read_graph(path)
                finally:
                    io._read_edge_list_pandas = saved

            seconds = interleaved_medians(
                {'pandas': lambda: io.read_graph(path), 'lines': lines},
                repeats)
            row = {'edges': 10**exponent,
                   'pandas_s': round(seconds['pandas'], 3),
                   'lines_s': round(seconds['lines'], 3),
                   'speedup': round(seconds['lines'] / seconds['pandas'], 1)}
            print(row, flush=True)
            rows.append(row)
    print('wrote', write_csv('read_graph.csv', rows))


if __name__ == '__main__':
    main()
