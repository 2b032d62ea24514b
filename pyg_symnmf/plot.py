"""Plots of detected communities and of solver convergence.

Figures are built as :class:`matplotlib.figure.Figure` objects without
:mod:`matplotlib.pyplot`, so saving needs no display (rendering uses Agg)
and no global figure is left open; in Jupyter a returned figure shows as the
cell output. To draw into a figure of your own, pass its axes as ``ax``.
Needs matplotlib: ``pip install 'pyg_symnmf[plot]'``.
"""
from __future__ import annotations

import os
from itertools import cycle
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

import numpy as np
from torch import Tensor

from .io import as_numpy, check_output_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ['plot_communities', 'plot_convergence', 'plot_format']

PathLike = Union[str, os.PathLike]

_MAX_COLOURS = 20  # tab20 is the largest qualitative palette
_MAX_NODE_LABELS = 60
_MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*', '<', '>')
_DPI = 120


def plot_communities(edge_index: Union[Tensor, np.ndarray],
                     labels: Union[Tensor, np.ndarray, Sequence[int]],
                     num_nodes: int, path: Optional[PathLike] = None, *,
                     title: Optional[str] = None,
                     pos: Optional[Union[Mapping[int, Sequence[float]],
                                         np.ndarray]] = None,
                     ax: Optional[Axes] = None,
                     node_ids: Optional[Sequence] = None) -> Figure:
    """Draws a graph with one colour per community.

    Colours come from ``tab10`` (up to 10 communities) or ``tab20`` (up to
    20); beyond 20 they repeat, which the legend title says. The legend
    lists ``community j (n nodes)`` for at most 20 communities. Nodes are
    labelled only for graphs of at most 60 nodes.

    Args:
        edge_index (Tensor or array): ``[2, E]`` edges.
        labels (Tensor or array-like): ``[N]`` integer community labels.
        num_nodes (int): number of nodes ``N``.
        path (str or os.PathLike, optional): save the figure there as PNG
            (dpi 120).
        title (str, optional): the title; by default the number of
            communities and nodes.
        pos (dict or array, optional): node positions, ``{node: (x, y)}``
            or ``[N, 2]``; by default a networkx spring layout with seed 0.
        ax (matplotlib.axes.Axes, optional): draw into these axes.
        node_ids (Sequence, optional): node labels to print instead of the
            node indices.

    Returns:
        matplotlib.figure.Figure: the figure drawn into.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: inconsistent sizes of the arguments.
        FileNotFoundError, IsADirectoryError: :obj:`path` cannot be written.
    """
    edges = as_numpy(edge_index).astype(np.int64)
    labels = as_numpy(labels)
    _check_graph_args(edges, labels, num_nodes, node_ids)
    if path is not None:
        check_output_path(path)
    fig, ax = _figure_and_axes(ax, figsize=(7.0, 6.0))
    xy = _positions(edges, num_nodes, pos)

    _draw_edges(ax, edges, xy)
    communities, sizes = np.unique(labels, return_counts=True)
    colours = _palette(len(communities))
    node_size = 250.0 if num_nodes <= _MAX_NODE_LABELS else \
        max(4.0, 4000.0 / num_nodes)
    for k, (community, size) in enumerate(zip(communities, sizes)):
        members = labels == community
        legend_label = f'community {community} ({size} nodes)' \
            if k < _MAX_COLOURS else '_nolegend_'
        ax.scatter(xy[members, 0], xy[members, 1], s=node_size,
                   color=colours[k], edgecolors='white', linewidths=0.5,
                   label=legend_label, zorder=2)
    if num_nodes <= _MAX_NODE_LABELS:
        _draw_node_labels(ax, xy, node_ids)

    legend_title = None
    if len(communities) > _MAX_COLOURS:
        legend_title = (f'{len(communities)} communities: colours repeat '
                        f'after {_MAX_COLOURS}; first {_MAX_COLOURS} shown')
    ax.legend(title=legend_title, loc='center left', bbox_to_anchor=(1.0, 0.5),
              fontsize='small', title_fontsize='small', frameon=False)
    ax.set_title(title or f'{len(communities)} communities, '
                 f'{num_nodes} nodes')
    ax.set_aspect('equal')
    ax.set_axis_off()
    _save(fig, path)
    return fig


def plot_convergence(curves: Mapping[str, tuple[Sequence[float],
                                                 Sequence[float]]],
                     path: Optional[PathLike] = None, *,
                     xlabel: str = 'sparse products (SpMMs)',
                     ylabel: str = 'loss', logy: bool = True,
                     title: Optional[str] = None) -> Figure:
    """Draws one loss curve per method.

    Args:
        curves (dict): ``{method: (x values, y values)}``.
        path (str or os.PathLike, optional): save the figure there as PNG
            (dpi 120).
        xlabel (str): the x-axis label.
        ylabel (str): the y-axis label.
        logy (bool): logarithmic y axis.
        title (str, optional): the title.

    Returns:
        matplotlib.figure.Figure: the figure.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: no curves, a curve with mismatched or empty x and y,
            or a nonpositive y value with ``logy=True``.
        FileNotFoundError, IsADirectoryError: :obj:`path` cannot be written.
    """
    if not curves:
        raise ValueError('curves is empty; pass {method: (x, y)}')
    for method, (x, y) in curves.items():
        _check_curve(method, x, y, logy)
    if path is not None:
        check_output_path(path)
    fig, ax = _figure_and_axes(None, figsize=(7.0, 4.5))
    colours = cycle(_palette(min(len(curves), _MAX_COLOURS)))
    for (method, (x, y)), colour, marker in zip(curves.items(), colours,
                                                cycle(_MARKERS)):
        ax.plot(x, y, label=method, color=colour, marker=marker,
                markersize=5, markevery=max(1, len(x) // 10), linewidth=1.5)
    if logy:
        ax.set_yscale('log')
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend()
    _save(fig, path)
    return fig


def _require_matplotlib() -> Any:
    """The matplotlib module, or an ImportError saying how to install it."""
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError("plotting needs matplotlib: pip install "
                          "'pyg_symnmf[plot]'") from err
    return matplotlib


def _figure_and_axes(ax: Optional[Axes], figsize: tuple[float, float]
                     ) -> tuple[Figure, Axes]:
    """The figure of :obj:`ax`, or a new pyplot-free figure and axes."""
    _require_matplotlib()
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout='constrained')
    return fig, fig.add_subplot()


def _palette(num_colours: int) -> list:
    """Distinct qualitative colours: tab10, tab20, then tab20 repeated."""
    import matplotlib

    name = 'tab10' if num_colours <= 10 else 'tab20'
    base = list(matplotlib.colormaps[name].colors)  # type: ignore[attr-defined]
    return [base[k % len(base)] for k in range(num_colours)]


def _positions(edges: np.ndarray, num_nodes: int,
               pos: Optional[Union[Mapping[int, Sequence[float]],
                                   np.ndarray]]) -> np.ndarray:
    """``[N, 2]`` node coordinates, from :obj:`pos` or a spring layout."""
    if pos is None:
        import networkx as nx

        graph = nx.Graph()
        graph.add_nodes_from(range(num_nodes))
        graph.add_edges_from(edges.T.tolist())
        pos = nx.spring_layout(graph, seed=0)
    if isinstance(pos, Mapping):
        missing = [node for node in range(num_nodes) if node not in pos]
        if missing:
            raise ValueError(f'pos has no position for {len(missing)} '
                             f'node(s), e.g. node {missing[0]}')
        xy = np.asarray([pos[node] for node in range(num_nodes)],
                        dtype=np.float64)
    else:
        xy = np.asarray(pos, dtype=np.float64)
    if xy.shape != (num_nodes, 2):
        raise ValueError(f'pos must give {num_nodes} (x, y) positions, got '
                         f'shape {xy.shape}')
    return xy


def _draw_edges(ax: Axes, edges: np.ndarray, xy: np.ndarray) -> None:
    from matplotlib.collections import LineCollection

    segments = list(np.stack([xy[edges[0]], xy[edges[1]]], axis=1))
    ax.add_collection(LineCollection(segments, colors='0.6', linewidths=0.5,
                                     alpha=0.6, zorder=1))


def _draw_node_labels(ax: Axes, xy: np.ndarray,
                      node_ids: Optional[Sequence]) -> None:
    names = range(len(xy)) if node_ids is None else node_ids
    for (x, y), name in zip(xy, names):
        ax.text(x, y, str(name), fontsize=7, ha='center', va='center',
                zorder=3)


def _save(fig: Figure, path: Optional[PathLike]) -> None:
    if path is not None:
        fig.savefig(path, dpi=_DPI, format=plot_format(path))


def plot_format(path: PathLike) -> str:
    """The image format a plot path names by its suffix (``.svg``,
    ``.pdf``, ...; ``png`` when it has none).

    Raises:
        ValueError: a suffix matplotlib cannot write.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lower().lstrip('.')
    supported = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in supported:
        raise ValueError(f"cannot write a plot as '.{suffix}'; use one of "
                         f"{', '.join('.' + s for s in sorted(supported))}")
    return suffix or 'png'


def _check_graph_args(edges: np.ndarray, labels: np.ndarray, num_nodes: int,
                      node_ids: Optional[Sequence]) -> None:
    """Raises ValueError unless the arguments describe one graph."""
    if edges.ndim != 2 or edges.shape[0] != 2:
        raise ValueError(f'edge_index must be [2, E], got shape {edges.shape}')
    if edges.size and (edges.min() < 0 or edges.max() >= num_nodes):
        raise ValueError(f'edge_index refers to nodes outside '
                         f'0..{num_nodes - 1}')
    if labels.shape != (num_nodes,):
        raise ValueError(f'labels must hold one label per node ({num_nodes}),'
                         f' got shape {labels.shape}')
    if node_ids is not None and len(node_ids) != num_nodes:
        raise ValueError(f'node_ids has {len(node_ids)} entries for '
                         f'{num_nodes} nodes')


def _check_curve(method: str, x: Sequence[float], y: Sequence[float],
                 logy: bool) -> None:
    """Raises ValueError unless ``(x, y)`` can be drawn."""
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f'curve {method!r} has {len(x)} x and {len(y)} y '
                         'values; give the same nonzero number of each')
    if logy and min(y) <= 0:
        raise ValueError(f'curve {method!r} has a nonpositive value '
                         f'{min(y)} that a log axis cannot show; pass '
                         'logy=False')

