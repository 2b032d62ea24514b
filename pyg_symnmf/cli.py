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
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from . import io, metrics
from .adjacency import Adjacency
from .cli_input import CLIError, Graph, load_graph
from .datasets import DATASETS
from .defaults import (DEFAULT_EPOCHS, DEFAULT_LR, DEFAULT_MAX_ITER,
                       DEFAULT_NUM_LAYERS)
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
                       f'block; {DEFAULT_NUM_LAYERS} for a fresh net)')
    model.add_argument('--blocks', dest='layers', type=int,
                       help=argparse.SUPPRESS)  # the pre-0.2 name
    model.add_argument('--epochs', type=int, default=None,
                       help='SymNMF-Net training epochs: fine-tuning of the '
                       'pretrained net (default: 0, none), or training of a '
                       f'fresh net (default: {DEFAULT_EPOCHS})')
    model.add_argument('--no-pretrained', dest='pretrained',
                       action='store_false',
                       help='train a fresh net with full k x k weights '
                       'instead of the pretrained k-agnostic one')
    model.add_argument('--lr', type=float, default=DEFAULT_LR,
                       help="SymNMF-Net's Adam learning rate (default: "
                       f'{DEFAULT_LR})')
    model.add_argument('--methods', nargs='*', default=list(CLASSICAL_METHODS),
                       choices=CLASSICAL_METHODS, metavar='METHOD',
                       help='classical solvers to compare: '
                       f"{' '.join(CLASSICAL_METHODS)} (default: all; none: "
                       '--methods alone)')
    model.add_argument('--iters', type=int, default=DEFAULT_MAX_ITER,
                       help='iterations of each classical solver '
                       f'(default: {DEFAULT_MAX_ITER})')
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


def _symnmf_row(name: str, graph: Graph, data: Data,
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
        options = dict(pretrained=pretrained, num_layers=args.layers,
                       epochs=args.epochs, lr=args.lr)
        epochs = SymNMFClustering('auto', 'net', **options).plan().epochs
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
                                   attributed, k, 'anls', args, note))
        chosen_k = _fitted(results[0]).n_communities_
        results.append(_symnmf_row('', graph, attributed, chosen_k,
                                   'net', args, note))
    results.append(_symnmf_row('SymNMF-Net', graph, data,
                               k if graph.x is None else chosen_k, 'net',
                               args, note))
    net = results[0]  # the first row is written by --output and --plot
    chosen_k = _fitted(net).n_communities_  # k='auto' is chosen once
    for method in args.methods:
        results.append(_symnmf_row(f'{method.upper()} ({args.iters} iters)',
                                   graph, data, chosen_k, method, args, note))
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
