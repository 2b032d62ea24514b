import sys

import numpy as np
import pytest
import torch

pytest.importorskip('matplotlib')

from pyg_symnmf import plot as psplot  # noqa: E402

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def cliques(sizes):
    """Disjoint cliques joined in a chain: (edge_index, labels, N)."""
    edges, labels, start = [], [], 0
    for k, size in enumerate(sizes):
        nodes = range(start, start + size)
        edges += [(u, v) for u in nodes for v in nodes if u != v]
        if start:
            edges += [(start - 1, start), (start, start - 1)]
        labels += [k] * size
        start += size
    return torch.tensor(edges).t(), torch.tensor(labels), start


def legend_texts(fig):
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def assert_png(path):
    content = path.read_bytes()
    assert len(content) > 1000 and content.startswith(PNG_MAGIC)


def test_plot_communities_writes_png_with_one_legend_entry_each(tmp_path):
    edge_index, labels, n = cliques([5, 3, 4])
    path = tmp_path / 'communities.png'
    fig = psplot.plot_communities(edge_index, labels, n, path,
                                  title='three cliques')
    assert_png(path)
    assert legend_texts(fig) == ['community 0 (5 nodes)',
                                 'community 1 (3 nodes)',
                                 'community 2 (4 nodes)']
    ax = fig.axes[0]
    assert ax.get_title() == 'three cliques'
    assert len(ax.texts) == n


def test_communities_get_distinct_colours():
    from matplotlib.collections import PathCollection

    edge_index, labels, n = cliques([2] * 15)
    fig = psplot.plot_communities(edge_index, labels, n)
    colours = {tuple(c.get_facecolor()[0]) for c in fig.axes[0].collections
               if isinstance(c, PathCollection)}
    assert len(colours) == 15
    assert len(legend_texts(fig)) == 15


def test_more_than_twenty_communities_cap_the_legend():
    edge_index, labels, n = cliques([3] * 25)
    fig = psplot.plot_communities(edge_index, labels, n)
    legend = fig.axes[0].get_legend()
    assert len(legend.get_texts()) == 20
    assert 'repeat' in legend.get_title().get_text()
    assert not fig.axes[0].texts  # 75 nodes: too many to label


def test_node_ids_pos_and_ax_are_used():
    from matplotlib.figure import Figure

    edge_index, labels, n = cliques([2, 2])
    ax = Figure().add_subplot()
    pos = np.arange(2 * n, dtype=float).reshape(n, 2)
    fig = psplot.plot_communities(edge_index, labels, n, ax=ax, pos=pos,
                                  node_ids=['a', 'b', 'c', 'd'])
    assert fig is ax.figure
    assert [t.get_text() for t in ax.texts] == ['a', 'b', 'c', 'd']
    assert [t.get_position() for t in ax.texts] == [tuple(p) for p in pos]


def test_plot_communities_checks_its_arguments(tmp_path):
    edge_index, labels, n = cliques([2, 2])
    with pytest.raises(ValueError, match='one label per node'):
        psplot.plot_communities(edge_index, labels[:3], n)
    with pytest.raises(ValueError, match='outside'):
        psplot.plot_communities(edge_index, labels[:3], 3)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        psplot.plot_communities(edge_index, labels, n,
                                tmp_path / 'nope' / 'x.png')


def test_plot_convergence_writes_png(tmp_path):
    curves = {'mu': ([0, 2, 4, 6], [10.0, 5.0, 3.0, 2.5]),
              'anls': ([0, 3, 6], [10.0, 2.0, 1.0]),
              'admm': ([0, 1, 2], [9.0, 4.0, 1.5])}
    path = tmp_path / 'convergence.png'
    fig = psplot.plot_convergence(curves, path, title='karate')
    assert_png(path)
    assert legend_texts(fig) == ['mu', 'anls', 'admm']
    ax = fig.axes[0]
    assert ax.get_yscale() == 'log'
    assert ax.get_xlabel() == 'sparse products (SpMMs)'
    lines = ax.get_lines()
    assert len({line.get_color() for line in lines}) == 3
    assert len({line.get_marker() for line in lines}) == 3
    assert list(lines[1].get_xdata()) == [0, 3, 6]


def test_plot_convergence_checks_its_arguments():
    with pytest.raises(ValueError, match='empty'):
        psplot.plot_convergence({})
    with pytest.raises(ValueError, match="'mu' has 2 x and 1 y"):
        psplot.plot_convergence({'mu': ([0, 1], [1.0])})
    with pytest.raises(ValueError, match='logy=False'):
        psplot.plot_convergence({'mu': ([0, 1], [1.0, 0.0])})
    fig = psplot.plot_convergence({'mu': ([0, 1], [1.0, 0.0])}, logy=False)
    assert fig.axes[0].get_yscale() == 'linear'


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    with pytest.raises(ImportError, match=r"pip install 'pyg_symnmf\[plot\]'"):
        psplot.plot_convergence({'mu': ([0, 1], [2.0, 1.0])})
