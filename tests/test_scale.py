"""Memory scales with edges, not N^2: a dense 200 000 x 200 000 matrix would
need 160 GB, a sparse forward pass fits in a few."""
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import resource, torch
    from torch_geometric.utils import to_undirected
    from pyg_symnmf import SymNMFNet
    n = 200_000
    gen = torch.Generator().manual_seed(0)
    edge_index = to_undirected(torch.randint(n, (2, 1_000_000), generator=gen),
                               num_nodes=n)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        h = SymNMFNet(8, num_blocks=5)(edge_index, num_nodes=n)
    assert h.shape == (n, 8) and bool(torch.isfinite(h).all())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(edge_index.size(1), before // 1024, peak // 1024)
''')


def test_forward_on_200k_nodes_and_2m_edges_stays_within_a_few_gb():
    out = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True,
                         text=True, check=True).stdout.split()
    num_edges, _, peak_mb = map(int, out)
    assert num_edges > 1_900_000
    assert peak_mb < 3 * 1024, f'peak RSS {peak_mb} MB'
