"""Shared helpers of the benchmarks: generated graphs, timing, peak
memory, training a net variant, CSV and PNG output."""
from __future__ import annotations

import csv
import os
import platform
import statistics
import time
from typing import Callable, Mapping, Sequence

import torch

from pyg_symnmf import datasets, testing

# Where CSV and PNG files go; the smoke tests point it at a temporary folder.
RESULTS = os.environ.get('PYG_SYMNMF_RESULTS',
                         os.path.join(os.path.dirname(__file__), 'results'))


def random_graph(num_nodes: int, avg_degree: float, seed: int = 0):
    """Erdos-Renyi-like undirected, unweighted graph with about
    ``num_nodes * avg_degree`` stored nonzeros: the package's one generator
    (:func:`pyg_symnmf.testing.random_graph`), sized by mean degree."""
    edge_index, _ = testing.random_graph(
        num_nodes, int(num_nodes * avg_degree / 2), seed, weighted=False)
    return edge_index


def planted_partition(num_nodes: int, k: int, avg_degree: float = 20,
                      mu: float = 0.2, seed: int = 0, shuffle: bool = True):
    """``k`` equal communities, mean degree ``avg_degree``, a share ``mu``
    of each node's edges leaving its community: ``(edge_index, labels)``
    (:func:`pyg_symnmf.datasets.degree_corrected_sbm` with equal sizes and
    degrees)."""
    sizes = torch.full((k,), num_nodes // k, dtype=torch.long)
    sizes[:num_nodes % k] += 1
    data = datasets.degree_corrected_sbm(sizes, torch.ones(num_nodes),
                                         avg_degree, mu, seed, shuffle)
    return data.edge_index, data.y


def lfr_like(num_nodes: int, k: int, avg_degree: float = 20,
             mu: float = 0.2, seed: int = 0, **options):
    """:func:`pyg_symnmf.datasets.lfr_like` as ``(edge_index, labels)``."""
    data = datasets.lfr_like(num_nodes, k, avg_degree, mu, seed, **options)
    return data.edge_index, data.y


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """``(fn(), seconds it took)``."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def interleaved_medians(fns: dict[str, Callable[[], object]],
                        repeats: int) -> dict[str, float]:
    """Median seconds of each function, run in turn (A B C A B C ...) so
    that load on a shared machine hits all of them alike."""
    for fn in fns.values():  # warm-up
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn)[1])
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
    path = output_path(name)
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def output_path(name: str) -> str:
    os.makedirs(RESULTS, exist_ok=True)
    return os.path.join(RESULTS, name)


def train_net(net, adj, h0, epochs: int, lr: float = 0.01) -> list[float]:
    """Trains ``net`` (a :class:`~pyg_symnmf.SymNMFNet` of any
    configuration) without labels on the SymNMF loss of its output from
    ``h0``, as :class:`~pyg_symnmf.SymNMFClustering` does (loss relative to
    ``||A||_F^2``, Adam with cosine decay, best parameters kept). Returns
    the loss per epoch."""
    from pyg_symnmf.functional import symnmf_loss
    from pyg_symnmf.training import train

    scale = 1.0 / float(adj.sq_norm.clamp_min(1e-12))
    curve = train(net, lambda: symnmf_loss(adj, net(h0, adj)) * scale,
                  epochs=epochs, lr=lr)
    return [value / scale for value in curve]


def plot_curves(curves: Mapping[str, tuple[Sequence[float],
                                           Sequence[float]]],
                name: str, *, logx: bool = False, **kwargs) -> str:
    """Draws ``{label: (x, y)}`` with :func:`pyg_symnmf.plot.plot_convergence`
    (log y; log x too with ``logx``) to ``RESULTS/name``."""
    from pyg_symnmf.plot import plot_convergence

    path = output_path(name)
    fig = plot_convergence(curves, **kwargs)
    if logx:
        fig.axes[0].set_xscale('log')
    fig.savefig(path, dpi=120, format='png')
    return path


def digits_graph():
    """The digits graph, whether it is factored normalised, and its
    operator: ``(data, normalize, adj)``."""
    from pyg_symnmf import datasets, to_adjacency

    data = datasets.digits()
    normalize = datasets.NORMALIZE['digits']
    return data, normalize, to_adjacency(data.edge_index, data.edge_weight,
                                         normalize=normalize)
