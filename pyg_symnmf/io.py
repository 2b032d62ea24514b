r"""Reading a user's own graph, loading PyG datasets, writing results.

:func:`read_graph` turns a file into a :class:`~torch_geometric.data.Data`
holding an undirected graph ready for SymNMF, together with the original id
of every node and a notice for every change made to the input.

Formats, chosen by suffix unless ``fmt`` is given:

* **edge lists** ``.csv``, ``.tsv``, ``.txt``, ``.edges``, ``.edgelist``, and
  the same gzip-compressed (``.csv.gz``, ...): one edge per line as
  ``source target [weight]``, separated by commas, tabs or whitespace, with
  an optional header line and ``#`` or ``%`` comment lines;
* ``.npz``: a square SciPy sparse matrix saved by
  :func:`scipy.sparse.save_npz`;
* ``.pt``: a PyG :class:`~torch_geometric.data.Data` saved by
  :func:`torch.save` (its ``x`` and ``y`` are kept);
* ``.graphml`` and ``.gml``: read by networkx, with the ``weight`` edge
  attribute when present.

Rules applied to every format:

* An edge list that never holds both ``(u, v)`` and ``(v, u)`` lists every
  undirected edge once. Otherwise its lines, like the entries of a matrix,
  a ``Data`` or a directed GraphML/GML graph, are those of an adjacency
  matrix :math:`\mathbf{A}`.
* A directed :math:`\mathbf{A}` (an entry ``(u, v)`` without an equal
  ``(v, u)``) is symmetrised as :math:`(\mathbf{A} + \mathbf{A}^\top)/2`,
  with a notice; with ``directed_ok=False`` it raises :class:`ValueError`.
* Self-loops are removed, with a notice: SymNMF of a graph does not model
  them.
* Duplicate edges are summed, and zero-weight edges dropped, with a notice.
* Negative, NaN or infinite weights raise :class:`ValueError`.
* Node order: sorted ids for edge lists (numerically when every id is an
  integer, which then stays an :obj:`int`), ``0..N-1`` for ``.npz`` and
  ``.pt``, file order for GraphML/GML. Isolated nodes of ``.npz``, ``.pt``,
  GraphML and GML files are kept.
"""
from __future__ import annotations

import csv
import gzip
import inspect
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
import torch_geometric.datasets
from torch import Tensor
from torch_geometric.data import Data, Dataset

__all__ = [
    'GraphFile', 'read_graph', 'DatasetUnavailableError', 'load_pyg_dataset',
    'check_output_path', 'write_labels', 'write_memberships', 'FORMATS',
    'as_numpy', 'split_rows',
]

PathLike = Union[str, os.PathLike]

_EDGE_LIST_SUFFIXES = ('.csv', '.tsv', '.txt', '.edges', '.edgelist')
_SUFFIX_TO_FORMAT = {
    **{suffix: 'edgelist' for suffix in _EDGE_LIST_SUFFIXES},
    '.npz': 'npz', '.pt': 'pt', '.graphml': 'graphml', '.gml': 'gml',
}
#: Format names accepted by ``read_graph(fmt=...)``.
FORMATS = ('edgelist', 'npz', 'pt', 'graphml', 'gml')

_HEADER_NAMES = {
    'source', 'target', 'src', 'dst', 'from', 'to', 'u', 'v', 'node1',
    'node2', 'node_1', 'node_2', 'weight', 'w', 'value',
}
# Ids that are integers and read back the same: '007' and '+7' stay strings
# (they would otherwise merge with '7').
_INT_ID = re.compile(r'-?(0|[1-9]\d*)')
_KNOWN_DATASETS = ('KarateClub', 'Planetoid:Cora', 'Planetoid:CiteSeer',
                   'Planetoid:PubMed', 'Amazon:Computers', 'Coauthor:CS')


@dataclass
class GraphFile:
    """A graph read by :func:`read_graph`.

    Attributes:
        data (torch_geometric.data.Data): ``edge_index`` (int64, both
            directions of every edge), ``edge_weight`` (float32, absent when
            every weight is 1), ``num_nodes``, and ``x``/``y`` when the file
            carries them.
        node_ids (list): the original id of each node index.
        notices (list[str]): one line per change made to the input.
    """
    data: Data
    node_ids: list
    notices: list[str] = field(default_factory=list)


@dataclass
class _Entries:
    """A graph as read, before the rules of the module are applied."""
    row: np.ndarray
    col: np.ndarray
    weight: Optional[np.ndarray]  # None: the file carries no weights
    node_ids: list
    undirected: bool  # each entry is one undirected edge, not one of A
    extras: dict[str, Tensor] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


# Reading ---------------------------------------------------------------------

def read_graph(path: PathLike, *, fmt: Optional[str] = None,
               weighted: Optional[bool] = None,
               directed_ok: bool = True) -> GraphFile:
    r"""Reads a graph file into an undirected PyG graph.

    See the module documentation for the formats and the rules applied.

    Args:
        path (str or os.PathLike): the file.
        fmt (str, optional): one of :obj:`FORMATS`, or a suffix such as
            ``'csv'``; inferred from the suffix of :obj:`path` when
            :obj:`None`. A ``.gz`` edge list is decompressed either way.
        weighted (bool, optional): :obj:`None` uses the file's weights if it
            has any; :obj:`True` requires them and always returns
            ``edge_weight``; :obj:`False` counts every edge as 1, ignoring
            (and not parsing) any weights.
        directed_ok (bool): symmetrise a directed graph as
            :math:`(\mathbf{A} + \mathbf{A}^\top)/2` instead of raising.

    Returns:
        GraphFile: the graph, the original node ids and the notices.

    Raises:
        FileNotFoundError: :obj:`path` does not exist.
        ValueError: unknown format, empty or malformed file, invalid
            weights, a directed graph with ``directed_ok=False``, or
            ``weighted=True`` for a file without weights.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"graph file '{path}' does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"graph file '{path}' is empty")
    entries = _READERS[_resolve_format(path, fmt)](path, weighted is not False)
    if weighted is True and entries.weight is None:
        raise ValueError(f"'{path}' has no edge weights but weighted=True; "
                         'add a weight column/attribute or pass '
                         'weighted=None')
    return _graph_file(entries, path, directed_ok, weighted is True)


def clean_graph(edge_index: Tensor, edge_weight: Optional[Tensor],
                num_nodes: int, name: str) -> GraphFile:
    """A graph held in memory (a PyG dataset's) under the rules of
    :func:`read_graph` (symmetric, no self-loops, no zero weights, no
    duplicates; a directed graph symmetrised), with the same notices, which
    name the graph ``name``."""
    row, col = edge_index.detach().cpu().numpy().astype(np.int64)
    weight = None
    if edge_weight is not None:
        weight = edge_weight.detach().cpu().double().numpy()
        _check_weights(weight, name)
    entries = _Entries(row, col, weight, list(range(int(num_nodes))),
                       undirected=False)
    return _graph_file(entries, name, directed_ok=True, weighted=False)


def _graph_file(entries: _Entries, path: Union[Path, str], directed_ok: bool,
                weighted: bool) -> GraphFile:
    """The graph of read ``entries`` under the module's rules."""
    num_nodes = len(entries.node_ids)
    edge_index, weight, notices = _undirected_edges(entries, num_nodes,
                                                    directed_ok, path)
    notices = entries.notices + notices
    data = Data(edge_index=torch.from_numpy(edge_index), num_nodes=num_nodes,
                **entries.extras)
    if weighted or np.any(weight != 1.0):
        top = float(weight.max()) if weight.size else 0.0
        if top > float(np.finfo(np.float32).max):
            raise ValueError(f"'{path}': edge weights up to {top:.3g} exceed "
                             f"float32's range (3.4e38); rescale them")
        data.edge_weight = torch.from_numpy(weight).to(torch.float32)
    return GraphFile(data=data, node_ids=entries.node_ids, notices=notices)


def _resolve_format(path: Path, fmt: Optional[str]) -> str:
    """The format name of :obj:`path`, from :obj:`fmt` or the suffix."""
    accepted = ', '.join([*_SUFFIX_TO_FORMAT, '(.gz of the edge lists)'])
    if fmt is not None:
        key = fmt.lower().lstrip('.')
        if key in FORMATS:
            return key
        if '.' + key in _SUFFIX_TO_FORMAT:
            return _SUFFIX_TO_FORMAT['.' + key]
        raise ValueError(f"unknown graph format {fmt!r}; use one of "
                         f"{', '.join(FORMATS)} or a suffix among {accepted}")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-2:-1] and suffixes[-1] == '.gz':
        suffix = suffixes[-2]
        if suffix not in _EDGE_LIST_SUFFIXES:
            suffix = '.gz'  # only edge lists may be compressed
    else:
        suffix = suffixes[-1] if suffixes else ''
    if suffix not in _SUFFIX_TO_FORMAT:
        raise ValueError(f"cannot tell the format of '{path}' from its suffix "
                         f"{suffix or '(none)'!r}; accepted: {accepted}, or "
                         'pass fmt=')
    return _SUFFIX_TO_FORMAT[suffix]


def _read_edge_list(path: Path, parse_weights: bool) -> _Entries:
    """Reads a (possibly gzip-compressed) edge list: with pandas' C parser
    when pandas is installed and the file is regular, else (and for every
    error, so that it names its line) line by line."""
    fast = _read_edge_list_pandas(path, parse_weights)
    return fast if fast is not None else _read_edge_list_lines(
        path, parse_weights)


def _read_edge_list_pandas(path: Path, parse_weights: bool
                           ) -> Optional[_Entries]:
    """The edge list read by ``pandas.read_csv``, or ``None`` when pandas
    is missing or the file is anything but regular (comment lines after
    the first edge, ragged or empty fields, a weight that is not a
    nonnegative finite number): the line reader then reads it, or says
    which line is wrong. Integer ids are parsed in C; ids such as ``007``
    or ``+7`` (kept as text) send the file down the string path."""
    try:
        import pandas as pd
    except ImportError:
        return None
    skipped, first = _first_data_line(path)
    if first is None:
        return None
    fields = split_rows([(skipped + 1, first)])[0][1]
    header = _is_header(fields)
    delimiter = _delimiter(first)
    options = dict(sep=delimiter or r'\s+', header=None,
                   skiprows=skipped + header, skipinitialspace=True,
                   engine='c', compression='infer')
    try:
        frame = pd.read_csv(path, **options)
        integer_ids = all(pd.api.types.is_integer_dtype(frame[c])
                          for c in frame.columns[:2]) and \
            (header or all(_INT_ID.fullmatch(f) for f in fields[:2])) and \
            not _has_noncanonical_integers(path)
        if not integer_ids:
            frame = pd.read_csv(path, dtype=str, na_filter=False,
                                keep_default_na=False, **options)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError,
            EOFError, OSError, zlib.error):
        return None
    if frame.shape[1] not in (2, 3) or len(frame) == 0:
        return None
    if integer_ids:
        ids = np.concatenate([frame[c].to_numpy(np.int64)
                              for c in frame.columns[:2]])
        unique, index = np.unique(ids, return_inverse=True)
        node_ids = unique.tolist()
    else:
        ids = np.concatenate([frame[c].str.strip().to_numpy()
                              for c in frame.columns[:2]]).astype(str)
        if (ids == '').any() or np.char.startswith(ids, '#').any() or \
                np.char.startswith(ids, '%').any():
            return None
        node_ids, index = _index_node_ids(ids)
    weight = None
    if frame.shape[1] == 3 and parse_weights:
        weight = pd.to_numeric(frame[frame.columns[2]], errors='coerce'
                               ).to_numpy(dtype=np.float64)
        if not (np.isfinite(weight).all() and (weight >= 0).all()):
            return None
    row, col = index[:len(frame)], index[len(frame):]
    notices = [] if not header or _is_standard_header(fields) else [
        f"line {skipped + 1} read as a header: {','.join(fields)!r}"]
    return _Entries(row, col, weight, node_ids,
                    undirected=not _has_reverse_pair(row, col,
                                                     len(node_ids)),
                    notices=notices)


# An integer token after the first that does not read back the same: +7,
# 07, -07 (the first line's ids are checked on their own).
_NONCANONICAL_INT = re.compile(rb'[\n\r\t ,]\+|[\n\r\t ,]-?0[0-9]')


def _has_noncanonical_integers(path: Path) -> bool:
    opener = gzip.open if path.suffix.lower() == '.gz' else open
    with opener(path, 'rb') as f:
        return _NONCANONICAL_INT.search(f.read()) is not None


def _first_data_line(path: Path) -> tuple[int, Optional[str]]:
    """How many lines come before the first that is neither blank nor a
    comment, and that line (``None`` if there is none or the file cannot
    be decoded)."""
    opener = gzip.open if path.suffix.lower() == '.gz' else open
    try:
        with opener(path, 'rt', encoding='utf-8-sig') as f:
            for number, line in enumerate(f):
                if line.strip() and not line.lstrip().startswith(('#', '%')):
                    return number, line.rstrip('\r\n')
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, zlib.error):
        pass
    return 0, None


def _read_edge_list_lines(path: Path, parse_weights: bool) -> _Entries:
    """Reads an edge list line by line, naming the line of any error."""
    rows = split_rows(_data_lines(path))
    header = rows[0] if rows and _is_header(rows[0][1]) else None
    if header is not None:
        rows = rows[1:]
    if not rows:
        raise ValueError(f"'{path}' contains no edges")
    width = len(rows[0][1])
    for lineno, fields in rows:
        if len(fields) not in (2, 3):
            raise ValueError(f"'{path}', line {lineno}: expected 2 or 3 "
                             f"columns (source, target[, weight]), got "
                             f"{len(fields)}")
        if len(fields) != width:
            raise ValueError(f"'{path}', line {lineno}: {len(fields)} "
                             f"columns, but the first edge has {width}")
        if not fields[0] or not fields[1]:
            raise ValueError(f"'{path}', line {lineno}: empty node id")
    weight = None
    if width == 3 and parse_weights:
        weight = np.array([_parse_weight(f[2], path, n) for n, f in rows])
    node_ids, index = _index_node_ids(np.array(
        [f[0] for _, f in rows] + [f[1] for _, f in rows], dtype=object))
    row, col = index[:len(rows)], index[len(rows):]
    notices = [] if header is None or _is_standard_header(header[1]) else [
        f"line {header[0]} read as a header: {','.join(header[1])!r}"]
    return _Entries(row, col, weight, node_ids,
                    undirected=not _has_reverse_pair(row, col,
                                                     len(node_ids)),
                    notices=notices)


def _data_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the non-blank, non-comment lines."""
    opener = gzip.open if path.suffix.lower() == '.gz' else open
    try:
        with opener(path, 'rt', encoding='utf-8-sig') as f:
            lines = f.read().splitlines()
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError,
            zlib.error) as err:
        raise ValueError(f"'{path}' is not a readable UTF-8 text edge list "
                         f'({type(err).__name__}: {err})') from err
    return [(n, line) for n, line in enumerate(lines, start=1)
            if line.strip() and not line.lstrip().startswith(('#', '%'))]


def split_rows(lines: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """Splits ``(line number, text)`` lines on the delimiter sniffed from
    the first one (:func:`_delimiter`), fields stripped: the one rule for
    every CSV-like file the package reads."""
    if not lines:
        return []
    delimiter = _delimiter(lines[0][1])
    if delimiter is None:
        return [(n, line.split()) for n, line in lines]
    return [(n, [f.strip() for f in next(csv.reader([line],
                                                    delimiter=delimiter))])
            for n, line in lines]


def _delimiter(line: str) -> Optional[str]:
    """A tab, else a comma, else ``None`` (runs of whitespace)."""
    return '\t' if '\t' in line else ',' if ',' in line else None


def _is_header(fields: list[str]) -> bool:
    """Whether the first row names its columns instead of holding an edge:
    the usual column names, or three fields none of which reads as a number
    (an edge's weight does). A row such as ``0,1,abc`` is an edge with a
    malformed weight, and raises."""
    return _is_standard_header(fields) or (
        len(fields) == 3 and not any(_is_number(f) for f in fields))


def _is_standard_header(fields: list[str]) -> bool:
    return {f.lower() for f in fields[:2]} <= _HEADER_NAMES


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_weight(text: str, path: Path, lineno: int) -> float:
    """One weight, checked to be a nonnegative finite number."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"'{path}', line {lineno}: weight {text!r} is not a "
                         'number') from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"'{path}', line {lineno}: weight {text!r} is not a "
                         'nonnegative finite number, which SymNMF needs')
    return value


def _index_node_ids(ids: np.ndarray) -> tuple[list, np.ndarray]:
    """Sorted unique ids (ints when every id is the canonical text of one,
    else the strings as written) and each id's index."""
    ids = ids.astype(str)
    unique, inverse = np.unique(ids, return_inverse=True)
    if all(_INT_ID.fullmatch(i) for i in unique):
        # Integers sort by value: re-sort the (few) unique ids as ints.
        values = unique.astype(np.int64)
        order = np.argsort(values, kind='stable')
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return values[order].tolist(), rank[inverse.ravel()]
    return unique.tolist(), inverse.ravel().astype(np.int64)


def _has_reverse_pair(row: np.ndarray, col: np.ndarray, n: int) -> bool:
    """Whether some edge ``(u, v)``, ``u != v``, also appears as ``(v, u)``."""
    off = row != col
    both = np.concatenate([_sorted_unique(row[off] * n + col[off]),
                           _sorted_unique(col[off] * n + row[off])])
    both.sort()
    return bool((both[1:] == both[:-1]).any())


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique`` by a sort (NumPy's hash-based unique is several times
    slower on 10⁶ int64 keys)."""
    keys = np.sort(keys)
    return keys[np.concatenate([keys[:1] == keys[:1], keys[1:] != keys[:-1]])]


def _read_npz(path: Path, parse_weights: bool) -> _Entries:
    """Reads a square SciPy sparse matrix saved by ``save_npz``."""
    import scipy.sparse

    try:
        matrix = scipy.sparse.load_npz(path)
    except (ValueError, OSError, KeyError) as err:
        raise ValueError(f"'{path}' is not a SciPy sparse matrix saved by "
                         f'scipy.sparse.save_npz ({err})') from err
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"'{path}' holds a {matrix.shape} matrix; an "
                         'adjacency matrix must be square')
    if np.iscomplexobj(matrix.data):
        raise ValueError(f"'{path}' holds complex values; an adjacency "
                         'matrix needs real nonnegative weights')
    coo = matrix.tocoo()
    weight = None
    if parse_weights:
        weight = np.asarray(coo.data, dtype=np.float64)
        _check_weights(weight, path)
    return _Entries(coo.row.astype(np.int64), coo.col.astype(np.int64),
                    weight, list(range(matrix.shape[0])), undirected=False)


def _read_pt(path: Path, parse_weights: bool) -> _Entries:
    """Reads a PyG ``Data`` saved by ``torch.save``, with ``weights_only``
    loading: tensors, containers and PyG's data classes only, so a file
    can carry no code to run. The edge weights are ``edge_weight``, or
    ``weight`` as :func:`torch_geometric.utils.from_networkx` names them."""
    data = _load_data(path)
    if not isinstance(data, Data):
        raise ValueError(f"'{path}' holds a {type(data).__name__}; save a "
                         'torch_geometric.data.Data with torch.save(data, '
                         'path)')
    if data.edge_index is None:
        raise ValueError(f"'{path}': the saved Data has no edge_index")
    if not isinstance(data.edge_index, Tensor) or \
            data.edge_index.is_floating_point() or \
            data.edge_index.is_complex():
        raise ValueError(f"'{path}': edge_index must hold integers, got "
                         f"{getattr(data.edge_index, 'dtype', None)}")
    edge_index = data.edge_index.cpu().numpy().astype(np.int64)
    num_nodes = int(data.num_nodes)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"'{path}': edge_index has shape "
                         f'{tuple(edge_index.shape)}, expected [2, E]')
    if edge_index.size and (edge_index.min() < 0
                            or edge_index.max() >= num_nodes):
        raise ValueError(f"'{path}': edge_index refers to nodes outside "
                         f'0..{num_nodes - 1}')
    weight = None
    stored = next((data.get(key) for key in ('edge_weight', 'weight')
                   if isinstance(data.get(key), Tensor)
                   and data.get(key).shape == (edge_index.shape[1],)), None)
    if parse_weights and stored is not None:
        if stored.is_complex():
            raise ValueError(f"'{path}': complex edge weights; SymNMF needs "
                             'real nonnegative weights')
        weight = stored.detach().cpu().double().numpy()
        _check_weights(weight, path)
    extras = {key: data.get(key) for key in ('x', 'y')
              if data.get(key) is not None}
    return _Entries(edge_index[0], edge_index[1], weight,
                    list(range(num_nodes)), undirected=False, extras=extras)


def _load_data(path: Path) -> Any:
    """``torch.load`` without code execution: only tensors and PyG's
    ``Data`` classes are accepted."""
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    safe = getattr(torch.serialization, 'safe_globals', None)
    if safe is None:
        raise ValueError(f"reading '{path}' safely needs torch >= 2.5 "
                         f'(torch.serialization.safe_globals)')
    try:
        with safe([Data, DataEdgeAttr, DataTensorAttr, GlobalStorage]):
            return torch.load(path, weights_only=True, map_location='cpu')
    except Exception as err:  # pickle, zip and unpickler errors alike
        reason = ' '.join(str(err).split())
        for marker in ('Unsupported global', 'Trying to load unsupported',
                       'WeightsUnpickler error:'):
            if marker in reason:
                reason = reason[reason.index(marker):]
                break
        raise ValueError(f"'{path}' is not a PyG Data saved by torch.save, "
                         f"or holds objects other than tensors and Data "
                         f"({type(err).__name__}: {reason[:200]})") from err


def _read_graphml(path: Path, parse_weights: bool) -> _Entries:
    """Reads GraphML through networkx."""
    import networkx as nx

    return _from_networkx(nx.read_graphml, path, parse_weights)


def _read_gml(path: Path, parse_weights: bool) -> _Entries:
    """Reads GML through networkx."""
    import networkx as nx

    return _from_networkx(nx.read_gml, path, parse_weights)


def _from_networkx(reader: Callable[[Path], Any], path: Path,
                   parse_weights: bool) -> _Entries:
    """Reads a graph file with a networkx reader."""
    import networkx as nx

    try:
        graph = reader(path)
    except (nx.NetworkXError, ValueError, SyntaxError) as err:
        raise ValueError(f"'{path}' could not be parsed: {err}") from err
    node_ids = list(graph.nodes)
    position = {node: k for k, node in enumerate(node_ids)}
    edges = list(graph.edges(data=True))
    row = np.array([position[u] for u, _, _ in edges], dtype=np.int64)
    col = np.array([position[v] for _, v, _ in edges], dtype=np.int64)
    weight = None
    # A GraphML <default> of the weight key lands in graph['edge_default'].
    default = graph.graph.get('edge_default', {}).get('weight')
    if parse_weights and (default is not None
                          or any('weight' in d for _, _, d in edges)):
        default = 1.0 if default is None else default
        try:
            weight = np.array([float(d.get('weight', default))
                               for _, _, d in edges])
        except (TypeError, ValueError) as err:
            raise ValueError(f"'{path}': an edge weight is not a number "
                             f'({err})') from err
        _check_weights(weight, path)
    return _Entries(row, col, weight, node_ids,
                    undirected=not graph.is_directed())


_READERS: dict[str, Callable[[Path, bool], _Entries]] = {
    'edgelist': _read_edge_list, 'npz': _read_npz, 'pt': _read_pt,
    'graphml': _read_graphml, 'gml': _read_gml,
}


def _check_weights(weight: np.ndarray, path: Union[Path, str]) -> None:
    """Raises unless every weight is a nonnegative finite number."""
    bad = int(np.count_nonzero(~np.isfinite(weight) | (weight < 0)))
    if bad:
        raise ValueError(f"'{path}': {bad} edge weight(s) are negative, NaN "
                         'or infinite; SymNMF needs nonnegative finite '
                         'weights')


# The rules -------------------------------------------------------------------

def _undirected_edges(entries: _Entries, n: int, directed_ok: bool,
                      path: Union[Path, str]
                      ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Applies the module's rules: a symmetric, loop-free, coalesced graph.

    Returns the ``[2, E]`` edge index with both directions of every edge,
    sorted by (row, col), its float64 weights and the notices.
    """
    row, col = entries.row, entries.col
    weight = np.ones(len(row)) if entries.weight is None else entries.weight
    notices: list[str] = []

    keep = weight != 0
    if not keep.all():
        dropped = _count(len(keep) - keep.sum(), 'zero-weight edge')
        notices.append(f'dropped {dropped}')
    loops = row == col
    if (loops & keep).any():
        notices.append(f'removed {_count((loops & keep).sum(), "self-loop")} '
                       '(SymNMF of a graph does not model them)')
    keep &= ~loops
    row, col, weight = row[keep], col[keep], weight[keep]

    row, col, weight, duplicates = _coalesce(row, col, weight, n)
    if duplicates:
        notices.append(f'summed {_count(duplicates, "duplicate edge")}')

    if entries.undirected:
        row, col, weight = _mirror(row, col, weight)
    else:
        asymmetric = _count_asymmetric(row, col, weight, n)
        if asymmetric and not directed_ok:
            raise ValueError(
                f"'{path}' holds a directed graph ({asymmetric} of "
                f'{len(row)} edges lack an equal reverse edge); pass '
                'directed_ok=True to symmetrise it as (A + Aᵀ)/2')
        if asymmetric:
            row, col, weight = _mirror(row, col, weight / 2)
            row, col, weight, _ = _coalesce(row, col, weight, n)
            notices.append(f'the graph was directed ({asymmetric} edges lack '
                           'an equal reverse edge): symmetrised as '
                           '(A + Aᵀ)/2')
    if len(row) == 0:
        raise ValueError(f"'{path}' has no edges between distinct nodes")
    return np.stack([row, col]), weight, notices


def _count(number: int, noun: str) -> str:
    return f'{int(number)} {noun}{"" if number == 1 else "s"}'


def _coalesce(row: np.ndarray, col: np.ndarray, weight: np.ndarray, n: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Sums repeated ``(row, col)`` entries; sorts; counts the repeats."""
    keys, inverse = np.unique(row * n + col, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=weight,
                         minlength=len(keys))
    return keys // n, keys % n, summed, len(row) - len(keys)


def _mirror(row: np.ndarray, col: np.ndarray, weight: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adds the reverse of every entry and sorts by (row, col)."""
    row, col = np.concatenate([row, col]), np.concatenate([col, row])
    weight = np.concatenate([weight, weight])
    order = np.argsort(row * (int(max(row.max(initial=0),
                                      col.max(initial=0))) + 1) + col)
    return row[order], col[order], weight[order]


def _count_asymmetric(row: np.ndarray, col: np.ndarray, weight: np.ndarray,
                      n: int) -> int:
    """Number of coalesced entries ``(u, v)`` without an equal ``(v, u)``."""
    keys = row * n + col  # sorted and unique after _coalesce
    reverse = col * n + row
    # Sorted needles make the binary searches cache-friendly (4x here).
    order = np.argsort(reverse)
    at = np.empty_like(order)
    at[order] = np.minimum(np.searchsorted(keys, reverse[order]),
                           len(keys) - 1)
    matched = (keys[at] == reverse) & np.isclose(weight[at], weight,
                                                 rtol=1e-6, atol=0.0)
    return int(np.count_nonzero(~matched))


# PyG datasets ----------------------------------------------------------------

class DatasetUnavailableError(RuntimeError):
    """A PyG dataset could not be downloaded; the message says where to put
    its raw files by hand."""


def load_pyg_dataset(name: str, root: PathLike) -> Data:
    """Loads the first graph of a :mod:`torch_geometric.datasets` dataset.

    Args:
        name (str): a dataset class, optionally with the ``name=`` argument
            after a colon: ``'KarateClub'``, ``'Planetoid:Cora'``,
            ``'Amazon:Computers'``, ``'Coauthor:CS'``, ...
        root (str or os.PathLike): the folder datasets are stored in.

    Returns:
        torch_geometric.data.Data: ``dataset[0]``.

    Raises:
        ValueError: unknown class, or a name missing or not accepted.
        DatasetUnavailableError: the download failed (e.g. offline); the
            one-line message names the folder to put the raw files in.
    """
    class_name, _, arg = name.partition(':')
    cls = getattr(torch_geometric.datasets, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Dataset)):
        raise ValueError(f'unknown dataset {class_name!r}; use a class of '
                         'torch_geometric.datasets, e.g. '
                         f"{', '.join(_KNOWN_DATASETS)}")
    kwargs = _dataset_kwargs(cls, class_name, arg, root)
    if cls.download is not Dataset.download:  # type: ignore[attr-defined]
        cls = _reporting_download_failures(cls, name)
    return cls(**kwargs)[0]


def _dataset_kwargs(cls: type, class_name: str, arg: str, root: PathLike
                    ) -> dict[str, Any]:
    """The constructor arguments of :obj:`cls` for ``root`` and ``name``."""
    params = inspect.signature(cls).parameters
    kwargs: dict[str, Any] = {}
    if 'root' in params:
        kwargs['root'] = os.fspath(root)
    if arg:
        if 'name' not in params:
            raise ValueError(f"{class_name} takes no name; use '{class_name}'")
        kwargs['name'] = arg
    elif 'name' in params and \
            params['name'].default is inspect.Parameter.empty:
        raise ValueError(f"{class_name} needs a name: use "
                         f"'{class_name}:<name>', e.g. 'Planetoid:Cora'")
    return kwargs


def _reporting_download_failures(cls: type, name: str) -> type:
    """A subclass of :obj:`cls` whose failed download raises a
    :class:`DatasetUnavailableError` naming the raw folder the class uses."""

    class Reporting(cls):  # type: ignore[misc, valid-type]
        def download(self) -> None:
            try:
                super().download()
            except Exception as err:
                raise DatasetUnavailableError(
                    _unavailable_message(self, name, err)) from err

    Reporting.__name__ = Reporting.__qualname__ = cls.__name__
    return Reporting


def _unavailable_message(dataset: Dataset, name: str, err: Exception) -> str:
    """One line: what failed and which files to put where."""
    files = dataset.raw_file_names
    files = [files] if isinstance(files, str) else list(files)
    reason = ' '.join(f'{type(err).__name__}: {err}'.split())[:160]
    return (f'could not download dataset {name} ({reason}); put its raw '
            f"files ({', '.join(files)}) in '{dataset.raw_dir}' and run "
            'again')


# Writing ---------------------------------------------------------------------

def check_output_path(path: PathLike) -> None:
    """Checks that :obj:`path` can be written as a file, writing nothing.

    Args:
        path (str or os.PathLike): the output file.

    Raises:
        IsADirectoryError: :obj:`path` is a directory.
        FileNotFoundError: the directory of :obj:`path` does not exist.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"output path '{path}' is a directory; give "
                                f"a file name such as '{path / 'out.csv'}'")
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"directory '{parent}' does not exist; "
                                'create it or choose another output path')


def write_labels(path: PathLike, node_ids: Sequence,
                 labels: Union[Tensor, np.ndarray, Sequence[int]]) -> None:
    """Writes one community per node as CSV with header ``node,community``.

    Args:
        path (str or os.PathLike): the output file.
        node_ids (Sequence): the original id of each node index.
        labels (Tensor or array-like): ``[N]`` integer community labels.

    Raises:
        ValueError: :obj:`labels` is not a 1-D integer array of one label
            per node.
        IsADirectoryError, FileNotFoundError: see
            :func:`check_output_path`.
    """
    labels = as_numpy(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'labels must be a 1-D integer array, got shape '
                         f'{labels.shape} and dtype {labels.dtype}')
    _check_rows(len(labels), node_ids, 'labels')
    _write_csv(path, ['node', 'community'],
               ([node, int(c)] for node, c in zip(node_ids, labels)))


def write_memberships(path: PathLike, node_ids: Sequence,
                      memberships: Union[Tensor, np.ndarray]) -> None:
    """Writes soft memberships as CSV with header ``node,c0,c1,...``.

    Values are written with 6 significant digits.

    Args:
        path (str or os.PathLike): the output file.
        node_ids (Sequence): the original id of each node index.
        memberships (Tensor or array-like): ``[N, k]`` memberships.

    Raises:
        ValueError: :obj:`memberships` is not ``[N, k]``.
        IsADirectoryError, FileNotFoundError: see
            :func:`check_output_path`.
    """
    memberships = as_numpy(memberships)
    if memberships.ndim != 2:
        raise ValueError(f'memberships must be [N, k], got shape '
                         f'{memberships.shape}')
    _check_rows(len(memberships), node_ids, 'memberships')
    header = ['node'] + [f'c{j}' for j in range(memberships.shape[1])]
    _write_csv(path, header, ([node] + [f'{v:.6g}' for v in values]
                              for node, values in zip(node_ids,
                                                      memberships.tolist())))


def as_numpy(values: Union[Tensor, np.ndarray, Sequence]) -> np.ndarray:
    """A tensor (detached, on the CPU) or an array-like as a NumPy array."""
    if isinstance(values, Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _check_rows(rows: int, node_ids: Sequence, what: str) -> None:
    if rows != len(node_ids):
        raise ValueError(f'{what} has {rows} rows but there are '
                         f'{len(node_ids)} node ids')


def _write_csv(path: PathLike, header: list[str], rows: Any) -> None:
    check_output_path(path)
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
