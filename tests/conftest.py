import urllib.error

import pytest

from pyg_symnmf.testing import random_graph


@pytest.fixture
def graph():
    return random_graph()


@pytest.fixture
def offline(monkeypatch):
    """Every PyG download fails as it does without a network."""
    import torch_geometric.data.download
    import torch_geometric.io.fs

    def fail(*args, **kwargs):
        raise urllib.error.URLError('[Errno -3] Temporary failure in name '
                                    'resolution')

    monkeypatch.setattr(torch_geometric.io.fs, 'cp', fail)
    monkeypatch.setattr(torch_geometric.data.download, 'download_url', fail)


@pytest.fixture
def count_calls(monkeypatch):
    """``count_calls(module, name)``: a list that grows by one at every call
    of ``module.name``, which still runs."""
    def install(module, name):
        calls = []
        real = getattr(module, name)

        def counted(*args, **kwargs):
            calls.append(1)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
        return calls
    return install
