import pytest

from pyg_symnmf.testing import random_graph


@pytest.fixture
def graph():
    return random_graph()
