"""Shared helpers of the benchmarks: generated graphs, interleaved timing,
peak memory, CSV output."""
from __future__ import annotations

import csv
import os
import platform
import statistics
import time
from typing import Callable, Sequence

import torch
from torch_geometric.utils import to_undirected

# Where CSV and PNG files go; the smoke tests point it at a temporary folder.
RESULTS = os.environ.get('PYG_SYMNMF_RESULTS',
                         os.path.join(os.path.dirname(__file__), 'results'))


def random_graph(num_nodes: int, avg_degree: float, seed: int = 0):
    """Erdos-Renyi-like undirected graph with about num_nodes * avg_degree
    stored nonzeros."""
    gen = torch.Generator().manual_seed(seed)
    num = int(num_nodes * avg_degree / 2)
    edge_index = torch.randint(num_nodes, (2, num), generator=gen)
    return to_undirected(edge_index, num_nodes=num_nodes)


def interleaved_medians(fns: dict[str, Callable[[], object]],
                        repeats: int) -> dict[str, float]:
    """Median seconds of each function, run in turn (A B C A B C ...) so
    that load on a shared machine hits all of them alike."""
    for fn in fns.values():  # warm-up
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _status_mb(key: str) -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (since the last reset)."""
    return _status_mb('VmHWM')


def rss_mb() -> float:
    return _status_mb('VmRSS')


def reset_peak_rss() -> None:
    """Restarts the peak (Linux: writing 5 to /proc/self/clear_refs)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def machine() -> str:
    return (f'{platform.processor() or platform.machine()}, '
            f'{os.cpu_count()} cores, torch {torch.__version__}, '
            f'{torch.get_num_threads()} threads')


def write_csv(name: str, rows: Sequence[dict]) -> str:
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, name)
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def output_path(name: str) -> str:
    os.makedirs(RESULTS, exist_ok=True)
    return os.path.join(RESULTS, name)


def digits_graph():
    """The digits graph, whether it is factored normalised, and its
    operator: ``(data, normalize, adj)``."""
    from pyg_symnmf import datasets, to_adjacency

    data = datasets.digits()
    normalize = datasets.NORMALIZE['digits']
    return data, normalize, to_adjacency(data.edge_index, data.edge_weight,
                                         normalize=normalize)
