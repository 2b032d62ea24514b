r"""How many CPU threads a job runs with.

PyTorch's default is one thread per core. For the small sparse problems
SymNMF mostly meets, that is slower, and on a machine busy with other work
much slower: the threads wait on each other and on the other processes.
Measured on 2 cores while other processes kept them busy, 30 ANLS
iterations took 1.4 to 8 times longer with 2 threads than with 1 at every
size from 300 nodes (3·10³ nonzeros) to 10⁵ nodes (10⁶ nonzeros), and 200
times longer at 300 nodes.

So the job entry points (:func:`~pyg_symnmf.symnmf`,
:class:`~pyg_symnmf.SymNMFClustering`, the CLI) run inside
:func:`thread_limit`: one thread for problems below :obj:`SMALL_WORK`,
else as many threads as there are cores not busy (from the load average,
which errs towards fewer: a 10⁵-node ``k='auto'`` fit took 25.1 s with
two threads against 11.1 s with one while another job held one of two
cores), and
any count a user asks for with ``n_jobs``
(scikit-learn's convention: ``-1`` all cores). The layers, which run
inside a user's own training loop, never change the thread count.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Optional

import torch

__all__ = ['SMALL_WORK', 'resolve_threads', 'thread_limit']

#: ``nnz(A)·k + N·k²`` (the flops of one block) below which one thread is
#: used: about 10⁶ nonzeros at k = 10.
SMALL_WORK = 10**7


def resolve_threads(n_jobs: Optional[int], work: int) -> int:
    """The number of threads for ``n_jobs`` and a problem of size ``work``
    (``nnz(A)·k + N·k²``): ``None`` chooses (see the module notes),
    ``-1`` means every core, a positive int that many."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        if work < SMALL_WORK:
            return 1
        busy = os.getloadavg()[0] if hasattr(os, 'getloadavg') else 0.0
        # Cores that other work leaves idle. The load average lags and
        # counts this process only once it has run a while, so this errs
        # towards fewer threads: one thread too few costs at most the share
        # of one core, one too many (a core already busy) 2.3x (module
        # notes).
        return max(1, min(cores, round(cores - busy)))
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or \
            n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"'n_jobs' must be None, -1 or a positive int, got "
                         f"{n_jobs!r}")
    return cores if n_jobs == -1 else n_jobs


@contextmanager
def thread_limit(n_jobs: Optional[int], work: int) -> Iterator[int]:
    """Runs the block with :func:`resolve_threads` threads, then restores
    the caller's count; yields the count used."""
    threads = resolve_threads(n_jobs, work)
    before = torch.get_num_threads()
    if threads == before:
        yield threads
        return
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
