"""What the command line reads: the graph (a file, a PyG dataset or an
embedded one), its node features and its ground-truth labels, under the
rules of :mod:`pyg_symnmf.io`, with a one-line :class:`CLIError` for every
problem."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from . import features, io
from .datasets import DATASETS, NORMALIZE

__all__ = ['CLIError', 'Graph', 'load_graph', 'check_readable']


class CLIError(Exception):
    """A problem with the command line or its inputs, reported as one line
    ``pyg-symnmf: error: ...`` with exit code 2."""


def check_readable(path: str, flag: str) -> None:
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{flag}: file '{p}' does not exist")
    if p.is_dir():
        raise CLIError(f"{flag}: '{p}' is a directory, not a file")
    if not os.access(p, os.R_OK):
        raise CLIError(f"{flag}: file '{p}' is not readable (permission "
                       'denied)')


@dataclass
class Graph:
    """The graph to factor, as the CLI sees it."""
    name: str
    data: Data  # edge_index, edge_weight (optional), num_nodes, y (optional)
    node_ids: list
    normalize: bool
    notices: list[str] = field(default_factory=list)
    y: Optional[np.ndarray] = None  # ground truth, -1 = unknown
    num_classes: Optional[int] = None
    x: Any = None  # node features (tensor), when known


def load_graph(args: argparse.Namespace) -> Graph:
    """The graph named by the arguments, with its ground truth if any."""
    if args.input is not None:
        check_readable(args.input, 'input')
        result = io.read_graph(args.input)
        graph = Graph(Path(args.input).name, _bare(result.data),
                      list(result.node_ids), True, list(result.notices))
        graph.x = result.data.get('x')
        graph.y = _node_labels(result.data)
    elif args.pyg is not None:
        data = io.load_pyg_dataset(args.pyg, root=args.root)
        graph = _from_pyg(args.pyg, data)
    else:
        make = DATASETS[args.dataset]
        data = make(seed=args.seed) if args.dataset in ('sbm', 'lfr') \
            else make()
        graph = Graph(args.dataset, _bare(data), list(range(data.num_nodes)),
                      NORMALIZE[args.dataset])
        graph.y = data.y.cpu().numpy()
    if args.normalize is not None:
        graph.normalize = args.normalize
    if args.features is not None:
        if args.input is None:
            raise CLIError('--features is for graph files; --pyg datasets '
                           'carry their own')
        graph.x = _read_features(args.features, graph.node_ids,
                                 graph.notices)
    if graph.x is not None and args.use_features and \
            not features.informative(graph.x):
        graph.notices.append('the node features only name the nodes '
                             '(one-hot ids or constant rows); factoring the '
                             'graph alone')
        graph.x = None
    if not args.use_features:
        graph.x = None
    if args.labels is not None:
        graph.y = _read_labels(args.labels, graph.node_ids, graph.notices)
    if graph.y is not None:
        known = graph.y[graph.y >= 0]
        graph.num_classes = int(np.unique(known).size) if known.size else None
    return graph


def _bare(data: Data) -> Data:
    """Only what the factorisation needs: no features, no labels."""
    bare = Data(edge_index=data.edge_index, num_nodes=data.num_nodes)
    if data.get('edge_weight') is not None:
        bare.edge_weight = data.edge_weight
    return bare


def _from_pyg(name: str, data: Data) -> Graph:
    """A PyG dataset's graph under the rules of :func:`io.read_graph`
    (symmetric, no self-loops, no duplicates), with the notices of a
    user's graph."""
    result = io.clean_graph(data.edge_index, data.get('edge_weight'),
                            int(data.num_nodes), name)
    notices = [n.replace(f"'{name}'", name) for n in result.notices]
    graph = Graph(name, _bare(result.data), list(result.node_ids), True,
                  notices)
    graph.y = _node_labels(data)
    graph.x = data.get('x')
    return graph


def _node_labels(data: Data) -> Optional[np.ndarray]:
    """``data.y`` when it holds one integer class per node."""
    y = data.get('y')
    if isinstance(y, Tensor) and y.dim() == 1 and \
            y.numel() == data.num_nodes and not y.is_floating_point():
        return y.cpu().numpy().astype(np.int64)
    return None


def _read_features(path: str, node_ids: list, notices: list[str]):
    """Feature rows in node order: a dense tensor (CSV) or a sparse one
    (SciPy ``.npz``); nodes without a row get zeros, with a notice."""
    check_readable(path, '--features')
    if path.endswith('.npz'):
        return _npz_features(path, node_ids)
    rows = _node_rows(path, '--features')
    if not rows or len(rows[0]) < 2:
        raise CLIError(f"--features: '{path}' holds no 'node,f0,f1,...' "
                       'rows')
    position = {str(node): i for i, node in enumerate(node_ids)}
    x = np.zeros((len(node_ids), len(rows[0]) - 1))
    seen = np.zeros(len(node_ids), dtype=bool)
    for number, row in enumerate(rows, start=1):
        if len(row) != x.shape[1] + 1:
            raise CLIError(f"--features: '{path}', row {number}: expected "
                           f'{x.shape[1] + 1} fields, got {len(row)}')
        index = position.get(row[0])
        if index is None:
            continue
        try:
            x[index] = [float(v) for v in row[1:]]
        except ValueError:
            raise CLIError(f"--features: '{path}', row {number}: a value is "
                           'not a number') from None
        seen[index] = True
    if not np.isfinite(x).all():
        raise CLIError(f"--features: '{path}' holds NaN or infinite values")
    if not seen.all():
        notices.append(f'--features: {int((~seen).sum())} node(s) have no '
                       'feature row; they get zeros')
    return torch.from_numpy(x).float()


def _npz_features(path: str, node_ids: list):
    import scipy.sparse

    try:
        matrix = scipy.sparse.load_npz(path).tocsr()
    except (ValueError, OSError, KeyError):
        with np.load(path) as arrays:
            key = 'x' if 'x' in arrays else (arrays.files[0] if
                                             len(arrays.files) == 1 else None)
            if key is None:
                raise CLIError(f"--features: '{path}' holds neither a SciPy "
                               "sparse matrix nor one array 'x'") from None
            matrix = scipy.sparse.csr_matrix(np.asarray(arrays[key],
                                                        dtype=float))
    if not all(isinstance(i, (int, np.integer)) and 0 <= i < matrix.shape[0]
               for i in node_ids):
        raise CLIError(f"--features: '{path}' has {matrix.shape[0]} rows; "
                       'row i is node i, so node ids must be integers '
                       f'0..{matrix.shape[0] - 1} (use a CSV for other ids)')
    coo = matrix[np.asarray(node_ids, dtype=np.int64)].tocoo()
    if not np.isfinite(coo.data).all():
        raise CLIError(f"--features: '{path}' holds NaN or infinite values")
    index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.from_numpy(
        coo.data.astype(np.float32)), coo.shape,
        check_invariants=False).coalesce()


def _node_rows(path: str, flag: str, if_empty: Optional[str] = None
               ) -> list[list[str]]:
    """The rows of a ``node,...`` file (``--labels``, ``--features``):
    blank and ``#`` lines dropped, fields split as every CSV-like file of
    the package is (:func:`pyg_symnmf.io.split_rows`), a header row
    (``node``, ``id``, ``node_id`` or ``source`` first) dropped; a file
    without rows raises ``if_empty`` when given."""
    try:
        with open(path, newline='', encoding='utf-8-sig') as f:
            lines = [(number, line) for number, line in
                     enumerate(f.read().splitlines(), start=1)
                     if line.strip() and not line.lstrip().startswith('#')]
    except UnicodeDecodeError as err:
        raise CLIError(f"{flag}: '{path}' is not UTF-8 text ({err})") \
            from None
    if not lines and if_empty is not None:
        raise CLIError(f"{flag}: '{path}' {if_empty}")
    rows = [fields for _, fields in io.split_rows(lines)]
    if rows and rows[0][0].lower() in ('node', 'id', 'node_id', 'source'):
        rows = rows[1:]
    return rows


def _read_labels(path: str, node_ids: list, notices: list[str]) -> np.ndarray:
    """Reads ``node,label`` rows; returns one class index per node, -1 for
    nodes without a label."""
    check_readable(path, '--labels')
    rows = _node_rows(path, '--labels', if_empty='holds no labels')
    position = {str(node): i for i, node in enumerate(node_ids)}
    y = np.full(len(node_ids), -1, dtype=np.int64)
    classes: dict[str, int] = {}
    first_row: dict[str, int] = {}
    unknown = 0
    for number, row in enumerate(rows, start=1):
        if len(row) != 2 or not row[0] or not row[1]:
            raise CLIError(f"--labels: '{path}', row {number}: expected "
                           f"'node,label', got {len(row)} field(s)")
        if row[0] in first_row:
            raise CLIError(f"--labels: '{path}' lists node {row[0]!r} twice "
                           f"(rows {first_row[row[0]]} and {number}); give "
                           f'one label per node')
        first_row[row[0]] = number
        index = position.get(row[0])
        if index is None:
            unknown += 1
            continue
        y[index] = classes.setdefault(row[1], len(classes))
    if not classes:
        raise CLIError(f"--labels: no node of '{path}' is in the graph "
                       '(use the node ids of the graph file)')
    if unknown:
        notices.append(f'--labels: ignored {unknown} label(s) of nodes not in '
                       'the graph')
    missing = int((y < 0).sum())
    if missing:
        notices.append(f'--labels: {missing} node(s) have no label; ACC, NMI '
                       'and ARI use the labelled nodes only')
    return y
