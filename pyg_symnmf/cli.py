"""``pyg-symnmf``: community detection with SymNMF-Net, the classical SymNMF
solvers and peer methods on one graph, side by side.

With no arguments it factors Zachary's karate club (embedded in PyG). Give
a graph file (``pyg-symnmf graph.csv -k 5``: an edge list, ``.npz``,
``.pt``, ``.graphml`` or ``.gml``) to factor your own graph, or ``--pyg
Planetoid:Cora`` for a PyG dataset. The table gives, per method, ACC, NMI
and ARI (when ground-truth labels are known), modularity, conductance, the
SymNMF loss and the time taken.

When the graph has node features (``--pyg`` datasets and ``.pt`` files with
``x``, or ``--features FILE`` for other graphs), the feature-aware rows
come first (SymNMF of :func:`~pyg_symnmf.features.feature_graph`), then the
graph-only rows and the peers: smoothed-feature k-means, spectral
clustering, Leiden and, up to :obj:`DMON_MAX_NODES` nodes, DMoN.
``--no-features`` factors the graph alone.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from . import features, io, metrics
from .adjacency import Adjacency
from .datasets import DATASETS, NORMALIZE
from .estimator import SymNMFClustering
from .factorize import graph_operators
from .functional import symnmf_loss
from .readout import normalize_rows
from .solvers import CLASSICAL_METHODS

__all__ = ['main', 'parse_args', 'run', 'format_table', 'CLIError']

PROG = 'pyg-symnmf'
PEERS_HINT = "pip install 'pyg_symnmf[peers]'"
DMON_MAX_NODES = 5000  # DMoN trains on the dense N x N adjacency
DMON_EPOCHS = 500
SMOOTHED_KMEANS_MAX_ENTRIES = 5e7  # that peer filters dense N x F features
MISSING = '-'


class CLIError(Exception):
    """A problem with the command line or its inputs, reported as one line
    ``pyg-symnmf: error: ...`` with exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`CLIError` (one line, no
    usage dump, no ``SystemExit``) so that :func:`main` returns 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIError(message)


def _k_value(text: str) -> Union[int, str]:
    if text.strip().lower() == 'auto':
        return 'auto'
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid k {text!r}: give a positive integer or 'auto'") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, description='Community detection with SymNMF-Net, the '
        'classical SymNMF solvers and peer methods (spectral clustering, '
        "Leiden) on one graph, side by side. Default graph: Zachary's "
        'karate club.')
    graph = parser.add_argument_group('graph (one of)')
    graph.add_argument('input', nargs='?', metavar='PATH',
                       help='your graph file: edge list (.csv, .tsv, .txt, '
                       '.edges, .edgelist, optionally .gz), .npz, .pt, '
                       '.graphml or .gml')
    graph.add_argument('--input', dest='input_option', metavar='PATH',
                       help='same as the positional PATH')
    graph.add_argument('--dataset', choices=list(DATASETS), default=None,
                       help='embedded or generated graph (default: karate)')
    graph.add_argument('--pyg', metavar='NAME',
                       help="a torch_geometric.datasets dataset, e.g. "
                       "'KarateClub', 'Planetoid:Cora'")
    graph.add_argument('--root', default='./data',
                       help='folder of the --pyg datasets (default: '
                       './data)')
    graph.add_argument('--features', metavar='FILE',
                       help="node features: CSV 'node,f0,f1,...' with the "
                       'ids of the graph file, or .npz (a SciPy sparse '
                       "matrix, or an array 'x') whose row i is node i")
    graph.add_argument('--no-features', dest='use_features',
                       action='store_false',
                       help='factor the graph alone, ignoring node features')
    graph.add_argument('--labels', metavar='FILE',
                       help="ground truth as CSV 'node,label' with the "
                       'original node ids (adds ACC, NMI, ARI)')
    graph.add_argument('--normalize', action=argparse.BooleanOptionalAction,
                       default=None, help='normalise the adjacency (default: '
                       'on, except for the digits dataset)')

    model = parser.add_argument_group('methods')
    model.add_argument('-k', type=_k_value, default=None, metavar='INT|auto',
                       help='number of communities (default: the number of '
                       "classes when labels are known, else 'auto')")
    model.add_argument('--layers', type=int, default=None,
                       help='SymNMF-Net layers (default: every pretrained '
                       'block; 20 for a fresh net)')
    model.add_argument('--blocks', dest='layers', type=int,
                       help=argparse.SUPPRESS)  # the pre-0.2 name
    model.add_argument('--epochs', type=int, default=None,
                       help='SymNMF-Net training epochs: fine-tuning of the '
                       'pretrained net (default: 0, none), or training of a '
                       'fresh net (default: 300)')
    model.add_argument('--no-pretrained', dest='pretrained',
                       action='store_false',
                       help='train a fresh net with full k x k weights '
                       'instead of the pretrained k-agnostic one')
    model.add_argument('--lr', type=float, default=0.01,
                       help="SymNMF-Net's Adam learning rate (default: "
                       '0.01)')
    model.add_argument('--methods', nargs='*', default=list(CLASSICAL_METHODS),
                       choices=CLASSICAL_METHODS, metavar='METHOD',
                       help='classical solvers to compare: '
                       f"{' '.join(CLASSICAL_METHODS)} (default: all; none: "
                       '--methods alone)')
    model.add_argument('--iters', type=int, default=300,
                       help='iterations of each classical solver '
                       '(default: 300)')
    model.add_argument('--no-peers', dest='peers', action='store_false',
                       help='skip spectral clustering and Leiden')
    model.add_argument('--seed', type=int, default=0,
                       help='seed of every method (default: 0)')
    model.add_argument('--device', default='cpu',
                       help="torch device of the SymNMF methods, e.g. 'cuda' "
                       '(default: cpu)')

    out = parser.add_argument_group('outputs')
    out.add_argument('--output', metavar='labels.csv',
                     help="write the first row's community of each node as CSV "
                     "'node,community'")
    out.add_argument('--memberships', metavar='memberships.csv',
                     help="write the first row's soft memberships (rows sum to "
                     "1) as CSV 'node,c0,c1,...'")
    out.add_argument('--overlapping', metavar='overlapping.csv',
                     help="write SymNMF-Net's overlapping communities "
                     "(BigCLAM's rule on its memberships) as CSV "
                     "'node,community', one row per membership; community "
                     "j is column cj of --memberships")
    out.add_argument('--plot', metavar='communities.png',
                     help="draw the graph coloured by the first row's "
                     'communities (needs matplotlib)')
    out.add_argument('--force', action='store_true',
                     help='overwrite existing output files (an input file '
                     'is never overwritten)')
    out.add_argument('--quiet', action='store_true',
                     help='no notes and no progress bars (bars appear for '
                     'steps that run longer than 2 s)')
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses and validates the command line, touching no graph.

    Raises:
        CLIError: a bad or inconsistent argument.
    """
    args = build_parser().parse_args(argv)
    if args.input is not None and args.input_option is not None:
        raise CLIError('give the graph file once: as PATH or as --input')
    if args.input is None:
        args.input = args.input_option
    sources = [name for name, given in [('PATH', args.input is not None),
                                        ('--dataset', args.dataset),
                                        ('--pyg', args.pyg)] if given]
    if len(sources) > 1:
        raise CLIError(f"give one graph, not {' and '.join(sources)}")
    if not sources:
        args.dataset = 'karate'
    if isinstance(args.k, int) and args.k < 1:
        raise CLIError(f'-k must be >= 1 (number of communities), got '
                       f'{args.k}')
    for name in ('layers', 'epochs', 'iters', 'seed'):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise CLIError(f'--{name} must be >= 0, got {value}')
    if not (args.lr > 0 and np.isfinite(args.lr)):
        raise CLIError(f'--lr must be a positive number, got {args.lr}')
    return args


# Checks made before any work ----------

def _check_device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise CLIError(f'--device {name!r} is not a torch device ({err})') \
            from None
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise CLIError(f'--device {name}: CUDA is not available (no GPU '
                           'or a CPU-only torch build); use --device cpu')
        if device.index is not None and \
                device.index >= torch.cuda.device_count():
            raise CLIError(f'--device {name}: only '
                           f'{torch.cuda.device_count()} CUDA device(s)')
    elif device.type == 'mps' and not (
            hasattr(torch.backends, 'mps') and
            torch.backends.mps.is_available()):
        raise CLIError(f'--device {name}: MPS is not available; use --device '
                       'cpu')
    return device


_OUTPUT_FLAGS = ('output', 'memberships', 'overlapping', 'plot')


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path can be written, is none of the inputs nor another
    output, and exists only with ``--force``."""
    inputs = {Path(path).resolve(): flag for flag, path in
              (('input', args.input), ('--labels', args.labels),
               ('--features', args.features))
              if path is not None}
    outputs: dict[Path, str] = {}
    for flag in _OUTPUT_FLAGS:
        path = getattr(args, flag)
        if path is None:
            continue
        try:
            io.check_output_path(path)
        except OSError as err:
            raise CLIError(f'--{flag}: {err}') from None
        resolved = Path(path).resolve()
        if resolved in inputs:
            raise CLIError(f"--{flag} '{path}' is the {inputs[resolved]} "
                           f'file; choose another output path')
        if resolved in outputs:
            raise CLIError(f"--{flag} and --{outputs[resolved]} both name "
                           f"'{path}'")
        outputs[resolved] = flag
        if resolved.exists() and not args.force:
            raise CLIError(f"--{flag}: '{path}' exists; pass --force to "
                           f'overwrite it')
    if args.plot is not None:
        try:
            from .plot import plot_format
            plot_format(args.plot)
        except ImportError:
            raise CLIError("--plot needs matplotlib: pip install "
                           "'pyg_symnmf[plot]'") from None
        except ValueError as err:
            raise CLIError(f'--plot: {err}') from None


def _check_readable(path: str, flag: str) -> None:
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{flag}: file '{p}' does not exist")
    if p.is_dir():
        raise CLIError(f"{flag}: '{p}' is a directory, not a file")
    if not os.access(p, os.R_OK):
        raise CLIError(f"{flag}: file '{p}' is not readable (permission "
                       'denied)')


# The graph ----------

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
        _check_readable(args.input, 'input')
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
    _check_readable(path, '--features')
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
        coo.data.astype(np.float32)), coo.shape).coalesce()


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
    _check_readable(path, '--labels')
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


# The methods ----------

@dataclass
class Result:
    """One row of the table."""
    name: str
    labels: Tensor
    seconds: float
    h: Optional[Tensor] = None
    estimator: Optional[SymNMFClustering] = None


def _fitted(result: Result) -> SymNMFClustering:
    """The estimator of a SymNMF row."""
    assert result.estimator is not None
    return result.estimator


def _symnmf_row(name: str, graph: Graph, data: Data, adj: Adjacency,
                k: Union[int, str], method: str,
                args: argparse.Namespace, note=print) -> Result:
    features = 'x' in data and data.x is not None
    if method == 'net' and features:
        options = {}
        name = 'SymNMF-Net + features (pretrained)'
    elif method == 'net':
        pretrained = args.pretrained and graph.normalize is not False
        if args.pretrained and not pretrained:
            note('note: the pretrained net factors normalised graphs; '
                 'training a fresh net on the raw weights')
        epochs = args.epochs if args.epochs is not None else \
            (0 if pretrained else 300)
        options = dict(pretrained=pretrained, num_layers=args.layers,
                       epochs=epochs, lr=args.lr)
        name = ('SymNMF-Net (pretrained' if pretrained else
                'SymNMF-Net (fresh') + (f', trained {epochs} epochs)'
                                        if epochs else ')')
    elif features:
        options = {}  # the defaults, as a user's first call
    else:
        options = dict(max_iter=args.iters, tol=0.0)
    start = time.perf_counter()
    # The rows get the raw operator: normalised unless --no-normalize.
    estimator = SymNMFClustering(k, method=method,
                                 normalize=graph.normalize is not False,
                                 seed=args.seed, verbose=not args.quiet,
                                 **options).fit(data)
    seconds = time.perf_counter() - start
    return Result(name, estimator.labels_.cpu(), seconds,
                  estimator.embedding_, estimator)


def _smoothed_kmeans_row(graph: Graph, k: int, seed: int,
                         notes: list[str]) -> Optional[Result]:
    from .features import smoothed_feature_kmeans

    size = graph.x.size(0) * graph.x.size(1)
    if size > SMOOTHED_KMEANS_MAX_ENTRIES:
        notes.append(f'smoothed-feature k-means skipped: it filters the '
                     f'dense {graph.x.size(0)} x {graph.x.size(1)} features '
                     f'(up to {SMOOTHED_KMEANS_MAX_ENTRIES:.0e} entries)')
        return None
    start = time.perf_counter()
    try:
        labels = smoothed_feature_kmeans(graph.x.cpu(),
                                         graph.data.edge_index.cpu(), k,
                                         _cpu(graph.data.get('edge_weight')),
                                         seed=seed)
    except ImportError:
        notes.append(f'smoothed-feature k-means skipped ({PEERS_HINT})')
        return None
    return Result('smoothed-feature k-means', labels,
                  time.perf_counter() - start)


def _dmon_row(graph: Graph, k: int, seed: int, notes: list[str]
              ) -> Optional[Result]:
    from .peers import gcn_pool_clustering

    n = graph.data.num_nodes
    if n > DMON_MAX_NODES:
        notes.append(f'DMoN skipped: {n} nodes (its dense adjacency is '
                     f'used up to {DMON_MAX_NODES})')
        return None
    data = Data(x=graph.x.cpu(), edge_index=graph.data.edge_index.cpu(),
                num_nodes=n)
    start = time.perf_counter()
    labels = gcn_pool_clustering(data, k, 'DMoN', epochs=DMON_EPOCHS,
                                 seed=seed)
    return Result(f'DMoN ({DMON_EPOCHS} epochs)', labels,
                  time.perf_counter() - start)


def _spectral_row(graph: Graph, k: int, seed: int, notes: list[str]
                  ) -> Optional[Result]:
    from .peers import spectral_clustering

    if _missing('sklearn', 'scipy'):
        notes.append(f'spectral clustering skipped ({PEERS_HINT})')
        return None
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            # cluster_qr needs no k-means restarts.
            labels = spectral_clustering(
                graph.data.edge_index, graph.data.num_nodes, k,
                graph.data.get('edge_weight'), seed=seed,
                assign_labels='cluster_qr')
    except (ValueError, np.linalg.LinAlgError, ArithmeticError) as err:
        notes.append('spectral clustering failed: ' + _one_line(err))
        return None
    seconds = time.perf_counter() - start
    for warning in {_one_line(w.message) for w in caught}:
        notes.append(f'spectral clustering: {warning}')
    return Result('spectral (scikit-learn)', labels, seconds)


def _leiden_row(graph: Graph, seed: int, notes: list[str]
                ) -> Optional[Result]:
    from .peers import leiden

    if _missing('igraph', 'leidenalg'):
        notes.append(f'Leiden skipped ({PEERS_HINT})')
        return None
    start = time.perf_counter()
    labels = leiden(graph.data.edge_index, graph.data.num_nodes,
                    graph.data.get('edge_weight'), seed=seed)
    return Result('Leiden (modularity)', labels,
                  time.perf_counter() - start)


def _missing(*modules: str) -> bool:
    """Whether an optional dependency cannot be imported."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            return True
    return False


# Figures ----------

def _figures(result: Result, graph: Graph, adj: Adjacency, raw: Adjacency
             ) -> dict[str, Any]:
    labels = result.labels
    row: dict[str, Any] = {'method': result.name,
                           'k': int(torch.unique(labels).numel())}
    if graph.y is not None:
        mask = graph.y >= 0
        truth, predicted = graph.y[mask], labels.numpy()[mask]
        row['ACC'] = metrics.clustering_accuracy(truth, predicted)
        row['NMI'] = metrics.nmi(truth, predicted)
        row['ARI'] = metrics.ari(truth, predicted)
    row['modularity'] = metrics.modularity(raw, labels)
    row['conductance'] = metrics.conductance(raw, labels)
    row['loss'] = float(symnmf_loss(adj, result.h.detach())) \
        if result.h is not None else MISSING
    row['time_s'] = result.seconds
    return row


def _cpu(tensor: Optional[Tensor]) -> Optional[Tensor]:
    return _on(tensor, torch.device('cpu'))


def _on(tensor: Optional[Tensor], device: torch.device
        ) -> Optional[Tensor]:
    return None if tensor is None else tensor.to(device)


def format_table(rows: list[dict]) -> str:
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]
    cells = [[_cell(r.get(c, MISSING)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells))
              for i, c in enumerate(columns)]
    lines = ['  '.join(c.ljust(w) for c, w in zip(columns, widths)),
             '  '.join('-' * w for w in widths)]
    lines += ['  '.join(v.ljust(w) for v, w in zip(row, widths)).rstrip()
              for row in cells]
    return '\n'.join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'{value:.4f}'
    return str(value)


def _one_line(message: Any) -> str:
    return ' '.join(str(message).split())


# The run ----------

def run(args: argparse.Namespace, note=print
        ) -> tuple[str, list[dict], list[str]]:
    """Checks the arguments, then factors the graph with every method and
    writes the outputs asked for.

    Returns the title line, one result row per method, and one line per
    file written.
    """
    device = _check_device(args.device)
    _check_outputs(args)
    graph = load_graph(args)
    for notice in graph.notices:
        note(notice)
    # Without -k: the number of classes when labels are known, else 'auto'
    # (the default of the estimator and of DetectCommunities too).
    k = args.k if args.k is not None else graph.num_classes or 'auto'
    if isinstance(k, int) and k > graph.data.num_nodes:
        raise CLIError(f'-k {k} exceeds the number of nodes '
                       f'{graph.data.num_nodes}')

    torch.manual_seed(args.seed)
    # The graph's operator, built once: every row and figure reads it.
    raw, adj = graph_operators(graph.data.edge_index.to(device),
                               _on(graph.data.get('edge_weight'), device),
                               graph.data.num_nodes, graph.normalize)
    data = Data(adj_t=raw, num_nodes=graph.data.num_nodes)
    results = []
    if graph.x is not None:  # the feature-aware rows first
        attributed = Data(adj_t=raw, x=graph.x.to(device),
                          num_nodes=graph.data.num_nodes)
        results.append(_symnmf_row('SymNMF + features (ANLS)', graph,
                                   attributed, adj, k, 'anls', args, note))
        chosen_k = _fitted(results[0]).n_communities_
        results.append(_symnmf_row('', graph, attributed, adj, chosen_k,
                                   'net', args, note))
    results.append(_symnmf_row('SymNMF-Net', graph, data, adj,
                               k if graph.x is None else chosen_k, 'net',
                               args, note))
    net = results[0]  # the first row is written by --output and --plot
    chosen_k = _fitted(net).n_communities_  # k='auto' is chosen once
    for method in args.methods:
        results.append(_symnmf_row(f'{method.upper()} ({args.iters} iters)',
                                   graph, data, adj, chosen_k, method, args,
                                   note))
    if args.peers:
        notes: list[str] = []
        peers = [('spectral clustering',
                  lambda: _spectral_row(graph, chosen_k, args.seed, notes)),
                 ('Leiden', lambda: _leiden_row(graph, args.seed, notes))]
        if graph.x is not None:
            peers.insert(0, ('smoothed-feature k-means',
                             lambda: _smoothed_kmeans_row(
                                 graph, chosen_k, args.seed, notes)))
            peers.append(('DMoN', lambda: _dmon_row(graph, chosen_k,
                                                    args.seed, notes)))
        for name, peer in peers:
            try:
                row = peer()
            except Exception as err:  # a peer's failure is not the run's
                notes.append(f'{name} failed: {type(err).__name__}: '
                             f'{_one_line(err)}')
                continue
            if row is not None:
                results.append(row)
        for line in notes:
            note(line)

    rows = [_figures(result, graph, adj, raw.to('cpu'))
            for result in results]
    num_edges = int((graph.data.edge_index[0] <
                     graph.data.edge_index[1]).sum())
    k_text = f'{chosen_k}' if k != 'auto' else f'auto ({chosen_k} chosen)'
    title = (f'graph: {graph.name}  N={graph.data.num_nodes}  '
             f'edges={num_edges}  k={k_text}')

    ids = graph.node_ids
    written = []
    if args.output is not None:
        io.write_labels(args.output, ids, net.labels.numpy())
        written.append(f'wrote {args.output} (the community of each of '
                       f'{len(ids)} nodes)')
    if args.memberships is not None:
        io.write_memberships(args.memberships, ids,
                             normalize_rows(_fitted(net).embedding_).cpu())
        written.append(f'wrote {args.memberships} (soft memberships, '
                       f'{len(ids)} x {chosen_k})')
    if args.overlapping is not None:
        nodes, communities = _fitted(net).cover_.cpu().nonzero(
            as_tuple=True)
        io.write_labels(args.overlapping, [ids[i] for i in nodes.tolist()],
                        communities)
        written.append(f'wrote {args.overlapping} (one row per membership, '
                       f'{len(nodes)} in all)')
    if args.plot is not None:
        from .plot import plot_communities

        figures = rows[0]
        caption = f"modularity {figures['modularity']:.3f}"
        if 'NMI' in figures:
            caption += f", NMI {figures['NMI']:.3f}"
        method = f'{net.name} (k={chosen_k})'
        plot_communities(graph.data.edge_index.cpu(), net.labels,
                         graph.data.num_nodes, args.plot,
                         title=f'{method} on {graph.name}: {caption}',
                         node_ids=ids)
        written.append(f'wrote {args.plot} (a drawing of the communities)')
    return title, rows, written


_RUNTIME_ERRORS = (ValueError, TypeError, RuntimeError, OSError, ImportError)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs ``pyg-symnmf``; returns the exit code (0, or 2 after printing
    one line ``pyg-symnmf: error: ...`` on stderr)."""
    try:
        args = parse_args(argv)
    except CLIError as err:
        return _fail(err)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)

    def note(line: str) -> None:
        if not args.quiet:
            print(f'note: {_one_line(line)}')

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message=r'Sparse (CSR tensor '
                                    r'support|invariant checks)')
            title, rows, written = run(args, note)
    except (CLIError, *_RUNTIME_ERRORS) as err:
        return _fail(err)
    print(title)
    print(format_table(rows))
    for line in written:
        print(line)
    return 0


def _fail(err: BaseException) -> int:
    message = _one_line(err) or type(err).__name__
    print(f'{PROG}: error: {message}', file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
